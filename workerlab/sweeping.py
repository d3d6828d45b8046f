"""Sweep worker counts with repeats: many runs, one concatenated event log.

One run cannot answer "how many workers do I need for 150 numbers within 10 s?": once workers
crash, completion time is random. ``sweep`` repeats runs over a range of worker counts and
returns their event logs concatenated (one ``run_id`` per run); ``workerlab.verdict.threshold``
judges them.

Local runs share one event loop (the work is waiting on sockets and processes), several at
once, bounded by a *capacity* of live worker processes: a run of W workers holds W units until
every one of its processes is gone, so a sweep never has more than ``max_live_workers``
processes alive. Ports are reserved process-wide (``workerlab.ports``), so concurrent runs
never collide. With ``client=`` (a ``dask.distributed.Client``) each run is a task instead and
its worker processes start on the Dask worker that runs it; Dask is imported only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import events
from .config import make_config
from .errors import CollectError

__all__ = ["sweep", "sweep_async", "parse_workers"]

#: options of one run that a sweep passes through (``collect_async``'s, less what the sweep sets)
RUN_OPTIONS = frozenset(
    {
        "worker_bin",
        "worker_args",
        "interval",
        "mtbf",
        "seed",
        "timeout",
        "stall_after",
        "start_timeout",
        "max_workers",
    }
)


@dataclass(frozen=True)
class _Plan:
    """One run of the sweep: its place in the result, worker count, repeat (1-based), id, seed."""

    index: int
    workers: int
    repeat: int
    run_id: str
    seed: int | None


# -- planning -----------------------------------------------------------------------------


def parse_workers(spec: str) -> list[int]:
    """Worker counts from ``"A-B"``, ``"A,B,C"``, a single value, or a mix (``"1-4,8,12-16"``)."""
    counts: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            raise ValueError(f"bad worker counts {spec!r}: an empty item")
        a, dash, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if dash else lo
        except ValueError:
            raise ValueError(f"bad worker counts {spec!r}: use A-B, A,B,C or a single number") from None
        if hi < lo:
            raise ValueError(f"bad worker counts {spec!r}: {part} is an empty range")
        counts.update(range(lo, hi + 1))
    return sorted(counts)


def _run_seed(seed: int, workers: int, repeat: int) -> int:
    """A distinct, reproducible seed per run (31 bits), derived from the sweep's seed."""
    digest = hashlib.blake2b(f"{seed}:{workers}:{repeat}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


def _plan(
    workers: int | Iterable[int],
    repeats: int,
    samples: int,
    parallel: int | None,
    max_live_workers: int,
    options: dict[str, Any],
) -> list[_Plan]:
    """Validate everything and lay out the runs; nothing is spawned before this passes."""
    unknown = set(options) - RUN_OPTIONS
    if unknown:
        extra = " (the sweep gives every run its own)" if unknown & {"run_id", "progress"} else ""
        raise TypeError(
            f"sweep() got unexpected option(s) {sorted(unknown)}{extra}; "
            f"run options are {sorted(RUN_OPTIONS)} and on_update"
        )
    counts = [workers] if isinstance(workers, int) else list(workers)
    if not counts:
        raise ValueError("workers is empty: give at least one worker count, e.g. range(8, 17)")
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"worker counts must be whole numbers, got {c!r}")
    counts = sorted({int(c) for c in counts})
    for name, value in (("repeats", repeats), ("max_live_workers", max_live_workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1):
        raise ValueError(f"parallel must be None or a whole number >= 1, got {parallel!r}")
    for c in counts:  # every distinct run configuration, checked as collect() would
        make_config(c, samples, **options)
    if counts[-1] > max_live_workers:
        raise ValueError(
            f"a run of {counts[-1]} workers needs {counts[-1]} live processes, more than "
            f"max_live_workers={max_live_workers}; raise it or sweep fewer workers"
        )
    seed = options.get("seed")
    tag = uuid.uuid4().hex[:6]
    width = len(str(counts[-1]))
    plans = []
    # fewest workers first: they take longest (ceil(samples / W) rounds), so starting them
    # first keeps the sweep's wall time short; the result is in this order too
    for w in counts:
        for r in range(1, repeats + 1):
            plans.append(
                _Plan(
                    len(plans),
                    w,
                    r,
                    f"{tag}-w{w:0{width}d}-r{r}",
                    None if seed is None else _run_seed(seed, w, r),
                )
            )
    return plans


def _run_options(options: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    return {**options, "seed": plan.seed, "run_id": plan.run_id}


def _failed_frame(plan: _Plan, samples: int, exc: BaseException, df: pd.DataFrame | None) -> pd.DataFrame:
    """The log of a run that did not reach its target.

    A collector log already ends with its run-level row (``Run`` records it whatever happens);
    with no log at all (a Dask task that failed), a one-row log says the run failed and why.
    """
    if df is not None and not df.empty:
        return df
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    row = ("stop", 0, None, None, None, 0.0, events.run_stop_detail(samples, "failed", message))
    return events.from_records(
        [row], run_id=plan.run_id, n_workers=plan.workers, samples=samples, wall0=time.time()
    )


def _verdict(df: pd.DataFrame, deadline: float) -> tuple[bool, bool]:
    """(reached its target, met the deadline) of one run's log, as ``wl.summary`` judges it."""
    from .analysis import summary

    row = summary(df, deadline=deadline).iloc[0]
    reached = pd.notna(row["outcome"]) and row["outcome"] == "reached"
    return reached, reached and pd.notna(row["deadline_met"]) and bool(row["deadline_met"])


# -- local runs ---------------------------------------------------------------------------


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


class _Progress:
    """One bar over runs (tqdm.auto: a widget in Jupyter), or nothing."""

    def __init__(self, total: int, enabled: bool, deadline: float) -> None:
        self.deadline = deadline
        self.running = self.met = self.failed = 0
        self.bar = None
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
        reached, met = _verdict(df, self.deadline)
        self.met += met
        self.failed += not reached
        if self.bar is not None:
            self.bar.update(1)
        self._post()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


#: One run at a time starts its workers, in this process. Runs that start together share the
#: CPUs among all their interpreters starting at once, which delays every one of them and so
#: their elapsed times: measured with 15 workers at the real interval, 4 runs starting
#: together took 0.45 s longer (median) than runs one after another; the deadline leaves
#: 15 workers 1 s of slack. Waiting for the previous run's workers to be ready costs a few
#: tenths of a second per run.
_STARTING = threading.Semaphore(1)
#: the longest a run holds the start to itself (a run whose workers never get ready)
START_HOLD_MAX = 10.0


class _StartTurn:
    """This run's turn to start its workers; ``done()`` hands it on (once)."""

    def __init__(self) -> None:
        self._held = False

    async def wait(self) -> None:
        while not _STARTING.acquire(blocking=False):  # process-wide: Dask runs are threads
            await asyncio.sleep(0.01)
        self._held = True

    def done(self) -> None:
        if self._held:
            self._held = False
            _STARTING.release()


async def _hand_on_when_up(run: Any, turn: _StartTurn) -> None:
    """Pass the start on once every worker of ``run`` is ready (or the run ended)."""
    seen, ready, start = 0, 0, time.monotonic()
    try:
        while not run.finished and time.monotonic() - start < START_HOLD_MAX:
            records = run.records
            ready += sum(1 for r in records[seen : len(records)] if r[0] == "ready")
            seen = len(records)
            if ready >= run.config.workers:
                break
            await asyncio.sleep(0.01)
    finally:
        turn.done()


async def _run_one(run: Any, plan: _Plan, samples: int) -> pd.DataFrame:
    """Run one collection; its event log whether it reached the target or failed."""
    turn = _StartTurn()
    try:
        await turn.wait()
    except BaseException:
        turn.done()
        raise
    started = asyncio.create_task(_hand_on_when_up(run, turn))
    try:
        return await run.run()
    except CollectError as exc:
        return _failed_frame(plan, samples, exc, exc.events)
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the sweep
        run.abandon()
        return _failed_frame(plan, samples, exc, run.frame())
    finally:
        started.cancel()
        turn.done()


class _Interrupted(Exception):
    """Carries a KeyboardInterrupt / SystemExit of one run up to the sweep."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(repr(interrupt))
        self.interrupt = interrupt


class _LocalSweep:
    """The runs of one local sweep, in one event loop, within the live-process capacity."""

    def __init__(
        self,
        plans: list[_Plan],
        samples: int,
        options: dict[str, Any],
        on_update: Callable[[Any], Any] | None,
        parallel: int | None,
        capacity: int,
        progress: _Progress,
    ) -> None:
        self.plans = plans
        self.samples = samples
        self.options = options
        self.on_update = on_update
        self.parallel = parallel
        self.capacity = capacity
        self.progress = progress
        self.runs: list[Any] = []  # every collector.Run started, for abandon()
        self.results: list[pd.DataFrame | None] = [None] * len(plans)
        self.interrupt: BaseException | None = None  # a run's KeyboardInterrupt / SystemExit

    async def run(self) -> list[pd.DataFrame]:
        cap = _Capacity(self.capacity)
        par = asyncio.Semaphore(self.parallel) if self.parallel else contextlib.nullcontext()
        try:
            async with asyncio.TaskGroup() as tg:
                for plan in self.plans:
                    tg.create_task(self._one(plan, cap, par))
        except* _Interrupted as group:
            # end quietly: raised from this task it would escape the loop once more, in the
            # middle of whoever is cleaning up; the caller raises it outside the loop
            self.interrupt = group.exceptions[0].interrupt
        return [df for df in self.results if df is not None]

    async def _one(self, plan: _Plan, cap: _Capacity, par: Any) -> None:
        from .collector import Run

        async with par:
            await cap.acquire(plan.workers)
            try:
                config = make_config(plan.workers, self.samples, **_run_options(self.options, plan))
                run = Run(config, progress=False, on_update=self.on_update)
                self.runs.append(run)
                self.progress.started()
                try:
                    df = await _run_one(run, plan, self.samples)
                except (KeyboardInterrupt, SystemExit) as exc:
                    # asyncio lets these escape the event loop from every task they pass
                    # through; as a plain exception the TaskGroup cancels the other runs
                    # (each stops its workers) and the sweep re-raises it once, at the top
                    raise _Interrupted(exc) from None
            finally:
                cap.release(plan.workers)  # every process of the run is gone by now
        self.results[plan.index] = df
        self.progress.done(df)

    def abandon(self) -> None:
        for run in self.runs:
            run.abandon()


def _check_local(options: dict[str, Any]) -> tuple[dict[str, Any], Callable[[Any], Any] | None]:
    options = dict(options)
    on_update = options.pop("on_update", None)
    if on_update is not None and not callable(on_update):
        raise TypeError(f"on_update must be callable, got {on_update!r}")
    return options, on_update


def _finish(frames: list[pd.DataFrame], plans: list[_Plan]) -> pd.DataFrame:
    df = events.concat(frames)
    from .analysis import summary

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


async def sweep_async(
    workers: int | Iterable[int] = range(1, 17),
    repeats: int = 5,
    samples: int = 150,
    deadline: float = 10.0,
    parallel: int | None = None,
    progress: bool = True,
    max_live_workers: int = 64,
    **collect_options: Any,
) -> pd.DataFrame:
    """``sweep`` for async code and notebook top-level ``await`` (local runs only)."""
    options, on_update = _check_local(collect_options)
    plans = _plan(workers, repeats, samples, parallel, max_live_workers, options)
    bar = _Progress(len(plans), progress, deadline)
    local = _LocalSweep(plans, samples, options, on_update, parallel, max_live_workers, bar)
    try:
        frames = await local.run()
    finally:
        local.abandon()
        bar.close()
    if local.interrupt is not None:
        raise local.interrupt
    return _finish(frames, plans)


# -- Dask ---------------------------------------------------------------------------------


def _collect_task(workers: int, samples: int, options: dict[str, Any]) -> pd.DataFrame:
    """One run on a Dask worker: its worker processes start there; a failure comes back as a log.

    What ``workerlab.collect`` does (``run_sync`` of a ``Run``, progress off), handled like a
    local run of the sweep: failures are kept as logs and a run that will not stop is ended.
    """
    from .collector import Run
    from .sync import run_sync

    plan = _Plan(0, workers, 0, options["run_id"], options.get("seed"))
    run = Run(make_config(workers, samples, **options), progress=False)
    return run_sync(_run_one(run, plan, samples), on_abandon=run.abandon)


def _run_on_dask(
    client: Any,
    plans: list[_Plan],
    samples: int,
    options: dict[str, Any],
    parallel: int | None,
    progress: _Progress,
) -> list[pd.DataFrame]:
    try:
        from distributed import as_completed
    except ImportError as exc:  # pragma: no cover - a client implies distributed
        raise ImportError("client= needs dask.distributed: pip install 'workerlab[dask]'") from exc
    results: list[pd.DataFrame | None] = [None] * len(plans)
    queue = iter(plans)
    owner: dict[str, _Plan] = {}
    submitted = []

    def submit(plan: _Plan) -> Any:
        fut = client.submit(
            _collect_task,
            plan.workers,
            samples,
            _run_options(options, plan),
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
                df = _failed_frame(plan, samples, exc, None)
            results[plan.index] = df
            progress.done(df, ran=False)
            fut.release()
            nxt = next(queue, None)
            if nxt is not None:
                done.add(submit(nxt))
    finally:
        client.cancel([f for f in submitted if not f.done()])
    return [df for df in results if df is not None]


# -- the public entry point -----------------------------------------------------------------


def sweep(
    workers: int | Iterable[int] = range(1, 17),
    repeats: int = 5,
    samples: int = 150,
    deadline: float = 10.0,
    parallel: int | None = None,
    client: Any = None,
    progress: bool = True,
    max_live_workers: int = 64,
    **collect_options: Any,
) -> pd.DataFrame:
    """Run ``repeats`` collections per worker count; return their event logs concatenated.

    Each run has its own ``run_id`` (``<sweep>-w<W>-r<repeat>``) and ``n_workers``; the frame
    lists runs by worker count, then repeat. ``collect_options`` go to every run (``interval``,
    ``mtbf``, ``worker_bin``, ``worker_args``, ``timeout``, ``max_workers``, ...); with ``seed``
    every run gets its own seed derived from it, so repeats differ but a sweep is reproducible.

    Locally, runs share one event loop, as many at once as ``max_live_workers`` live worker
    processes allow (a run of W workers counts W) and at most ``parallel`` if given. With
    ``client`` (a ``dask.distributed.Client``) each run is a Dask task whose worker processes
    start on the Dask worker that runs it; there the cluster's threads set how many runs go at
    once (``max_live_workers`` is not enforced across machines), and ``parallel`` caps how many
    tasks are submitted at once. A run that fails is kept, its run-level ``stop`` row
    saying how it ended, and the sweep goes on (a RuntimeWarning counts such runs).
    ``deadline`` only feeds the progress bar (met / failed counts); pass it to ``threshold``.
    Works from a script and inside a running Jupyter kernel.
    """
    if client is None:
        from .sync import run_sync

        options, on_update = _check_local(collect_options)
        plans = _plan(workers, repeats, samples, parallel, max_live_workers, options)
        bar = _Progress(len(plans), progress, deadline)
        local = _LocalSweep(plans, samples, options, on_update, parallel, max_live_workers, bar)
        try:
            frames = run_sync(local.run(), on_abandon=local.abandon)
        finally:
            bar.close()
        if local.interrupt is not None:
            raise local.interrupt
        return _finish(frames, plans)
    if "on_update" in collect_options:
        raise ValueError("on_update is not available with client=: the runs happen on Dask workers")
    plans = _plan(workers, repeats, samples, parallel, max_live_workers, dict(collect_options))
    bar = _Progress(len(plans), progress, deadline)
    try:
        frames = _run_on_dask(client, plans, samples, dict(collect_options), parallel, bar)
    finally:
        bar.close()
    return _finish(frames, plans)
