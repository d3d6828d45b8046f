"""``plot_sweep``: a sweep at a glance, elapsed time per worker count and the success rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from workerlab.analysis import runs as analysis
from workerlab.config import DEADLINE
from workerlab.plots.style import COLORS, DEADLINE_STRETCH, legend_outside, new_axes

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["plot_sweep"]


def plot_sweep(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    deadline: float = DEADLINE,
    level: float = 0.95,
    model: Model | pd.DataFrame | None = None,
) -> Axes:
    """A sweep at a glance: elapsed time per worker count against the deadline, and the success rate.

    Every run that reached its target is a point (slightly jittered sideways; blue met the
    deadline, orange missed it), runs that never reached it are ✕ at the top edge; the median
    elapsed time per count is a line, the bound of a perfect system a dashed line, the deadline
    a horizontal line. On a second y axis (right): the share of runs that met the deadline with
    its Wilson interval, and ``level``. The threshold of ``workerlab.threshold`` is a vertical
    line; the title says it in words. A deadline far above the data stays off the axis and the
    legend says so. ``model`` (a ``wl.Model``, or its ``predict`` frame) adds the predicted share
    per count (``p_meet``) on the right axis, beside the measured one, over every count from the
    smallest to the largest swept (``gid="model"``). Returns the main Axes (the twin is ``ax.get_shared_x_axes().get_siblings(ax)``).
    """
    from workerlab.analysis.judge import judge
    from workerlab.thresholds.verdict import threshold

    summ = analysis.summary(df, deadline=deadline)
    if summ.empty:
        raise ValueError("the event log is empty: there is no sweep to plot")
    th = threshold(df, deadline=deadline, level=level)
    tab = th.table
    ax = new_axes(ax, (8.5, 4.8))
    counts = tab["workers"].to_numpy(dtype="int64")

    judged = judge(summ)
    reached, met = judged["reached"].to_numpy(dtype=bool), judged["met"].to_numpy(dtype=bool)
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
        handles.append(_dot(COLORS["met"], f"run that met the deadline ({int(met.sum())})"))
        if (reached & ~met).any():
            handles.append(_dot(COLORS["missed"], f"run that missed it ({int((reached & ~met).sum())})"))
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
    if model is not None:
        handles += _model_curve(twin, model, summ, counts, deadline)
    handles.append(
        twin.axhline(level, color=COLORS["success"], lw=0.9, ls=":", gid="level", label=f"level {level:g}")
    )
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("share of runs meeting the deadline", color=COLORS["success"])
    twin.tick_params(axis="y", colors=COLORS["success"])

    if th.workers is not None:
        verdict = "conclusive" if th.conclusive else "strong" if th.strong else "not yet conclusive"
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
    legend_outside(twin, handles, 1.16)
    return ax


def _model_curve(
    twin: Axes, model: Model | pd.DataFrame, summ: pd.DataFrame, counts: np.ndarray, deadline: float
) -> list:
    """The model's predicted share meeting the deadline per count, on the right axis."""
    if isinstance(model, pd.DataFrame):
        pred = model
    else:
        target = summ["target"].dropna()
        samples = int(target.iloc[0]) if len(target) else int(summ["samples"].max())
        pred = model.predict(range(int(counts.min()), int(counts.max()) + 1), samples, deadline, 4000, seed=0)
    return twin.plot(
        pred["workers"],
        pred["p_meet"],
        color=COLORS["model"],
        lw=1.3,
        ls=(0, (5, 2)),
        marker="s",
        markersize=3.5,
        zorder=2,
        gid="model",
        label="model: predicted share",
    )


def _dot(color: str, label: str) -> Line2D:
    """A legend entry for the runs' dots."""
    return Line2D([], [], ls="", marker="o", color=color, alpha=0.75, label=label)
