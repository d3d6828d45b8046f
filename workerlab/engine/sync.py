"""Run a coroutine to completion from synchronous code, also inside a running event loop.

In a plain script there is no loop: ``asyncio.run`` (which turns Ctrl-C into a clean
cancellation of the run). In a Jupyter kernel a loop is already running in this thread,
so ``asyncio.run`` is refused; we then apply nest-asyncio to *that* loop only at that
moment (never at import: it patches asyncio process-wide) and run on the kernel's own
loop, so progress widgets update live and a kernel interrupt lands in our run, which is
then cancelled and allowed to stop its workers before the interrupt propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T], on_abandon: Callable[[], None] | None = None) -> T:
    """Run ``coro`` and return its result; ``on_abandon`` kills leftovers if it cannot finish."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        try:
            return asyncio.run(coro)
        finally:
            if on_abandon is not None:
                on_abandon()
    import nest_asyncio

    nest_asyncio.apply(loop)
    task = loop.create_task(coro)
    try:
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
    finally:
        if on_abandon is not None:
            on_abandon()
