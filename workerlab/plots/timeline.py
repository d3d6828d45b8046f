"""``plot_timeline``: the Gantt-style crash timeline of one run, a lane per worker slot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workerlab.analysis import runs as analysis
from workerlab.log import tidy
from workerlab.plots.style import COLORS, TIME_LABEL, legend_outside, mark, new_axes, outcome

__all__ = ["plot_timeline"]


def plot_timeline(df: pd.DataFrame, *, run_id: str | None = None, ax: Axes | None = None) -> Axes:
    """Gantt-style crash timeline of one run: a lane per worker slot, worker 1 on top.

    Bars are process lifetimes (spawn → crash / stall / stop), coloured by how the process
    ended; each sample is a tick (dark = kept, grey = after the target); crashes (X), stalls
    (◆), restarts (▶, at the lane's top edge) and error lines (★) are markers; a vertical line
    marks the moment the target was reached. A sweep frame shows its first run, or ``run_id``,
    and the title says which.
    """
    rows, rid, n_runs = tidy.select_run(df, run_id)
    n_workers = int(rows["n_workers"].iloc[0])
    ax = new_axes(ax, (9, max(2.2, 1.2 + 0.28 * n_workers)))
    p, _ = tidy.prepare(rows)
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
    s = p[tidy.event_mask(p, "sample")]
    st, sw = s["t"].to_numpy(), s["worker_id"].to_numpy(dtype="float64")
    seg = np.empty((len(st), 2, 2))
    seg[:, :, 0] = st[:, None]
    seg[:, 0, 1], seg[:, 1, 1] = sw - half * 0.8, sw + half * 0.8
    keptc = np.where(s["kept"].fillna(False).to_numpy(dtype=bool), 0, 1)
    ticks = LineCollection(
        list(seg),
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
        k = p[tidy.event_mask(p, kind) & (p["worker_id"] >= 1).to_numpy()]
        if k.empty:
            continue
        y = k["worker_id"].to_numpy(dtype="float64") - (half + 0.05 if kind == "restart" else 0)
        handles.append(mark(ax, k["t"], y, kind, size=msize * (0.8 if kind != "crash" else 1), zorder=4))
    if outcome(summ) == "reached" and np.isfinite(summ["elapsed_s"]):
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
        nth = list(pd.unique(df["run_id"])).index(rid) + 1
        title += f" — run {rid} ({nth} of {n_runs} runs)"
    if outcome(summ) not in ("reached", None):
        title += f" — target not reached ({summ['outcome']})"
    ax.set_title(title)
    legend_outside(ax, handles, 1.005)
    return ax
