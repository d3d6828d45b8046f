"""``plot_success_map``: P(meet the deadline) over worker counts x MTBF, from a model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from workerlab.config import DEADLINE
from workerlab.plots.style import new_axes

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["success_map", "plot_success_map"]

#: MTBF values of the map, in intervals of the model (10 = crash-prone, as the original may be)
MTBF_INTERVALS = (5, 7.5, 10, 15, 20, 30, 45, 60, 120)


def success_map(
    model: Model,
    *,
    workers: Iterable[int] = range(1, 17),
    mtbf: Iterable[float] | None = None,
    samples: int = 150,
    deadline: float = DEADLINE,
    runs: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """``workers, mtbf, p_meet`` for the model with each MTBF (seconds; default: ``MTBF_INTERVALS``
    and the model's own)."""
    if mtbf is None:
        values = sorted({round(m * model.interval, 9) for m in MTBF_INTERVALS} | {model.mtbf} - {0.0})
    else:
        values = [float(m) for m in mtbf]
    counts = [int(w) for w in workers]
    frames = []
    for m in values:
        p = model.replace(mtbf=m).predict(counts, samples, deadline, runs, seed=seed)
        frames.append(p[["workers", "p_meet"]].assign(mtbf=m))
    return pd.concat(frames, ignore_index=True)[["workers", "mtbf", "p_meet"]]


def plot_success_map(
    data: Model | pd.DataFrame,
    *,
    ax: Axes | None = None,
    workers: Iterable[int] = range(1, 17),
    mtbf: Iterable[float] | None = None,
    samples: int = 150,
    deadline: float = DEADLINE,
    level: float = 0.95,
    runs: int = 2000,
) -> Axes:
    """A heat map of the share of runs meeting ``deadline``, per worker count (x) and MTBF (y).

    ``data`` is a ``wl.Model`` (simulated here, ``runs`` per cell, with each MTBF in turn) or a
    ``success_map`` frame. Cells at or above ``level`` are outlined; the model's own MTBF is
    marked on the y axis. Returns the Axes (the image has ``gid="success_map"``).
    """
    own: float | None = None
    if isinstance(data, pd.DataFrame):
        grid = data
    else:
        own = data.mtbf
        grid = success_map(data, workers=workers, mtbf=mtbf, samples=samples, deadline=deadline, runs=runs)
    table = grid.pivot(index="mtbf", columns="workers", values="p_meet").sort_index()
    ax = new_axes(ax, (8.5, 4.2))
    z = table.to_numpy(dtype="float64")
    xs, ys = table.columns.to_numpy(), table.index.to_numpy()
    image = ax.imshow(z, origin="lower", aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, gid="success_map")
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = z[i, j]
            ax.text(j, i, f"{v:.2f}"[1:] if 0 < v < 1 else f"{v:.0f}", ha="center", va="center", fontsize=7)
    ok = np.argwhere(z >= level)
    for i, j in ok:
        ax.add_patch(_cell(j, i))
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    labels = [f"{y:.3g}" + (" ◀ model" if own is not None and np.isclose(y, own) else "") for y in ys]
    ax.set_yticks(range(len(ys)), labels)
    ax.set_xlabel("workers")
    ax.set_ylabel("MTBF (s): mean time to a crash")
    ax.set_title(
        f"P({samples} samples within {deadline:g} s) from the model; outlined: >= {level:g}",
        fontsize="medium",
    )
    ax.figure.colorbar(image, ax=ax, label="share of runs meeting the deadline")
    return ax


def _cell(x: int, y: int):  # noqa: ANN202 - a matplotlib patch
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, lw=1.2, ec="black", gid="level_cell")
