"""See what happened in a run: throughput against the ideal, latency distributions, crash timeline.

Every plot takes the tidy event log (one run or a sweep), draws on ``ax`` if given (else on a
new figure), and returns the Axes; nothing calls ``plt.show()`` and no backend is chosen here.
``matplotlib.pyplot`` is touched only to make a figure when no ``ax`` is passed; ``plot_run``
builds a bare ``Figure`` so that notebooks show it once and scripts can ``savefig`` it.

Artists carry a ``gid`` (``"observed"``, ``"ideal"``, ``"target"``, ``"deadline"``,
``"crash"``, ``"stall"``, ``"restart"``, ``"samples"``, ``"lifetimes"``, ``"runs"``, ``"median"``,
``"bound"``, ``"success"``, ``"threshold"``, ...) so that tests and
callers can find them. Samples are drawn with one collection per plot, not one artist per
sample, so 100k-sample logs stay fast.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from . import analysis, report

__all__ = ["plot_throughput", "plot_latency", "plot_timeline", "plot_run", "plot_sweep"]

#: Colours shared by the panels, so a crash looks the same everywhere.
COLORS = {
    "kept": "#1f3b5c",
    "unkept": "#9a9a9a",
    "observed": "#1f77b4",
    "ideal": "#555555",
    "target": "#2b2b2b",
    "deadline": "#c0392b",
    "reached": "#2b2b2b",
    "crash": "#d62728",
    "stall": "#e67e00",
    "restart": "#2ca02c",
    "error": "#8e44ad",
    "life_stop": "#b9d3ea",
    "life_crash": "#f6b9b0",
    "life_stall": "#fbd7a5",
    "life_open": "#dddddd",
    "met": "#1f77b4",
    "missed": "#e67e00",
    "median": "#1f3b5c",
    "success": "#2e8b57",
    "threshold": "#2b2b2b",
}
MARKERS = {"crash": "X", "stall": "D", "restart": ">", "error": "*"}

KIND_LABELS = {
    "gap": "gap between samples\n(one process)",
    "spawn_to_ready": "spawn → ready",
    "connect_to_first": "connect → first sample\n(lead)",
    "restart": "crash/stall →\nnext sample (restart)",
}
#: Latencies at or below this are drawn at it (a log axis cannot show 0).
LATENCY_FLOOR = 1e-6
#: At most this many points per latency kind in the strip (the box uses all of them).
STRIP_MAX = 1500
TIME_LABEL = "time since run start (s)"
#: The throughput axis stretches to show the deadline only if it is within this factor of the data.
DEADLINE_STRETCH = 2.0


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _outcome(summary_row: pd.Series) -> str | None:
    """How a run ended, or None while it is still running (no run-level stop row yet)."""
    outcome = summary_row["outcome"]
    return None if pd.isna(outcome) else str(outcome)


def _seconds(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    if x >= 0.995:
        return f"{x:.2f} s"
    if x >= 0.00995:
        return f"{x * 1e3:.0f} ms"
    if x >= 0.000995:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


# -- throughput -----------------------------------------------------------------------------


def plot_throughput(df: pd.DataFrame, ax: Axes | None = None, deadline: float | None = 10.0) -> Axes:
    """Cumulative kept samples over time, per run, against the ideal of a perfect system.

    The ideal (dashed staircase, one per worker count) is ``n_workers`` samples every measured
    interval starting at the measured lead, so it reaches the target at the bound. Also: the
    target (horizontal), the ``deadline`` (vertical; None hides it; a deadline far beyond the
    data stays off the axis and the legend says so), and crashes (x) and stalls (◆) marked on
    the curve at the instant they happened. Many runs are drawn thinner and
    coloured by worker count.
    """
    p, run_ids = analysis._prepare(df)
    if len(run_ids) == 0:
        raise ValueError("the event log is empty: there is no throughput to plot")
    ax = _new_axes(ax, (7, 4.5))
    summ = analysis.summary(df, deadline=deadline if deadline is not None else math.inf)
    n_runs = len(run_ids)
    codes = p["_run"].to_numpy()
    t = p["t"].to_numpy()
    kept = analysis._kept_mask(p)
    run_end = p.groupby("_run")["t"].max().reindex(range(n_runs)).to_numpy()

    counts = summ["workers"].to_numpy(dtype="int64")
    distinct = sorted(set(counts.tolist()))
    if n_runs <= 1:
        color_of = {c: COLORS["observed"] for c in distinct}
    else:
        cmap = _cmap()
        norm = mcolors.Normalize(min(distinct) - 0.5, max(distinct) + 0.5)
        color_of = {c: cmap(norm(c)) for c in distinct}
    lw = 1.8 if n_runs == 1 else max(0.6, 1.4 - 0.04 * n_runs)
    alpha = 1.0 if n_runs == 1 else 0.7
    many_counts = len(distinct) > 8

    marks: dict[str, list[tuple[float, float]]] = {"crash": [], "stall": []}
    labelled: set[int] = set()
    for r in range(n_runs):
        kt = np.sort(t[kept & (codes == r)])
        xs = np.concatenate([[0.0], kt, [max(run_end[r], kt[-1] if len(kt) else 0.0)]])
        ys = np.concatenate([[0], np.arange(1, len(kt) + 1), [len(kt)]])
        c = counts[r]
        if n_runs == 1:
            label = f"observed ({c} worker{'s' if c != 1 else ''})"
        elif not many_counts and c not in labelled:
            label = f"{c} worker{'s' if c != 1 else ''}"
        else:
            label = None
        labelled.add(c)
        ax.step(
            xs, ys, where="post", color=color_of[c], lw=lw, alpha=alpha, label=label, gid="observed", zorder=3
        )
        for kind in marks:
            ft = t[analysis._mask(p, kind) & (codes == r) & (p["worker_id"] >= 1).to_numpy()]
            marks[kind] += [(x, np.searchsorted(kt, x, side="right")) for x in ft]

    # the ideal of a perfect system, one per (worker count, target)
    goal = summ["target"].fillna(summ["samples"]).to_numpy(dtype="int64")
    ideal_end = 0.0
    ideal = pd.DataFrame({"w": counts, "goal": goal, "lead": summ["lead_s"], "interval": summ["interval_s"]})
    for (w, g), grp in ideal.groupby(["w", "goal"], sort=True):
        lead, interval = grp["lead"].median(), grp["interval"].median()
        if not np.isfinite(lead) or (g > w and not np.isfinite(interval)):
            continue
        it, icum = analysis.ideal_curve(
            int(w), int(g), float(lead), float(interval if np.isfinite(interval) else 0)
        )
        label = "ideal (perfect system)" if n_runs == 1 else None
        ideal_end = max(ideal_end, float(it[-1]))
        ax.step(
            it,
            icum,
            where="post",
            ls=(0, (4, 2)),
            lw=1.2 if n_runs == 1 else 0.9,
            color=COLORS["ideal"] if n_runs == 1 else color_of[w],
            label=label,
            gid="ideal",
            zorder=2,
        )

    if n_runs > 1 and ideal_end > 0:  # one legend entry for the per-count ideals
        ax.plot([], [], ls=(0, (4, 2)), lw=0.9, color=COLORS["ideal"], label="ideal per worker count")
    for g in sorted(set(goal.tolist())):
        ax.axhline(
            g,
            color=COLORS["target"],
            lw=0.9,
            ls=":",
            gid="target",
            label=f"target {g}" if g == max(goal) else None,
            zorder=1,
        )
    data_end = max(float(np.nanmax(run_end, initial=0.0)), ideal_end)
    # a deadline far beyond the data (time-compressed runs) would squash the curves: keep the
    # axis on the data and point at the deadline instead
    far = deadline is not None and deadline > DEADLINE_STRETCH * data_end
    if deadline is not None:
        ax.axvline(
            deadline,
            color=COLORS["deadline"],
            lw=1.1,
            ls="--",
            gid="deadline",
            label=f"deadline {deadline:g} s" + (" (off the axis, →)" if far else ""),
            zorder=1,
        )
    for kind, pts in marks.items():
        if pts:
            xy = np.asarray(pts, dtype="float64")
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                marker=MARKERS[kind],
                s=42 if kind == "crash" else 26,
                color=COLORS[kind],
                edgecolors="white",
                linewidths=0.5,
                zorder=5,
                gid=kind,
                label=f"{kind} ({len(pts)})",
            )

    if many_counts and n_runs > 1:
        import matplotlib.cm as cm

        sm = cm.ScalarMappable(norm=mcolors.Normalize(min(distinct) - 0.5, max(distinct) + 0.5), cmap=_cmap())
        ax.figure.colorbar(sm, ax=ax, label="workers", pad=0.01)
    ax.set_xlim(0, (data_end if far or deadline is None else max(data_end, deadline)) * 1.03 or 1.0)
    ax.set_ylim(0, max(goal.max(initial=1), summ["samples"].max() if n_runs else 1) * 1.06)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("kept samples (cumulative)")
    title = "throughput" if n_runs == 1 else f"throughput — {n_runs} runs"
    ax.set_title(title)
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return ax


def _cmap():
    """viridis without its pale yellow end, which vanishes on white."""
    import matplotlib

    return mcolors.ListedColormap(
        matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, 256)), name="viridis_dark"
    )


# -- latency --------------------------------------------------------------------------------


def plot_latency(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Distributions of the latencies that matter, one row per kind, on a log seconds axis.

    Kinds (see ``analysis.latencies``): gap between consecutive samples of a process, spawn →
    ready, connect → first sample, and crash/stall → next sample of that worker. Each row is a
    box (median, quartiles, 5–95 % whiskers, all values) over a jittered strip of the values
    (sub-sampled to ``STRIP_MAX`` per kind); the tick label gives n and the median. Runs of a
    sweep are pooled.
    """
    lat = analysis.latencies(df)
    n_runs = pd.unique(df["run_id"]).size
    if n_runs == 0:
        raise ValueError("the event log is empty: there are no latencies to plot")
    ax = _new_axes(ax, (7, 4.5))
    kinds = list(analysis.LATENCY_KINDS)
    rng = np.random.default_rng(0)
    data, positions, labels = [], [], []
    strip_x, strip_y, strip_c = [], [], []
    palette = ["#4c72b0", "#937860", "#8172b2", COLORS["restart"]]
    for i, kind in enumerate(kinds):
        v = lat.loc[lat["kind"] == kind, "seconds"].to_numpy(dtype="float64")
        v = v[np.isfinite(v)]
        y = len(kinds) - i  # first kind on top
        label = KIND_LABELS[kind]
        if len(v):
            low = int((v <= LATENCY_FLOOR).sum())
            label += f"\nn={len(v)} · median {_seconds(float(np.median(v)))}"
            if low:
                label += f" · {low} ≤ {_seconds(LATENCY_FLOOR)}"
            v = np.maximum(v, LATENCY_FLOOR)
            data.append(v)
            positions.append(y)
            shown = v if len(v) <= STRIP_MAX else rng.choice(v, STRIP_MAX, replace=False)
            strip_x.append(shown)
            strip_y.append(y + rng.uniform(-0.22, 0.22, len(shown)))
            strip_c += [palette[i]] * len(shown)
        else:
            label += "\nn=0"
        labels.append((y, label))
    if data:
        bp = ax.boxplot(
            data,
            positions=positions,
            orientation="horizontal",
            widths=0.55,
            whis=(5, 95),
            showfliers=False,
            patch_artist=True,
            manage_ticks=False,
            zorder=2,
            medianprops={"color": "black", "lw": 1.6},
        )
        for box, y in zip(bp["boxes"], positions):
            box.set_facecolor(mcolors.to_rgba(palette[len(kinds) - y], 0.25))
            box.set_edgecolor(palette[len(kinds) - y])
            box.set_gid("box")
        xs = np.concatenate(strip_x)
        lo, hi = min(v.min() for v in data), max(v.max() for v in data)
        ax.set_xlim(lo / 2.5, hi * 2.5)  # breathing room on the log axis: no box on the frame
        ax.scatter(
            xs,
            np.concatenate(strip_y),
            s=6 if len(xs) < 3000 else 2,
            c=strip_c,
            alpha=0.45,
            linewidths=0,
            zorder=3,
            gid="strip",
            rasterized=len(xs) > 3000,
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_yticks([y for y, _ in labels], [lab for _, lab in labels], fontsize="small")
    ax.set_ylim(0.4, len(kinds) + 0.6)
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("latencies" if n_runs <= 1 else f"latencies — {n_runs} runs pooled")
    ax.grid(True, axis="x", which="major", alpha=0.3)
    return ax


# -- timeline -------------------------------------------------------------------------------


def plot_timeline(df: pd.DataFrame, ax: Axes | None = None, run_id: str | None = None) -> Axes:
    """Gantt-style crash timeline of one run: a lane per worker slot, worker 1 on top.

    Bars are process lifetimes (spawn → crash / stall / stop), coloured by how the process
    ended; each sample is a tick (dark = kept, grey = after the target); crashes (X), stalls
    (◆), restarts (▶, at the lane's top edge) and error lines (★) are markers; a vertical line
    marks the moment the target was reached. A sweep frame shows its first run, or ``run_id``,
    and the title says which.
    """
    rows, rid, n_runs = analysis.select_run(df, run_id)
    n_workers = int(rows["n_workers"].iloc[0])
    ax = _new_axes(ax, (9, max(2.2, 1.2 + 0.28 * n_workers)))
    p, _ = analysis._prepare(rows)
    procs = analysis.processes(rows)
    summ = analysis.summary(rows).iloc[0]
    lanes = sorted(set(range(1, n_workers + 1)) | set(p.loc[p["worker_id"] >= 1, "worker_id"].tolist()))
    half = 0.3

    # process lifetimes: one PolyCollection for all bars
    ends = procs["end_event"].fillna("open").to_numpy()
    fill = {"stop": COLORS["life_stop"], "crash": COLORS["life_crash"], "stall": COLORS["life_stall"]}
    verts = [
        [(s, w - half), (e, w - half), (e, w + half), (s, w + half)]
        for s, e, w in zip(procs["start"], procs["end"], procs["worker_id"])
    ]
    bars = PolyCollection(
        verts,
        facecolors=[fill.get(k, COLORS["life_open"]) for k in ends],
        edgecolors="#7f7f7f",
        linewidths=0.4,
        zorder=1,
        gid="lifetimes",
    )
    ax.add_collection(bars)

    # samples: one LineCollection of short vertical ticks
    s = p[analysis._mask(p, "sample")]
    st, sw = s["t"].to_numpy(), s["worker_id"].to_numpy(dtype="float64")
    seg = np.empty((len(st), 2, 2))
    seg[:, :, 0] = st[:, None]
    seg[:, 0, 1], seg[:, 1, 1] = sw - half * 0.8, sw + half * 0.8
    keptc = np.where(s["kept"].fillna(False).to_numpy(dtype=bool), 0, 1)
    ticks = LineCollection(
        seg,
        colors=np.array([mcolors.to_rgba(COLORS["kept"]), mcolors.to_rgba(COLORS["unkept"])])[keptc],
        linewidths=0.8 if len(st) < 5000 else 0.4,
        zorder=2,
        gid="samples",
    )
    ax.add_collection(ticks)

    ended = set(ends.tolist())
    handles: list = [
        Patch(facecolor=fill.get(k, COLORS["life_open"]), edgecolor="#7f7f7f", label=f"process ({how})")
        for k, how in (
            ("stop", "stopped"),
            ("crash", "crashed"),
            ("stall", "stalled"),
            ("open", "no end logged"),
        )
        if k in ended
    ]
    handles.append(
        Line2D([], [], color=COLORS["kept"], marker="|", ls="", markersize=9, label="sample (kept)")
    )
    if (keptc == 1).any():
        handles.append(
            Line2D(
                [], [], color=COLORS["unkept"], marker="|", ls="", markersize=9, label="sample (after target)"
            )
        )
    msize = 46 if n_workers <= 16 else 24
    for kind in ("crash", "stall", "restart", "error"):
        k = p[analysis._mask(p, kind) & (p["worker_id"] >= 1).to_numpy()]
        if k.empty:
            continue
        y = k["worker_id"].to_numpy(dtype="float64") - (half + 0.05 if kind == "restart" else 0)
        handles.append(
            ax.scatter(
                k["t"],
                y,
                marker=MARKERS[kind],
                s=msize * (0.8 if kind != "crash" else 1),
                color=COLORS[kind],
                edgecolors="white",
                linewidths=0.5,
                zorder=4,
                gid=kind,
                label=f"{kind} ({len(k)})",
            )
        )
    if _outcome(summ) == "reached" and np.isfinite(summ["elapsed_s"]):
        handles.append(
            ax.axvline(
                summ["elapsed_s"],
                color=COLORS["reached"],
                lw=1.3,
                zorder=5,
                gid="reached",
                label=f"target reached ({summ['elapsed_s']:.2f} s)",
            )
        )

    end = float(p["t"].max()) if len(p) else 1.0
    ax.set_xlim(0, end * 1.01 or 1.0)
    ax.set_ylim(max(lanes) + 0.65, min(lanes) - 0.65)
    ax.set_yticks(lanes, [str(w) for w in lanes], fontsize="small" if len(lanes) > 8 else "medium")
    ax.set_ylabel("worker id")
    ax.set_xlabel(TIME_LABEL)
    ax.grid(True, axis="x", alpha=0.25)
    title = "worker timeline"
    if n_runs > 1:
        k = list(pd.unique(df["run_id"])).index(rid) + 1
        title += f" — run {rid} ({k} of {n_runs} runs)"
    if _outcome(summ) not in ("reached", None):
        title += f" — target not reached ({summ['outcome']})"
    ax.set_title(title)
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        fontsize="small",
        frameon=False,
        borderaxespad=0.0,
    )
    return ax


