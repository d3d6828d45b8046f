"""``plot_search``: a threshold search as it stands, success rate per count beside the model's curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from workerlab.plots.style import COLORS, level_line, model_line, new_axes, threshold_line

__all__ = ["plot_search", "measured_shares"]


def measured_shares(table: pd.DataFrame) -> pd.DataFrame:
    """``workers, share, below, above, label``: the counts of a search's table that have runs, each
    share with the distances down and up to its interval's ends (never negative) and its k/n."""
    ran = table[table["runs"] > 0]
    y = ran["success_rate"].to_numpy(dtype="float64")
    return pd.DataFrame(
        {
            "workers": ran["workers"].to_numpy(dtype="float64"),
            "share": y,
            "below": np.clip(y - ran["ci_low"].to_numpy(dtype="float64"), 0, None),
            "above": np.clip(ran["ci_high"].to_numpy(dtype="float64") - y, 0, None),
            "label": [f"{k}/{n}" for k, n in zip(ran["successes"], ran["runs"])],
        }
    )


def plot_search(
    table: pd.DataFrame,
    *,
    level: float = 0.95,
    threshold: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Per worker count: the measured share of runs meeting the deadline with its exact (Clopper-Pearson) interval
    (``gid="measured"``, error bars), the model's predicted share (``p_pred``, ``gid="model"``), the
    ``level`` (``gid="level"``) and, once known, the ``threshold`` (``gid="threshold"``).

    ``table`` is a search's table (``SearchStatus.table`` / ``Threshold.table``): one row per count
    with ``workers, runs, successes, success_rate, ci_low, ci_high`` and, with a model, ``p_pred``.
    Counts without a run yet show only the prediction; the label of each point gives k/n
    (``measured_shares``).
    """
    ax = new_axes(ax, (7, 4.2))
    w = table["workers"].to_numpy(dtype="float64")
    if "p_pred" in table and table["p_pred"].notna().any():
        model_line(ax, w, table["p_pred"], color=COLORS["ideal"], lw=1.2, size=3)
    _draw_measured(ax, measured_shares(table))
    level_line(ax, level)
    if threshold is not None:
        threshold_line(ax, threshold, label=f"threshold: {threshold} workers", lw=1.2, zorder=2)
    ax.set_xlim(w.min() - 0.6, w.max() + 0.6)
    ax.set_ylim(-0.03, 1.08)
    ax.set_xticks(w)
    ax.set_xlabel("workers")
    ax.set_ylabel("share of runs meeting the deadline")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return ax


def _draw_measured(ax: Axes, shares: pd.DataFrame) -> None:
    """Each measured share with its interval as an error bar, labelled k/n above."""
    if shares.empty:
        return
    x, y = shares["workers"].to_numpy(), shares["share"].to_numpy()
    ax.errorbar(
        x,
        y,
        yerr=np.vstack([shares["below"].to_numpy(), shares["above"].to_numpy()]),
        fmt="o",
        color=COLORS["success"],
        capsize=3,
        ms=5,
        gid="measured",
        label="measured share (exact interval)",
        zorder=3,
    )
    for xi, yi, text in zip(x, y, shares["label"]):
        ax.annotate(
            text, (xi, yi), textcoords="offset points", xytext=(0, 7), ha="center", fontsize="x-small"
        )
