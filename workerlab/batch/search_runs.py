"""Runs started one at a time as the threshold search asks for them, locally or on Dask.

A sweep knows all its runs up front (``workerlab.batch.local``); the search decides its next run
from the results so far, so it launches runs one by one. The rules are the sweep's: locally, all
runs share one ``StartLimiter`` and a capacity of live worker processes (a run of W workers holds W
until every one of its processes is gone), and a run starts only once the previous run's workers
are up (``Run.wait_started``, at most ``START_HOLD_MAX``). With a Dask client each run is a task
(``sweep_dask.collect_task``) and ``parallel`` caps the tasks in flight.

``changed`` is set whenever something the search waits for happens: a run finished, the previous
run's workers came up. ``can_start(w)`` says whether a run of ``w`` workers would start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pandas as pd

from workerlab.batch.local import START_HOLD_MAX, Plan, failed_frame, run_one
from workerlab.config import make_config
from workerlab.engine.collector import Run
from workerlab.engine.limiter import StartLimiter
from workerlab.log import events


class LocalRunner:
    """Runs in this event loop, within ``capacity`` live worker processes and ``parallel`` runs."""

    def __init__(self, samples: int, options: dict[str, Any], capacity: int, parallel: int | None) -> None:
        self.samples = samples
        self.options = options
        self.free = capacity
        self.parallel = parallel
        self.limiter = StartLimiter()  # one for every run of the search, as in a sweep
        self.runs: dict[asyncio.Task[pd.DataFrame], Run] = {}
        self.changed = asyncio.Event()
        self.interrupt: BaseException | None = None  # a KeyboardInterrupt that landed in a run
        self.lost: set[str] = set()  # run ids of the runs it ended
        self._holding = False  # the previous run's workers are not up yet
        self._hold: asyncio.Task[None] | None = None

    def can_start(self, workers: int) -> bool:
        busy = self.parallel is not None and len(self.runs) >= self.parallel
        return not self._holding and not busy and self.free >= workers

    def start(self, plan: Plan) -> asyncio.Task[pd.DataFrame]:
        """Start ``plan``'s run now (``can_start`` said yes); the task's result is its event log."""
        options = {**self.options, "seed": plan.seed, "run_id": plan.run_id}
        run = Run(
            make_config(plan.workers, self.samples, **options), progress=False, start_limiter=self.limiter
        )
        self.free -= plan.workers
        task = asyncio.create_task(self._one(run, plan))
        self.runs[task] = run
        self._holding = True
        self._hold = asyncio.create_task(self._held(run))
        return task

    async def _held(self, run: Run) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_HOLD_MAX):
                await run.wait_started()
        self._holding = False
        self.changed.set()

    async def _one(self, run: Run, plan: Plan) -> pd.DataFrame:
        try:
            return await run_one(run, plan, self.samples)
        except (KeyboardInterrupt, SystemExit) as exc:
            # a kernel interrupt that landed in this run: the run has stopped its workers; the
            # search sees ``interrupt`` and ends, returning what it measured
            self.interrupt = exc
            self.lost.add(plan.run_id)
            return run.frame()
        finally:
            self.free += plan.workers  # every process of the run is gone by now
            self.changed.set()

    def forget(self, task: asyncio.Task[pd.DataFrame]) -> None:
        self.runs.pop(task, None)

    async def cancel_all(self) -> list[pd.DataFrame]:
        """Cancel every run still going; wait until their workers are stopped; their partial logs."""
        tasks = list(self.runs)
        for task in tasks:
            task.cancel()
        if self._hold is not None:
            self._hold.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logs = [self.runs[t].frame() for t in tasks]
        self.runs.clear()
        return logs

    def abandon(self) -> None:
        """Kill every process of every run at once (the search could not clean up)."""
        for run in self.runs.values():
            run.abandon()


class DaskRunner:
    """Runs as tasks on a Dask cluster (``client``), at most ``parallel`` at once."""

    def __init__(self, client: Any, samples: int, options: dict[str, Any], parallel: int | None) -> None:
        self.client = client
        self.samples = samples
        self.options = options
        self.parallel = parallel or max(1, sum(client.nthreads().values()))
        self.runs: dict[asyncio.Task[pd.DataFrame], Any] = {}  # task -> Dask future
        self.changed = asyncio.Event()
        self.interrupt: BaseException | None = None
        self.lost: set[str] = set()

    def can_start(self, workers: int) -> bool:
        return len(self.runs) < self.parallel

    def start(self, plan: Plan) -> asyncio.Task[pd.DataFrame]:
        from workerlab.batch.dask import collect_task

        options = {**self.options, "seed": plan.seed, "run_id": plan.run_id}
        fut = self.client.submit(
            collect_task, plan.workers, self.samples, options, key=f"workerlab-run-{plan.run_id}", pure=False
        )
        task = asyncio.create_task(self._one(fut, plan))
        self.runs[task] = fut
        return task

    async def _one(self, fut: Any, plan: Plan) -> pd.DataFrame:
        try:
            return await asyncio.to_thread(fut.result)  # the loop stays free while Dask works
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the task itself broke (lost worker, ...)
            return failed_frame(plan, self.samples, exc, None)
        finally:
            self.changed.set()

    def forget(self, task: asyncio.Task[pd.DataFrame]) -> None:
        fut = self.runs.pop(task, None)
        if fut is not None:
            fut.release()

    async def cancel_all(self) -> list[pd.DataFrame]:
        """Cancel the runs still in flight. A run already running on a Dask worker ends there on its own."""
        tasks = list(self.runs)
        futures = list(self.runs.values())
        for task in tasks:
            task.cancel()
        if futures:
            self.client.cancel(futures)
        await asyncio.gather(*tasks, return_exceptions=True)
        self.runs.clear()
        return []

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.runs.values()))


def set_total(bar: Any, total: int) -> None:
    """The bar's total follows the plan, which grows and shrinks with the evidence (also in Jupyter)."""
    if bar is None or bar.total == total:
        return
    bar.total = total
    widget = getattr(bar, "container", None)  # tqdm.notebook: the widget keeps its own maximum
    if widget is not None:
        widget.children[1].max = total
    bar.refresh()


def outcome(df: pd.DataFrame) -> str | None:
    """How a run ended (its run-level row's outcome), None if it has none."""
    stops = events.run_stops(df)
    return None if stops.empty else stops["outcome"].iloc[-1]
