"""Run a coroutine to completion from synchronous code, also inside a running event loop.

In a plain script there is no loop: ``asyncio.run`` (which turns Ctrl-C into a clean
cancellation of the run). In a Jupyter kernel a loop is already running in this thread,
so ``asyncio.run`` is refused; we then apply nest-asyncio to *that* loop only at that
moment (never at import: it patches asyncio process-wide) and run on the kernel's own
loop, so progress widgets update live and a kernel interrupt lands in our run, which is
then cancelled and allowed to stop its workers before the interrupt propagates.

With a ``stop`` token the first Ctrl-C or kernel interrupt sets it instead, and the call runs on
to its own end (it stops its workers and returns what it has); a second one cancels it as above.

A blocking call is a thin wrapper over its async twin: ``collect = blocking(collect_async, ...)``
has the twin's signature (for ``inspect``, IDEs and type checkers alike) and runs
``run_sync(collect_async(...))``. What the coroutine starts beyond this process's workers (a
sweep's Dask tasks) registers its cleanup with ``when_abandoned``; ``run_sync`` calls each one
once the coroutine is over, so nothing outlives the call even when its task could not finish. The
registry is a context variable: each blocking call, also one per thread of a Dask worker, sees
only its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from workerlab.engine import procs
from workerlab.engine.stop import Stop

T = TypeVar("T")
P = ParamSpec("P")
INTERRUPTED = "interrupted (Ctrl-C or a kernel interrupt)"

#: the cleanups of the blocking call the current code runs under (None: not under one)
_CLEANUPS: contextvars.ContextVar[list[Callable[[], object]] | None] = contextvars.ContextVar(
    "workerlab_cleanups", default=None
)


def when_abandoned(cleanup: Callable[[], object]) -> None:
    """Have the enclosing ``run_sync`` call ``cleanup`` when it returns (normally a no-op by then).

    Outside a blocking call (a coroutine the caller awaits on its own loop) nothing is registered:
    the caller owns that task and its cancellation stops what it started.
    """
    cleanups = _CLEANUPS.get()
    if cleanups is not None:
        cleanups.append(cleanup)


def run_sync(
    coro: Coroutine[Any, Any, T], on_abandon: Callable[[], None] | None = None, *, stop: Stop | None = None
) -> T:
    """Run ``coro`` and return its result; ``on_abandon`` kills leftovers if it cannot finish
    (by default: every worker process started during the call that is still alive then), and so
    does every cleanup the coroutine registered (``when_abandoned``)."""
    before = set(procs.LIVE)
    finished = False
    cleanups: list[Callable[[], object]] = []
    context = contextvars.copy_context()
    context.run(_CLEANUPS.set, cleanups)
    try:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            with asyncio.Runner() as runner:  # asyncio.run, in the context holding the cleanups
                result = runner.run(
                    _stop_on_sigint(coro, stop) if stop is not None else coro, context=context
                )
        else:
            result = _run_nested(loop, coro, stop, context)
        finished = True
        return result
    finally:
        for cleanup in cleanups:
            cleanup()
        if on_abandon is not None:
            on_abandon()
        elif not finished:
            procs.kill_all(set(procs.LIVE) - before)


def blocking(
    twin: Callable[P, Coroutine[Any, Any, T]], name: str, doc: str, *, interrupt_stops: bool = False
) -> Callable[P, T]:
    """The blocking call ``name`` of the async ``twin``: the same signature, ``run_sync`` of its coroutine.

    Its docstring is ``doc`` (what the blocking call adds) followed by the twin's, so ``help()``
    tells the whole story in one place. ``interrupt_stops``: the first Ctrl-C or kernel interrupt
    sets the call's ``stop`` (one is made if none is given) instead of interrupting it (``run_sync``).
    """

    @functools.wraps(twin)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        stop = None
        if interrupt_stops:
            stop = kwargs.get("stop")
            if stop is None:
                kwargs["stop"] = stop = Stop()
        return run_sync(twin(*args, **kwargs), stop=stop if isinstance(stop, Stop) else None)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{inspect.cleandoc(doc)}\n\n``{twin.__name__}``: {inspect.cleandoc(twin.__doc__ or '')}"
    return call


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


def _run_nested(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    stop: Stop | None,
    context: contextvars.Context,
) -> T:
    import nest_asyncio

    nest_asyncio.apply(loop)
    task = loop.create_task(coro, context=context)
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
