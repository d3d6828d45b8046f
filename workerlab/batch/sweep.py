"""Sweep worker counts with repeats: many runs, one concatenated event log.

One run cannot answer "how many workers do I need for 150 numbers within 10 s?": once workers
crash, completion time is random. ``sweep`` repeats runs over a range of worker counts and
returns their event logs concatenated (one ``run_id`` per run); ``workerlab.thresholds.verdict.threshold``
judges them.

Local runs share one event loop (``workerlab.batch.local``: the work is waiting on sockets and
processes), several at once, bounded by a *capacity* of live worker processes. Ports are
reserved process-wide (``workerlab.engine.ports``), so concurrent runs never collide. With
``client=`` (a ``dask.distributed.Client``) each run is a task instead
(``workerlab.batch.dask``); Dask is imported only then.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from workerlab.batch.local import LocalSweep, Plan, Progress
from workerlab.config import (
    DEADLINE,
    MAX_LINE,
    MAX_LIVE_WORKERS,
    MAX_WORKERS,
    START_TIMEOUT,
    check_sweep,
    parse_workers,
)
from workerlab.engine.collector import RunStatus
from workerlab.errors import ConfigError
from workerlab.log import events

__all__ = ["sweep", "sweep_async", "parse_workers"]


def _run_seed(seed: int, workers: int, repeat: int) -> int:
    """A distinct, reproducible seed per run (31 bits), derived from the sweep's seed."""
    digest = hashlib.blake2b(f"{seed}:{workers}:{repeat}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


def _plan(counts: list[int], repeats: int, seed: int | None) -> list[Plan]:
    """Lay out the runs of validated worker counts."""
    tag = uuid.uuid4().hex[:6]
    width = len(str(counts[-1]))
    plans: list[Plan] = []
    # fewest workers first: they take longest (ceil(samples / W) rounds), so starting them
    # first keeps the sweep's wall time short; the result is in this order too
    for w in counts:
        for r in range(1, repeats + 1):
            run_seed = None if seed is None else _run_seed(seed, w, r)
            plans.append(Plan(len(plans), w, r, f"{tag}-w{w:0{width}d}-r{r}", run_seed))
    return plans


def _finish(frames: list[pd.DataFrame], plans: list[Plan]) -> pd.DataFrame:
    df = events.concat(frames)
    from workerlab.analysis.runs import summary

    runs = summary(df)
    failed = runs["run_id"][runs["outcome"].ne("reached").fillna(True)].tolist()
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(plans)} runs did not reach the target (first: "
            f"{failed[0]}); they are in the log with their outcome and count as "
            "missed deadlines",
            RuntimeWarning,
            stacklevel=3,
        )
    return df


