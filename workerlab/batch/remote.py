"""Runs as Dask tasks: the cluster's run resource, and one run on a Dask worker that its batch can stop.

Dask itself is imported only where a caller's client exists (the batch) or on a Dask worker (a
task): workerlab does not need Dask to import.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pandas as pd

from workerlab.batch.single import run_one
from workerlab.batch.spec import BatchSettings, RunSpec
from workerlab.engine.collector import Run
from workerlab.engine.limiter import StartLimiter
from workerlab.engine.stop import Stop

__all__ = ["dask_resources", "collect_task", "RUN_RESOURCE", "REMOTE_STOP_POLL"]

#: the Dask worker resource a run's task asks one unit of: one run per Dask worker at a time
RUN_RESOURCE = "workerlab-run"
#: how often a run on a Dask worker looks at its batch's stop event (seconds)
REMOTE_STOP_POLL = 0.25


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


#: shared by every run of this process that runs as a Dask task
_TASK_LIMITER = StartLimiter()


async def _watch_remote_stop(event: Any, stop: Stop) -> None:
    """Set ``stop`` once the batch's ``distributed.Event`` is set (looked at every ``REMOTE_STOP_POLL`` s)."""
    while not await asyncio.to_thread(event.wait, REMOTE_STOP_POLL):
        pass
    stop.set("stopped by the batch's owner")


async def _remote_run(run: Run, spec: RunSpec, samples: int, event: Any, stop: Stop) -> pd.DataFrame:
    async with asyncio.TaskGroup() as tg:
        watcher = tg.create_task(_watch_remote_stop(event, stop))
        try:
            return await run_one(run, spec, samples)
        finally:
            watcher.cancel()


def collect_task(settings: BatchSettings, spec: RunSpec, stop_event: str | None = None) -> pd.DataFrame:
    """One run as a Dask task: its worker processes start on the Dask worker; a failure comes back as a log.

    A Dask worker runs tasks in threads, each with its own event loop; the runs of one Dask worker
    process share one start limiter (``StartLimiter`` works across threads' loops), as the runs of
    a local batch do. ``stop_event``: the name of the batch's ``distributed.Event``; once it is set
    the run stops (within ``REMOTE_STOP_POLL`` s) and its log ends ``stopped``. Otherwise what
    ``workerlab.collect`` does (``run_sync`` of a ``Run``).
    """
    from workerlab.engine.sync import run_sync

    stop = Stop()
    run = Run(settings.config(spec), progress=False, start_limiter=_TASK_LIMITER, stop=stop)
    if stop_event is None:
        return run_sync(run_one(run, spec, settings.samples), on_abandon=run.abandon)
    from distributed import Event  # on a Dask worker: Dask is there

    event = Event(stop_event)
    return run_sync(_remote_run(run, spec, settings.samples, event, stop), on_abandon=run.abandon)
