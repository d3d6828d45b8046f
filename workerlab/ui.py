"""The live dashboard: pick a run's settings, press Run, watch it happen, read the summary.

``wl.dashboard()`` returns a :class:`Dashboard`, an ``ipywidgets.VBox`` (so it displays, nests
in other layouts and closes like any widget) whose parts are attributes for code and tests:
``workers`` (slider 1–16), ``samples``, ``mtbf``, ``interval``, ``worker_bin`` (empty = bundled
emulator), ``run_button``, ``stop_button``, ``progress``, ``status``, ``plot``, ``summary_out``;
``task`` is the current run (awaitable), ``events`` the last run's event log.

How a run happens: a click starts ``collect_async`` as an asyncio task on the kernel's own event
loop and returns at once, so the kernel keeps answering while workers stream. The collector
calls ``on_update`` every 0.1 s; that moves the progress bar and, about three times a second
(``redraw_every``), snapshots the records and renders throughput and crash timeline — with
``workerlab.plots``, onto a bare Agg ``Figure`` — to PNG bytes in one background thread, then
sets them on an ``ipywidgets.Image`` from the loop. Why an Image and not an ``Output`` with
``clear_output(wait=True)``: setting bytes on a widget is one comm message, needs no output
capture context (which an asyncio task running between cells does not reliably have), and the
browser swaps the picture in place, so there is no flicker and nothing piles up in the notebook.
Why a thread: drawing the two panels takes 0.3–0.6 s (more on a loaded machine); on the loop that
would stall the kernel and delay the timestamps of arriving samples, while a thread holds the GIL
only in slices, so the loop keeps reading streams. One frame is drawn at a time, so the real
frame rate is the smaller of 1/``redraw_every`` and 1/(drawing time).

Everything a run can raise — bad settings, ``WorkerStartError``, ``CollectTimeout``, a bug — ends
as a readable message in ``status``; the Run button is re-enabled whatever happened, and a run
that failed part way still shows its partial event log.
"""

from __future__ import annotations

import asyncio
import html
import io
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .config import DEADLINE, MAX_WORKERS, make_config
from .errors import ConfigError

if TYPE_CHECKING:
    from .collector import RunStatus

__all__ = ["Dashboard", "dashboard", "render_png", "new_figure", "summary_html"]

#: seconds between live redraws of the plots (about three a second)
REDRAW_EVERY = 0.3
#: size of the live figure (inches) and its resolution: ~1040 x 400 px, a few tens of kB a frame
FIG_SIZE = (13.0, 5.0)
FIG_DPI = 80
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
_pool: ThreadPoolExecutor | None = None
_warm: Future | None = None


def _render_pool() -> ThreadPoolExecutor:
    """One rendering thread for every dashboard: matplotlib figures never drawn concurrently."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workerlab-dashboard")
    return _pool


def new_figure() -> Any:
    """A pyplot-free figure with its own Agg canvas.

    Keeping the canvas (rather than letting ``savefig`` make a temporary one per call) keeps its
    renderer, and with it matplotlib's text-layout caches, from one frame to the next.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return FigureCanvasAgg(Figure(figsize=FIG_SIZE, dpi=FIG_DPI)).figure


def render_png(df: Any, deadline: float | None = DEADLINE, fig: Any = None, live: bool = False) -> bytes:
    """Throughput and crash timeline of the event log ``df``, side by side, as PNG bytes.

    ``live``: ``df`` is a snapshot of a run in progress (titles say so).

    Draws on a bare ``Figure`` (no pyplot, no backend switch, nothing shown in the notebook);
    pass the previous frame's ``fig`` (from :func:`new_figure`) to redraw it in place. Margins
    are fixed: constrained layout would cost more than the drawing itself at every live frame.
    """
    from . import plots

    if fig is None:
        fig = new_figure()
    fig.clear()
    grid = fig.add_gridspec(
        1, 2, width_ratios=[1.0, 1.15], left=0.055, right=0.855, bottom=0.11, top=0.93, wspace=0.2
    )
    ax_tp = plots.plot_throughput(df, ax=fig.add_subplot(grid[0]), deadline=deadline)
    ax_tl = plots.plot_timeline(df, ax=fig.add_subplot(grid[1]))
    if live:  # say that the run is still going
        ax_tp.set_title("throughput — live")
        ax_tl.set_title("worker timeline — live")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # fast: frames are short-lived
    return buf.getvalue()


def _warm_up() -> None:
    """Import and draw once in the render thread, so that the first live frame is not late.

    The first figure of a process loads matplotlib, its fonts and glyph caches (about a second);
    done while the person is still choosing settings, it costs the run nothing.
    """
    from . import plots  # noqa: F401 - imported for its import cost

    fig = new_figure()
    ax = fig.add_subplot()
    ax.set_title("warm-up")
    ax.legend(handles=ax.plot([0, 1], label="x"))
    fig.savefig(io.BytesIO(), format="png")


def warm_up() -> Future:
    """Start :func:`_warm_up` in the render thread once per process; its future."""
    global _warm
    if _warm is None:
        _warm = _render_pool().submit(_warm_up)
    return _warm


def _fmt(value: Any, column: str) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if column == "efficiency":
        return f"{value:.0%}"
    if column == "deadline_met":
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if column.endswith("_s") else f"{value:g}"
    return str(value)


