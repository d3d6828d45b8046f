"""The one batch runner: runs launched one by one, in this event loop or as Dask tasks.

A sweep is a fixed plan and the threshold search an adaptive one; both hand their runs to a
``Batch`` and drive it with ``Batch.drive``. The launching rule is one for both:

- locally, all runs share one ``StartLimiter`` and a *capacity* of live worker processes (a run of
  W workers holds W until every one of its processes is gone), at most ``parallel`` runs go at
  once, and a run starts only once the previous run's workers are up (``Run.wait_started``, at
  most ``START_HOLD_MAX``): runs that start together share the CPUs among all their starting
  interpreters, which delays every one of them and so their elapsed times (measured with 15
  workers at the real interval: 4 runs starting together took 0.45 s longer, median, than runs
  one after another; the deadline leaves 15 workers 1 s of slack);
- a run of a count in ``alone`` (the owner's set: counts whose runs must not share the machine,
  e.g. the search's, from the interference its pilot measured) starts only when nothing else
  runs, and nothing starts while it runs; everywhere, locally and on Dask;
- with a Dask ``client`` each run is a task (``collect_task``; Dask itself is imported only by the caller's client) whose worker
  processes start on the Dask worker that runs it, at most ``parallel`` in flight; each task asks
  for one unit of the Dask worker resource ``RUN_RESOURCE`` so that a Dask worker runs one run at a
  time (start workers with ``--resources "workerlab-run=1"``, or ``LocalCluster(resources=...)``),
  and the default ``parallel`` is the cluster's units. A cluster that declares no such resource
  gets no resource restriction, ``parallel`` at most its number of Dask workers, and a
  RuntimeWarning (runs may then share a Dask worker's machine).

Every task belongs to the batch's task group (``async with Batch(...)``): leaving the block stops
what still runs (each run stops its workers and keeps its partial log). One stop: the ``stop``
token (``workerlab.engine.stop.Stop``; an ``asyncio.Event`` works too), or a KeyboardInterrupt /
SystemExit that lands in a run (kept in ``interrupt`` for the caller to re-raise or report). One
place judges a finished run (``workerlab.analysis.judge``): each ``Finished`` carries its verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from workerlab.analysis.judge import Judgement, judge_run
from workerlab.batch.plan import BatchSettings, Plan
from workerlab.batch.progress import Progress
from workerlab.config import START_TIMEOUT
from workerlab.engine.collector import Run, RunStatus
from workerlab.engine.limiter import StartLimiter
from workerlab.engine.stop import Stop
from workerlab.errors import CollectError
from workerlab.log import events

__all__ = [
    "Batch",
    "Finished",
    "StopToken",
    "collect_task",
    "dask_resources",
    "failed_frame",
    "run_one",
    "START_HOLD_MAX",
    "RUN_RESOURCE",
]

#: the longest the next run waits for the previous one's workers (a run whose workers never get ready)
START_HOLD_MAX = START_TIMEOUT
#: the Dask worker resource a run's task asks one unit of: one run per Dask worker at a time
RUN_RESOURCE = "workerlab-run"


def dask_resources(client: Any) -> tuple[dict[str, float] | None, int]:
    """``(resources for each task, runs at once by default)`` on ``client``'s cluster.

    With ``RUN_RESOURCE`` declared: one unit per task, and as many runs at once as the cluster has
    units. Without: no restriction (a task would wait forever for a resource nobody has), as many
    runs at once as it has Dask workers, and a RuntimeWarning.
    """
    try:
        info = client.scheduler_info(n_workers=-1)  # every worker (some versions list 5 by default)
    except TypeError:
        info = client.scheduler_info()
    workers = info.get("workers", {})
    units = sum(float(w.get("resources", {}).get(RUN_RESOURCE, 0)) for w in workers.values())
    if units >= 1:
        return {RUN_RESOURCE: 1}, int(units)
    warnings.warn(
        f"the Dask cluster declares no {RUN_RESOURCE!r} worker resource, so runs may share a Dask "
        f"worker (and its CPUs) and delay each other; start Dask workers with --resources "
        f'"{RUN_RESOURCE}=1" (or LocalCluster(resources={{"{RUN_RESOURCE}": 1}})) for one run per '
        "Dask worker at a time; meanwhile at most one run per Dask worker is in flight",
        RuntimeWarning,
        stacklevel=4,
    )
    return None, max(1, len(workers))


class StopToken(Protocol):
    """What a batch needs of a stop request: ``workerlab.engine.stop.Stop``, or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


