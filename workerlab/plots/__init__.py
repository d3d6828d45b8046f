"""See what happened in a run: throughput against the ideal, latency distributions, crash timeline.

Axes-level plots take what they draw first and everything else by keyword, draw on ``ax=`` if
given (else on a new pyplot figure) and return the Axes; nothing calls ``plt.show()`` and no
backend is chosen here. What they draw is the tidy event log (one run or a sweep) or a result
computed elsewhere, never computed again in the plot: ``plot_sweep`` takes a sweep's verdict
(``wl.threshold``), ``plot_success_map`` a model's ``success_map`` frame, ``plot_search`` a
search's result (``wl.find_threshold``: the picture of its answer, drawn from ``result.to_frame()``)
or, while a search runs, its table. ``plot_run`` is figure-level: it refuses ``ax`` and returns a bare ``Figure``.
How a plot lays out its data is computed apart from its drawing, so it can be tested without
matplotlib: ``workerlab.analysis.curves`` (throughput, timeline), ``sweeps.sweep_view`` and
``search_progress.measured_shares``; the rest comes from ``workerlab.analysis.runs`` and
``workerlab.log.tidy``.

One module per plot: ``throughput``, ``latency``, ``timeline``, ``sweeps``, ``maps`` (a model's
success map over workers x MTBF), ``overlay`` (the throughput of several runs, labelled by their
settings), ``search_progress`` (a threshold search's answer, or the search as it stands), ``figures`` (``plot_run``) and ``live`` (the dashboard's frames, whose artists are
updated in place; its panels are in ``live_panels``); ``style`` holds the colours, markers and lines they share
(deadline, level, threshold, model), so a crash looks the same everywhere.

Artists carry a ``gid`` (``"observed"``, ``"ideal"``, ``"target"``, ``"deadline"``,
``"crash"``, ``"stall"``, ``"restart"``, ``"samples"``, ``"lifetimes"``, ``"runs"``, ``"median"``,
``"bound"``, ``"success"``, ``"threshold"``, ...) so that tests and callers can find them.
Samples are drawn with one collection per plot, not one artist per sample, so 100k-sample logs
stay fast.
"""

from __future__ import annotations

from workerlab.plots.figures import plot_run
from workerlab.plots.latency import plot_latency
from workerlab.plots.maps import plot_success_map
from workerlab.plots.overlay import plot_overlay
from workerlab.plots.search_progress import plot_search
from workerlab.plots.style import COLORS, MARKERS
from workerlab.plots.sweeps import plot_sweep
from workerlab.plots.throughput import plot_throughput
from workerlab.plots.timeline import plot_timeline

__all__ = [
    "plot_throughput",
    "plot_latency",
    "plot_timeline",
    "plot_run",
    "plot_sweep",
    "plot_success_map",
    "plot_overlay",
    "plot_search",
    "COLORS",
    "MARKERS",
]
