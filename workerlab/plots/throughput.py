"""``plot_throughput``: cumulative kept samples per run against the ideal of a perfect system."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes

from workerlab.analysis import runs as analysis
from workerlab.config import DEADLINE
from workerlab.log import tidy
from workerlab.plots.style import COLORS, DEADLINE_STRETCH, TIME_LABEL, cmap, mark, new_axes

__all__ = ["plot_throughput"]


def plot_throughput(df: pd.DataFrame, *, ax: Axes | None = None, deadline: float | None = DEADLINE) -> Axes:
    """Cumulative kept samples over time, per run, against the ideal of a perfect system.

    The ideal (dashed staircase, one per worker count) is ``n_workers`` samples every measured
    interval starting at the measured lead, so it reaches the target at the bound. Also: the
    target (horizontal), the ``deadline`` (vertical; None hides it; a deadline far beyond the
    data stays off the axis and the legend says so), and crashes (x) and stalls (◆) marked on
    the curve at the instant they happened. Many runs are drawn thinner and
    coloured by worker count.
    """
    p, run_ids = tidy.prepare(df)
    if len(run_ids) == 0:
        raise ValueError("the event log is empty: there is no throughput to plot")
    ax = new_axes(ax, (7, 4.5))
    summ = analysis.summary(df, deadline=deadline if deadline is not None else math.inf)
    n_runs = len(run_ids)
    codes = p["_run"].to_numpy()
    t = p["t"].to_numpy()
    kept = tidy.kept_mask(p)
    run_end = p.groupby("_run")["t"].max().reindex(range(n_runs)).to_numpy()

    counts = summ["workers"].to_numpy(dtype="int64")
    distinct = sorted(set(counts.tolist()))
    if n_runs <= 1:
        color_of = {c: COLORS["observed"] for c in distinct}
    else:
        colormap = cmap()
        norm = mcolors.Normalize(min(distinct) - 0.5, max(distinct) + 0.5)
        color_of = {c: colormap(norm(c)) for c in distinct}
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
            ft = t[tidy.event_mask(p, kind) & (codes == r) & (p["worker_id"] >= 1).to_numpy()]
            marks[kind] += [(x, np.searchsorted(kt, x, side="right")) for x in ft]

    # the ideal of a perfect system, one per (worker count, target)
    goal = summ["target"].fillna(summ["samples"]).to_numpy(dtype="int64")
    ideal_end = 0.0
    ideal = pd.DataFrame({"w": counts, "goal": goal, "lead": summ["lead_s"], "interval": summ["interval_s"]})
    med = ideal.groupby(["w", "goal"], sort=True)[["lead", "interval"]].median().reset_index()
    for w, g, lead, interval in zip(
        med["w"].to_numpy(dtype="int64").tolist(),
        med["goal"].to_numpy(dtype="int64").tolist(),
        med["lead"].to_numpy(dtype="float64"),
        med["interval"].to_numpy(dtype="float64"),
    ):
        if not np.isfinite(lead) or (g > w and not np.isfinite(interval)):
            continue
        it, icum = analysis.ideal_curve(w, g, float(lead), float(interval if np.isfinite(interval) else 0))
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
            mark(ax, xy[:, 0], xy[:, 1], kind, size=42 if kind == "crash" else 26, zorder=5)

    if many_counts and n_runs > 1:
        import matplotlib.cm as cm

        sm = cm.ScalarMappable(norm=mcolors.Normalize(min(distinct) - 0.5, max(distinct) + 0.5), cmap=cmap())
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
