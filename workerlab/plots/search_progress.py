"""``plot_search``: a threshold search as it stands, success rate per count beside the model's curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from workerlab.plots.style import COLORS, new_axes

__all__ = ["plot_search"]


def plot_search(
    table: pd.DataFrame,
    *,
    level: float = 0.95,
    threshold: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Per worker count: the measured share of runs meeting the deadline with its Wilson interval
    (``gid="measured"``, error bars), the model's predicted share (``p_pred``, ``gid="model"``), the
    ``level`` (``gid="level"``) and, once known, the ``threshold`` (``gid="threshold"``).

    ``table`` is a search's table (``SearchStatus.table`` / ``Threshold.table``): one row per count
    with ``workers, runs, successes, success_rate, ci_low, ci_high`` and, with a model, ``p_pred``.
    Counts without a run yet show only the prediction; the label of each point gives k/n.
    """
    ax = new_axes(ax, (7, 4.2))
    w = table["workers"].to_numpy(dtype="float64")
    if "p_pred" in table and table["p_pred"].notna().any():
        ax.plot(
            w,
            table["p_pred"],
            color=COLORS["ideal"],
            lw=1.2,
            ls=(0, (5, 2)),
            marker="s",
            ms=3,
            gid="model",
            label="model: predicted share",
            zorder=2,
        )
    ran = table[table["runs"] > 0]
    if len(ran):
        x = ran["workers"].to_numpy(dtype="float64")
        y = ran["success_rate"].to_numpy(dtype="float64")
        err = np.vstack(
            [
                y - ran["ci_low"].to_numpy(dtype="float64"),
                ran["ci_high"].to_numpy(dtype="float64") - y,
            ]
        )
        ax.errorbar(
            x,
            y,
            yerr=np.clip(err, 0, None),
            fmt="o",
            color=COLORS["success"],
            capsize=3,
            ms=5,
            gid="measured",
            label="measured share (Wilson interval)",
            zorder=3,
        )
        for xi, yi, k, n in zip(x, y, ran["successes"], ran["runs"]):
            ax.annotate(
                f"{k}/{n}",
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize="x-small",
            )
    ax.axhline(
        level,
        color=COLORS["success"],
        lw=0.9,
        ls=":",
        gid="level",
        label=f"level {level:g}",
    )
    if threshold is not None:
        ax.axvline(
            threshold,
            color=COLORS["threshold"],
            lw=1.2,
            gid="threshold",
            label=f"threshold: {threshold} workers",
        )
    ax.set_xlim(w.min() - 0.6, w.max() + 0.6)
    ax.set_ylim(-0.03, 1.08)
    ax.set_xticks(w)
    ax.set_xlabel("workers")
    ax.set_ylabel("share of runs meeting the deadline")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return ax
