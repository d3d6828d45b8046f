"""A threshold search as it runs: its settings, its state, what it tells ``on_update``.

``Searcher`` drives one batch (``workerlab.batch.runner``) through the pilot and the measured runs
that ``workerlab.thresholds.design.SearchPlan`` asks for, and builds the ``SearchResult``;
``workerlab.thresholds.search`` is its public face (``find_threshold``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workerlab.analysis.judge import Judgement
from workerlab.analysis.overlap import runs_at_once
from workerlab.batch.plan import BatchSettings, Plan, run_seed
from workerlab.batch.progress import Progress
from workerlab.batch.runner import Batch, StopToken
from workerlab.config import DEFAULT_MTBF, RunOptions, flag_value, share
from workerlab.engine.stop import Stop
from workerlab.errors import CollectError, ConfigError
from workerlab.log import events
from workerlab.model.interference import Conditions, Interference, cost_models, estimate
from workerlab.model.model import Model
from workerlab.thresholds.design import SearchPlan, Step, pilot_counts
from workerlab.thresholds.evidence import SearchResult, plan_report, search_table
from workerlab.thresholds.stats import repeats_needed, smallest_qualifying

__all__ = ["Searcher", "SearchSettings", "SearchStatus", "PILOT_RUNS", "PREDICT_RUNS"]

#: runs of the pilot that calibrates a model when none is given: PILOT_ALONE one at a time, then
#: PILOT_SIDE side by side (as many at once as the search would run: four of 16 workers fill the
#: default capacity of 64 live workers), to measure the interference; the search then runs no more
#: at once than the side-by-side runs did, and runs alone the counts where sharing changes p_meet
PILOT_ALONE = 2
PILOT_SIDE = 4
PILOT_RUNS = PILOT_ALONE + PILOT_SIDE
#: simulated runs per count behind the prediction that fixes the plan
PREDICT_RUNS = 10_000
#: the judged columns the search's table is built from
_JUDGED = ["workers", "reached", "met", "elapsed_s", "bound_s"]


@dataclass(frozen=True)
class SearchStatus:
    """Where a search stands, given to ``on_update`` after the pilot and after every finished run.

    ``phase``: "pilot", "measuring", "done" or "stopped"; ``table``: one row per count (``workers,
    runs, successes, success_rate, ci_low, ci_high, p_pred, bound_s``, ...); ``verdict`` is the
    ``SearchResult`` once the search is over.
    """

    phase: str
    model: Model | None
    table: pd.DataFrame
    runs_used: int
    wall_s: float
    running: int = 0
    reason: str = ""
    verdict: SearchResult | None = None


@dataclass(frozen=True)
class SearchSettings:
    """A search's own settings, validated (``check``); the batch's are in ``batch``."""

    batch: BatchSettings
    level: float
    confidence: float
    max_runs: int
    model: Model | None

    @classmethod
    def check(
        cls,
        deadline: float,
        samples: int,
        level: float,
        confidence: float,
        workers: int | Iterable[int],
        *,
        model: Model | None,
        max_runs: int,
        parallel: int | None,
        max_live_workers: int,
        options: RunOptions,
    ) -> SearchSettings:
        """Check every argument of a search; ``ConfigError`` before anything is spawned."""
        level, confidence = share("level", level), share("confidence", confidence)
        if model is not None and not isinstance(model, Model):
            raise ConfigError(f"model must be a wl.Model (e.g. wl.calibrate(logs)), got {model!r}")
        if not (isinstance(max_runs, int) and max_runs >= 1):
            raise ConfigError(f"max_runs must be a whole number >= 1, got {max_runs!r}")
        batch = BatchSettings.check(
            workers,
            samples=samples,
            deadline=deadline,
            parallel=parallel,
            max_live_workers=max_live_workers,
            options=options,
        )
        return cls(batch, level, confidence, max_runs, model)


class Searcher:
    """The state of one search: runs launched, measured, the plan; builds the ``SearchResult``."""

    def __init__(
        self,
        settings: SearchSettings,
        *,
        client: Any,
        progress: bool,
        on_update: Callable[[SearchStatus], Any] | None,
        stop: StopToken | None,
    ) -> None:
        if on_update is not None and not callable(on_update):
            raise ConfigError(f"on_update must be callable (it gets a SearchStatus), got {on_update!r}")
        self.settings = settings
        b = settings.batch
        self.deadline, self.samples, self.counts = b.deadline, b.samples, list(b.counts)
        self.level, self.confidence = settings.level, settings.confidence
        self.model = settings.model
        self.on_update = on_update
        self.bar = Progress(PILOT_RUNS if self.model is None else 1, progress)
        self.batch = Batch(b, self.bar, client=client, stop=stop if stop is not None else Stop())
        #: counts whose runs must not share the machine (the batch's launching rule reads this set)
        self.alone: set[int] = self.batch.alone
        self.interference: Interference | None = None
        if self.model is not None and client is None and b.parallel is None:
            self.batch.parallel = 1  # no pilot measures the interference: one run at a time
        self.tag = uuid.uuid4().hex[:6]
        self.t0 = time.monotonic()
        self.frames: list[pd.DataFrame] = []  # every run's log, pilot first
        self.judged: list[Judgement] = []  # the runs the plan counts, as the batch judged them
        self.measured: dict[int, tuple[int, int]] = {}
        self.pilot_ids: set[str] = set()
        self.pilot_judged: list[Judgement] = []
        self.started = self.pilot_runs = 0
        self.pred: pd.DataFrame | None = None
        self.plan: SearchPlan | None = None
        self.index: dict[str, tuple[int, int]] = {}  # run id -> (workers, index in that count's start order)
        self.rng = random.Random(settings.batch.options.seed or 0)  # the order counts are interleaved in
        self.next: int | None = None  # the count drawn to start next
        self.step: Step | None = None
        self.phase = "pilot"
        self.stopped = False

    # -- the search ------------------------------------------------------------------------
    async def run(self) -> SearchResult:
        try:
            async with self.batch:
                if self.model is None:
                    await self._pilot()
                if not self._stopping():
                    await self._predict()
                    await self._measure()
                self._harvest()  # runs that finished meanwhile count
        finally:
            self._harvest()  # and the runs the end cut off are kept (not counted)
            self.bar.close()
        self.phase = "stopped" if self._stopping() else "done"
        result = self.result()
        self._notify(result)
        return result

    def _stopping(self) -> bool:
        if self.batch.stopping:
            self.stopped = True
        return self.stopped

    async def _pilot(self) -> None:
        """Runs at the likely counts, ``PILOT_ALONE`` one at a time, ``PILOT_SIDE`` side by side; calibrate the
        model from them, and keep side by side only the counts where that does not change p_meet."""
        from workerlab.model.calibration import calibrate

        counts = self._pilot_counts()
        half = PILOT_ALONE if self._at_once() > 1 else len(counts)
        self.alone.update(self.counts)  # the first half: one at a time
        await self._pilot_runs(counts[:half])
        n_alone, f_alone = len(self.pilot_judged), len(self.frames)
        self.alone.clear()  # the second half: as many at once as the search would run
        if not self._stopping():
            await self._pilot_runs(counts[half:])
        if self._stopping():
            return
        if not any(j.reached for j in self.pilot_judged):
            first = events.run_stops(self.frames[0])["message"].fillna("(no message)").iloc[0]
            raise CollectError(
                f"every pilot run failed, so there is no model to plan with; the first: {first}"
            )
        self.model = await asyncio.to_thread(calibrate, self.frames)
        side = self.frames[f_alone:]
        at_once = runs_at_once(events.concat(side)).max if side else 1
        costs = await asyncio.to_thread(cost_models, self.model, self.frames[:f_alone], side)
        self.interference = await asyncio.to_thread(self._interference, n_alone, at_once, costs)
        self.alone.update(self.interference.alone)
        # no more runs at once than the pilot measured side by side: beyond that, unmeasured
        self.batch.parallel = min(self.batch.parallel or at_once, at_once)

    async def _pilot_runs(self, counts: list[int]) -> None:
        queue = list(counts)

        def pick() -> int | None:
            self._harvest()
            return queue[0] if queue else None

        def launch(workers: int) -> None:
            self._launch(queue.pop(0), pilot=True)

        await self.batch.drive(pick, launch, lambda: not queue and not self.batch.running)
        self._harvest()

    def _at_once(self) -> int:
        """How many runs the search would run at once (the pilot's second half does)."""
        return self.batch.parallel if self.batch.parallel is not None else len(self.counts)

    def _interference(self, n_alone: int, at_once: int, costs: tuple[Model, Model] | None) -> Interference:
        """The pilot's interference estimate (``workerlab.model.interference``): the first
        ``n_alone`` pilot runs ran alone, the rest up to ``at_once`` at once."""
        assert self.model is not None
        over = [j.elapsed_s - j.bound_s if j.reached else math.nan for j in self.pilot_judged]
        return estimate(
            self.model,
            self.counts,
            self.samples,
            self.deadline,
            alone_overhead=over[:n_alone],
            side_overhead=over[n_alone:],
            at_once=at_once,
            cost_models=costs,
            seed=self.settings.batch.options.seed or 0,
        )

    def _pilot_counts(self) -> list[int]:
        """The counts a prior model (the worker's settings, this machine's default costs) finds likely,
        the same ones, the likeliest first, in both parts of the pilot."""
        cfg = self.settings.batch.options.config(self.counts[-1], self.samples)
        mtbf = float(flag_value(cfg.extra_args, "mtbf") or DEFAULT_MTBF)  # the emulator's default
        lead = float(flag_value(cfg.extra_args, "lead") or 0.0)
        prior = Model(interval=cfg.interval, lead=lead, mtbf=mtbf).predict(
            self.counts, self.samples, self.deadline, runs=2000, seed=0
        )
        return pilot_counts(prior, self.level, PILOT_ALONE) + pilot_counts(prior, self.level, PILOT_SIDE)

    async def _predict(self) -> None:
        assert self.model is not None
        self.pred = await asyncio.to_thread(
            self.model.predict,
            self.counts,
            self.samples,
            self.deadline,
            PREDICT_RUNS,
            self.settings.batch.options.seed or 0,
        )
        self.plan = SearchPlan(
            self.pred, level=self.level, confidence=self.confidence, max_runs=self.settings.max_runs
        )
        self.phase = "measuring"
        self._notify()

    async def _measure(self) -> None:
        def pick() -> int | None:
            self._harvest()
            self.step = step = self._plan()
            if step.done:
                return None
            self.bar.set_total(len(self.frames) + len(self.batch.running) + step.total)
            # counts that want runs are interleaved in a random (seeded) order, so drift over the
            # search hits each of them alike; the draw stands until that run is launched
            if not step.runs:
                return None  # every run wanted is going: wait for them
            if self.next not in step.runs:
                counts = sorted(step.runs)
                self.next = self.rng.choices(counts, weights=[step.runs[w] for w in counts])[0]
            return self.next

        def launch(workers: int) -> None:
            self.next = None
            self._launch(workers, pilot=False)

        await self.batch.drive(pick, launch, lambda: self.step is not None and self.step.done)

    def _plan(self) -> Step:
        """The search plan's next step (``SearchPlan.step``): every allowed count is a possible
        candidate or count below, whatever its bound (with a lead under one interval the bound is
        no floor: a restarted worker sends at once)."""
        assert self.plan is not None
        return self.plan.step()

    def _launch(self, workers: int, *, pilot: bool) -> None:
        self.started += 1
        self.pilot_runs += pilot
        kind = "pilot" if pilot else "run"
        seed = self.settings.batch.options.seed
        seed_r = None if seed is None else run_seed(seed, workers, self.started)
        run_id = f"{self.tag}-{kind}{self.started}-w{workers}"
        if pilot:
            self.pilot_ids.add(run_id)
        if not pilot and self.plan is not None:
            self.index[run_id] = (workers, self.plan.start(workers))
        self.batch.start(Plan(self.started - 1, workers, self.started, run_id, seed_r))

    def _harvest(self) -> None:
        """Take in the runs that ended: their logs, and (after the pilot) their judgement."""
        for f in self.batch.take():
            self.frames.append(f.log)
            if f.judged is None:
                continue  # cut off by a stop or an interrupt: not a measurement
            if f.plan.run_id in self.pilot_ids:
                self.pilot_judged.append(f.judged)
            else:
                self.judged.append(f.judged)
                k, n = self.measured.get(f.plan.workers, (0, 0))
                self.measured[f.plan.workers] = (k + f.judged.met, n + 1)
                if self.plan is not None and f.plan.run_id in self.index:
                    self.plan.record(*self.index[f.plan.run_id], f.judged.met)
            self._notify()

    def abandon(self) -> None:
        self.batch.abandon()

    def salvage(self) -> None:
        """After an interrupt that ended the search abruptly: keep the logs of the runs it cut off."""
        self._harvest()

    # -- reporting -------------------------------------------------------------------------
    def _notify(self, result: SearchResult | None = None) -> None:
        if self.on_update is None:
            return
        status = SearchStatus(
            phase=self.phase,
            model=self.model,
            table=self.table(),
            runs_used=self.started,
            wall_s=time.monotonic() - self.t0,
            running=len(self.batch.running),
            reason="" if self.step is None else self.step.reason,
            verdict=result,
        )
        try:
            self.on_update(status)
        except (KeyboardInterrupt, SystemExit) as exc:  # a kernel interrupt during the callback
            self.batch.interrupt = self.batch.interrupt or exc
            self.batch.changed.set()

    def table(self) -> pd.DataFrame:
        judged = pd.DataFrame([dataclasses.astuple(j) for j in self.judged], columns=_JUDGED)
        return search_table(judged, self.counts, self.pred, self.confidence)

    def result(self) -> SearchResult:
        """The ``SearchResult`` of the search's state (finished, or stopped part way)."""
        table = self.table()
        step = self._plan() if self.pred is not None else None
        conclusive = bool(step is not None and step.done and step.conclusive)
        measured = table[table["runs"] > 0]
        planned = set() if self.plan is None else {d["workers"] for d in self.plan.decisions()}
        # "so far" rests on the counts measured by a plan: a 3-run screen is no evidence of meeting
        plain = smallest_qualifying(
            measured[measured["workers"].isin(planned)] if planned else measured, self.level
        )
        workers = step.candidate if conclusive and step is not None else plain
        row = measured[measured["workers"] == workers]
        k, n = (int(row["successes"].iloc[0]), int(row["runs"].iloc[0])) if not row.empty else (0, 0)
        return SearchResult(
            workers=workers,
            table=table,
            strong=bool(not row.empty and row["ci_low"].iloc[0] >= self.level),
            repeats_needed=repeats_needed(k, n, self.level, self.confidence) if not row.empty else None,
            level=self.level,
            deadline=self.deadline,
            confidence=self.confidence,
            conclusive=conclusive,
            runs_used=self.started,
            wall_s=time.monotonic() - self.t0,
            model=self.model,
            events=events.concat(self.frames) if self.frames else None,
            prediction=self.pred,
            reason="" if step is None else step.reason,
            pilot_runs=self.pilot_runs,
            interrupted=self.stopped,
            conditions=self._conditions(),
            **plan_report(self.plan, step, table, self.level, self.confidence),
        )

    def _conditions(self) -> Conditions | None:
        """How many of the counted runs ran at once, and the interference the pilot measured."""
        if not self.frames:
            return None
        df = events.concat(self.frames)
        counted = set(df["run_id"].astype(str).unique()) - self.pilot_ids
        return Conditions(runs_at_once(df, counted), self.interference)
