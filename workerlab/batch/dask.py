"""The runs of a sweep as Dask tasks: each run's worker processes start on the Dask worker.

Dask is imported only here, and only when a sweep is given ``client=``. A Dask worker runs
tasks in threads, each with its own event loop; the runs of one Dask worker process share one
start limiter (``StartLimiter`` works across threads' loops), as the runs of a local sweep do.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workerlab.batch.local import Plan, Progress, failed_frame, run_one
from workerlab.config import make_config
from workerlab.engine.collector import Run
from workerlab.engine.limiter import StartLimiter

#: shared by every run of this process that runs as a Dask task
_TASK_LIMITER = StartLimiter()


def collect_task(workers: int, samples: int, options: dict[str, Any]) -> pd.DataFrame:
    """One run on a Dask worker: its worker processes start there; a failure comes back as a log.

    What ``workerlab.collect`` does (``run_sync`` of a ``Run``, progress off), handled like a
    local run of the sweep: failures are kept as logs and a run that will not stop is ended.
    """
    from workerlab.engine.sync import run_sync

    plan = Plan(0, workers, 0, options["run_id"], options.get("seed"))
    run = Run(make_config(workers, samples, **options), progress=False, start_limiter=_TASK_LIMITER)
    return run_sync(run_one(run, plan, samples), on_abandon=run.abandon)


def run_on_dask(
    client: Any,
    plans: list[Plan],
    samples: int,
    options: dict[str, Any],
    parallel: int | None,
    progress: Progress,
) -> list[pd.DataFrame]:
    """Submit the runs (at most ``parallel`` at once), gather their logs in plan order."""
    try:
        from distributed import as_completed
    except ImportError as exc:  # pragma: no cover - a client implies distributed
        raise ImportError("client= needs dask.distributed: pip install 'workerlab[dask]'") from exc
    results: list[pd.DataFrame | None] = [None] * len(plans)
    queue = iter(plans)
    owner: dict[str, Plan] = {}
    submitted = []

    def submit(plan: Plan) -> Any:
        run_options = {**options, "seed": plan.seed, "run_id": plan.run_id}
        fut = client.submit(
            collect_task,
            plan.workers,
            samples,
            run_options,
            key=f"workerlab-run-{plan.run_id}",
            pure=False,
        )
        owner[fut.key] = plan
        submitted.append(fut)
        return fut

    first = [submit(p) for p, _ in zip(queue, range(parallel or len(plans)))]
    done = as_completed(first)
    try:
        for fut in done:
            plan = owner[fut.key]
            try:
                df = fut.result()
            except Exception as exc:  # noqa: BLE001 - the task itself broke (lost worker, ...)
                df = failed_frame(plan, samples, exc, None)
            results[plan.index] = df
            progress.done(df, ran=False)
            fut.release()
            nxt = next(queue, None)
            if nxt is not None:
                done.add(submit(nxt))
    finally:
        client.cancel([f for f in submitted if not f.done()])
    return [df for df in results if df is not None]
