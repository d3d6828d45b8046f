"""The live dashboard: pick a run's settings, press Run, watch it happen, read the summary.

``wl.dashboard()`` returns a :class:`Dashboard`, an ``ipywidgets.VBox`` (so it displays, nests
in other layouts and closes like any widget) whose parts are attributes for code and tests:
``workers`` (slider 1–16), ``samples``, ``deadline``, ``mtbf``, ``interval``, ``worker_bin``
(empty = bundled emulator), ``run_button``, ``stop_button``, ``progress``, ``status``, ``tabs``
(``live`` and ``compare``), ``plot``, ``live_panel`` (the live counters), ``compare`` (the
overlay of the last runs), ``summary_out``; ``task`` is the current run (awaitable),
``events`` the last run's event log, ``history`` every run's (``workerlab.ui.compare``).

How a run happens: a click starts the run as an asyncio task on the kernel's own event loop
(``task``, owned by the dashboard) and returns at once, so the kernel keeps answering while
workers stream; start, Stop and ``close()`` are ``workerlab.ui.base.TaskWidget``'s, as in the
threshold widget. The task owns everything it starts: ``collect_async`` runs inside it, the live
frames in its task group. Stop (and ``close()``) set the run's ``Stop`` token: the collector
stops every worker and hands back the partial log, which is then drawn and summarised. The collector
calls ``on_update`` every 0.1 s; that moves the progress bar and, every ``redraw_every`` s, has
``workerlab.ui.render`` draw a frame in its thread (``plots.live.LiveFigure``: throughput,
timeline and latencies, updated in place) and compute the counters beside it, then sets the
PNG on an ``ipywidgets.Image``: one comm message, no output capture context (which a task
running between cells does not reliably have), no flicker, nothing piling up in the notebook.
The summary below the plot is ``workerlab.analysis.report``'s, in the same words as the CLI's.

Everything a run can raise — bad settings, ``WorkerStartError``, ``CollectTimeout``, a bug — ends
as a readable message in ``status``; the Run button is re-enabled whatever happened, and a run
that failed part way still shows its partial event log.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from workerlab.config import DEFAULT_INTERVAL, DEFAULT_MTBF, MAX_WORKERS, make_config
from workerlab.engine.stop import Stop
from workerlab.errors import ConfigError
from workerlab.ui import render
from workerlab.ui.base import TaskWidget
from workerlab.ui.compare import COMPARE_LAST, ComparePanel, History
from workerlab.ui.live import LivePanel, LiveView
from workerlab.ui.settings import ERROR, MUTED, OK, WARN, Settings, message, preset

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from workerlab.engine.status import RunStatus

__all__ = ["Dashboard", "dashboard"]

#: seconds between the starts of two live frames (a frame takes 10-30 ms: up to 7 a second)
REDRAW_EVERY = 0.14
#: the plot's width on screen: the frame's own (``plots.live.FIG_SIZE[0] * FIG_DPI``), never stretched
PLOT_MAX_WIDTH = "1040px"
#: settings the caller may preset through ``dashboard(**defaults)``
DEFAULTS: dict[str, Any] = {
    "workers": MAX_WORKERS,
    "samples": 150,
    "interval": DEFAULT_INTERVAL,  # the emulator's seconds between numbers (the original's pace)
    "mtbf": DEFAULT_MTBF,  # the emulator's mean lifetime before a crash; 0 = never
    "seed": None,
    "timeout": None,
    "worker_args": (),
    "deadline": None,  # None: 10 intervals of the pace (ui_settings.DEADLINE_INTERVALS)
    "redraw_every": REDRAW_EVERY,
    "compare_last": COMPARE_LAST,
}


class Dashboard(TaskWidget):
    """The dashboard widget. Build it with :func:`dashboard`; see the module docstring."""

    STOP_REASON = "stopped from the dashboard"
    CLOSE_REASON = "the dashboard was closed"
    NO_LOOP = "No running event loop: use it in a Jupyter kernel or `await dash.run()`."

    def __init__(self, worker_bin: str | None = None, **defaults: Any) -> None:
        d = preset("dashboard", DEFAULTS, defaults)
        self._settings = s = Settings(d, worker_bin)
        self.workers, self.samples, self.deadline = s.workers, s.samples, s.deadline
        self.mtbf, self.interval, self.worker_bin = s.mtbf, s.interval, s.worker_bin

        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="start a run with these settings"
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="stop the run and its workers"
        )
        self.progress = widgets.IntProgress(
            value=0,
            min=0,
            max=max(1, d["samples"]),
            description="samples",
            style={"description_width": "initial"},
        )
        self.status = widgets.HTML(message("Choose the settings and press Run.", MUTED))
        self.view = LiveView(redraw_every=float(d["redraw_every"]), max_width=PLOT_MAX_WIDTH)
        self.compare = ComparePanel(last=int(d["compare_last"]), max_width=PLOT_MAX_WIDTH)
        self.tabs = widgets.Tab(children=[self.view, self.compare])
        self.tabs.set_title(0, "live")
        self.tabs.set_title(1, "compare runs")
        self.summary_out = widgets.HTML()
        self.events: Any = None  # the last run's event log (also a failed run's partial one)
        self.error: str | None = None  # the last run's error message, None if it succeeded
        self._history = History()
        self._run: RunStatus | None = None  # the collector's Run, from on_update
        self._deadline = float(self.deadline.value)  # the current run's, in seconds

        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.worker_bin.observe(lambda _: self._set_running(self.running), names="value")
        self._set_running(False)
        super().__init__(
            children=[
                *s.rows(),
                widgets.HBox([self.run_button, self.stop_button, self.progress]),
                self.status,
                self.tabs,
                self.summary_out,
            ]
        )
        from workerlab.engine import collector  # noqa: F401 - pandas and aiohttp load now, not at the first click

        render.warm_up()
        self.add_class("workerlab-dashboard")  # stable hooks for browser tests and styling
        for attr in ("workers", "samples", "deadline", "run_button", "stop_button", "progress", "status"):
            getattr(self, attr).add_class(f"workerlab-{attr.removesuffix('_button')}")
        self.summary_out.add_class("workerlab-summary")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        """The widget, plus a plain-text stand-in where widgets cannot render (e.g. on GitHub)."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = (
                self._settings.describe() + " (Interactive widgets: run this notebook in Jupyter to use it.)"
            )
        return data

    @property
    def history(self) -> pd.DataFrame:
        """Every run of this dashboard as one event log (distinct run_ids, oldest first)."""
        return self._history.log

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run of :attr:`history`: its run_id and the settings it had."""
        return self._history.table()

    def plot_runs(self, *, last: int | None = None, ax: Axes | None = None) -> Axes:
        """The compare view as a static figure: ``plots.plot_overlay`` of :attr:`history`."""
        from workerlab.plots import plot_overlay

        labels, deadline = self._history.labels(), float(self.deadline.value)
        return plot_overlay(
            self.history, labels=labels, last=last or self.compare.last, deadline=deadline, ax=ax
        )

    def settings(self) -> dict[str, Any]:
        """The ``collect_async`` arguments the widgets describe right now (``Settings.collect_kwargs``)."""
        return self._settings.collect_kwargs()

    async def run(self) -> Any:
        """Start a run (as the Run button does) and wait for it; returns the event log or None."""
        await self._wait()
        return self.events

    def _controls(self, running: bool) -> None:
        self._settings.set_running(running)

    async def _work(self, stop: Stop) -> None:
        """One run from click to summary; never raises (but a cancellation).

        The run's live frames are tasks of its own group, so none outlives it; Stop and
        ``close()`` set the run's ``Stop`` token: the collector stops every worker and hands
        back the partial log (``CollectStopped``).
        """
        self.events, self.error, self._run = None, None, None
        self.summary_out.value = ""
        self.tabs.selected_index = 0
        stopped = False
        kwargs: dict[str, Any] = {}
        try:
            async with asyncio.TaskGroup() as frames:
                self.view.begin(frames)
                try:
                    stopped, kwargs = await self._collect(stop)
                finally:
                    await self.view.settle()  # no live frame may land after the last one
        except asyncio.CancelledError:
            self.error = "Stopped: the dashboard was closed during the run."
            raise
        finally:
            if not self._closed:
                await self._finish(stopped, kwargs)

    async def _collect(self, stop: Stop) -> tuple[bool, dict[str, Any]]:
        """Run the collector with the widgets' settings: (stopped by ``stop``, the settings).

        Whatever goes wrong becomes ``self.error``; the log, also a partial one, ``self.events``.
        """
        from workerlab.engine.collector import collect_async
        from workerlab.errors import CollectError, CollectStopped, CollectTimeout

        kwargs: dict[str, Any] = {}
        try:
            kwargs = self.settings()
            make_config(**kwargs)  # bad settings: say so before anything is spawned
            self._deadline = self._settings.deadline_s()
            self.progress.max, self.progress.value, self.progress.bar_style = kwargs["samples"], 0, "info"
            n = kwargs["workers"]
            self._show_status(f"starting {n} worker{'s' if n != 1 else ''}…", MUTED)
            self.events = await collect_async(
                **kwargs, deadline=self._deadline, progress=False, on_update=self._on_update, stop=stop
            )
        except ConfigError as exc:
            self.error = f"Check the settings: {exc}"
            self.progress.bar_style = "danger"
        except CollectStopped as exc:  # Stop or close(): keep what it saw
            self.events = exc.events
            self.progress.bar_style = "warning"
            if self._closed:
                self.error = "Stopped: the dashboard was closed during the run."
            return True, kwargs
        except CollectError as exc:  # WorkerStartError, CollectTimeout, an HTTP refusal, ...
            kind = "timed out" if isinstance(exc, CollectTimeout) else "failed"
            self.error = f"The run {kind}: {exc}"
            self.events = exc.events
            self.progress.bar_style = "danger"
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of lost in a log
            self.error = f"The run failed unexpectedly: {type(exc).__name__}: {exc}"
            self.progress.bar_style = "danger"
        return False, kwargs

    async def _finish(self, stopped: bool, kwargs: dict[str, Any]) -> None:
        """Last frame, counters, summary and status once the collector has returned (or failed)."""
        df = self.events
        problem = self.error
        if df is not None and len(df) > 0:
            try:
                from workerlab.analysis import report

                deadline = self._deadline
                await self.view.final(df, deadline)
                self.summary_out.value = report.summary_html(df, deadline=deadline)
                self._history.add(df, kwargs, deadline=deadline)
                await self.compare.refresh(self._history, deadline=deadline)
            except Exception as exc:  # noqa: BLE001
                drawn = f"(The result could not be drawn: {type(exc).__name__}: {exc})"
                problem = f"{problem}\n{drawn}" if problem else drawn
        run = self._run
        count = min(run.count, self.progress.max) if run is not None else 0
        if problem:
            self._show_status(problem, ERROR)
        elif stopped:
            self._show_status(f"Stopped after {count} samples: the partial run is shown below.", WARN)
        else:
            self.progress.value = count
            self.progress.bar_style = "success"
            took = f" in {run.elapsed:.2f} s" if run is not None and run.elapsed is not None else ""
            self._show_status(f"Done: {count} samples{took}.", OK)

    # -- live updates ------------------------------------------------------------------------
    def _on_update(self, run: RunStatus) -> None:
        """The collector's 0.1 s tick: progress now, a new frame every ``redraw_every`` s."""
        self._run = run
        target = run.config.samples
        self.progress.value = min(run.count, target)
        if run.finished:
            return  # the last frame is drawn from the returned log, after the collector is done
        crashes = f" · {run.crashes} crash{'es' if run.crashes != 1 else ''}" if run.crashes else ""
        self._show_status(
            f"running: {min(run.count, target)} / {target} samples{crashes} · {run.now():.1f} s", MUTED
        )
        self.view.tick(run, self._deadline)

    @property
    def plot(self) -> widgets.Image:
        return self.view.plot

    @property
    def live_panel(self) -> LivePanel:
        return self.view.panel

    @property
    def redraws(self) -> int:  # frames shown for the current run (``LiveView``'s counters)
        return self.view.redraws

    @property
    def live_redraws(self) -> int:
        return self.view.live_redraws

    @property
    def render_seconds(self) -> list[float]:
        return self.view.render_seconds

    @property
    def render_errors(self) -> list[str]:
        return self.view.render_errors


def dashboard(worker_bin: str | None = None, **defaults: Any) -> Dashboard:
    """The live dashboard widget: settings, Run, progress, live plots and counters, then the summary.

    ``worker_bin``: path to the original worker (empty = the bundled emulator). ``defaults``
    preset the widgets and the run: workers, samples, interval, mtbf (emulator only), seed,
    timeout, worker_args, deadline (default: 10 intervals of the pace), redraw_every,
    compare_last (runs overlaid in the compare tab). Display it (last expression of a cell)
    and press Run; from code, ``await dash.run()`` does the same.
    """
    return Dashboard(worker_bin, **defaults)
