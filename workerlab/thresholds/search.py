"""How many workers meet the deadline, conclusively, from few runs (``wl.find_threshold``).

A pilot calibrates a model, the model fixes one exact plan per decisive count, and only the runs
those plans need are made; how it decides and what its answer rests on: docs/threshold-statistics.md.
The answer is a ``SearchResult`` (``workerlab.thresholds.result``); a ``wl.Stop`` token, Ctrl-C or a
kernel interrupt ends the search and returns what was measured, with every worker stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from workerlab.batch.spec import BatchSettings
from workerlab.config import MAX_LINE, MAX_LIVE_WORKERS, MAX_WORKERS, START_TIMEOUT, RunOptions
from workerlab.engine import sync
from workerlab.engine.stop import Stop, checked
from workerlab.model.model import Model
from workerlab.thresholds.loop import SearchLoop
from workerlab.thresholds.pilot import PILOT_ALONE, PILOT_RUNS, PILOT_SIDE
from workerlab.thresholds.result import SearchResult, SearchStatus
from workerlab.thresholds.settings import Cost, SearchSettings

__all__ = ["find_threshold", "find_threshold_async", "SearchStatus", "PILOT_RUNS", "check", "expected_cost"]


def check(
    workers: int | Iterable[int],
    *,
    samples: int,
    deadline: float | None,
    level: float,
    confidence: float,
    model: Model | None,
    max_runs: int,
    parallel: int | None,
    max_live_workers: int,
    options: RunOptions,
) -> SearchSettings:
    """A search's arguments checked (``ConfigError`` before anything starts): its ``SearchSettings``,
    the budget too (``SearchSettings.check``). ``find_threshold`` checks so; the CLI too, to say
    the cost before the search starts."""
    batch = BatchSettings.check(
        workers,
        samples=samples,
        deadline=deadline,
        parallel=parallel,
        max_live_workers=max_live_workers,
        options=options,
    )
    pilot = PILOT_RUNS if model is None else 0
    return SearchSettings.check(
        batch, level=level, confidence=confidence, model=model, max_runs=max_runs, pilot=pilot
    )


def expected_cost(settings: SearchSettings) -> Cost:
    """What the search will cost at the least (``SearchSettings.cost``), with as many runs at once as
    it would run: with a pilot at most its side-by-side runs, with a model one at a time unless
    ``parallel`` says otherwise; never more than the live workers allow."""
    b = settings.batch
    fit = max(1, b.capacity // b.counts[-1])
    if settings.model is None:
        return settings.cost(at_once=min(b.parallel or PILOT_SIDE, PILOT_SIDE, fit), alone=PILOT_ALONE)
    return settings.cost(at_once=min(b.parallel or 1, fit), alone=0)


async def find_threshold_async(
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    *,
    samples: int = 150,
    deadline: float | None = None,
    level: float = 0.95,
    confidence: float = 0.95,
    model: Model | None = None,
    client: Any = None,
    progress: bool = True,
    on_update: Callable[[SearchStatus], Any] | None = None,
    stop: Stop | None = None,
    max_runs: int = 400,
    parallel: int | None = None,
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
    options: RunOptions | None = None,
) -> SearchResult:
    """The smallest worker count that meets ``deadline`` in at least ``level`` of runs, measured
    until conclusive at ``confidence`` (how: docs/threshold-statistics.md).

    The order rule of every long call: ``workers`` (the counts allowed) may be positional, everything
    else is keyword-only. ``model``: a calibrated ``wl.Model`` (skips the pilot); ``client``: a
    ``dask.distributed.Client`` (each run a task); ``on_update(SearchStatus)`` after the pilot and
    every finished run; ``max_runs``: the budget of runs, the pilot's included (a budget under the
    least a conclusive search can take, ``SearchSettings.least_runs``, is a ``ConfigError``: at
    the defaults 82 runs); ``deadline``: what each run is judged at, in seconds (None: 10 intervals
    of the pace, ``RunOptions.deadline``: 10 s at the real 1 s pace). The run options
    (``worker_bin`` ... ``max_line``, or all of them as ``options=``, a ``wl.RunOptions`` whose
    fields a keyword overrides) are ``collect``'s; ``parallel`` and ``max_live_workers`` are
    ``sweep``'s. Bad arguments raise ``ConfigError`` before anything starts. The progress bar
    says at the start what the search is expected to cost (``expected_cost``: runs, minutes).

    Runs share the caller's event loop. Setting ``stop`` (a ``wl.Stop``) ends the search: no new
    run starts, the running ones are stopped (their logs end ``stopped``), and the call returns
    the ``SearchResult`` of what was measured (``interrupted`` true); so does a kernel interrupt
    that lands in a run. Cancelling the call stops every run and re-raises.
    """
    settings = check(
        workers,
        samples=samples,
        deadline=deadline,
        level=level,
        confidence=confidence,
        model=model,
        max_runs=max_runs,
        parallel=parallel,
        max_live_workers=max_live_workers,
        options=RunOptions.resolve(options, locals()),
    )
    search = SearchLoop(settings, client=client, progress=progress, on_update=on_update, stop=checked(stop))
    cost = expected_cost(settings)
    search.bar.describe(f"runs (expect ≥ {cost.least}, {cost.when()})")
    sync.when_abandoned(search.abandon)  # under the blocking call: every run's processes, Dask tasks too
    return await search.run()


find_threshold = sync.blocking(
    find_threshold_async,
    "find_threshold",
    """Blocking ``find_threshold_async`` (same arguments): works in a script and inside a running
    Jupyter kernel. Ctrl-C or a kernel interrupt sets ``stop`` (one is made if none is given): the
    search stops every run and returns the ``SearchResult`` of what was measured; a second one
    cancels it.
    """,
    interrupt_stops=True,
)
