"""The live dashboard: pick a run's settings, press Run, watch it happen, read the summary.

``wl.dashboard()`` returns a :class:`Dashboard`, an ``ipywidgets.VBox`` (so it displays, nests
in other layouts and closes like any widget) whose parts are attributes for code and tests:
``workers`` (slider 1–16), ``samples``, ``mtbf``, ``interval``, ``worker_bin`` (empty = bundled
emulator), ``run_button``, ``stop_button``, ``progress``, ``status``, ``plot``, ``summary_out``;
``task`` is the current run (awaitable), ``events`` the last run's event log.

How a run happens: a click starts ``collect_async`` as an asyncio task on the kernel's own event
loop and returns at once, so the kernel keeps answering while workers stream. The collector
calls ``on_update`` every 0.1 s; that moves the progress bar and, every ``redraw_every`` s, has
``workerlab.render`` draw throughput and crash timeline to PNG bytes in its thread, then sets
them on an ``ipywidgets.Image``: one comm message, no output capture context (which a task
running between cells does not reliably have), no flicker, nothing piling up in the notebook.
The summary below the plot is ``workerlab.report``'s, in the same words as the CLI's.

Everything a run can raise — bad settings, ``WorkerStartError``, ``CollectTimeout``, a bug — ends
as a readable message in ``status``; the Run button is re-enabled whatever happened, and a run
that failed part way still shows its partial event log.
"""

from __future__ import annotations

import asyncio
import functools
import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from . import render
from .config import DEADLINE, MAX_WORKERS, make_config
from .errors import ConfigError

if TYPE_CHECKING:
    from .collector import RunStatus

__all__ = ["Dashboard", "dashboard"]

#: seconds between live redraws of the plots (about three a second)
REDRAW_EVERY = 0.3
#: the plot's width on screen: the frame's own (``plots.figures.FIG_SIZE[0] * FIG_DPI``), never stretched
PLOT_MAX_WIDTH = "1040px"
#: settings the caller may preset through ``dashboard(**defaults)``
DEFAULTS: dict[str, Any] = {
    "workers": MAX_WORKERS,
    "samples": 150,
    "interval": 1.0,  # the emulator's seconds between numbers (the original's pace)
    "mtbf": 30.0,  # the emulator's mean lifetime before a crash; 0 = never
    "seed": None,
    "timeout": None,
    "worker_args": (),
    "deadline": DEADLINE,
    "redraw_every": REDRAW_EVERY,
}

_OK, _ERROR, _WARN, _MUTED = "#1b7f3b", "#b00020", "#a15c00", "#555555"


def _look(width: str) -> dict[str, Any]:
    """Style and layout of a labelled input ``width`` wide."""
    return {"style": {"description_width": "initial"}, "layout": widgets.Layout(width=width)}


def _message(text: str, color: str) -> str:
    return f"<div style='color:{color};white-space:pre-wrap;line-height:1.35'>{html.escape(text)}</div>"


