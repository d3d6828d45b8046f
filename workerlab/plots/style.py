"""What every plot shares: colours, markers, labels, and how a plot gets its Axes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D

from workerlab.analysis.report import seconds

__all__ = [
    "COLORS",
    "MARKERS",
    "KIND_LABELS",
    "new_axes",
    "outcome",
    "cmap",
    "seconds",
    "mark",
    "legend_outside",
    "deadline_line",
    "level_line",
    "threshold_line",
    "model_line",
]

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
    "model": "#8e44ad",
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


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new pyplot figure (the only place pyplot is touched)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def outcome(summary_row: pd.Series | Any) -> str | None:
    """How a run ended, or None while it is still running (no run-level stop row yet)."""
    value = summary_row["outcome"]
    return None if pd.isna(value) else str(value)


def cmap() -> mcolors.Colormap:
    """viridis without its pale yellow end, which vanishes on white."""
    import matplotlib

    return mcolors.ListedColormap(
        matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, 256)), name="viridis_dark"
    )


def mark(ax: Axes, x: Any, y: Any, kind: str, *, size: float, zorder: float) -> PathCollection:
    """Markers of one kind of event (crash, stall, restart, error), drawn alike on every plot."""
    return ax.scatter(
        x,
        y,
        marker=MARKERS[kind],
        s=size,
        color=COLORS[kind],
        edgecolors="white",
        linewidths=0.5,
        zorder=zorder,
        gid=kind,
        label=f"{kind} ({len(x)})",
    )


def legend_outside(ax: Axes, handles: list[Artist], x: float) -> None:
    """The legend to the right of the plot, its top at the Axes' top (``x`` in Axes fractions)."""
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(x, 1.0),
        fontsize="small",
        frameon=False,
        borderaxespad=0.0,
    )


def deadline_line(ax: Axes, deadline: float, *, far: bool, vertical: bool) -> Line2D:
    """The deadline across the plot (vertical on a time axis); ``far``: it is off the axis, the label points at it."""
    label = f"deadline {deadline:g} s" + (f" (off the axis, {'→' if vertical else '↑'})" if far else "")
    line = ax.axvline if vertical else ax.axhline
    return line(deadline, color=COLORS["deadline"], lw=1.1, ls="--", zorder=1, gid="deadline", label=label)


def level_line(ax: Axes, level: float) -> Line2D:
    """The share of runs that must meet the deadline, across a share axis."""
    return ax.axhline(level, color=COLORS["success"], lw=0.9, ls=":", gid="level", label=f"level {level:g}")


def threshold_line(
    ax: Axes, workers: int, *, label: str, lw: float, alpha: float | None = None, zorder: float = 1
) -> Line2D:
    """The threshold worker count, across a workers axis."""
    return ax.axvline(
        workers, color=COLORS["threshold"], lw=lw, alpha=alpha, zorder=zorder, gid="threshold", label=label
    )


def model_line(ax: Axes, x: Any, y: Any, *, color: str, lw: float, size: float) -> list[Line2D]:
    """The model's predicted share meeting the deadline per worker count."""
    return ax.plot(
        x,
        y,
        color=color,
        lw=lw,
        ls=(0, (5, 2)),
        marker="s",
        markersize=size,
        zorder=2,
        gid="model",
        label="model: predicted share",
    )
