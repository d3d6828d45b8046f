"""How a run starts its workers: the start limiter it is given, and the signal that they are up.

Counts and order only, never durations: the bound is checked by counting starts held at once,
and "up" by which workers had been ready when the signal arrived.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from helpers import FAST, emulator_wrapper, ready_workers, wait_for_async

import workerlab as wl
from workerlab.config import make_config
from workerlab.engine import limiter
from workerlab.engine.collector import Run
from workerlab.engine.limiter import StartLimiter

#: what the wrapped emulators are given: compressed time, no crashes
WORKER_ARGS = ["-interval", str(FAST), "-mtbf", "0"]


def test_started_comes_only_once_every_worker_was_ready(tmp_path):
    """Worker 3 starts only when the test says so: until then the run must not say it started."""
    go = tmp_path / "go"
    held = f'case " $* " in *" -workerId 3 "*) while [ ! -e {go} ]; do sleep 0.01; done;; esac'
    cfg = make_config(3, 60, worker_bin=emulator_wrapper(tmp_path, held), worker_args=WORKER_ARGS)

    async def main() -> tuple[bool, set[int], bool]:
        run = Run(cfg, progress=False)
        task = asyncio.ensure_future(run.run())
        # the others are up ...
        await wait_for_async(lambda: ready_workers(run.records) == {1, 2}, 30, "workers 1 and 2 ready", 0.005)
        started_early = run.started
        go.touch()  # ... and only now may worker 3 start
        await run.wait_started()
        at_signal = ready_workers(run.records)
        df_ok = (await task).kept.sum() == 60
        return started_early, at_signal, run.started and df_ok

    started_early, at_signal, ok = asyncio.run(main())
    assert not started_early
    assert at_signal == {1, 2, 3}
    assert ok


def test_started_is_set_when_the_run_fails_so_no_owner_hangs(tmp_path):
    """Worker 2 can never start: the run fails, and whoever waits for its start is told."""
    broken = emulator_wrapper(tmp_path, 'case " $* " in *" -workerId 2 "*) exit 3;; esac')
    cfg = make_config(2, 20, worker_bin=broken, worker_args=WORKER_ARGS)

    async def main() -> tuple[bool, BaseException | None, set[int]]:
        run = Run(cfg, progress=False)
        waiter = asyncio.ensure_future(run.wait_started())
        try:
            await run.run()
            error = None
        except wl.WorkerStartError as exc:
            error = exc
        async with asyncio.timeout(5):  # it is already set: this only guards a hang
            await waiter
        return run.started, error, ready_workers(run.records)

    started, error, ready = asyncio.run(main())
    assert started and error is not None
    assert 2 not in ready  # set although worker 2 never became ready


class CountingLimiter:
    """A start limiter of ``slots`` that counts how many starts it held at once, and in all."""

    def __init__(self, slots: int) -> None:
        self._sem = asyncio.Semaphore(slots)
        self.held = self.peak = self.entries = 0

    async def __aenter__(self) -> None:
        await self._sem.acquire()
        self.held += 1
        self.entries += 1
        self.peak = max(self.peak, self.held)

    async def __aexit__(self, *exc: object) -> None:
        self.held -= 1
        self._sem.release()


def test_one_injected_limiter_bounds_the_starts_of_two_runs():
    limiter = CountingLimiter(2)
    configs = [make_config(4, 80, interval=FAST, mtbf=0) for _ in range(2)]

    async def main() -> list[Any]:
        runs = [Run(c, progress=False, start_limiter=limiter) for c in configs]
        return await asyncio.gather(*(r.run() for r in runs))

    frames = asyncio.run(main())
    spawns = sum(int((df.event == "spawn").sum()) for df in frames)
    assert spawns >= 8 and limiter.entries == spawns  # every start went through it
    assert limiter.peak == 2  # used to its bound, never beyond, across both runs
    assert limiter.held == 0


def test_start_limiter_is_shared_safely_by_loops_in_two_threads():
    limiter = StartLimiter(1)
    lock = threading.Lock()
    state = {"held": 0, "peak": 0, "entries": 0}

    async def worker() -> None:
        for _ in range(30):
            async with limiter:
                with lock:
                    state["held"] += 1
                    state["entries"] += 1
                    state["peak"] = max(state["peak"], state["held"])
                await asyncio.sleep(0)
                with lock:
                    state["held"] -= 1

    threads = [threading.Thread(target=asyncio.run, args=(worker(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert state["entries"] == 60 and state["peak"] == 1
    assert asyncio.run(_free_again(limiter))


async def _free_again(limiter: StartLimiter) -> bool:
    """Every slot can be taken again (none was kept by a finished or cancelled holder)."""
    for _ in range(limiter.slots):
        await asyncio.wait_for(limiter.acquire(), 5)  # a kept slot would block here for good
    for _ in range(limiter.slots):
        limiter.release()
    return True


def test_a_cancelled_waiter_does_not_keep_a_start_slot():
    async def main() -> int:
        limiter = StartLimiter(1)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)  # it is queued
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        return await _free_again(limiter)

    assert asyncio.run(main())


def test_the_default_start_limit_is_one_start_per_usable_cpu():
    import os

    cpus = limiter.usable_cpus()
    assert cpus >= 1 and cpus <= (os.cpu_count() or cpus)
    assert limiter.START_CONCURRENCY == cpus and StartLimiter().slots == cpus
