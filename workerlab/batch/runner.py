"""The one batch runner: runs launched one by one, in this event loop or as Dask tasks.

A sweep is a fixed plan and the threshold search an adaptive one; both hand their runs to a
``Batch`` and drive it from above (``updates``, ``can_start``, ``start``; ``run_all``). The launching
rule is one for both:

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

Every task belongs to the batch's task group (``async with Batch(...)``). The owner drives it
from above and is never called back: ``async for ended in batch.updates()`` wakes it with the runs
that ended (and when a start slot frees), it asks ``can_start`` and calls ``start``;
``run_all(specs)`` does that for a fixed list. One stop: the owner's ``Stop`` token
(``workerlab.engine.stop.Stop``), handed to every run the batch starts (to a run on a Dask worker
through a ``distributed.Event`` the run watches), so a run cut off ends ``stopped``, every worker
stopped and its partial log kept; leaving the block stops the runs still going the same way. A
KeyboardInterrupt / SystemExit that lands in a run stops the batch too (kept in ``interrupt`` for
the owner to re-raise or report). One place judges a finished run (``workerlab.analysis.judge``):
each ``Finished`` carries its verdict, None for a run cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

import pandas as pd

from workerlab.analysis.judge import judge_run
from workerlab.batch.progress import Progress
from workerlab.batch.remote import collect_task, dask_resources
from workerlab.batch.single import CUT_OFF, Finished, failed_frame, run_one
from workerlab.batch.spec import BatchSettings, RunSpec
from workerlab.config import START_TIMEOUT
from workerlab.engine.collector import Run, RunStatus
from workerlab.engine.limiter import StartLimiter
from workerlab.engine.stop import Stop
from workerlab.log import events

__all__ = ["Batch", "Finished", "START_HOLD_MAX", "NOT_NEEDED"]

#: the longest the next run waits for the previous one's workers (a run whose workers never get ready)
START_HOLD_MAX = START_TIMEOUT
#: the reason a run still going when its owner leaves the batch is stopped with
NOT_NEEDED = "no longer needed by the batch's owner"


class Batch:
    """The runs of one sweep or search, in one task group, launched by one rule (module docstring)."""

    def __init__(
        self,
        settings: BatchSettings,
        progress: Progress,
        *,
        client: Any = None,
        on_update: Callable[[RunStatus], Any] | None = None,
        stop: Stop | None = None,
    ) -> None:
        if stop is not None and not isinstance(stop, Stop):
            raise TypeError(f"stop must be a wl.Stop, got {stop!r}")
        self.settings = settings
        self.progress = progress
        self.client = client
        self.on_update = on_update
        self.stop = stop if stop is not None else Stop()  # the owner's
        self.halt = Stop()  # handed to every run: set on the owner's stop, an interrupt, or leaving
        self.parallel = settings.parallel
        self.resources: dict[str, float] | None = None
        self._event: Any = None  # the Dask runs' stop: a distributed.Event named after the batch
        if client is not None:
            self.resources, units = dask_resources(client)
            if self.parallel is None:
                self.parallel = units
            elif self.resources is None:
                self.parallel = min(self.parallel, units)
            from distributed import Event  # the caller's client: Dask is there

            self._event = Event(f"workerlab-stop-{uuid.uuid4().hex}", client=client)
        #: counts whose runs must not share the machine (the owner's set, changed in place)
        self.alone: set[int] = set()
        self._alone_running: set[str] = set()  # ids of the running runs that run alone
        self.free = settings.capacity
        self.limiter = StartLimiter()  # one for every run of the batch
        self.running: dict[str, RunSpec] = {}  # run id -> spec of every run going
        self.finished: list[Finished] = []  # not yet taken
        self.changed = asyncio.Event()  # a run ended, the previous run's workers came up, stop
        self.interrupt: BaseException | None = None  # a KeyboardInterrupt / SystemExit in a run
        self._handles: dict[str, Any] = {}  # run id -> Run (local) or Dask future
        self._runs: set[asyncio.Task[None]] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._holding = False  # the previous run's workers are not up yet

    # -- ownership -------------------------------------------------------------------------
    async def __aenter__(self) -> Batch:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._watcher = self._tg.create_task(self._watch_stop())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        """Stop whatever still runs (the owner is done, or it was stopped) and wait until it has.

        Runs still going are stopped through their ``Stop`` (they end ``stopped``, logs kept); on the
        owner's error or cancellation they are cancelled instead (they end ``cancelled``).
        """
        assert self._tg is not None and self._watcher is not None
        self._watcher.cancel()
        if exc[1] is None or isinstance(exc[1], (KeyboardInterrupt, SystemExit)):
            await self._halt(self.stop.reason if self.stop.is_set() else NOT_NEEDED)
        else:
            for task in list(self._runs):
                task.cancel()
            if self._event is not None:
                await self._halt("cancelled")
        if isinstance(exc[1], Exception):
            # the owner's own error (e.g. every pilot run failed): wait for the cancelled runs, then
            # let it propagate as it is (a task group would wrap it in an ExceptionGroup)
            await self._tg.__aexit__(None, None, None)
            return
        await self._tg.__aexit__(*exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._tg is not None, "use the batch as `async with Batch(...)`"
        task = self._tg.create_task(coro)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task

    async def _watch_stop(self) -> None:
        await self.stop.wait()
        await self._halt(self.stop.reason)

    async def _halt(self, reason: str) -> None:
        """Stop every run going and every run to come: local runs through ``halt``, Dask runs
        through the batch's ``distributed.Event``."""
        self.halt.set(reason)
        self.changed.set()
        if self._event is not None:
            with contextlib.suppress(Exception):  # a cluster gone away: its runs are gone too
                await asyncio.to_thread(self._event.set)

    def interrupted(self, exc: BaseException) -> None:
        """A KeyboardInterrupt / SystemExit landed in the owner's code (e.g. a callback): stop."""
        self.interrupt = self.interrupt or exc
        self.halt.set("interrupted")
        self.changed.set()

    @property
    def stopping(self) -> bool:
        """The owner's stop was set, or an interrupt landed in a run or the owner's callback."""
        return self.interrupt is not None or self.stop.is_set()

    def abandon(self) -> None:
        """Kill every process of every run at once (the owner could not clean up)."""
        handles = list(self._handles.values())
        if self.client is not None:
            with contextlib.suppress(Exception):
                self._event.set()
                self.client.cancel(handles)
            return
        for run in handles:
            run.abandon()

    # -- driving ---------------------------------------------------------------------------
    async def updates(self) -> AsyncIterator[list[Finished]]:
        """The runs that ended, at once and then after every change (a run ended, the previous run's
        workers came up); until stop. The owner starts runs between two updates."""
        while not self.stopping:
            self.changed.clear()  # before taking: what changes while the owner works wakes the wait
            yield self.take()
            if self.stopping:
                return
            await self.changed.wait()

    async def run_all(self, specs: Iterable[RunSpec]) -> list[Finished]:
        """Start ``specs`` in order as the launching rule allows; the runs that ended (every one of
        them, unless stopped: then the rest are taken after the block), in the order they ended."""
        queue = list(specs)
        got: list[Finished] = []
        async for ended in self.updates():
            got += ended
            while queue and self.can_start(queue[0].workers):
                self.start(queue.pop(0))
            if not queue and not self.running:
                got += self.take()
                break
        return got

    def can_start(self, workers: int, alone: bool | None = None) -> bool:
        """Whether a run of ``workers`` workers would start now under the launching rule.

        ``alone`` (default: ``workers in self.alone``): the run may not share the machine, so it
        starts only when nothing runs; while such a run runs nothing starts.
        """
        if self.stopping or self.halt.is_set() or self._alone_running:
            return False
        if (workers in self.alone if alone is None else alone) and self.running:
            return False
        busy = self.parallel is not None and len(self.running) >= self.parallel
        if self.client is not None:
            return not busy
        return not self._holding and not busy and self.free >= workers

    def start(self, spec: RunSpec) -> None:
        """Start ``spec``'s run now (``can_start`` said yes)."""
        self.running[spec.run_id] = spec
        if spec.workers in self.alone:
            self._alone_running.add(spec.run_id)
        self.progress.started()
        if self.client is not None:
            fut = self.client.submit(
                collect_task,
                self.settings,
                spec,
                self._event.name,
                key=f"workerlab-run-{spec.run_id}",
                pure=False,
                resources=self.resources,
            )
            self._handles[spec.run_id] = fut
            self._spawn(self._remote(spec, fut))
            return
        run = Run(
            self.settings.config(spec),
            progress=False,
            on_update=self.on_update,
            start_limiter=self.limiter,
            stop=self.halt,
        )
        self._handles[spec.run_id] = run
        self.free -= spec.workers
        self._holding = True
        self._spawn(self._local(spec, run))
        self._spawn(self._hold(run))

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

    async def _local(self, spec: RunSpec, run: Run) -> None:
        df: pd.DataFrame | None = None
        cut = True
        try:
            df = await run_one(run, spec, self.settings.samples)
            cut = False
        except (KeyboardInterrupt, SystemExit) as exc:
            # asyncio lets these escape the event loop from every task they pass through; kept
            # here, the owner sees ``interrupt`` and decides; the run stopped its workers already
            self.interrupted(exc)
        finally:
            self.free += spec.workers  # every process of the run is gone by now
            self._end(spec, run.frame() if df is None else df, cut)

    async def _remote(self, spec: RunSpec, fut: Any) -> None:
        df: pd.DataFrame | None = None
        try:
            df = await asyncio.to_thread(fut.result)  # the loop stays free while Dask works
        except asyncio.CancelledError:
            fut.cancel()  # the batch's event stops a run already going on a Dask worker
            raise
        except Exception as exc:  # noqa: BLE001 - the task itself broke (lost worker, ...)
            df = failed_frame(spec, self.settings.samples, exc, None, deadline=self.settings.deadline)
        finally:
            fut.release()
            self._end(spec, df, cut=False)

    def _end(self, spec: RunSpec, df: pd.DataFrame | None, cut: bool) -> None:
        """A run ended: judge it (once, here), hand it over, wake the owner."""
        self.running.pop(spec.run_id, None)
        self._alone_running.discard(spec.run_id)
        self._handles.pop(spec.run_id, None)
        judged = None
        if df is not None:
            stops = events.run_stops(df)
            cut = cut or (not stops.empty and stops["outcome"].iloc[-1] in CUT_OFF)
            judged = None if cut else judge_run(df, self.settings.deadline)
            self.finished.append(Finished(spec, df, judged))
        self.progress.done(judged)
        self.changed.set()