# -- overview -------------------------------------------------------------------------------


def plot_run(df: pd.DataFrame, run_id: str | None = None, deadline: float = 10.0) -> Figure:
    """One figure with the three panels of a run: timeline on top, throughput and latency below.

    The title is the run's report (``workerlab.report.title``). A sweep frame shows its first run (or
    ``run_id``). Returns a ``matplotlib.figure.Figure`` not registered with pyplot (so notebooks
    display it once); save it with ``fig.savefig(path)``.
    """
    rows, rid, n_runs = analysis.select_run(df, run_id)
    n_workers = int(rows["n_workers"].iloc[0])
    row = analysis.summary(rows, deadline=deadline).iloc[0]
    fig = Figure(figsize=(14, min(9.5, 6.6 + 0.19 * n_workers)), layout="constrained")
    top = max(0.45, min(1.25, 0.3 + 0.06 * n_workers))
    gs = fig.add_gridspec(2, 2, height_ratios=[top, 1], width_ratios=[1.1, 1])
    ax_tl = fig.add_subplot(gs[0, :])
    ax_tp = fig.add_subplot(gs[1, 0])
    ax_lat = fig.add_subplot(gs[1, 1])
    plot_timeline(rows, ax=ax_tl)
    plot_throughput(rows, ax=ax_tp, deadline=deadline)
    plot_latency(rows, ax=ax_lat)
    name = f"run {rid}" + (f" (1 of {n_runs} runs in this log)" if n_runs > 1 and run_id is None else "")
    fig.suptitle(f"{name}\n{report.title(row, deadline=deadline)}", fontsize="medium")
    return fig


