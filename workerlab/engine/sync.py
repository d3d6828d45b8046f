"""Run a coroutine to completion from synchronous code, also inside a running event loop.

In a plain script there is no loop: ``asyncio.run`` (which turns Ctrl-C into a clean
cancellation of the run). In a Jupyter kernel a loop is already running in this thread,
so ``asyncio.run`` is refused; we then apply nest-asyncio to *that* loop only at that
moment (never at import: it patches asyncio process-wide) and run on the kernel's own
loop, so progress widgets update live and a kernel interrupt lands in our run, which is
then cancelled and allowed to stop its workers before the interrupt propagates.

With a ``stop`` token the first Ctrl-C or kernel interrupt sets it instead, and the call runs on
to its own end (it stops its workers and returns what it has); a second one cancels it as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from workerlab.engine import procs
from workerlab.engine.stop import Stop

T = TypeVar("T")
INTERRUPTED = "interrupted (Ctrl-C or a kernel interrupt)"


def run_sync(
    coro: Coroutine[Any, Any, T], on_abandon: Callable[[], None] | None = None, *, stop: Stop | None = None
) -> T:
    """Run ``coro`` and return its result; ``on_abandon`` kills leftovers if it cannot finish
    (by default: every worker process started during the call that is still alive then)."""
    before = set(procs.LIVE)
    finished = False
    try:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            result = asyncio.run(_stop_on_sigint(coro, stop) if stop is not None else coro)
        else:
            result = _run_nested(loop, coro, stop)
        finished = True
        return result
    finally:
        if on_abandon is not None:
            on_abandon()
        elif not finished:
            procs.kill_all(set(procs.LIVE) - before)


async def _stop_on_sigint(coro: Coroutine[Any, Any, T], stop: Stop) -> T:
    """``coro``, with the first SIGINT setting ``stop`` (the next one is Python's KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    installed = False
    if threading.current_thread() is threading.main_thread():

        def first() -> None:
            stop.set(INTERRUPTED)
            loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C interrupts as usual

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, first)
            installed = True
    try:
        return await coro
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def _run_nested(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], stop: Stop | None) -> T:
    import nest_asyncio

    nest_asyncio.apply(loop)
    task = loop.create_task(coro)
    try:
        try:
            return loop.run_until_complete(task)
        except KeyboardInterrupt:
            if stop is None or stop.is_set() or task.done():
                raise
            stop.set(INTERRUPTED)  # the first interrupt: the call stops itself and returns
            return loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            task.cancel()  # lets the run stop its workers and record why
            try:
                loop.run_until_complete(task)
            except BaseException:
                pass
        if task.done() and not task.cancelled():
            # mark its error as retrieved: otherwise the task logs it when garbage-collected, and
            # Python 3.11 formats that traceback with ast.parse, which fails with a SystemError if
            # the collection happened inside another ast.parse (e.g. pytest rewriting an import)
            task.exception()
        raise