def summary_html(df: Any, deadline: float = DEADLINE) -> str:
    """A headline and the ``wl.summary`` row of the event log ``df`` (one run), as HTML."""
    import pandas as pd

    from .analysis import summary

    row = summary(df, deadline=deadline).iloc[0]
    w, kept, target = int(row["workers"]), int(row["samples"]), row["target"]
    target = int(target) if pd.notna(target) else kept
    if row["outcome"] == "reached":
        took = (
            f"in <b>{row['elapsed_s']:.2f} s</b> (deadline {deadline:g} s "
            f"{'met' if row['deadline_met'] else 'missed'})"
        )
    else:
        took = f"— target of {target} not reached ({html.escape(str(row['outcome']))})"
    head = (
        f"<b>{kept} samples</b> from {w} worker{'s' if w != 1 else ''} {took} · "
        f"{row['numbers_processed']} numbers processed · {row['crashes']} crashes · "
        f"{row['restarts']} restarts · {row['stalls']} stalls"
    )
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1.5em'>{html.escape(col)}</th>"
        f"<td style='text-align:right'>{html.escape(_fmt(row[col], col))}</td></tr>"
        for col in row.index
    )
    return (
        f"<div class='workerlab-summary-headline'>{head}</div>"
        f"<table class='workerlab-summary-table'>{cells}</table>"
    )


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
        self.samples = widgets.IntText(
            value=d["samples"], description="samples", style=wide, layout=widgets.Layout(width="11em")
        )
        self.mtbf = widgets.FloatText(
            value=d["mtbf"],
            description="emulator MTBF (s)",
            style=wide,
            layout=widgets.Layout(width="15em"),
            tooltip="mean seconds before an emulated worker crashes; 0 = never",
        )
        self.interval = widgets.FloatText(
            value=d["interval"],
            description="interval (s)",
            style=wide,
            layout=widgets.Layout(width="12em"),
            tooltip="emulator: seconds between two numbers of a worker",
        )
        self.worker_bin = widgets.Text(
            value=str(worker_bin or ""),
            description="worker binary",
            placeholder="empty: the bundled emulator; or the path to the original worker",
            style=wide,
            layout=widgets.Layout(width="42em"),
        )
        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="start a run with these settings"
        )
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            disabled=True,
            tooltip="stop the run (its workers are stopped too)",
        )
        self.progress = widgets.IntProgress(
            value=0, min=0, max=max(1, d["samples"]), description="samples", style=wide
        )
        self.status = widgets.HTML(_message("Choose the settings and press Run.", _MUTED))
        self.plot = widgets.Image(
            format="png",
            layout=widgets.Layout(display="none", width="100%", max_width=f"{int(FIG_SIZE[0] * FIG_DPI)}px"),
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
        self.worker_bin.observe(self._binary_changed, names="value")
        self._binary_changed()
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

        warm_up()
        self.add_class("workerlab-dashboard")  # stable hooks for browser tests and styling
        for w, cls in (
            (self.workers, "workerlab-workers"),
            (self.samples, "workerlab-samples"),
            (self.run_button, "workerlab-run"),
            (self.stop_button, "workerlab-stop"),
            (self.progress, "workerlab-progress"),
            (self.status, "workerlab-status"),
            (self.plot, "workerlab-plot"),
            (self.summary_out, "workerlab-summary"),
        ):
            w.add_class(cls)

    # -- what a person sees before running it ---------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        """The widget, plus a plain-text stand-in where widgets cannot render (e.g. on GitHub)."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._describe()
        return data

    def _describe(self) -> str:
        where = (
            f"worker binary {self.worker_bin.value.strip()}"
            if self.worker_bin.value.strip()
            else f"bundled emulator, interval {self.interval.value:g} s, MTBF {self.mtbf.value:g} s"
        )
        return (
            f"workerlab dashboard: {self.workers.value} workers, {self.samples.value} samples, "
            f"{where}. (Interactive widgets: run this notebook in Jupyter to use it.)"
        )

    def _binary_changed(self, change: Any = None) -> None:
        emulator = not self.worker_bin.value.strip()
        self.mtbf.disabled = self.interval.disabled = not emulator

    # -- running ---------------------------------------------------------------------------
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
                "No running event loop: the dashboard runs inside a Jupyter kernel "
                "(or a coroutine: `await dash.run()`).",
                _ERROR,
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
        for w in (self.workers, self.samples, self.worker_bin):
            w.disabled = running
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
            self.progress.max = kwargs["samples"]
            self.progress.value = 0
            self.progress.bar_style = "info"
            self._show_status(
                f"starting {kwargs['workers']} worker{'s' if kwargs['workers'] != 1 else ''}…", _MUTED
            )
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
                png = await asyncio.get_running_loop().run_in_executor(
                    _render_pool(), render_png, df, self.deadline, self._figure()
                )
                self._show_plot(png)
                self.summary_out.value = summary_html(df, self.deadline)
            except Exception as exc:  # noqa: BLE001
                problem = (
                    problem + "\n" if problem else ""
                ) + f"(The result could not be drawn: {type(exc).__name__}: {exc})"
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

        def draw() -> bytes:
            started = time.perf_counter()
            try:
                return render_png(run.frame(records), self.deadline, self._figure(), live=True)
            finally:
                self.render_seconds.append(time.perf_counter() - started)

        try:
            png = await asyncio.get_running_loop().run_in_executor(_render_pool(), draw)
        except Exception as exc:  # noqa: BLE001 - a frame that cannot draw is skipped; the run goes on
            self.render_errors.append(f"{type(exc).__name__}: {exc}")
            return
        if run is self._run and not run.finished:
            self._show_plot(png)
            self.live_redraws += 1

    def _figure(self) -> Any:
        """This dashboard's figure, redrawn at every frame (touched only by the render thread)."""
        if self._fig is None:
            self._fig = new_figure()
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