# -- sweep ----------------------------------------------------------------------------------


def plot_sweep(df: pd.DataFrame, ax: Axes | None = None, deadline: float = 10.0, level: float = 0.95) -> Axes:
    """A sweep at a glance: elapsed time per worker count against the deadline, and the success rate.

    Every run that reached its target is a point (slightly jittered sideways; blue met the
    deadline, orange missed it), runs that never reached it are ✕ at the top edge; the median
    elapsed time per count is a line, the bound of a perfect system a dashed line, the deadline
    a horizontal line. On a second y axis (right): the share of runs that met the deadline with
    its Wilson interval, and ``level``. The threshold of ``workerlab.threshold`` is a vertical
    line; the title says it in words. A deadline far above the data stays off the axis and the
    legend says so. Returns the main Axes (the twin is ``ax.get_shared_x_axes().get_siblings(ax)``).
    """
    from .verdict import threshold

    summ = analysis.summary(df, deadline=deadline)
    if summ.empty:
        raise ValueError("the event log is empty: there is no sweep to plot")
    th = threshold(df, deadline=deadline, level=level)
    tab = th.table
    ax = _new_axes(ax, (8.5, 4.8))
    counts = tab["workers"].to_numpy(dtype="int64")

    reached = (summ["outcome"] == "reached").fillna(False).to_numpy(dtype=bool)
    met = summ["deadline_met"].fillna(False).to_numpy(dtype=bool)
    w = summ["workers"].to_numpy(dtype="float64")
    el = summ["elapsed_s"].to_numpy(dtype="float64")
    jitter = (
        np.random.default_rng(0).uniform(-0.12, 0.12, len(summ)) if len(counts) > 1 else np.zeros(len(summ))
    )
    handles: list = []
    if reached.any():
        colors = np.where(met[reached], COLORS["met"], COLORS["missed"])
        ax.scatter(
            w[reached] + jitter[reached],
            el[reached],
            s=22,
            c=list(colors),
            alpha=0.75,
            linewidths=0,
            zorder=3,
            gid="runs",
        )
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                color=COLORS["met"],
                alpha=0.75,
                label=f"run that met the deadline ({int(met.sum())})",
            )
        )
        if (reached & ~met).any():
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    color=COLORS["missed"],
                    alpha=0.75,
                    label=f"run that missed it ({int((reached & ~met).sum())})",
                )
            )
    handles += ax.plot(
        tab["workers"],
        tab["median_elapsed_s"],
        color=COLORS["median"],
        lw=1.6,
        marker="_",
        markersize=14,
        zorder=4,
        gid="median",
        label="median elapsed",
    )
    handles += ax.plot(
        tab["workers"],
        tab["median_bound_s"],
        color=COLORS["ideal"],
        lw=1.1,
        ls=(0, (4, 2)),
        zorder=2,
        gid="bound",
        label="bound (perfect system)",
    )

    data_top = float(np.nanmax(np.concatenate([el[reached], tab["median_bound_s"].to_numpy()]), initial=0.0))
    far = deadline > DEADLINE_STRETCH * data_top > 0
    handles.append(
        ax.axhline(
            deadline,
            color=COLORS["deadline"],
            lw=1.1,
            ls="--",
            zorder=1,
            gid="deadline",
            label=f"deadline {deadline:g} s" + (" (off the axis, ↑)" if far else ""),
        )
    )
    top = (data_top if far else max(data_top, deadline)) * 1.12 or 1.0
    ax.set_ylim(0, top)
    if (~reached).any():
        from matplotlib.transforms import blended_transform_factory

        x = w[~reached] + jitter[~reached]
        ax.scatter(
            x,
            np.full(len(x), 0.97),
            marker="X",
            s=40,
            color=COLORS["crash"],
            edgecolors="white",
            linewidths=0.5,
            zorder=5,
            gid="not_reached",
            clip_on=False,
            transform=blended_transform_factory(ax.transData, ax.transAxes),
        )
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="X",
                color=COLORS["crash"],
                label=f"target not reached ({int((~reached).sum())})",
            )
        )

    twin = ax.twinx()
    rate = tab["success_rate"].to_numpy(dtype="float64")
    lo, hi = tab["ci_low"].to_numpy(dtype="float64"), tab["ci_high"].to_numpy(dtype="float64")
    twin.add_collection(
        LineCollection(
            [[(c, a), (c, b)] for c, a, b in zip(counts, lo, hi)],
            colors=COLORS["success"],
            linewidths=5,
            alpha=0.25,
            zorder=1,
            gid="success_ci",
        )
    )
    handles += twin.plot(
        counts,
        rate,
        color=COLORS["success"],
        lw=1.4,
        marker="o",
        markersize=5,
        zorder=2,
        gid="success",
        label=f"share meeting the deadline ({th.confidence:.0%} CI)",
    )
    handles.append(
        twin.axhline(level, color=COLORS["success"], lw=0.9, ls=":", gid="level", label=f"level {level:g}")
    )
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("share of runs meeting the deadline", color=COLORS["success"])
    twin.tick_params(axis="y", colors=COLORS["success"])

    if th.workers is not None:
        verdict = "conclusive" if th.strong else "not yet conclusive"
        handles.append(
            ax.axvline(
                th.workers,
                color=COLORS["threshold"],
                lw=1.4,
                alpha=0.8,
                zorder=1,
                gid="threshold",
                label=f"threshold: {th.workers} workers ({verdict})",
            )
        )
        title = f"threshold: {th.workers} workers meet {deadline:g} s ({verdict} at {level:g})"
    else:
        title = f"no worker count tested meets {deadline:g} s in {level:g} of runs"
    n_runs = len(summ)
    ax.set_title(
        f"sweep — {n_runs} runs over {len(counts)} worker count{'s' if len(counts) != 1 else ''}\n{title}",
        fontsize="medium",
    )
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlim(counts.min() - 0.6, counts.max() + 0.6)
    ax.set_xlabel("workers")
    ax.set_ylabel("elapsed to the target (s)")
    ax.grid(True, alpha=0.25)
    twin.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.16, 1.0),
        fontsize="small",
        frameon=False,
        borderaxespad=0.0,
    )
    return ax
