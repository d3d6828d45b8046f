"""``plot_search``: the picture of a threshold search's answer, or of a search as it stands.

Given the ``SearchResult`` (``wl.find_threshold``), it draws what ``result.to_frame()`` holds: each
measured count's share of runs meeting the deadline with the interval its evidence has (named by
its kind), the model's predicted share, the level, the answer and the count below. Given a search's
table (``SearchStatus.table``, while it runs: the threshold widget), the same without the roles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from workerlab.plots.style import COLORS, level_line, model_line, new_axes, threshold_line
from workerlab.thresholds.result import SearchResult

__all__ = ["plot_search", "measured_shares"]


def measured_shares(table: pd.DataFrame) -> pd.DataFrame:
    """``workers, share, below, above, label``: the counts of a search's table (or ``to_frame()``)
    that have runs, each share with the distances down and up to its interval's ends (never
    negative) and its k/n."""
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
    result: SearchResult | pd.DataFrame,
    *,
    ax: Axes | None = None,
    level: float | None = None,
    threshold: int | None = None,
) -> Axes:
    """Per worker count: the measured share of runs meeting the deadline with its interval (error
    bars, ``gid="measured"``, one per measured count, labelled k/n), the model's predicted share
    (``p_pred``, ``gid="model"``), the level (``gid="level"``) and the answer (``gid="threshold"``).

    ``result``: a ``SearchResult``: its level, its answer (labelled "so far, not conclusive" where it
    is not) and the count below (``gid="below"``) come from it, and the intervals are those of its
    evidence (``result.to_frame()``: its plans' counted runs, the kind in the legend); ``level``
    and ``threshold`` are refused beside it. Or a search's table as it runs (``SearchStatus.table``:
    ``workers, runs, successes, success_rate, ci_low, ci_high`` and ``p_pred``), with ``level``
    (default 0.95) and the ``threshold`` to mark, if any. Returns the Axes.
    """
    if isinstance(result, pd.DataFrame):
        ax = new_axes(ax, (7, 4.2))
        _draw(ax, result, 0.95 if level is None else level, "measured share (fixed-sample CI)")
        if threshold is not None:
            threshold_line(ax, threshold, label=f"threshold: {threshold} workers", lw=1.2, zorder=2)
        _finish(ax, result)
        ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
        return ax
    if level is not None or threshold is not None:
        raise TypeError(
            "plot_search(result) takes the level and the answer from the result; "
            "level= and threshold= go with a search's table"
        )
    frame = result.to_frame()
    ax = new_axes(ax, (9, 4.2))
    kinds = " / ".join(sorted(frame["ci_kind"].dropna().unique()))
    conf = f"{result.confidence * 100:.4g}%"
    _draw(ax, frame, result.level, f"measured share ({conf} {kinds or 'fixed-sample'} CI)")
    if result.workers is not None:
        said = "" if result.conclusive else " so far, not conclusive"
        threshold_line(ax, result.workers, label=f"answer: {result.workers} workers{said}", lw=1.2, zorder=2)
    below = frame[(frame["role"] == "below") & (frame["runs"] > 0)]
    if not below.empty:
        b = below.iloc[0]
        ax.plot(
            [b["workers"]],
            [b["success_rate"]],
            ls="",
            marker="v",
            ms=9,
            color=COLORS["deadline"],
            zorder=4,
            gid="below",
            label=f"count below: {b['workers']} workers ({b['decision'] if pd.notna(b['decision']) else 'open'})",
        )
    ax.set_title(result.sentence, fontsize="small", loc="left")
    _finish(ax, frame)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return ax


def _draw(ax: Axes, frame: pd.DataFrame, level: float, label: str) -> None:
    """The model's curve, the measured shares with their intervals, the level."""
    w = frame["workers"].to_numpy(dtype="float64")
    if "p_pred" in frame and frame["p_pred"].notna().any():
        model_line(ax, w, frame["p_pred"].to_numpy(dtype="float64"), color=COLORS["ideal"], lw=1.2, size=3)
    _draw_measured(ax, measured_shares(frame), label)
    level_line(ax, level)


def _finish(ax: Axes, frame: pd.DataFrame) -> None:
    w = frame["workers"].to_numpy(dtype="float64")
    if w.size:
        ax.set_xlim(w.min() - 0.6, w.max() + 0.6)
        ax.set_xticks(w)
    ax.set_ylim(-0.03, 1.08)
    ax.set_xlabel("workers")
    ax.set_ylabel("share of runs meeting the deadline")
    ax.grid(True, alpha=0.25)


def _draw_measured(ax: Axes, shares: pd.DataFrame, label: str) -> None:
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
        label=label,
        zorder=3,
    )
    for xi, yi, text in zip(x, y, shares["label"]):
        ax.annotate(
            text, (xi, yi), textcoords="offset points", xytext=(0, 7), ha="center", fontsize="x-small"
        )