class _Sweep:
    """A validated sweep: its runs, their options, the progress bar; runs locally or on Dask."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.samples: int = args.pop("samples")
        self.parallel: int | None = args.pop("parallel")
        self.client = args.pop("client")
        self.on_update: Callable[[RunStatus], Any] | None = args.pop("on_update")
        progress, deadline = args.pop("progress"), args.pop("deadline")
        workers, repeats, live = args.pop("workers"), args.pop("repeats"), args.pop("max_live_workers")
        if self.on_update is not None and not callable(self.on_update):
            raise ConfigError(
                f"on_update must be callable (it gets each run's status), got {self.on_update!r}"
            )
        if self.on_update is not None and self.client is not None:
            raise ConfigError("on_update is not available with client=: the runs happen on Dask workers")
        counts = check_sweep(
            workers,
            repeats=repeats,
            samples=self.samples,
            deadline=deadline,
            parallel=self.parallel,
            max_live_workers=live,
            **args,
        )
        self.options = args  # make_config's options, less the per-run seed and run_id
        self.plans = _plan(counts, repeats, args["seed"])
        self.capacity = live
        self.bar = Progress(len(self.plans), progress, deadline)

    def local(self) -> LocalSweep:
        return LocalSweep(
            self.plans, self.samples, self.options, self.on_update, self.parallel, self.capacity, self.bar
        )

    def on_dask(self) -> list[pd.DataFrame]:
        from workerlab.batch.dask import run_on_dask

        return run_on_dask(self.client, self.plans, self.samples, self.options, self.parallel, self.bar)


async def sweep_async(
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    repeats: int = 5,
    samples: int = 150,
    *,
    deadline: float = DEADLINE,
    parallel: int | None = None,
    client: Any = None,
    progress: bool = True,
    max_live_workers: int = MAX_LIVE_WORKERS,
    worker_bin: str | None = None,
    worker_args: Sequence[str] = (),
    interval: float | None = None,
    mtbf: float | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    stall_after: float | None = None,
    start_timeout: float = START_TIMEOUT,
    max_workers: int = MAX_WORKERS,
    max_line: int = MAX_LINE,
    on_update: Callable[[RunStatus], Any] | None = None,
) -> pd.DataFrame:
    """``sweep`` for async code and notebook top-level ``await`` (same arguments).

    Local runs share the caller's event loop; with ``client`` the Dask submission loop runs in
    a thread, so the caller's loop stays free.
    """
    s = _Sweep(dict(locals()))
    try:
        if s.client is not None:
            frames = await asyncio.to_thread(s.on_dask)
        else:
            local = s.local()
            try:
                frames = await local.run()
            finally:
                local.abandon()
            if local.interrupt is not None:
                raise local.interrupt
    finally:
        s.bar.close()
    return _finish(frames, s.plans)


def sweep(
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    repeats: int = 5,
    samples: int = 150,
    *,
    deadline: float = DEADLINE,
    parallel: int | None = None,
    client: Any = None,
    progress: bool = True,
    max_live_workers: int = MAX_LIVE_WORKERS,
    worker_bin: str | None = None,
    worker_args: Sequence[str] = (),
    interval: float | None = None,
    mtbf: float | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    stall_after: float | None = None,
    start_timeout: float = START_TIMEOUT,
    max_workers: int = MAX_WORKERS,
    max_line: int = MAX_LINE,
    on_update: Callable[[RunStatus], Any] | None = None,
) -> pd.DataFrame:
    """Run ``repeats`` collections per worker count; return their event logs concatenated.

    Each run has its own ``run_id`` (``<sweep>-w<W>-r<repeat>``) and ``n_workers``; the frame
    lists runs by worker count, then repeat. The run options (``worker_bin``, ``worker_args``,
    ``interval``, ``mtbf``, ``timeout``, ``stall_after``, ``start_timeout``, ``max_workers``,
    ``max_line``, ``on_update``) are ``collect``'s and go to every run; with ``seed`` every run gets its own
    seed derived from it, so repeats differ but a sweep is reproducible. Bad arguments raise
    ``ConfigError`` before anything starts.

    Locally, runs share one event loop, as many at once as ``max_live_workers`` live worker
    processes allow (a run of W workers counts W) and at most ``parallel`` if given; a run
    starts once the previous one's workers are up. With ``client`` (a
    ``dask.distributed.Client``) each run is a Dask task whose worker processes start on the
    Dask worker that runs it; there the cluster's threads set how many runs go at once
    (``max_live_workers`` is not enforced across machines), and ``parallel`` caps how many
    tasks are submitted at once. A run that fails is kept, its run-level ``stop`` row saying
    how it ended, and the sweep goes on (a RuntimeWarning counts such runs). ``deadline`` only
    feeds the progress bar (met / failed counts); pass it to ``threshold``. Works from a script
    and inside a running Jupyter kernel.
    """
    s = _Sweep(dict(locals()))
    try:
        if s.client is not None:
            frames = s.on_dask()
        else:
            from workerlab.engine.sync import run_sync

            local = s.local()
            frames = run_sync(local.run(), on_abandon=local.abandon)
            if local.interrupt is not None:
                raise local.interrupt
    finally:
        s.bar.close()
    return _finish(frames, s.plans)
