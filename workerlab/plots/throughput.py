"""``plot_throughput``: cumulative kept samples per run against the ideal of a perfect system."""

from __future__ import annotations

import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes

from workerlab.analysis import curves
from workerlab.config import DEADLINE
from workerlab.plots.style import COLORS, DEADLINE_STRETCH, TIME_LABEL, cmap, deadline_line, mark, new_axes

__all__ = ["plot_throughput"]


def plot_throughput(df: pd.DataFrame, *, ax: Axes | None = None, deadline: float | None = DEADLINE) -> Axes:
    """Cumulative kept samples over time, per run, against the ideal of a perfect system.

    The ideal (dashed staircase, one per worker count) is ``n_workers`` samples every measured
    interval starting at the measured lead, so it reaches the target at the bound. Also: the
    target (horizontal), the ``deadline`` (vertical; None hides it; a deadline far beyond the
    data stays off the axis and the legend says so), and crashes (x) and stalls (◆) marked on
    the curve at the instant they happened. Many runs are drawn thinner and
    coloured by worker count. What it shows is ``workerlab.analysis.curves.throughput``.
    """
    data = curves.throughput(df, deadline=deadline)
    ax = new_axes(ax, (7, 4.5))
    distinct = sorted(set(data.counts.tolist()))
    norm = mcolors.Normalize(min(distinct) - 0.5, max(distinct) + 0.5)
    if data.n_runs <= 1:
        color_of = {c: COLORS["observed"] for c in distinct}
    else:
        colormap = cmap()
        color_of = {c: colormap(norm(c)) for c in distinct}
    many_counts = len(distinct) > 8
    _draw_runs(ax, data, color_of, many_counts)
    _draw_ideals(ax, data, color_of)
    for g in data.goals:
        ax.axhline(
            g,
            color=COLORS["target"],
            lw=0.9,
            ls=":",
            gid="target",
            label=f"target {g}" if g == max(data.goals) else None,
            zorder=1,
        )
    # a deadline far beyond the data (time-compressed runs) would squash the curves: keep the
    # axis on the data and point at the deadline instead
    far = deadline is not None and deadline > DEADLINE_STRETCH * data.data_end
    if deadline is not None:
        deadline_line(ax, deadline, far=far, vertical=True)
    for kind, pts in data.marks.groupby("kind", sort=False):
        mark(
            ax,
            pts["t"].to_numpy(),
            pts["kept"].to_numpy("float64"),
            str(kind),
            size=42 if kind == "crash" else 26,
            zorder=5,
        )
    if many_counts and data.n_runs > 1:
        import matplotlib.cm as cm

        ax.figure.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap()), ax=ax, label="workers", pad=0.01)
    end = data.data_end if far or deadline is None else max(data.data_end, deadline)
    ax.set_xlim(0, end * 1.03 or 1.0)
    ax.set_ylim(0, data.top * 1.06)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("kept samples (cumulative)")
    ax.set_title("throughput" if data.n_runs == 1 else f"throughput — {data.n_runs} runs")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return ax


def _workers(c: int) -> str:
    return f"{c} worker{'s' if c != 1 else ''}"


def _draw_runs(ax: Axes, data: curves.Throughput, color_of: dict, many_counts: bool) -> None:
    """One step curve per run; a legend entry per worker count (unless there are many)."""
    one = data.n_runs == 1
    lw = 1.8 if one else max(0.6, 1.4 - 0.04 * data.n_runs)
    labelled: set[int] = set()
    for _, run in data.curves.groupby("run", sort=True):
        c = int(run["workers"].iloc[0])
        if one:
            label: str | None = f"observed ({_workers(c)})"
        elif not many_counts and c not in labelled:
            label = _workers(c)
        else:
            label = None
        labelled.add(c)
        ax.step(
            run["t"].to_numpy(),
            run["kept"].to_numpy(),
            where="post",
            color=color_of[c],
            lw=lw,
            alpha=1.0 if one else 0.7,
            label=label,
            gid="observed",
            zorder=3,
        )


def _draw_ideals(ax: Axes, data: curves.Throughput, color_of: dict) -> None:
    """The perfect system's staircase per (worker count, target): grey for one run, else in its count's colour."""
    one = data.n_runs == 1
    for (w, _), ideal in data.ideals.groupby(["workers", "goal"], sort=False):
        ax.step(
            ideal["t"].to_numpy(),
            ideal["kept"].to_numpy(),
            where="post",
            ls=(0, (4, 2)),
            lw=1.2 if one else 0.9,
            color=COLORS["ideal"] if one else color_of[w],
            label="ideal (perfect system)" if one else None,
            gid="ideal",
            zorder=2,
        )
    if not one and data.ideal_end > 0:  # one legend entry for the per-count ideals
        ax.plot([], [], ls=(0, (4, 2)), lw=0.9, color=COLORS["ideal"], label="ideal per worker count")
