"""The dashboard's live tab: the frames of a run as it goes, and its counters.

The counters (rate, time to target against the deadline, crashes / restarts / stalls) are
an HTML row above the frame, set from the same ``LiveStats`` as the frame below them
(``workerlab.analysis.livestats``: computed once per frame, in the rendering thread), so plot and
numbers always agree. The words are ``workerlab.analysis.report.live_details``'; ``LivePanel.counters``
gives them to code (e.g. a notebook) as a dict.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from workerlab.analysis import report
from workerlab.analysis.livestats import LiveLog
from workerlab.ui import render

if TYPE_CHECKING:
    import pandas as pd

    from workerlab.analysis.livestats import LiveStats
    from workerlab.engine.status import RunStatus

__all__ = ["LivePanel", "LiveView"]

_CELL = "display:inline-block;margin:0 1.6em 0.2em 0;vertical-align:top"
_COLORS = {"on track": "#1b7f3b", "met": "#1b7f3b", "missed": "#b00020"}


class LivePanel(widgets.HTML):
    """An HTML row of labelled counters; :meth:`show` sets them, :meth:`clear` empties it."""

    def __init__(self) -> None:
        super().__init__()
        self.add_class("workerlab-live")
        self.stats: LiveStats | None = None

    def show(self, stats: LiveStats) -> None:
        self.stats = stats
        cells = []
        for key, value in report.live_details(stats):
            color = _COLORS.get(value, "#b00020" if value.startswith("late") else "inherit")
            cells.append(
                f"<div style='{_CELL}'><div style='color:#555;font-size:85%'>{html.escape(key)}</div>"
                f"<div class='workerlab-live-{_slug(key)}' style='font-weight:600;color:{color}'>"
                f"{html.escape(value)}</div></div>"
            )
        self.value = f"<div>{''.join(cells)}</div>"

    @property
    def counters(self) -> dict[str, str]:
        """The counters shown, label -> words (empty before the first frame of a run)."""
        return {} if self.stats is None else dict(report.live_details(self.stats))

    def clear(self) -> None:
        self.stats = None
        self.value = ""


def _slug(key: str) -> str:
    word = key.split()[0].lower()
    return "faults" if word == "crashes" else "eta" if key == "time to target" else word


class LiveView(widgets.VBox):
    """The live tab: the counters above the frame, and the clock that draws frames during a run.

    ``tick(run, deadline)`` (at every collector update) starts a frame when none is drawing and
    the last one started ``redraw_every`` seconds ago, or sets a timer for then: frames keep
    their pace whatever the 0.1 s ticks do. The first frame waits until every worker has been
    ready once (``run.started``): while they start, the rendering thread would take CPU from
    the start-up that decides how soon the run can end. A frame folds the run's new records into a
    ``LiveLog`` and draws them in the rendering thread (``plots.live.LiveFigure``: JPEG);
    ``final(df, deadline)`` draws the returned log (PNG) once the run is over.

    Live frames are tasks of the run's task group, given by ``begin(group)``: the dashboard's run
    owns them and outlives them (``settle()`` ends them before the group closes).
    """

    def __init__(self, *, redraw_every: float, max_width: str) -> None:
        self.redraw_every = redraw_every
        self.panel = LivePanel()
        self.plot = widgets.Image(
            format="png", layout=widgets.Layout(display="none", width="100%", max_width=max_width)
        )
        super().__init__([self.panel, self.plot])
        self.add_class("workerlab-live-view")
        self.plot.add_class("workerlab-plot")
        self.figure: Any = None  # the LiveFigure, made and touched only in the rendering thread
        render.render_pool().submit(self._figure)  # made now, while the person chooses settings
        self.reset()

    def reset(self) -> None:
        """Before a run: no frame yet, counters at zero."""
        self.redraws = 0  # frames shown for the current run
        self.live_redraws = 0  # of those, frames drawn while it was still collecting
        self.render_seconds: list[float] = []  # what each frame took (numbers, drawing, encoding)
        self.render_errors: list[str] = []  # live frames that could not be drawn, and why
        self._run: RunStatus | None = None
        self._log: LiveLog | None = None
        self._deadline = 0.0
        self._render: asyncio.Task | None = None
        self._group: asyncio.TaskGroup | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last = -math.inf
        self._over = False
        self.panel.clear()

    def begin(self, group: asyncio.TaskGroup) -> None:
        """A run starts: its live frames become tasks of ``group`` (the run's owner)."""
        self.reset()
        self._group = group

    def tick(self, run: RunStatus, deadline: float) -> None:
        """The run moved on: start a live frame if one is due, else make sure one will be."""
        if self._run is not run:
            self._run, self._log = run, LiveLog(n_workers=run.config.workers, target=run.config.samples)
        self._deadline = deadline
        if self._over or self._group is None or run.finished or not run.started:
            return  # no frame while workers start: start-up decides how soon the run can end
        if self._render is not None and not self._render.done():
            return  # it calls again when it is done
        loop = asyncio.get_running_loop()
        wait = self._last + self.redraw_every - time.monotonic()
        if wait > 0:
            if self._timer is None or self._timer.when() <= loop.time():
                self._timer = loop.call_later(wait, self.tick, run, deadline)
            return
        self._last = time.monotonic()
        self._render = self._group.create_task(self._draw_live(run))

    async def _draw_live(self, run: RunStatus) -> None:
        log, deadline, now = self._log, self._deadline, run.now()
        assert log is not None
        try:  # the thread reads the records the run has when it gets there: the list only grows
            image, stats = await render.frame(
                lambda: self._figure().render_live(log, run.records, deadline=deadline, now=now),
                took=self.render_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - a frame that cannot draw is skipped; the run goes on
            self.render_errors.append(f"{type(exc).__name__}: {exc}")
            return
        if not self._over and run is self._run and not run.finished:
            self.show(image, stats, "jpeg")
            self.live_redraws += 1
            self.tick(run, deadline)  # the next one, on time

    async def settle(self) -> None:
        """The run is over: no more live frames; wait for one still drawing (then the group may close)."""
        self._over = True
        self._group = None
        if self._timer is not None:
            self._timer.cancel()
        if self._render is not None:
            try:
                await self._render
            except BaseException:  # noqa: BLE001 - only the final frame matters now
                pass

    async def final(self, df: pd.DataFrame, deadline: float) -> None:
        """The last frame, from the run's returned event log (PNG)."""
        image, stats = await render.frame(
            lambda: self._figure().render(df, deadline=deadline), took=self.render_seconds
        )
        self.show(image, stats, "png")

    def _figure(self) -> Any:
        if self.figure is None:
            self.figure = render.new_figure()
        return self.figure

    def show(self, image: bytes, stats: LiveStats, fmt: str) -> None:
        with self.plot.hold_sync():  # one message: the format and the bytes together
            self.plot.format, self.plot.value = fmt, image
        self.plot.layout.display = None
        self.panel.show(stats)
        self.redraws += 1
