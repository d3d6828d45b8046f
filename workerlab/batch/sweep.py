"""Sweep worker counts with repeats: many runs, one concatenated event log.

One run cannot answer "how many workers do I need for 150 numbers within 10 s?": once workers
crash, completion time is random. ``sweep`` repeats runs over a range of worker counts and
returns their event logs concatenated (one ``run_id`` per run); ``workerlab.thresholds.verdict.threshold``
judges them.

A sweep is a fixed plan handed to the one batch runner (``workerlab.batch.runner``): local runs
share one event loop (the work is waiting on sockets and processes), several at once, bounded by
a *capacity* of live worker processes; with ``client=`` (a ``dask.distributed.Client``) each run
is a Dask task. Ports are reserved process-wide (``workerlab.engine.ports``), so concurrent runs
never collide.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from workerlab.batch.progress import Progress
from workerlab.batch.runner import Batch, Finished
from workerlab.batch.spec import BatchSettings, RunSpec, run_seed
from workerlab.config import (
    MAX_LINE,
    MAX_LIVE_WORKERS,
    MAX_WORKERS,
    START_TIMEOUT,
    RunOptions,
    parse_workers,
)
from workerlab.engine import sync
from workerlab.engine.collector import RunStatus
from workerlab.engine.stop import Stop, checked
from workerlab.errors import ConfigError, SweepStopped
from workerlab.log import events

__all__ = ["sweep", "sweep_async", "parse_workers"]


def _plan(counts: Sequence[int], repeats: int, seed: int | None) -> list[RunSpec]:
    """Lay out the runs of validated worker counts."""
    tag = uuid.uuid4().hex[:6]
    width = len(str(counts[-1]))
    plans: list[RunSpec] = []
    # fewest workers first: they take longest (ceil(samples / W) rounds), so starting them
    # first keeps the sweep's wall time short; the result is in this order too
    for w in counts:
        for r in range(1, repeats + 1):
            seed_r = None if seed is None else run_seed(seed, w, r)
            plans.append(RunSpec(len(plans), w, r, f"{tag}-w{w:0{width}d}-r{r}", seed_r))
    return plans


class _Sweep:
    """A validated sweep: its runs, the batch that runs them, the progress bar."""

    def __init__(
        self,
        settings: BatchSettings,
        repeats: int,
        *,
        client: Any,
        progress: bool,
        on_update: Callable[[RunStatus], Any] | None,
        stop: Stop | None,
    ) -> None:
        if on_update is not None and not callable(on_update):
            raise ConfigError(f"on_update must be callable (it gets each run's status), got {on_update!r}")
        if on_update is not None and client is not None:
            raise ConfigError("on_update is not available with client=: the runs happen on Dask workers")
        self.plans = _plan(settings.counts, repeats, settings.options.seed)
        self.bar = Progress(len(self.plans), progress)
        self.stop = stop if stop is not None else Stop()
        self.batch = Batch(settings, self.bar, client=client, on_update=on_update, stop=self.stop)

    @classmethod
    def check(
        cls,
        workers: int | Iterable[int],
        repeats: int,
        samples: int,
        deadline: float | None,
        parallel: int | None,
        max_live_workers: int,
        options: RunOptions,
        client: Any,
        progress: bool,
        on_update: Callable[[RunStatus], Any] | None,
        stop: object,
    ) -> _Sweep:
        """Check every argument (``ConfigError`` before anything is spawned); the sweep to run."""
        settings = BatchSettings.check(
            workers,
            repeats=repeats,
            samples=samples,
            deadline=deadline,
            parallel=parallel,
            max_live_workers=max_live_workers,
            options=options,
        )
        return cls(
            settings, repeats, client=client, progress=progress, on_update=on_update, stop=checked(stop)
        )

    async def run(self) -> list[Finished]:
        """Every run of the plan, in plan order (those cut off by a stop or an interrupt included)."""
        async with self.batch as batch:
            finished = await batch.run_all(self.plans)
        finished += batch.take()  # the runs a stop cut off
        return sorted(finished, key=lambda f: f.spec.index)

    def result(self, finished: list[Finished]) -> pd.DataFrame:
        """The sweep's event log; an interrupt that landed in a run is raised here, after the batch ended.

        Stopped before every planned run was measured: ``SweepStopped`` carrying the log of every run
        that began (the runs cut off end ``stopped``; the measured ones are whole).
        """
        if self.batch.interrupt is not None:
            raise self.batch.interrupt
        log = events.concat([f.log for f in finished])
        measured = [f for f in finished if f.judged is not None]  # the rest were cut off
        if self.stop.is_set() and len(measured) < len(self.plans):
            cut = len(finished) - len(measured)
            raise SweepStopped(
                f"sweep {self.stop.reason}: {len(measured)} of {len(self.plans)} runs measured, "
                f"{cut} cut off, {len(self.plans) - len(finished)} not begun. The event log of every run "
                "that began is in the error's .events.",
                log,
            )
        failed = [f.spec.run_id for f in measured if f.judged is not None and not f.judged.reached]
        if failed:
            warnings.warn(
                f"{len(failed)} of {len(self.plans)} runs did not reach the target (first: "
                f"{failed[0]}); they are in the log with their outcome and count as "
                "missed deadlines",
                RuntimeWarning,
                stacklevel=3,  # async: the caller's line (blocking: asyncio's)
            )
        return log


async def sweep_async(
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    repeats: int = 5,
    samples: int = 150,
    *,
    deadline: float | None = None,
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
    stop: Stop | None = None,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """Run ``repeats`` collections per worker count; return their event logs concatenated.

    The order rule of every long call: ``workers``, then what the call counts (``repeats``,
    ``samples``) may be positional; everything else is keyword-only. Each run has its own
    ``run_id`` (``<sweep>-w<W>-r<repeat>``) and ``n_workers``; the frame lists runs by worker
    count, then repeat. The run options (``worker_bin``, ``worker_args``, ``interval``, ``mtbf``,
    ``timeout``, ``stall_after``, ``start_timeout``, ``max_workers``, ``max_line``, or all of them
    as ``options=``, a ``wl.RunOptions`` whose fields a keyword overrides) and ``on_update`` are
    ``collect``'s and go to every run; with ``seed`` every run gets its own seed derived from it, so
    repeats differ but a sweep is reproducible. Bad arguments raise ``ConfigError`` before
    anything starts.

    ``stop``: a ``wl.Stop``; once set, no run starts, the runs in flight are stopped (every worker
    stopped, what they collected kept) and ``wl.SweepStopped`` (a ``wl.CollectStopped``) carries
    in ``.events`` the log of every run that began: the finished ones whole, the ones cut off with
    what they collected and ``outcome=stopped`` in their run-level row. A stop that comes after the
    last run ended changes nothing.

    Locally, runs share one event loop, as many at once as ``max_live_workers`` live worker
    processes allow (a run of W workers counts W) and at most ``parallel`` if given; a run
    starts once the previous one's workers are up. With ``client`` (a
    ``dask.distributed.Client``) each run is a Dask task whose worker processes start on the
    Dask worker that runs it; there the cluster's threads set how many runs go at once
    (``max_live_workers`` is not enforced across machines), each task takes one unit of the
    ``workerlab-run`` Dask worker resource (one run per Dask worker at a time; see
    ``workerlab.batch.runner``), and ``parallel`` caps how many tasks are submitted at once
    (default: the cluster's units); each Dask result is awaited in a thread, so the caller's loop
    stays free. Runs side by side delay each other: ``wl.threshold`` of the result says how many
    ran at once and warns when they overlapped; ``parallel=1`` measures each run alone (the
    default stays several at once: a sweep is also for exploring, and one at a time costs several
    times the wall time). A run that fails is kept, its run-level ``stop`` row saying how it
    ended, and the sweep goes on (a RuntimeWarning counts such runs). ``deadline``: what the runs
    are judged at (seconds; None: 10 intervals of the pace, ``RunOptions.deadline``): it feeds the
    progress bar (met / failed counts) and every run's log records it, so ``wl.threshold(df)``
    judges at it.
    """
    run_options = RunOptions.resolve(options, locals())
    s = _Sweep.check(
        workers,
        repeats,
        samples,
        deadline,
        parallel,
        max_live_workers,
        run_options,
        client,
        progress,
        on_update,
        stop,
    )
    sync.when_abandoned(s.batch.abandon)  # under the blocking sweep: its Dask tasks too
    try:
        finished = await s.run()
    finally:
        s.bar.close()
    return s.result(finished)


sweep = sync.blocking(
    sweep_async,
    "sweep",
    """Blocking ``sweep_async`` (same arguments): works in a script and inside a running Jupyter kernel.

    Ctrl-C or a kernel interrupt stops every run (every worker of each), then propagates.
    """,
)