class Dashboard(widgets.VBox):
    """The dashboard widget. Build it with :func:`dashboard`; see the module docstring."""

    def __init__(self, worker_bin: str | None = None, **defaults: Any) -> None:
        unknown = sorted(set(defaults) - set(DEFAULTS))
        if unknown:
            raise TypeError(
                f"dashboard() got unknown settings {unknown}; it accepts worker_bin and {sorted(DEFAULTS)}"
            )
        d = {**DEFAULTS, **defaults}
        # the run's validator, on what the widgets cannot change (the slider stops at the cap)
        make_config(
            d["workers"], d["samples"], worker_args=d["worker_args"], timeout=d["timeout"], seed=d["seed"]
        )
        self.seed: int | None = d["seed"]
        self.timeout: float | None = d["timeout"]
        self.worker_args: tuple[str, ...] = tuple(d["worker_args"])
        self.deadline: float = float(d["deadline"])
        self.redraw_every: float = float(d["redraw_every"])

        wide = {"description_width": "initial"}
        self.workers = widgets.IntSlider(
            value=d["workers"],
            min=1,
            max=MAX_WORKERS,
            description="workers",
            continuous_update=False,
            style=wide,
        )
        self.samples = widgets.IntText(value=d["samples"], description="samples", **_look("11em"))
        self.mtbf = widgets.FloatText(
            value=d["mtbf"],
            description="emulator MTBF (s)",
            tooltip="mean seconds before an emulated worker crashes; 0 = never",
            **_look("15em"),
        )
        self.interval = widgets.FloatText(
            value=d["interval"],
            description="interval (s)",
            tooltip="emulator: seconds between two numbers of a worker",
            **_look("12em"),
        )
        self.worker_bin = widgets.Text(
            value=str(worker_bin or ""),
            description="worker binary",
            placeholder="empty: the bundled emulator; or the path to the original worker",
            **_look("42em"),
        )
        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="start a run with these settings"
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="stop the run and its workers"
        )
        self.progress = widgets.IntProgress(
            value=0, min=0, max=max(1, d["samples"]), description="samples", style=wide
        )
        self.status = widgets.HTML(_message("Choose the settings and press Run.", _MUTED))
        self.plot = widgets.Image(
            format="png",
            layout=widgets.Layout(display="none", width="100%", max_width=PLOT_MAX_WIDTH),
        )
        self.summary_out = widgets.HTML()
        self.task: asyncio.Task | None = None
        self.events: Any = None  # the last run's event log (also a failed run's partial one)
        self.error: str | None = None  # the last run's error message, None if it succeeded
        self.redraws = 0  # plot frames shown for the current run
        self.live_redraws = 0  # of those, frames drawn while it was still collecting
        self.render_seconds: list[float] = []  # how long each live frame took to draw
        self.render_errors: list[str] = []  # live frames that could not be drawn, and why
        self._run: RunStatus | None = None  # the collector's Run, from on_update
        self._collect: asyncio.Task | None = None
        self._render: asyncio.Future | None = None
        self._last_render = -math.inf
        self._fig: Any = None

        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.worker_bin.observe(lambda _: self._set_running(self.running), names="value")
        self._set_running(False)
        emulator = widgets.HTML(_message("emulator only:", _MUTED), layout=widgets.Layout(width="7em"))
        super().__init__(
            children=[
                widgets.HBox([self.workers, self.samples]),
                widgets.HBox([emulator, self.mtbf, self.interval]),
                self.worker_bin,
                widgets.HBox([self.run_button, self.stop_button, self.progress]),
                self.status,
                self.plot,
                self.summary_out,
            ]
        )
        from . import collector  # noqa: F401 - pandas and aiohttp load now, not at the first click

        render.warm_up()
        self.add_class("workerlab-dashboard")  # stable hooks for browser tests and styling
        for attr in ("workers", "samples", "run_button", "stop_button", "progress", "status", "plot"):
            getattr(self, attr).add_class(f"workerlab-{attr.removesuffix('_button')}")
        self.summary_out.add_class("workerlab-summary")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        """The widget, plus a plain-text stand-in where widgets cannot render (e.g. on GitHub)."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._describe()
        return data

    def _describe(self) -> str:
        binary = self.worker_bin.value.strip()
        emulator = f"bundled emulator, interval {self.interval.value:g} s, MTBF {self.mtbf.value:g} s"
        where = f"worker binary {binary}" if binary else emulator
        return (
            f"workerlab dashboard: {self.workers.value} workers, {self.samples.value} samples, "
            f"{where}. (Interactive widgets: run this notebook in Jupyter to use it.)"
        )

    @property
    def running(self) -> bool:
        task = getattr(self, "task", None)  # None also while __init__ has not set it
        return task is not None and not task.done()

    def settings(self) -> dict[str, Any]:
        """The ``collect_async`` arguments the widgets describe right now.

        With a worker binary set, the emulator-only options (interval, MTBF, seed) are left out:
        the original would reject them (``config.make_config``'s rule).
        """
        kwargs: dict[str, Any] = {
            "workers": self.workers.value,
            "samples": self.samples.value,
            "timeout": self.timeout,
            "worker_args": self.worker_args,
        }
        binary = self.worker_bin.value.strip()
        if binary:
            kwargs["worker_bin"] = binary
        else:
            kwargs.update(interval=self.interval.value, mtbf=self.mtbf.value, seed=self.seed)
        return kwargs

    def start(self) -> asyncio.Task | None:
        """Start a run on the running event loop (what Run does); the task is ``self.task``.

        Returns at once. A click during a run is ignored (the button is disabled anyway).
        """
        if self.running:
            return self.task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show_status(
                "No running event loop: use it in a Jupyter kernel or `await dash.run()`.", _ERROR
            )
            return None
        self._set_running(True)
        self.task = loop.create_task(self._run_once())
        return self.task

    async def run(self) -> Any:
        """Start a run (as the Run button does) and wait for it; returns the event log or None."""
        task = self.start()
        if task is not None:
            await task
        return self.events

    def stop(self) -> None:
        """Cancel the run in progress; its workers are stopped and its partial log is kept."""
        if self._collect is not None and not self._collect.done():
            self._show_status("stopping…", _MUTED)
            self._collect.cancel()

    def close(self) -> None:
        """Stop a run in progress and close every widget of the dashboard."""
        if self.running:
            self.task.cancel()  # type: ignore[union-attr]

        def close_all(widget: Any) -> None:
            for child in getattr(widget, "children", ()):
                close_all(child)
                child.close()

        close_all(self)
        super().close()

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.workers.disabled = self.samples.disabled = self.worker_bin.disabled = running
        emulator = not self.worker_bin.value.strip()
        self.mtbf.disabled = self.interval.disabled = running or not emulator

    def _show_status(self, text: str, color: str) -> None:
        self.status.value = _message(text, color)

    async def _run_once(self) -> None:
        """One run from click to summary; never raises (but a close), always re-enables Run."""
        from .collector import collect_async
        from .errors import CollectError, CollectTimeout

        self.events, self.error, self._run = None, None, None
        self.redraws = self.live_redraws = 0
        self.render_seconds, self.render_errors = [], []
        self._last_render = -math.inf
        self.summary_out.value = ""
        stopped = False
        try:
            kwargs = self.settings()
            make_config(**kwargs)  # bad settings: say so before anything is spawned
            self.progress.max, self.progress.value, self.progress.bar_style = kwargs["samples"], 0, "info"
            n = kwargs["workers"]
            self._show_status(f"starting {n} worker{'s' if n != 1 else ''}…", _MUTED)
            self._collect = asyncio.ensure_future(
                collect_async(**kwargs, progress=False, on_update=self._on_update)
            )
            try:
                self.events = await self._collect
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # this task was cancelled: close()
                    raise
                stopped = True  # Stop cancelled the collector only: keep what it saw
                self.events = self._run.frame() if self._run is not None else None
                self.progress.bar_style = "warning"
        except ConfigError as exc:
            self.error = f"Check the settings: {exc}"
            self.progress.bar_style = "danger"
        except CollectError as exc:  # WorkerStartError, CollectTimeout, an HTTP refusal, ...
            kind = "timed out" if isinstance(exc, CollectTimeout) else "failed"
            self.error = f"The run {kind}: {exc}"
            self.events = exc.events
            self.progress.bar_style = "danger"
        except asyncio.CancelledError:
            self.error = "Stopped: the dashboard was closed during the run."
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of lost in a log
            self.error = f"The run failed unexpectedly: {type(exc).__name__}: {exc}"
            self.progress.bar_style = "danger"
        finally:
            self._collect = None
            try:
                await self._finish(stopped)
            finally:
                self._set_running(False)

    async def _finish(self, stopped: bool) -> None:
        """Last frame, summary and status once the collector has returned (or failed)."""
        if self._render is not None:  # a live frame still drawing must not land after the last one
            try:
                await self._render
            except BaseException:  # noqa: BLE001 - only the final frame matters now
                pass
        df = self.events
        problem = self.error
        if df is not None and len(df) > 0:
            try:
                from . import report

                self._show_plot(await render.png(lambda: df, deadline=self.deadline, figure=self._figure))
                self.summary_out.value = report.summary_html(df, deadline=self.deadline)
            except Exception as exc:  # noqa: BLE001
                drawn = f"(The result could not be drawn: {type(exc).__name__}: {exc})"
                problem = f"{problem}\n{drawn}" if problem else drawn
        run = self._run
        count = min(run.count, self.progress.max) if run is not None else 0
        if problem:
            self._show_status(problem, _ERROR)
        elif stopped:
            self._show_status(f"Stopped after {count} samples: the partial run is shown below.", _WARN)
        else:
            self.progress.value = count
            self.progress.bar_style = "success"
            took = f" in {run.elapsed:.2f} s" if run is not None and run.elapsed is not None else ""
            self._show_status(f"Done: {count} samples{took}.", _OK)

    # -- live updates ------------------------------------------------------------------------
    def _on_update(self, run: RunStatus) -> None:
        """The collector's 0.1 s tick: progress now, a new plot frame every ``redraw_every`` s."""
        self._run = run
        target = run.config.samples
        self.progress.value = min(run.count, target)
        if run.finished:
            return  # the last frame is drawn from the returned log, after the collector is done
        crashes = f" · {run.crashes} crash{'es' if run.crashes != 1 else ''}" if run.crashes else ""
        self._show_status(
            f"running: {min(run.count, target)} / {target} samples{crashes} · {run.now():.1f} s", _MUTED
        )
        now = time.monotonic()
        if (
            run.records
            and (self._render is None or self._render.done())
            and now - self._last_render >= self.redraw_every
        ):
            self._last_render = now
            self._render = asyncio.ensure_future(self._redraw_live(run))

    async def _redraw_live(self, run: RunStatus) -> None:
        records = list(run.records)  # copied on the loop, where the collector appends
        try:
            log = functools.partial(run.frame, records)
            png = await render.png(
                log, deadline=self.deadline, figure=self._figure, live=True, took=self.render_seconds
            )
        except Exception as exc:  # noqa: BLE001 - a frame that cannot draw is skipped; the run goes on
            self.render_errors.append(f"{type(exc).__name__}: {exc}")
            return
        if run is self._run and not run.finished:
            self._show_plot(png)
            self.live_redraws += 1

    def _figure(self) -> Any:
        """This dashboard's figure, redrawn at every frame (touched only by the render thread)."""
        if self._fig is None:
            self._fig = render.new_figure()
        return self._fig

    def _show_plot(self, png: bytes) -> None:
        self.plot.value = png
        self.plot.layout.display = None
        self.redraws += 1


def dashboard(worker_bin: str | None = None, **defaults: Any) -> Dashboard:
    """The live dashboard widget: settings, Run, progress, live plots, then the summary.

    ``worker_bin``: path to the original worker (empty = the bundled emulator). ``defaults``
    preset the widgets and the run: workers, samples, interval, mtbf (emulator only), seed,
    timeout, worker_args, deadline, redraw_every. Display it (last expression of a cell) and
    press Run; from code, ``await dash.run()`` does the same.
    """
    return Dashboard(worker_bin, **defaults)
