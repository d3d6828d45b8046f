"""The figure-level functions: ``plot_run`` (three panels of one run) and the dashboard's frames.

Axes-level plots (``plot_throughput``, ``plot_latency``, ``plot_timeline``, ``plot_sweep``) take
an ``ax``; the functions here own their figure. ``plot_run`` returns a bare ``Figure``, not
registered with pyplot, so that a notebook shows it once and a script can ``savefig`` it.

The dashboard's frames are drawn by ``plots.live.LiveFigure``, whose artists are made once and
updated frame after frame; the dashboard calls it in its rendering thread (``draw_once`` here
warms that thread up).
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

from workerlab.analysis import report
from workerlab.analysis import runs as analysis
from workerlab.log import tidy
from workerlab.plots.latency import plot_latency
from workerlab.plots.live import FIG_DPI, FIG_SIZE
from workerlab.plots.throughput import plot_throughput
from workerlab.plots.timeline import plot_timeline

__all__ = ["plot_run", "draw_once", "FIG_SIZE", "FIG_DPI"]


def plot_run(
    df: pd.DataFrame, *, run_id: str | None = None, deadline: float | None = None, ax: None = None
) -> Figure:
    """One figure with the three panels of a run: timeline on top, throughput and latency below.

    The title is the run's report (``workerlab.analysis.report.title``), against ``deadline``
    (None: the one the run was made with, as ``wl.summary``). A sweep frame shows its first
    run (or ``run_id``). Returns a ``matplotlib.figure.Figure`` not registered with pyplot (so
    notebooks display it once); save it with ``fig.savefig(path)``. A figure-level function
    takes no ``ax``: draw single panels with ``plot_timeline(df, ax=...)`` and the others.
    """
    if ax is not None:
        raise TypeError(
            "plot_run draws a whole figure and takes no ax=; draw one panel on your Axes with "
            "plot_timeline, plot_throughput or plot_latency (ax=...)"
        )
    rows, rid, n_runs = tidy.select_run(df, run_id)
    n_workers = int(rows["n_workers"].iloc[0])
    row = analysis.summary(rows, deadline=deadline).iloc[0]
    deadline = float(row["deadline_s"])
    fig = Figure(figsize=(14, min(9.5, 6.6 + 0.19 * n_workers)), layout="constrained")
    top = max(0.45, min(1.25, 0.3 + 0.06 * n_workers))
    gs = fig.add_gridspec(2, 2, height_ratios=[top, 1], width_ratios=[1.1, 1])
    plot_timeline(rows, ax=fig.add_subplot(gs[0, :]))
    plot_throughput(rows, ax=fig.add_subplot(gs[1, 0]), deadline=deadline)
    plot_latency(rows, ax=fig.add_subplot(gs[1, 1]))
    name = f"run {rid}" + (f" (1 of {n_runs} runs in this log)" if n_runs > 1 and run_id is None else "")
    fig.suptitle(f"{name}\n{report.title(row, deadline=deadline)}", fontsize="medium")
    return fig


def draw_once() -> None:
    """Draw and encode a tiny figure: the first figure of a process loads fonts and glyph caches.

    The dashboard does this in its rendering thread while the person is still choosing
    settings, so that its first live frame is not late.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = FigureCanvasAgg(Figure(figsize=FIG_SIZE, dpi=FIG_DPI)).figure
    ax = fig.add_subplot()
    ax.set_title("warm-up")
    ax.legend(handles=ax.plot([0, 1], label="x"))
    fig.savefig(io.BytesIO(), format="png")
