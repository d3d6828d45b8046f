"""The runs of a sweep in this process: one event loop, bounded by live worker processes.

A run of W workers holds W units of the sweep's *capacity* until every one of its processes
is gone, so a sweep never has more than ``max_live_workers`` processes alive. Runs are
launched one after another, each once the previous one's workers are up (``Run.wait_started``):
runs that start together share the CPUs among all their starting interpreters, which delays
every one of them and so their elapsed times (measured with 15 workers at the real interval: 4
runs starting together took 0.45 s longer, median, than runs one after another; the deadline
leaves 15 workers 1 s of slack). All runs share one start limiter, so the restarts of running
runs and the start of the next one share the same bound too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workerlab.config import START_TIMEOUT, make_config
from workerlab.engine.collector import Run, RunStatus
from workerlab.engine.limiter import StartLimiter
from workerlab.errors import CollectError
from workerlab.log import events

#: the longest the next run waits for the previous one's workers (a run whose workers never get ready)
START_HOLD_MAX = START_TIMEOUT


@dataclass(frozen=True)
class Plan:
    """One run of the sweep: its place in the result, worker count, repeat (1-based), id, seed."""

    index: int
    workers: int
    repeat: int
    run_id: str
    seed: int | None


def failed_frame(plan: Plan, samples: int, exc: BaseException, df: pd.DataFrame | None) -> pd.DataFrame:
    """The log of a run that did not reach its target.

    A collector log already ends with its run-level row (``Run`` records it whatever happens);
    with no log at all (a Dask task that failed), a one-row log says the run failed and why.
    """
    if df is not None and not df.empty:
        return df
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    row = events.run_stop_record(samples, "failed", message)
    return events.from_records(
        [row], run_id=plan.run_id, n_workers=plan.workers, samples=samples, wall0=time.time()
    )


async def run_one(run: Run, plan: Plan, samples: int) -> pd.DataFrame:
    """Run one collection; its event log whether it reached the target or failed."""
    try:
        return await run.run()
    except CollectError as exc:
        return failed_frame(plan, samples, exc, exc.events)
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the sweep
        run.abandon()
        return failed_frame(plan, samples, exc, run.frame())


def verdict(df: pd.DataFrame, deadline: float) -> tuple[bool, bool]:
    """(reached its target, met the deadline) of one run's log, as ``wl.summary`` judges it."""
    from workerlab.analysis.runs import summary

    row = summary(df, deadline=deadline).iloc[0]
    reached = pd.notna(row["outcome"]) and row["outcome"] == "reached"
    return reached, reached and pd.notna(row["deadline_met"]) and bool(row["deadline_met"])


class Progress:
    """One bar over runs (tqdm.auto: a widget in Jupyter), or nothing."""

    def __init__(self, total: int, enabled: bool, deadline: float) -> None:
        self.deadline = deadline
        self.running = self.met = self.failed = 0
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="runs", unit="run", leave=True)
            self._post()

    def _post(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix(
                {"running": self.running, "met": self.met, "failed": self.failed}, refresh=False
            )

    def started(self) -> None:
        self.running += 1
        self._post()
        if self.bar is not None:
            self.bar.refresh()

    def done(self, df: pd.DataFrame, *, ran: bool = True) -> None:
        if ran:
            self.running -= 1
        reached, met = verdict(df, self.deadline)
        self.met += met
        self.failed += not reached
        if self.bar is not None:
            self.bar.update(1)
        self._post()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Capacity:
    """A weighted FIFO semaphore: ``acquire(n)`` waits for ``n`` units, first come first served."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, n: int) -> None:
        if n > self.total:
            raise ValueError(f"{n} units requested of a capacity of {self.total}")
        if not self._waiters and self.free >= n:
            self.free -= n
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: give it back
                self.release(n)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove((n, fut))
                self._wake()
            raise

    def release(self, n: int) -> None:
        self.free += n
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            n, fut = self._waiters[0]
            if fut.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            if n > self.free:
                break
            self._waiters.popleft()
            self.free -= n
            fut.set_result(None)


class _Interrupted(Exception):
    """Carries a KeyboardInterrupt / SystemExit of one run up to the sweep."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(repr(interrupt))
        self.interrupt = interrupt


class LocalSweep:
    """The runs of one local sweep, in one event loop, within the live-process capacity."""

    def __init__(
        self,
        plans: list[Plan],
        samples: int,
        options: dict[str, Any],
        on_update: Callable[[RunStatus], Any] | None,
        parallel: int | None,
        capacity: int,
        progress: Progress,
    ) -> None:
        self.plans = plans
        self.samples = samples
        self.options = options
        self.on_update = on_update
        self.parallel = parallel
        self.capacity = capacity
        self.progress = progress
        self.limiter = StartLimiter()  # one start limiter for every run of the sweep
        self.runs: list[Run] = []  # every run started, for abandon()
        self.results: list[pd.DataFrame | None] = [None] * len(plans)
        self.interrupt: BaseException | None = None  # a run's KeyboardInterrupt / SystemExit

    async def run(self) -> list[pd.DataFrame]:
        cap = _Capacity(self.capacity)
        par = asyncio.Semaphore(self.parallel or len(self.plans))
        try:
            async with asyncio.TaskGroup() as tg:
                for plan in self.plans:
                    await par.acquire()
                    try:
                        await cap.acquire(plan.workers)
                    except BaseException:
                        par.release()
                        raise
                    run = self._new_run(plan)
                    tg.create_task(self._one(plan, run, cap, par))
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(START_HOLD_MAX):
                            await run.wait_started()  # the next run starts once these workers are up
        except* _Interrupted as group:
            # end quietly: raised from this task it would escape the loop once more, in the
            # middle of whoever is cleaning up; the caller raises it outside the loop
            first = group.exceptions[0]
            assert isinstance(first, _Interrupted)
            self.interrupt = first.interrupt
        return [df for df in self.results if df is not None]

    def _new_run(self, plan: Plan) -> Run:
        options = {**self.options, "seed": plan.seed, "run_id": plan.run_id}
        config = make_config(plan.workers, self.samples, **options)
        run = Run(config, progress=False, on_update=self.on_update, start_limiter=self.limiter)
        self.runs.append(run)
        self.progress.started()
        return run

    async def _one(self, plan: Plan, run: Run, cap: _Capacity, par: asyncio.Semaphore) -> None:
        try:
            try:
                df = await run_one(run, plan, self.samples)
            except (KeyboardInterrupt, SystemExit) as exc:
                # asyncio lets these escape the event loop from every task they pass
                # through; as a plain exception the TaskGroup cancels the other runs
                # (each stops its workers) and the sweep re-raises it once, at the top
                raise _Interrupted(exc) from None
        finally:
            cap.release(plan.workers)  # every process of the run is gone by now
            par.release()
        self.results[plan.index] = df
        self.progress.done(df)

    def abandon(self) -> None:
        for run in self.runs:
            run.abandon()
