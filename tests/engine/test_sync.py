"""The blocking twins (``engine.sync.blocking``) and the cleanups a blocking call runs (``when_abandoned``).

No worker processes here: the twins wrap small coroutines, so what is checked is the wrapper itself.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from workerlab.engine import sync
from workerlab.engine.stop import Stop


async def twin_async(workers: int, *, stop: Stop | None = None, delay: float = 0.0) -> tuple:
    """Echo what the call was given (a stand-in for collect_async)."""
    await asyncio.sleep(delay)
    return workers, stop, asyncio.get_running_loop()


def test_the_blocking_twin_has_the_twins_signature_and_its_docs():
    twin = sync.blocking(twin_async, "twin", "Blocking ``twin_async``.")
    assert inspect.signature(twin) == inspect.signature(twin_async)
    assert twin.__name__ == "twin" and not inspect.iscoroutinefunction(twin)
    assert twin.__doc__.startswith("Blocking ``twin_async``.\n\n``twin_async``: Echo what the call")
    workers, stop, _ = twin(3)
    assert (workers, stop) == (3, None)  # no stop is made unless asked for
    with pytest.raises(TypeError, match="positional"):
        twin(3, None)


def test_interrupt_stops_makes_a_stop_when_none_is_given_and_keeps_the_callers():
    twin = sync.blocking(twin_async, "twin", "Blocking.", interrupt_stops=True)
    _, made, _ = twin(1)
    assert isinstance(made, Stop) and not made.is_set()
    mine = Stop()
    assert twin(1, stop=mine)[1] is mine


def test_the_blocking_twin_also_runs_inside_a_running_loop():
    twin = sync.blocking(twin_async, "twin", "Blocking.")

    async def cell() -> tuple:
        return twin(2, delay=0.01), asyncio.get_running_loop()

    (workers, _, loop_used), kernel_loop = asyncio.run(cell())
    assert workers == 2 and loop_used is kernel_loop  # on the kernel's own loop (nest-asyncio)


def test_a_blocking_call_runs_the_cleanups_its_coroutine_registered_and_only_its_own():
    ran: list[str] = []

    async def work(name: str) -> None:
        sync.when_abandoned(lambda: ran.append(name))

    sync.run_sync(work("first"))
    assert ran == ["first"]
    sync.run_sync(work("second"))
    assert ran == ["first", "second"]  # the first call's cleanup is not run again
    asyncio.run(work("awaited"))  # not under a blocking call: nothing is registered, nothing runs
    assert ran == ["first", "second"]


def test_cleanups_run_also_when_the_coroutine_fails():
    ran: list[bool] = []

    async def fails() -> None:
        sync.when_abandoned(lambda: ran.append(True))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        sync.run_sync(fails())
    assert ran == [True]
