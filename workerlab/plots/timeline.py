"""``plot_timeline``: the Gantt-style crash timeline of one run, a lane per worker slot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workerlab.analysis import curves
from workerlab.plots.style import COLORS, TIME_LABEL, legend_outside, mark, new_axes

__all__ = ["plot_timeline"]

#: Half the height of a lane's bar.
HALF = 0.3
#: How a process ended -> its bar's colour and legend words, in legend order.
ENDINGS = {
    "stop": (COLORS["life_stop"], "stopped"),
    "crash": (COLORS["life_crash"], "crashed"),
    "stall": (COLORS["life_stall"], "stalled"),
    "open": (COLORS["life_open"], "no end logged"),
}


def plot_timeline(df: pd.DataFrame, *, run_id: str | None = None, ax: Axes | None = None) -> Axes:
    """Gantt-style crash timeline of one run: a lane per worker slot, worker 1 on top.

    Bars are process lifetimes (spawn → crash / stall / stop), coloured by how the process
    ended; each sample is a tick (dark = kept, grey = after the target); crashes (X), stalls
    (◆), restarts (▶, at the lane's top edge) and error lines (★) are markers; a vertical line
    marks the moment the target was reached. A sweep frame shows its first run, or ``run_id``,
    and the title says which. What it shows is ``workerlab.analysis.curves.timeline``.
    """
    data = curves.timeline(df, run_id=run_id)
    ax = new_axes(ax, (9, max(2.2, 1.2 + 0.28 * data.n_workers)))
    handles = _draw_lifetimes(ax, data.lifetimes) + _draw_samples(ax, data.samples)
    msize = 46 if data.n_workers <= 16 else 24
    for kind, k in data.events.groupby("kind", sort=False):
        y = k["worker_id"].to_numpy(dtype="float64") - (HALF + 0.05 if kind == "restart" else 0)
        handles.append(mark(ax, k["t"], y, str(kind), size=msize * (0.8 if kind != "crash" else 1), zorder=4))
    if data.outcome == "reached" and np.isfinite(data.elapsed_s):
        handles.append(
            ax.axvline(
                data.elapsed_s,
                color=COLORS["reached"],
                lw=1.3,
                zorder=5,
                gid="reached",
                label=f"target reached ({data.elapsed_s:.2f} s)",
            )
        )
    lanes = data.lanes
    ax.set_xlim(0, data.end * 1.01 or 1.0)
    ax.set_ylim(max(lanes) + 0.65, min(lanes) - 0.65)
    ax.set_yticks(lanes, [str(w) for w in lanes], fontsize="small" if len(lanes) > 8 else "medium")
    ax.set_ylabel("worker id")
    ax.set_xlabel(TIME_LABEL)
    ax.grid(True, axis="x", alpha=0.25)
    title = "worker timeline"
    if data.n_runs > 1:
        title += f" — run {data.run_id} ({data.nth} of {data.n_runs} runs)"
    if data.outcome not in ("reached", None):
        title += f" — target not reached ({data.outcome})"
    ax.set_title(title)
    legend_outside(ax, handles, 1.005)
    return ax


def _draw_lifetimes(ax: Axes, lifetimes: pd.DataFrame) -> list[Artist]:
    """Process lifetimes as one PolyCollection of bars; legend patches for the endings present."""
    verts = [
        [(s, w - HALF), (e, w - HALF), (e, w + HALF), (s, w + HALF)]
        for s, e, w in zip(lifetimes["start"], lifetimes["end"], lifetimes["worker_id"])
    ]
    fill = [ENDINGS.get(k, ENDINGS["open"])[0] for k in lifetimes["end_event"]]
    ax.add_collection(
        PolyCollection(
            verts, facecolors=fill, edgecolors="#7f7f7f", linewidths=0.4, zorder=1, gid="lifetimes"
        )
    )
    ended = set(lifetimes["end_event"].tolist())
    return [
        Patch(facecolor=color, edgecolor="#7f7f7f", label=f"process ({how})")
        for k, (color, how) in ENDINGS.items()
        if k in ended
    ]


def _draw_samples(ax: Axes, samples: pd.DataFrame) -> list[Artist]:
    """Samples as one LineCollection of short vertical ticks, kept dark and the rest grey."""
    st, sw = samples["t"].to_numpy(), samples["worker_id"].to_numpy(dtype="float64")
    seg = np.empty((len(st), 2, 2))
    seg[:, :, 0] = st[:, None]
    seg[:, 0, 1], seg[:, 1, 1] = sw - HALF * 0.8, sw + HALF * 0.8
    keptc = np.where(samples["kept"].to_numpy(dtype=bool), 0, 1)
    ax.add_collection(
        LineCollection(
            list(seg),
            colors=np.array([mcolors.to_rgba(COLORS["kept"]), mcolors.to_rgba(COLORS["unkept"])])[keptc],
            linewidths=0.8 if len(st) < 5000 else 0.4,
            zorder=2,
            gid="samples",
        )
    )
    handles: list[Artist] = [_tick(COLORS["kept"], "sample (kept)")]
    if (keptc == 1).any():
        handles.append(_tick(COLORS["unkept"], "sample (after target)"))
    return handles


def _tick(color: str, label: str) -> Line2D:
    return Line2D([], [], color=color, marker="|", ls="", markersize=9, label=label)
