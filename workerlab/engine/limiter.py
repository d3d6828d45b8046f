"""The start limiter: at most N worker processes are being spawned and awaited at once.

Starting many interpreters together shares the CPUs among all of them and makes every one
ready late; one start per CPU makes the first ones ready early. A ``Run`` holds one slot of
its limiter exactly around a worker's spawn and readiness; runs that share a limiter (the
runs of a sweep) share the bound. Slots are handed out first come, first served, and the
limiter may be shared by event loops in different threads (a Dask worker's runs): a release
wakes the next waiter on its own loop, without polling.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from types import TracebackType

__all__ = ["START_CONCURRENCY", "StartLimiter", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where known, else the machine's count; at least 1).

    The one definition of the CPU-based start limit: ``START_CONCURRENCY`` is its value at import,
    and the model reads it to simulate the collector's default limiter.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


#: the default number of starts at once: one per CPU this process may run on
START_CONCURRENCY = usable_cpus()


class _Waiter:
    __slots__ = ("loop", "future", "granted")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class StartLimiter:
    """A FIFO semaphore of ``slots`` for ``async with``; safe to share across threads' loops."""

    def __init__(self, slots: int = START_CONCURRENCY) -> None:
        if slots < 1:
            raise ValueError(f"a start limiter needs at least 1 slot, got {slots}")
        self.slots = slots
        self._free = slots
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    async def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # handed the slot as it was cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its loop is closed: nobody waits there any more
                    continue
                waiter.granted = True
                return
            self._free += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