@dataclass(frozen=True)
class Finished:
    """A run that ended: its plan, its event log, and its judgement (None: cut off, not a measurement)."""

    plan: Plan
    log: pd.DataFrame
    judged: Judgement | None


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
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the batch
        run.abandon()
        return failed_frame(plan, samples, exc, run.frame())


#: shared by every run of this process that runs as a Dask task
_TASK_LIMITER = StartLimiter()


def collect_task(settings: BatchSettings, plan: Plan) -> pd.DataFrame:
    """One run as a Dask task: its worker processes start on the Dask worker; a failure comes back as a log.

    A Dask worker runs tasks in threads, each with its own event loop; the runs of one Dask worker
    process share one start limiter (``StartLimiter`` works across threads' loops), as the runs of
    a local batch do. Otherwise what ``workerlab.collect`` does (``run_sync`` of a ``Run``).
    """
    from workerlab.engine.sync import run_sync

    run = Run(settings.config(plan), progress=False, start_limiter=_TASK_LIMITER)
    return run_sync(run_one(run, plan, settings.samples), on_abandon=run.abandon)


class Batch:
    """The runs of one sweep or search, in one task group, launched by one rule (module docstring)."""

    def __init__(
        self,
        settings: BatchSettings,
        progress: Progress,
        *,
        client: Any = None,
        on_update: Callable[[RunStatus], Any] | None = None,
        stop: StopToken | None = None,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.client = client
        self.on_update = on_update
        self.stop: StopToken = stop if stop is not None else Stop()
        self.parallel = settings.parallel
        self.resources: dict[str, float] | None = None
        if client is not None:
            self.resources, units = dask_resources(client)
            if self.parallel is None:
                self.parallel = units
            elif self.resources is None:
                self.parallel = min(self.parallel, units)
        #: counts whose runs must not share the machine (the owner's set, changed in place)
        self.alone: set[int] = set()
        self._alone_running: set[str] = set()  # ids of the running runs that run alone
        self.free = settings.capacity
        self.limiter = StartLimiter()  # one for every run of the batch
        self.running: dict[str, Plan] = {}  # run id -> plan of every run going
        self.finished: list[Finished] = []  # not yet taken
        self.changed = asyncio.Event()  # a run ended, the previous run's workers came up, stop
        self.interrupt: BaseException | None = None  # a KeyboardInterrupt / SystemExit in a run
        self._handles: dict[str, Any] = {}  # run id -> Run (local) or Dask future
        self._tasks: set[asyncio.Task[None]] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._holding = False  # the previous run's workers are not up yet

    # -- ownership -------------------------------------------------------------------------
    async def __aenter__(self) -> Batch:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._spawn(self._watch_stop())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        """Stop whatever still runs (the plan is done, or it was stopped); wait until it has."""
        assert self._tg is not None
        for task in list(self._tasks):
            task.cancel()
        if isinstance(exc[1], Exception):
            # the owner's own error (e.g. every pilot run failed): wait for the cancelled runs, then
            # let it propagate as it is (a task group would wrap it in an ExceptionGroup)
            await self._tg.__aexit__(None, None, None)
            return
        await self._tg.__aexit__(*exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._tg is not None, "use the batch as `async with Batch(...)`"
        task = self._tg.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_stop(self) -> None:
        await self.stop.wait()
        self.changed.set()

    @property
    def stopping(self) -> bool:
        """Stop was asked for, or an interrupt landed in a run: launch nothing more."""
        return self.interrupt is not None or self.stop.is_set()

    def abandon(self) -> None:
        """Kill every process of every run at once (the owner could not clean up)."""
        handles = list(self._handles.values())
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.cancel(handles)
            return
        for run in handles:
            run.abandon()

    # -- launching -------------------------------------------------------------------------
    def can_start(self, workers: int, alone: bool | None = None) -> bool:
        """Whether a run of ``workers`` workers would start now under the launching rule.

        ``alone`` (default: ``workers in self.alone``): the run may not share the machine, so it
        starts only when nothing runs; while such a run runs nothing starts.
        """
        if self._alone_running:
            return False
        if (workers in self.alone if alone is None else alone) and self.running:
            return False
        busy = self.parallel is not None and len(self.running) >= self.parallel
        if self.client is not None:
            return not busy
        return not self._holding and not busy and self.free >= workers

    def start(self, plan: Plan) -> None:
        """Start ``plan``'s run now (``can_start`` said yes)."""
        self.running[plan.run_id] = plan
        if plan.workers in self.alone:
            self._alone_running.add(plan.run_id)
        self.progress.started()
        if self.client is not None:
            fut = self.client.submit(
                collect_task,
                self.settings,
                plan,
                key=f"workerlab-run-{plan.run_id}",
                pure=False,
                resources=self.resources,
            )
            self._handles[plan.run_id] = fut
            self._spawn(self._remote(plan, fut))
            return
        run = Run(
            self.settings.config(plan), progress=False, on_update=self.on_update, start_limiter=self.limiter
        )
        self._handles[plan.run_id] = run
        self.free -= plan.workers
        self._holding = True
        self._spawn(self._local(plan, run))
        self._spawn(self._hold(run))

    async def wait(self) -> None:
        """Until a run ends, the previous run's workers are up, or stop is set."""
        self.changed.clear()
        await self.changed.wait()

    async def drive(
        self, pick: Callable[[], int | None], launch: Callable[[int], None], done: Callable[[], bool]
    ) -> None:
        """The one launching loop: ``pick()`` the worker count wanted next (None: none now), ``launch``
        it when the rule allows, wait otherwise; until ``done()`` or stop."""
        while not self.stopping:
            workers = pick()
            if done():
                return
            if workers is not None and self.can_start(workers):
                launch(workers)
                continue
            await self.wait()

    def take(self) -> list[Finished]:
        """The runs that ended since the last call, in the order they ended."""
        out, self.finished = self.finished, []
        return out

    # -- one run ---------------------------------------------------------------------------
    async def _hold(self, run: Run) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(START_HOLD_MAX):
                    await run.wait_started()
        finally:
            self._holding = False
            self.changed.set()

    async def _local(self, plan: Plan, run: Run) -> None:
        df: pd.DataFrame | None = None
        cut = True
        try:
            df = await run_one(run, plan, self.settings.samples)
            cut = False
        except (KeyboardInterrupt, SystemExit) as exc:
            # asyncio lets these escape the event loop from every task they pass through; kept
            # here, the owner sees ``interrupt``, stops the batch and decides (the run stopped its
            # workers already)
            self.interrupt = self.interrupt or exc
        finally:
            self.free += plan.workers  # every process of the run is gone by now
            self._end(plan, run.frame() if df is None else df, cut)

    async def _remote(self, plan: Plan, fut: Any) -> None:
        df: pd.DataFrame | None = None
        try:
            df = await asyncio.to_thread(fut.result)  # the loop stays free while Dask works
        except asyncio.CancelledError:
            fut.cancel()  # a run already running on a Dask worker ends there on its own
            raise
        except Exception as exc:  # noqa: BLE001 - the task itself broke (lost worker, ...)
            df = failed_frame(plan, self.settings.samples, exc, None)
        finally:
            fut.release()
            self._end(plan, df, cut=False)

    def _end(self, plan: Plan, df: pd.DataFrame | None, cut: bool) -> None:
        """A run ended: judge it (once, here), hand it over, wake the owner."""
        self.running.pop(plan.run_id, None)
        self._alone_running.discard(plan.run_id)
        self._handles.pop(plan.run_id, None)
        judged = None
        if df is not None:
            stops = events.run_stops(df)
            cut = cut or (not stops.empty and stops["outcome"].iloc[-1] == "cancelled")
            judged = None if cut else judge_run(df, self.settings.deadline)
            self.finished.append(Finished(plan, df, judged))
        self.progress.done(judged)
        self.changed.set()
