"""The dashboard's frames, drawn off the event loop: one rendering thread for every dashboard.

A frame (``workerlab.plots.live.LiveFigure``: throughput, timeline and latencies as PNG bytes)
takes tens of milliseconds, more on a loaded machine. On the event loop that would delay the
timestamps of arriving samples; a thread holds the GIL only in slices, so the loop keeps
reading streams. One thread for all: matplotlib figures are never drawn concurrently.
This module imports no matplotlib itself, so creating a dashboard stays quick: matplotlib
loads in the thread (:func:`warm_up`) while the person is still choosing settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from workerlab.analysis.livestats import LiveStats

T = TypeVar("T")

__all__ = ["render_pool", "warm_up", "new_figure", "frame", "call"]

_pool: ThreadPoolExecutor | None = None
_warm: Future | None = None


def render_pool() -> ThreadPoolExecutor:
    """The one rendering thread (made at first use)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workerlab-dashboard")
    return _pool


def _warm_up() -> None:
    from workerlab.plots import figures  # matplotlib, its fonts and glyph caches load here

    figures.draw_once()


def warm_up() -> Future:
    """Import and draw once in the rendering thread (once per process), so no frame waits for it."""
    global _warm
    if _warm is None:
        _warm = render_pool().submit(_warm_up)
    return _warm


def new_figure() -> Any:
    """A ``plots.live.LiveFigure`` for :func:`frame` to update frame after frame."""
    from workerlab.plots import live

    return live.LiveFigure()


async def frame(
    job: Callable[[], tuple[bytes, LiveStats]], *, took: list[float] | None = None
) -> tuple[bytes, LiveStats]:
    """``job()`` in the rendering thread: a frame's bytes and the run's counters; its time to ``took``.

    ``job`` builds the frame's numbers (a live log's new records, or a finished log through
    ``workerlab.analysis.runs``), draws and encodes, all off the event loop.
    """

    def timed() -> tuple[bytes, LiveStats]:
        started = time.perf_counter()
        try:
            return job()
        finally:
            if took is not None:
                took.append(time.perf_counter() - started)

    return await asyncio.get_running_loop().run_in_executor(render_pool(), timed)


async def call(fn: Callable[[], T]) -> T:
    """``fn()`` in the rendering thread (e.g. a figure that is not a frame)."""
    return await asyncio.get_running_loop().run_in_executor(render_pool(), fn)
