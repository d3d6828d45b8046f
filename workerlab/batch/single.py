"""One run of a batch, whatever happens to it: its event log, and what the batch hands its owner.

A run that reaches its target, fails, or is stopped or cancelled comes back as an event log that
ends with its run-level row; a run that left no log at all (a Dask task that broke) gets a one-row
log saying why. Used by local runs (``workerlab.batch.runner``) and Dask tasks
(``workerlab.batch.remote``) alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from workerlab.analysis.judge import Judgement
from workerlab.batch.spec import RunSpec
from workerlab.engine.collector import Run
from workerlab.errors import CollectError
from workerlab.log import events

__all__ = ["Finished", "failed_frame", "run_one", "CUT_OFF"]

#: outcomes of a run that was cut off (not a measurement)
CUT_OFF = ("stopped", "cancelled")


@dataclass(frozen=True)
class Finished:
    """A run that ended: its spec, its event log, and its judgement (None: cut off, not a measurement)."""

    spec: RunSpec
    log: pd.DataFrame
    judged: Judgement | None


def failed_frame(
    spec: RunSpec, samples: int, exc: BaseException, df: pd.DataFrame | None, *, deadline: float | None = None
) -> pd.DataFrame:
    """The log of a run that did not reach its target.

    A collector log already ends with its run-level row (``Run`` records it whatever happens);
    with no log at all (a Dask task that failed), a one-row log says the run failed and why (and
    the ``deadline`` it was to be judged at).
    """
    if df is not None and not df.empty:
        return df
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    row = events.run_stop_record(samples, "failed", message, deadline=deadline)
    return events.from_records(
        [row], run_id=spec.run_id, n_workers=spec.workers, samples=samples, wall0=time.time()
    )


async def run_one(run: Run, spec: RunSpec, samples: int) -> pd.DataFrame:
    """Run one collection; its event log whether it reached the target, failed or was stopped."""
    deadline = run.config.deadline
    try:
        return await run.run()
    except CollectError as exc:  # CollectStopped included: its log ends ``stopped``
        return failed_frame(spec, samples, exc, exc.events, deadline=deadline)
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the batch
        run.abandon()
        return failed_frame(spec, samples, exc, run.frame(), deadline=deadline)
