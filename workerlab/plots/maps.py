"""``plot_success_map``: P(meet the deadline) over worker counts x MTBF, as a model predicted it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from workerlab.plots.style import new_axes

__all__ = ["plot_success_map"]


def plot_success_map(grid: pd.DataFrame, *, ax: Axes | None = None, level: float = 0.95) -> Axes:
    """A heat map of the share of runs meeting the deadline, per worker count (x) and MTBF (y).

    ``grid`` is ``Model.success_map(...)``: one row per cell, ``workers, mtbf, p_meet`` (and, from
    the model, ``own``: its own MTBF, marked on the y axis; ``samples`` and ``deadline_s`` for the
    title). The plot draws it and simulates nothing. Cells at or above ``level`` are outlined.
    Returns the Axes (the image has ``gid="success_map"``).
    """
    if not isinstance(grid, pd.DataFrame):
        raise TypeError(
            f"plot_success_map draws a grid, not a {type(grid).__name__}: pass model.success_map(...)"
        )
    table = grid.pivot(index="mtbf", columns="workers", values="p_meet").sort_index()
    ax = new_axes(ax, (8.5, 4.2))
    z = table.to_numpy(dtype="float64")
    xs, ys = table.columns.to_numpy(), table.index.to_numpy()
    image = ax.imshow(z, origin="lower", aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, gid="success_map")
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = z[i, j]
            ax.text(j, i, f"{v:.2f}"[1:] if 0 < v < 1 else f"{v:.0f}", ha="center", va="center", fontsize=7)
    for i, j in np.argwhere(z >= level):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.2, ec="black", gid="level_cell"))
    own = set(grid.loc[grid["own"].astype(bool), "mtbf"]) if "own" in grid else set()
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:.3g}" + (" ◀ model" if y in own else "") for y in ys])
    ax.set_xlabel("workers")
    ax.set_ylabel("MTBF (s): mean time to a crash")
    ax.set_title(f"{_what(grid)} from the model; outlined: >= {level:g}", fontsize="medium")
    ax.figure.colorbar(image, ax=ax, label="share of runs meeting the deadline")
    return ax


def _what(grid: pd.DataFrame) -> str:
    """What a cell is the probability of: "P(150 samples within 10 s)", as far as the grid says."""
    if {"samples", "deadline_s"} <= set(grid) and grid["samples"].nunique() == grid[
        "deadline_s"
    ].nunique() == 1:
        return f"P({int(grid['samples'].iloc[0])} samples within {float(grid['deadline_s'].iloc[0]):g} s)"
    return "P(meet the deadline)"
