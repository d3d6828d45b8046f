"""The dashboard's frames, drawn off the event loop: one rendering thread for every dashboard.

A frame (``workerlab.plots.figures.render_png``: throughput and timeline as PNG bytes) takes
0.3–0.6 s to draw, more on a loaded machine. On the event loop that would stall the kernel and
delay the timestamps of arriving samples; a thread holds the GIL only in slices, so the loop
keeps reading streams. One thread for all: matplotlib figures are never drawn concurrently.
This module imports no matplotlib itself, so creating a dashboard stays quick: matplotlib
loads in the thread (:func:`warm_up`) while the person is still choosing settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["render_pool", "warm_up", "new_figure", "png"]

_pool: ThreadPoolExecutor | None = None
_warm: Future | None = None


def render_pool() -> ThreadPoolExecutor:
    """The one rendering thread (made at first use)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workerlab-dashboard")
    return _pool


def _warm_up() -> None:
    from .plots import figures  # matplotlib, its fonts and glyph caches load here

    figures.draw_once()


def warm_up() -> Future:
    """Import and draw once in the rendering thread (once per process), so no frame waits for it."""
    global _warm
    if _warm is None:
        _warm = render_pool().submit(_warm_up)
    return _warm


def new_figure() -> Any:
    """A figure for :func:`png` to redraw frame after frame (``plots.figures.new_figure``)."""
    from .plots import figures

    return figures.new_figure()


async def png(
    log: Callable[[], Any],
    *,
    deadline: float | None,
    figure: Callable[[], Any],
    live: bool = False,
    took: list[float] | None = None,
) -> bytes:
    """``render_png(log(), fig=figure(), ...)`` in the rendering thread; its drawing time to ``took``.

    ``log`` and ``figure`` are called in the thread: building a live snapshot's DataFrame and
    the first figure cost the event loop nothing.
    """

    def draw() -> bytes:
        from .plots import figures

        started = time.perf_counter()
        try:
            return figures.render_png(log(), deadline=deadline, fig=figure(), live=live)
        finally:
            if took is not None:
                took.append(time.perf_counter() - started)

    return await asyncio.get_running_loop().run_in_executor(render_pool(), draw)
