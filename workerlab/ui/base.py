"""What both widgets share: one long task at a time, started, stopped and closed the same way.

A ``TaskWidget`` (an ``ipywidgets.VBox``) owns at most one task (``task``: a run of the dashboard,
a search of the threshold widget) on the kernel's own event loop, and the ``Stop`` token of that
task: ``start`` makes a fresh token and the task, and returns at once, so the kernel keeps
answering while workers stream; ``stop`` sets the token (the work stops every worker and hands
back what it has); ``close`` sets it too, then closes every widget inside, at any depth, and the
widget itself. Never a cancellation: the task ends on its own, once its workers are stopped
(``await widget.task``). A subclass has ``run_button``, ``stop_button`` and ``status`` (an HTML
line), and says what the task does (``_work``) and which controls it holds while it runs
(``_controls``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import ipywidgets as widgets

from workerlab.engine.stop import Stop
from workerlab.ui.settings import ERROR, MUTED, message

__all__ = ["TaskWidget", "close_tree"]


def close_tree(widget: Any) -> None:
    """Close every widget inside ``widget`` (children first, at any depth), not ``widget`` itself."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
        child.close()


class TaskWidget(widgets.VBox):
    """A widget that runs one task at a time: ``start`` / ``stop`` / ``close`` (module docstring)."""

    #: the Stop token's reasons, as the task's log records them
    STOP_REASON = "stopped from the widget"
    CLOSE_REASON = "the widget was closed"
    #: what ``start`` says where no event loop runs (a plain script)
    NO_LOOP = "No running event loop: use it in a Jupyter kernel or `await widget.run()`."

    task: asyncio.Task[None] | None = None
    run_button: widgets.Button
    stop_button: widgets.Button
    status: widgets.HTML
    _stop: Stop | None = None
    _closed = False

    @property
    def running(self) -> bool:
        """True while the task runs."""
        return self.task is not None and not self.task.done()

    @property
    def stop_token(self) -> Stop | None:
        """The current (or last) task's ``Stop``."""
        return self._stop

    def start(self) -> asyncio.Task[None] | None:
        """Start the task on the running event loop (what Run does) and return it; returns at once.

        A start while the task runs returns that task (the Run button is disabled anyway).
        """
        if self.running:
            return self.task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show_status(self.NO_LOOP, ERROR)
            return None
        self._stop = stop = Stop()  # before the task: a stop() right after start() is never lost
        self._set_running(True)
        self.task = loop.create_task(self._owned(self._work(stop)))
        return self.task

    async def _owned(self, work: Coroutine[Any, Any, None]) -> None:
        """The task: ``work``, then the controls given back, whatever happened."""
        try:
            await work
        finally:
            self._set_running(False)

    async def _wait(self) -> None:
        """Start the task (as Run does) and wait for it."""
        task = self.start()
        if task is not None:
            await task

    def stop(self) -> None:
        """Stop the task in progress: its workers are stopped and what it measured is kept."""
        if self.running and self._stop is not None and not self._stop.is_set():
            self._show_status("stopping…", MUTED)
            self._stop.set(self.STOP_REASON)

    def close(self) -> None:
        """Stop a task in progress (its workers too) and close every widget inside, then this one.

        The task ends on its own once its workers are stopped (``await widget.task``).
        """
        self._closed = True
        if self.running and self._stop is not None:
            self._stop.set(self.CLOSE_REASON)
        close_tree(self)
        super().close()

    def _set_running(self, running: bool) -> None:
        """Run and the settings enabled when idle, Stop while the task runs."""
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self._controls(running)

    def _show_status(self, text: str, color: str) -> None:
        """Show a one-line message in ``status``."""
        self.status.value = message(text, color)

    # -- what a subclass provides ---------------------------------------------------------------
    async def _work(self, stop: Stop) -> None:
        """The task's work, ending when done or once ``stop`` is set; never raises but a cancellation."""
        raise NotImplementedError

    def _controls(self, running: bool) -> None:
        """Disable the settings while the task runs (``running``), enable them after."""
        raise NotImplementedError
