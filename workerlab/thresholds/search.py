"""How many workers meet the deadline, conclusively, from few runs (``wl.find_threshold``).

1. Without a ``model``, a short *pilot* (``PILOT_RUNS`` runs at the counts a prior model finds
   likely, in parallel like the search) calibrates one (``wl.calibrate``).
2. The model's prediction fixes the plan (``workerlab.thresholds.design.next_step``): how many runs the
   candidate count and the count below it need, a few runs of every larger count, and never a
   count whose bound exceeds the deadline. The plan keeps the stated confidence: a design fixed up
   front per count, decided early only when its remaining runs cannot change the outcome.
3. Runs are launched one by one as ``next_step`` asks for them, with the sweep's rules (one start
   limiter, a capacity of live workers, a run starts once the previous one's workers are up;
   ``workerlab.batch.search_runs``), and ``next_step`` is asked again after every finished run. The
   pilot's runs choose the plan, so they are not counted in it (they are in ``events``).

The answer is a ``Threshold`` with ``conclusive`` (Wilson low end >= level at the threshold, high
end < level at the count below, both measured), runs used, wall time, the model, every run's
event log, and a table of the measured evidence beside the prediction. A ``stop`` event, Ctrl-C or
a kernel interrupt ends the search and returns what was measured, with every worker stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workerlab.analysis.runs import summary
from workerlab.batch.local import Plan, Progress, verdict
from workerlab.batch.search_runs import DaskRunner, LocalRunner, outcome, set_total
from workerlab.batch.sweep import _run_seed
from workerlab.config import (
    DEADLINE,
    DEFAULT_MTBF,
    MAX_LINE,
    MAX_LIVE_WORKERS,
    MAX_WORKERS,
    START_TIMEOUT,
    check_sweep,
    flag_value,
    make_config,
    share,
)
from workerlab.errors import CollectError, ConfigError
from workerlab.log import events
from workerlab.model.model import Model
from workerlab.thresholds.design import Step, next_step, pilot_counts
from workerlab.thresholds.verdict import Threshold

__all__ = ["find_threshold", "find_threshold_async", "SearchStatus", "PILOT_RUNS"]

#: runs of the pilot that calibrates a model when none is given
PILOT_RUNS = 4
#: simulated runs per count behind the prediction that fixes the plan
PREDICT_RUNS = 10_000


@dataclass(frozen=True)
class SearchStatus:
    """Where a search stands, given to ``on_update`` after the pilot and after every finished run.

    ``phase``: "pilot", "measuring", "done" or "stopped"; ``table``: one row per count (``workers,
    runs, successes, success_rate, ci_low, ci_high, p_pred, bound_s``, ...); ``verdict`` is the
    ``Threshold`` once the search is over.
    """

    phase: str
    model: Model | None
    table: pd.DataFrame
    runs_used: int
    wall_s: float
    running: int = 0
    reason: str = ""
    verdict: Threshold | None = None


class _Search:
    """The state of one search: runs launched, measured, the plan; builds the ``Threshold``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.deadline: float = args.pop("deadline")
        self.samples: int = args.pop("samples")
        self.level: float = args.pop("level")
        self.confidence: float = args.pop("confidence")
        self.model: Model | None = args.pop("model")
        self.on_update: Callable[[SearchStatus], Any] | None = args.pop("on_update")
        self.stop: asyncio.Event | None = args.pop("stop")
        self.max_runs: int = args.pop("max_runs")
        client, parallel, progress = args.pop("client"), args.pop("parallel"), args.pop("progress")
        workers, live = args.pop("workers"), args.pop("max_live_workers")
        self.level, self.confidence = share("level", self.level), share("confidence", self.confidence)
        if self.model is not None and not isinstance(self.model, Model):
            raise ConfigError(f"model must be a wl.Model (e.g. wl.calibrate(logs)), got {self.model!r}")
        if self.on_update is not None and not callable(self.on_update):
            raise ConfigError(f"on_update must be callable (it gets a SearchStatus), got {self.on_update!r}")
        if not (isinstance(self.max_runs, int) and self.max_runs >= 1):
            raise ConfigError(f"max_runs must be a whole number >= 1, got {self.max_runs!r}")
        self.counts = check_sweep(
            workers,
            repeats=1,
            samples=self.samples,
            deadline=self.deadline,
            parallel=parallel,
            max_live_workers=live,
            **args,
        )
        self.options = args  # make_config's options, less the per-run seed and run_id
        if client is not None:
            self.runner: LocalRunner | DaskRunner = DaskRunner(client, self.samples, args, parallel)
        else:
            self.runner = LocalRunner(self.samples, args, live, parallel)
        self.bar = Progress(PILOT_RUNS if self.model is None else 1, progress, self.deadline)
        self.tag = uuid.uuid4().hex[:6]
        self.t0 = time.monotonic()
        self.frames: list[pd.DataFrame] = []  # every run's log, pilot first
        self.counted: list[pd.DataFrame] = []  # the logs of the runs the plan counts
        self.judged: list[dict[str, Any]] = []  # and how each went (``evidence.search_table``)
        self.measured: dict[int, tuple[int, int]] = {}
        self.plans: dict[asyncio.Task[pd.DataFrame], Plan] = {}
        self.started = self.pilot_runs = 0
        self.pred: pd.DataFrame | None = None
        self.step: Step | None = None
        self.phase = "pilot"
        self.stopped = False

    # -- the search ------------------------------------------------------------------------
    async def run(self) -> Threshold:
        stop_watch = asyncio.create_task(self._watch_stop()) if self.stop is not None else None
        try:
            if self.model is None:
                await self._pilot()
            if not self._stopping():
                self.pred = await asyncio.to_thread(
                    self.model.predict,  # type: ignore[union-attr]
                    self.counts,
                    self.samples,
                    self.deadline,
                    PREDICT_RUNS,
                    self.options.get("seed") or 0,
                )
                self.phase = "measuring"
                self._notify()
                await self._measure()
        finally:
            if stop_watch is not None:
                stop_watch.cancel()
            self._harvest()  # runs that finished meanwhile count
            await self._cancel_running()
            self.bar.close()
        self.phase = "stopped" if self.stopped or self.runner.interrupt is not None else "done"
        result = self.result()
        self._notify(result)
        return result

    async def _watch_stop(self) -> None:
        assert self.stop is not None
        await self.stop.wait()
        self.runner.changed.set()

    def _stopping(self) -> bool:
        if self.runner.interrupt is not None or (self.stop is not None and self.stop.is_set()):
            self.stopped = True
        return self.stopped

    async def _pilot(self) -> None:
        """A few runs at the likely counts; calibrate the model from them."""
        from workerlab.model.calibration import calibrate

        queue = self._pilot_counts()
        while not self._stopping():
            self._harvest()
            if not (queue or self.plans):
                break
            if queue and self.runner.can_start(queue[0]):
                self._launch(queue.pop(0), pilot=True)
                continue
            await self._wait()
        if self._stopping():
            return
        ok = [df for df in self.frames if verdict(df, self.deadline)[0]]
        if not ok:
            first = events.run_stops(self.frames[0])["message"].fillna("(no message)").iloc[0]
            raise CollectError(
                f"every pilot run failed, so there is no model to plan with; the first: {first}"
            )
        self.model = await asyncio.to_thread(calibrate, self.frames)

    def _pilot_counts(self) -> list[int]:
        """The counts a prior model (the worker's settings, this machine's default costs) finds likely."""
        cfg = make_config(self.counts[-1], self.samples, **self.options)
        mtbf = float(flag_value(cfg.extra_args, "mtbf") or DEFAULT_MTBF)  # the emulator's default
        lead = float(flag_value(cfg.extra_args, "lead") or 0.0)
        prior = Model(interval=cfg.interval, lead=lead, mtbf=mtbf).predict(
            self.counts, self.samples, self.deadline, runs=2000, seed=0
        )
        return pilot_counts(prior, self.level, PILOT_RUNS)

    async def _measure(self) -> None:
        assert self.pred is not None
        while not self._stopping():
            self._harvest()
            self.step = step = self._plan()
            if step.done:
                return
            inflight = self._inflight()
            more = {w: n - inflight.get(w, 0) for w, n in step.runs.items() if n > inflight.get(w, 0)}
            set_total(self.bar.bar, len(self.frames) + len(self.plans) + sum(more.values()))
            # round robin over the counts that want runs (fewest in flight first), the count below
            # and the larger ones before the candidate: they need few runs, so they finish early
            wanted = sorted(more, key=lambda w: (inflight.get(w, 0), w == step.candidate, w))
            if wanted and self.runner.can_start(wanted[0]):
                self._launch(wanted[0], pilot=False)
                continue
            await self._wait()

    def _plan(self) -> Step:
        """``next_step`` over the counts whose bound is within one interval of the deadline: beyond
        that a count is hopeless; within it, crashes can help (lead 0), and a conclusive answer
        needs the count below the threshold measured, not ruled out by a bound a hair too long."""
        assert self.pred is not None and self.model is not None
        near = self.pred[self.pred["bound_s"] <= self.deadline + self.model.interval]
        kw = dict(level=self.level, confidence=self.confidence, max_total=self.max_runs)
        return next_step(near, self.measured, **kw)  # type: ignore[arg-type]

    def _inflight(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for plan in self.plans.values():
            out[plan.workers] = out.get(plan.workers, 0) + 1
        return out

    def _launch(self, workers: int, *, pilot: bool) -> None:
        self.started += 1
        self.pilot_runs += pilot
        kind = "pilot" if pilot else "run"
        seed = self.options.get("seed")
        run_seed = None if seed is None else _run_seed(seed, workers, self.started)
        plan = Plan(
            self.started - 1, workers, self.started, f"{self.tag}-{kind}{self.started}-w{workers}", run_seed
        )
        self.plans[self.runner.start(plan)] = plan
        self.bar.started()

    async def _wait(self) -> None:
        """Until a run finishes, the previous run's workers are up, or ``stop`` is set."""
        self.runner.changed.clear()
        await self.runner.changed.wait()

    def _harvest(self) -> None:
        """Take in the runs that finished: their logs, and (after the pilot) their outcome."""
        for task in [t for t in self.plans if t.done()]:
            plan = self.plans.pop(task)
            self.runner.forget(task)
            df = task.result()
            self.frames.append(df)
            self.bar.done(df)
            if plan.run_id in self.runner.lost or outcome(df) == "cancelled":
                continue  # ended by an interrupt: not a measurement
            if "-pilot" not in plan.run_id:
                row = summary(df, deadline=self.deadline).iloc[0]
                reached = bool(row["outcome"] == "reached") if pd.notna(row["outcome"]) else False
                met = reached and pd.notna(row["deadline_met"]) and bool(row["deadline_met"])
                judged = {"workers": plan.workers, "met": met, "reached": reached}
                self.judged.append(judged | {"elapsed_s": row["elapsed_s"], "bound_s": row["bound_s"]})
                k, n = self.measured.get(plan.workers, (0, 0))
                self.measured[plan.workers] = (k + met, n + 1)
                self.counted.append(df)
            self._notify()

    async def _cancel_running(self) -> None:
        """Stop the runs still going (the answer came, or the search was stopped); keep their logs."""
        self.frames += await self.runner.cancel_all()
        self.plans.clear()

    def abandon(self) -> None:
        self.runner.abandon()

    def salvage(self) -> None:
        """After an interrupt that ended the search abruptly: keep the logs of the runs it cut off."""
        if isinstance(self.runner, LocalRunner):
            self.frames += [run.frame() for run in self.runner.runs.values()]
        self.plans.clear()

    # -- reporting -------------------------------------------------------------------------
    def _notify(self, result: Threshold | None = None) -> None:
        if self.on_update is None:
            return
        status = SearchStatus(
            phase=self.phase,
            model=self.model,
            table=self.table(),
            runs_used=self.started,
            wall_s=time.monotonic() - self.t0,
            running=len(self.plans),
            reason="" if self.step is None else self.step.reason,
            verdict=result,
        )
        try:
            self.on_update(status)
        except (KeyboardInterrupt, SystemExit) as exc:  # a kernel interrupt during the callback
            self.runner.interrupt = exc
            self.runner.changed.set()

    def table(self) -> pd.DataFrame:
        from workerlab.thresholds.evidence import search_table

        return search_table(self.judged, self.counts, self.pred, self.level, self.confidence)

    def result(self) -> Threshold:
        from workerlab.thresholds.evidence import search_threshold

        return search_threshold(self, self.table(), time.monotonic() - self.t0)


async def find_threshold_async(
    deadline: float = DEADLINE,
    samples: int = 150,
    level: float = 0.95,
    confidence: float = 0.95,
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    *,
    model: Model | None = None,
    client: Any = None,
    progress: bool = True,
    on_update: Callable[[SearchStatus], Any] | None = None,
    stop: asyncio.Event | None = None,
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
) -> Threshold:
    """``find_threshold`` for async code and notebook top-level ``await`` (same arguments).

    Runs share the caller's event loop. Setting ``stop`` (an ``asyncio.Event``) ends the search:
    no new run starts, the running ones are stopped, and the call returns what was measured; so
    does a kernel interrupt that lands in a run. Cancelling the call stops every run and re-raises.
    """
    return await _Search(dict(locals())).run()


def find_threshold(
    deadline: float = DEADLINE,
    samples: int = 150,
    level: float = 0.95,
    confidence: float = 0.95,
    workers: int | Iterable[int] = range(1, MAX_WORKERS + 1),
    *,
    model: Model | None = None,
    client: Any = None,
    progress: bool = True,
    on_update: Callable[[SearchStatus], Any] | None = None,
    stop: asyncio.Event | None = None,
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
) -> Threshold:
    """The smallest worker count that meets ``deadline`` in at least ``level`` of runs, measured
    until conclusive at ``confidence`` (see the module docstring for how).

    ``workers``: the counts allowed; ``model``: a calibrated ``wl.Model`` (skips the pilot);
    ``client``: a ``dask.distributed.Client`` (each run a task); ``on_update(SearchStatus)`` after
    the pilot and every finished run; ``max_runs``: the budget of measured runs. The run options
    (``worker_bin`` ... ``max_line``) are ``collect``'s; ``parallel`` and ``max_live_workers``
    are ``sweep``'s. Bad arguments raise ``ConfigError`` before anything starts. Ctrl-C or a
    kernel interrupt returns the ``Threshold`` of what was measured, with no worker left.
    """
    search = _Search(dict(locals()))
    from workerlab.engine.sync import run_sync

    try:
        return run_sync(search.run(), on_abandon=search.abandon)
    except KeyboardInterrupt:
        search.stopped = True
        search.phase = "stopped"
        search.salvage()
        return search.result()
