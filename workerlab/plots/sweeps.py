"""``plot_sweep``: a sweep's verdict at a glance, elapsed time per worker count and the success rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from workerlab.plots.style import (
    COLORS,
    DEADLINE_STRETCH,
    deadline_line,
    legend_outside,
    level_line,
    model_line,
    new_axes,
    threshold_line,
)
from workerlab.thresholds.verdict import SweepVerdict

__all__ = ["plot_sweep", "sweep_view", "SweepView"]


@dataclass(frozen=True)
class SweepView:
    """What ``plot_sweep`` shows, before any drawing (see ``sweep_view``)."""

    #: ``workers, x, elapsed_s, reached, met``: one row per run, ``x`` its jittered position
    runs: pd.DataFrame
    #: the sweep's verdict, its ``table`` one row per worker count
    verdict: SweepVerdict
    #: the deadline is far above the data and stays off the axis
    far: bool
    #: the top of the elapsed-time axis (s)
    top: float

    @property
    def deadline(self) -> float:
        return self.verdict.deadline

    @property
    def level(self) -> float:
        return self.verdict.level

    @property
    def counts(self) -> np.ndarray:
        return self.verdict.table["workers"].to_numpy(dtype="int64")


def sweep_view(verdict: SweepVerdict) -> SweepView:
    """The runs and the axis limits of ``plot_sweep``, from the verdict's own judged runs and table.

    Nothing is judged or counted here: the verdict (``wl.threshold``) did that once. Raises
    ``TypeError`` for anything but a ``SweepVerdict`` (an event log: pass ``wl.threshold(df)``),
    ``ValueError`` for a verdict without runs.
    """
    if not isinstance(verdict, SweepVerdict):
        raise TypeError(
            f"plot_sweep draws a sweep's verdict, not a {type(verdict).__name__}: pass wl.threshold(df) "
            "(its deadline, level and confidence are the verdict's)"
        )
    judged, table = verdict.judged, verdict.table
    if judged.empty:
        raise ValueError("the verdict has no runs: there is no sweep to plot")
    n = len(judged)
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, n) if len(table) > 1 else np.zeros(n)
    runs = pd.DataFrame(
        {
            "workers": judged["workers"].to_numpy(dtype="float64"),
            "elapsed_s": judged["elapsed_s"].to_numpy(dtype="float64"),
            "reached": judged["reached"].to_numpy(dtype=bool),
            "met": judged["met"].to_numpy(dtype=bool),
        }
    )
    runs.insert(1, "x", runs["workers"].to_numpy() + jitter)
    reached_el = runs.loc[runs["reached"], "elapsed_s"].to_numpy()
    data_top = float(np.nanmax(np.concatenate([reached_el, table["median_bound_s"].to_numpy()]), initial=0.0))
    deadline = verdict.deadline
    far = deadline > DEADLINE_STRETCH * data_top > 0
    return SweepView(
        runs=runs,
        verdict=verdict,
        far=far,
        top=(data_top if far else max(data_top, deadline)) * 1.12 or 1.0,
    )


def plot_sweep(verdict: SweepVerdict, *, ax: Axes | None = None, model: pd.DataFrame | None = None) -> Axes:
    """A sweep's verdict at a glance: elapsed time per worker count against the deadline, and the success rate.

    ``verdict`` is ``wl.threshold(df)`` of a sweep's event log: the plot draws its judged runs and
    its table at its deadline, level and confidence, and computes nothing again. Every run that
    reached its target is a point (slightly jittered sideways; blue met the deadline, orange missed
    it), runs that never reached it are ✕ at the top edge; the median elapsed time per count is a
    line, the bound of a perfect system a dashed line, the deadline a horizontal line. On a second
    y axis (right): the share of runs that met the deadline with its exact (Clopper-Pearson)
    interval, and the level. The threshold is a vertical line; the title says it in words. A
    deadline far above the data stays off the axis and the legend says so. ``model``: a
    ``Model.predict`` frame (``workers, p_meet``), made for the sweep's target and deadline, adds
    the predicted share per count on the right axis over the counts from the smallest to the largest
    swept (``gid="model"``). Returns the main Axes (the twin is
    ``ax.get_shared_x_axes().get_siblings(ax)``). What it shows is ``sweep_view``.
    """
    view = sweep_view(verdict)
    if model is not None and not isinstance(model, pd.DataFrame):
        raise TypeError(
            "model= takes the prediction to draw, a Model.predict frame: "
            "model.predict(range(first, last + 1), samples, deadline)"
        )
    ax = new_axes(ax, (8.5, 4.8))
    handles = _draw_runs(ax, view)
    ax.set_ylim(0, view.top)
    handles += _draw_not_reached(ax, view)
    twin = ax.twinx()
    handles += _draw_share(twin, view, model)
    th, counts, deadline, level = view.verdict, view.counts, view.deadline, view.level
    if th.workers is not None:
        word = "conclusive" if th.conclusive else "strong" if th.strong else "not yet conclusive"
        label = f"threshold: {th.workers} workers ({word})"
        handles.append(threshold_line(ax, th.workers, label=label, lw=1.4, alpha=0.8))
        title = f"threshold: {th.workers} workers meet {deadline:g} s ({word} at {level:g})"
    else:
        title = f"no worker count tested meets {deadline:g} s in {level:g} of runs"
    n_counts = f"{len(counts)} worker count{'s' if len(counts) != 1 else ''}"
    ax.set_title(f"sweep — {len(view.runs)} runs over {n_counts}\n{title}", fontsize="medium")
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlim(counts.min() - 0.6, counts.max() + 0.6)
    ax.set_xlabel("workers")
    ax.set_ylabel("elapsed to the target (s)")
    ax.grid(True, alpha=0.25)
    legend_outside(twin, handles, 1.16)
    return ax


def _draw_runs(ax: Axes, view: SweepView) -> list[Artist]:
    """The runs that reached the target as dots, the median and the bound per count, the deadline."""
    runs, tab = view.runs, view.verdict.table
    reached, met = runs["reached"].to_numpy(), runs["met"].to_numpy()
    handles: list[Artist] = []
    if reached.any():
        ax.scatter(
            runs["x"].to_numpy()[reached],
            runs["elapsed_s"].to_numpy()[reached],
            s=22,
            c=list(np.where(met[reached], COLORS["met"], COLORS["missed"])),
            alpha=0.75,
            linewidths=0,
            zorder=3,
            gid="runs",
        )
        handles.append(_dot(COLORS["met"], f"run that met the deadline ({int(met.sum())})"))
        if (reached & ~met).any():
            handles.append(_dot(COLORS["missed"], f"run that missed it ({int((reached & ~met).sum())})"))
    # the median and the bound per count: (column, gid, label, style)
    lines: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "median_elapsed_s",
            "median",
            "median elapsed",
            {"lw": 1.6, "marker": "_", "markersize": 14, "zorder": 4},
        ),
        ("median_bound_s", "bound", "bound (perfect system)", {"lw": 1.1, "ls": (0, (4, 2)), "zorder": 2}),
    ]
    colors = {"median": COLORS["median"], "bound": COLORS["ideal"]}
    for column, gid, label, style in lines:
        handles += ax.plot(tab["workers"], tab[column], color=colors[gid], gid=gid, label=label, **style)
    handles.append(deadline_line(ax, view.deadline, far=view.far, vertical=False))
    return handles


def _draw_not_reached(ax: Axes, view: SweepView) -> list[Artist]:
    """The runs that never reached the target, as ✕ at the top edge."""
    missing = view.runs.loc[~view.runs["reached"], "x"].to_numpy()
    if not len(missing):
        return []
    ax.scatter(
        missing,
        np.full(len(missing), 0.97),
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
    label = f"target not reached ({len(missing)})"
    return [Line2D([], [], ls="", marker="X", color=COLORS["crash"], label=label)]


def _draw_share(twin: Axes, view: SweepView, model: pd.DataFrame | None) -> list[Artist]:
    """On the right axis: the share meeting the deadline with its interval, the model's, the level."""
    tab, counts = view.verdict.table, view.counts
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
    handles: list[Artist] = [
        *twin.plot(
            counts,
            tab["success_rate"].to_numpy(dtype="float64"),
            color=COLORS["success"],
            lw=1.4,
            marker="o",
            markersize=5,
            zorder=2,
            gid="success",
            label=f"share meeting the deadline ({view.verdict.confidence:.0%} CI)",
        )
    ]
    if model is not None:
        handles += _model_curve(twin, model, view)
    handles.append(level_line(twin, view.level))
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("share of runs meeting the deadline", color=COLORS["success"])
    twin.tick_params(axis="y", colors=COLORS["success"])
    return handles


def _model_curve(twin: Axes, pred: pd.DataFrame, view: SweepView) -> list[Line2D]:
    """The predicted share meeting the deadline per count (``pred``: ``workers, p_meet``), on the right
    axis, over the swept counts."""
    w = pred["workers"].to_numpy(dtype="int64")
    shown = pred[(w >= view.counts.min()) & (w <= view.counts.max())].sort_values("workers")
    return model_line(twin, shown["workers"], shown["p_meet"], color=COLORS["model"], lw=1.3, size=3.5)


def _dot(color: str, label: str) -> Line2D:
    """A legend entry for the runs' dots."""
    return Line2D([], [], ls="", marker="o", color=color, alpha=0.75, label=label)
