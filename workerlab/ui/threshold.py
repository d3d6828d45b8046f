"""``wl.threshold_dashboard()``: how many workers meet the deadline, found while you watch.

Pick the deadline (it follows the pace until set, as in the run dashboard), the level (the share
of runs that must meet it), and either a range of worker counts or "find it" (every count up to
the cap), then press Run. ``workerlab.thresholds.search.find_threshold_async`` runs on the kernel's loop; after
its pilot and after every finished run it reports a ``SearchStatus``, from which the widget
draws (in the rendering thread) each count's measured share with its exact (Clopper-Pearson) interval beside the
model's predicted curve (``plots.plot_search``), and says where the search stands. At the end the
verdict: the threshold, conclusive or not, and why. Stop ends the search: no new run starts, the
running ones are stopped, and ``result`` is the ``Threshold`` of what was measured.

The search is the widget's ``task``; the pictures drawn while it runs are tasks of its own group,
so none outlives it. Start, Stop and ``close()`` are ``workerlab.ui.base.TaskWidget``'s, as in the
run dashboard: Stop and ``close()`` set the search's ``Stop`` token (never a cancellation).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from workerlab.config import DEFAULT_INTERVAL, DEFAULT_MTBF, MAX_WORKERS
from workerlab.engine.stop import Stop
from workerlab.errors import ConfigError
from workerlab.ui import render
from workerlab.ui.base import TaskWidget
from workerlab.ui.settings import ERROR, MUTED, OK, WARN, Settings, message, preset

if TYPE_CHECKING:
    from workerlab.thresholds.search import SearchStatus
    from workerlab.thresholds.verdict import Threshold

__all__ = ["ThresholdDashboard", "threshold_dashboard"]

DEFAULTS: dict[str, Any] = {
    "samples": 150,
    "interval": DEFAULT_INTERVAL,
    "mtbf": DEFAULT_MTBF,
    "deadline": None,  # None: 10 intervals of the pace
    "level": 0.95,
    "confidence": 0.95,
    "counts": (8, MAX_WORKERS),
    "find": True,
    "seed": None,
    "timeout": None,
    "worker_args": (),
    "max_runs": 400,
}
_PHASES = {
    "pilot": "calibrating the model (pilot runs)",
    "measuring": "measuring",
    "done": "done",
    "stopped": "stopped",
}


class ThresholdDashboard(TaskWidget):
    """The threshold search widget; build it with :func:`threshold_dashboard`."""

    NO_LOOP = "No running event loop: use it in a Jupyter kernel or `await t.run()`."

    def __init__(self, worker_bin: str | None = None, **defaults: Any) -> None:
        d = preset("threshold_dashboard", DEFAULTS, defaults)
        self.confidence, self.max_runs = float(d["confidence"]), int(d["max_runs"])
        self._settings = s = Settings({**d, "workers": MAX_WORKERS}, worker_bin)
        self.samples, self.deadline, self.mtbf, self.interval, self.worker_bin = (
            s.samples,
            s.deadline,
            s.mtbf,
            s.interval,
            s.worker_bin,
        )
        self._make_controls(d)
        self.result: Threshold | None = None
        self.updates: list[SearchStatus] = []
        self.error: str | None = None
        self.draw_errors: list[str] = []  # progress pictures that could not be drawn, and why
        self._drawing: asyncio.Task | None = None
        self._frames: asyncio.TaskGroup | None = None  # the search's group: its drawings are tasks of it
        self._pending: SearchStatus | None = None
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.find.observe(lambda _: self._set_running(self.running), names="value")
        self._set_running(False)
        super().__init__(self._rows())
        render.warm_up()
        self.add_class("workerlab-threshold")
        for name in ("run_button", "stop_button", "status", "plot", "verdict"):
            getattr(self, name).add_class(f"workerlab-threshold-{name.removesuffix('_button')}")

    def _make_controls(self, d: dict[str, Any]) -> None:
        """The search's own widgets (the run settings are ``Settings``')."""
        wide = {"description_width": "initial"}
        self.level = widgets.FloatSlider(
            value=d["level"],
            min=0.5,
            max=0.99,
            step=0.01,
            description="level",
            style=wide,
        )
        self.counts = widgets.IntRangeSlider(
            value=tuple(d["counts"]),
            min=1,
            max=MAX_WORKERS,
            description="worker counts",
            style=wide,
        )
        self.find = widgets.Checkbox(
            value=bool(d["find"]),
            description=f"find it (1-{MAX_WORKERS})",
            indent=False,
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status = widgets.HTML(
            message("Choose the deadline, the level and the counts, and press Run.", MUTED)
        )
        self.plot = widgets.Image(
            format="png",
            layout=widgets.Layout(display="none", width="100%", max_width="800px"),
        )
        self.table = widgets.HTML()
        self.verdict = widgets.HTML()

    def _rows(self) -> list[widgets.Widget]:
        emulator = widgets.HTML(message("emulator only:", MUTED), layout=widgets.Layout(width="7em"))
        return [
            widgets.HBox([self.deadline, self.level, self.samples]),
            widgets.HBox([self.find, self.counts]),
            widgets.HBox([emulator, self.mtbf, self.interval]),
            self.worker_bin,
            widgets.HBox([self.run_button, self.stop_button]),
            self.status,
            self.plot,
            self.table,
            self.verdict,
        ]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        """The widget, plus a plain-text stand-in where widgets cannot render (e.g. on GitHub)."""
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            lo, hi = (1, MAX_WORKERS) if self.find.value else self.counts.value
            data["text/plain"] = (
                f"workerlab threshold search: workers {lo}-{hi} meeting {self.deadline.value:g} s in at least "
                f"{self.level.value:g} of runs. (Interactive widgets: run this notebook in Jupyter to use it.)"
            )
        return data

    def search_kwargs(self) -> dict[str, Any]:
        """The ``find_threshold_async`` arguments the widgets describe."""
        run = self._settings.collect_kwargs()
        lo, hi = (1, MAX_WORKERS) if self.find.value else self.counts.value
        kwargs = {k: v for k, v in run.items() if k != "workers"}
        return kwargs | {
            "deadline": self._settings.deadline_s(),
            "level": float(self.level.value),
            "confidence": self.confidence,
            "workers": range(lo, hi + 1),
            "max_runs": self.max_runs,
        }

    async def run(self) -> Threshold | None:
        """Start a search (as the Run button does) and wait for it; its ``Threshold`` or None."""
        await self._wait()
        return self.result

    def _controls(self, running: bool) -> None:
        self._settings.set_running(running)
        self.level.disabled = self.find.disabled = running
        self.counts.disabled = running or self.find.value

    async def _work(self, stop: Stop) -> None:
        """One search from click to verdict; its drawings are tasks of its own group."""
        self.result, self.error, self.updates = None, None, []
        self.verdict.value = self.table.value = ""
        async with asyncio.TaskGroup() as frames:
            self._frames = frames
            try:
                await self._find(stop)
            finally:
                self._frames = None  # no new drawing; the group waits for the one under way
        if self._closed:
            return
        if self.error:
            self.status.value = message(self.error, ERROR)
            return
        th = self.result
        assert th is not None
        await self._draw_table(th.table, th)
        self.verdict.value = th._repr_html_()
        color = OK if th.conclusive else WARN
        self.status.value = message(("Stopped: " if stop.is_set() else "Done: ") + th.sentence, color)

    async def _find(self, stop: Stop) -> None:
        """``find_threshold_async`` with the widgets' settings; what goes wrong becomes ``self.error``."""
        from workerlab.thresholds.search import find_threshold_async

        try:
            kwargs = self.search_kwargs() | {"stop": stop}
            self.status.value = message("starting the search…", MUTED)
            self.result = await find_threshold_async(**kwargs, progress=False, on_update=self._on_update)
        except ConfigError as exc:
            self.error = f"Check the settings: {exc}"
        except asyncio.CancelledError:
            self.error = "Stopped: the widget was closed during the search."
            raise
        except Exception as exc:  # noqa: BLE001 - shown, not lost in a log
            self.error = f"The search failed: {type(exc).__name__}: {exc}"
        if self._closed:
            self.error = "Stopped: the widget was closed during the search."

    def _on_update(self, status: SearchStatus) -> None:
        """After the pilot and every finished run: where it stands now, the picture when it can."""
        self.updates.append(status)
        done = int(status.table["runs"].sum())
        self.status.value = message(
            f"{_PHASES.get(status.phase, status.phase)}: {done} runs measured, {status.running} running, "
            f"{status.wall_s:.1f} s" + (f" · {status.reason}" if status.reason else ""),
            MUTED,
        )
        self._pending = status
        if self._frames is not None and (self._drawing is None or self._drawing.done()):
            self._drawing = self._frames.create_task(self._draw_pending())

    async def _draw_pending(self) -> None:
        while self._pending is not None:  # the latest status only: older ones are superseded
            status, self._pending = self._pending, None
            try:
                await self._draw_table(status.table, None)
            except Exception as exc:  # noqa: BLE001 - a picture that cannot draw must not end the search
                self.draw_errors.append(f"{type(exc).__name__}: {exc}")

    async def _draw_table(self, table: Any, th: Threshold | None) -> None:
        level = float(self.level.value)
        threshold = th.workers if th is not None and th.conclusive else None  # "so far" is not one
        self.plot.value = await render.call(lambda: _png(table, level=level, threshold=threshold))
        self.plot.layout.display = None
        cols = [
            c
            for c in (
                "workers",
                "runs",
                "successes",
                "success_rate",
                "ci_low",
                "ci_high",
                "p_pred",
            )
            if c in table
        ]
        ran = table[table["runs"] > 0][cols]  # the counts measured so far (the plot shows the rest)
        self.table.value = (
            ran.to_html(index=False, float_format=lambda x: f"{x:.2f}", na_rep="–") if len(ran) else ""
        )


def _png(table: Any, *, level: float, threshold: Any) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from workerlab.plots.search_progress import plot_search

    fig = Figure(figsize=(10.0, 4.5), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    plot_search(
        table,
        level=level,
        threshold=None if threshold is None else int(threshold),
        ax=fig.add_subplot(),
    )
    out = io.BytesIO()
    fig.savefig(out, format="png", pil_kwargs={"compress_level": 1})
    return out.getvalue()


def threshold_dashboard(worker_bin: str | None = None, **defaults: Any) -> ThresholdDashboard:
    """The threshold search in a widget: deadline, level, counts (or "find it"), Run, Stop."""
    return ThresholdDashboard(worker_bin, **defaults)
