"""A threshold search as it runs: the loop that starts the runs the decider asks for.

``SearchLoop`` owns one batch (``workerlab.batch.runner``) and drives it from above: the pilot
(``workerlab.thresholds.pilot``) when no model is given, then the prediction that fixes the plans,
then ``async for ended in batch.updates()``: each ended run goes to the ``Decider``
(``workerlab.thresholds.decider``), which says which counts want runs next; the loop starts them
as the batch's launching rule allows: counts whose runs run alone first, then the others
interleaved in a random (seeded) order. At the end the answer is assembled by
``workerlab.thresholds.assemble.assemble``.
``workerlab.thresholds.search`` is its public face (``find_threshold``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from workerlab.analysis.judge import Judgement
from workerlab.analysis.overlap import runs_at_once
from workerlab.batch.progress import Progress
from workerlab.batch.runner import Batch, Finished
from workerlab.batch.spec import SpecMaker
from workerlab.engine.stop import Stop
from workerlab.errors import ConfigError
from workerlab.log import events
from workerlab.model.interference import Interference
from workerlab.model.model import Model
from workerlab.thresholds.assemble import assemble
from workerlab.thresholds.decider import Decider, NextStep
from workerlab.thresholds.pilot import PILOT_RUNS, Pilot
from workerlab.thresholds.result import SearchResult, SearchStatus
from workerlab.thresholds.settings import SearchSettings
from workerlab.thresholds.stats import search_table
from workerlab.thresholds.verdict import Conditions

__all__ = ["SearchLoop", "PREDICT_RUNS"]

#: simulated runs per count behind the prediction that fixes the plan
PREDICT_RUNS = 10_000
#: the judged columns the search's table is built from
_JUDGED = ["workers", "reached", "met", "elapsed_s", "bound_s"]


class SearchLoop:
    """One search: its batch, the runs it started, what they measured; ``run()`` returns the answer."""

    def __init__(
        self,
        settings: SearchSettings,
        *,
        client: Any,
        progress: bool,
        on_update: Callable[[SearchStatus], Any] | None,
        stop: Stop | None,
    ) -> None:
        if on_update is not None and not callable(on_update):
            raise ConfigError(f"on_update must be callable (it gets a SearchStatus), got {on_update!r}")
        self.settings = settings
        self.model: Model | None = settings.model
        self.on_update = on_update
        self.bar = Progress(PILOT_RUNS if self.model is None else 1, progress)
        self.batch = Batch(settings.batch, self.bar, client=client, stop=stop)
        if self.model is not None and client is None and settings.batch.parallel is None:
            self.batch.parallel = 1  # no pilot measures the interference: one run at a time
        self.specs = SpecMaker(settings.batch.options.seed)
        self.t0 = time.monotonic()
        self.frames: list[pd.DataFrame] = []  # every run's log, in the order they ended
        self.judged: list[Judgement] = []  # the runs the decider counts, as the batch judged them
        self.index: dict[str, tuple[int, int]] = {}  # measured run id -> (workers, start index)
        self.pilot_runs = 0
        self.interference: Interference | None = None
        self.pred: pd.DataFrame | None = None
        self.decider: Decider | None = None
        self.step: NextStep | None = None
        self.rng = random.Random(settings.seed)  # the order counts are interleaved in
        self.next: int | None = None  # the count drawn to start next
        self.phase = "pilot"
        self.stepping: asyncio.Future[NextStep] | None = None  # the decider's step in its thread

    async def run(self) -> SearchResult:
        """Pilot, prediction, measured runs; the answer (stopped part way: what was measured)."""
        try:
            async with self.batch:
                if self.model is None:
                    await self._pilot()
                if not self.batch.stopping:
                    await self._predict()
                    await self._measure()
        finally:
            if self.stepping is not None and not self.stepping.done():
                await asyncio.wait({self.stepping})  # the decider is never used by two threads
            self._record(self.batch.take())  # the runs the end cut off are kept (not counted)
            self.bar.close()
        self.phase = "stopped" if self.batch.stopping else "done"
        result = self.result()
        self._notify(result)
        return result

    async def _pilot(self) -> None:
        b = self.settings.batch
        pilot = Pilot(self.settings, b.parallel if b.parallel is not None else len(b.counts))
        try:
            got = await pilot.run(self.batch, self.specs)
        finally:
            self.pilot_runs = self.specs.made
            self.frames += [f.log for f in pilot.finished]
        self._notify()  # the pilot's end
        if got is None:
            return
        self.model, self.interference = got.model, got.interference
        self.batch.alone.update(got.interference.alone)
        self.batch.parallel = min(self.batch.parallel or got.at_once, got.at_once)

    async def _predict(self) -> None:
        assert self.model is not None
        s = self.settings
        self.pred = pred = await asyncio.to_thread(
            self.model.predict, list(s.batch.counts), s.batch.samples, s.batch.deadline, PREDICT_RUNS, s.seed
        )
        # the counts that run alone from their first planned run: where the pilot found that sharing
        # changes p_meet; all of them when runs go one at a time anyway
        alone = self.batch.alone | (set(s.batch.counts) if self.batch.parallel == 1 else set())
        budget = s.max_runs - self.pilot_runs  # max_runs counts every run, the pilot's too
        # its plans are fixed by its steps, which run off the event loop (``_step``)
        self.decider = Decider(pred, level=s.level, confidence=s.confidence, max_runs=budget, alone=alone)
        self.phase = "measuring"
        self._notify()

    async def _measure(self) -> None:
        async for ended in self.batch.updates():
            self._record(ended)
            if (await self._start_wanted()).done:
                return

    async def _step(self) -> NextStep:
        """The decider's next step, off the event loop: it may fix a new plan (the exact planner
        takes up to seconds) while runs are in flight, whose samples must be timed as they arrive."""
        assert self.decider is not None
        self.stepping = asyncio.ensure_future(asyncio.to_thread(self.decider.step))
        return await asyncio.shield(self.stepping)  # cut off, ``run`` still waits for it

    async def _start_wanted(self) -> NextStep:
        """Start the runs the decider wants now, as many as the launching rule allows; its step."""
        assert self.decider is not None
        while True:
            self.step = step = await self._step()
            ended = self.batch.take()
            if ended:  # runs that ended while the step was taken count first: ask again with them
                self._record(ended)
                continue
            if step.done or not step.runs:
                return step  # done, or every run wanted is going: wait for them
            self.bar.set_total(len(self.frames) + len(self.batch.running) + step.total)
            alone = self.decider.alone_counts()
            self.batch.alone.update(alone)  # every "below" on runs alone
            # counts whose runs run alone go first: the machine must be empty for them, and it is
            # after the pilot or between them, while mid-search each would first drain it. Among
            # the counts that go first, the order is random (seeded), so drift over the search hits
            # each alike; the draw stands until that run is started
            first = sorted(w for w in step.runs if w in alone) or sorted(step.runs)
            if self.next not in first:
                self.next = self.rng.choices(first, weights=[step.runs[w] for w in first])[0]
            if not self.batch.can_start(self.next):
                return step
            spec = self.specs.make(self.next)
            self.index[spec.run_id] = (spec.workers, self.decider.start(spec.workers))
            self.batch.start(spec)
            self.next = None

    def _record(self, ended: list[Finished]) -> None:
        """Take in the runs that ended: their logs, and (measured ones) their judgement."""
        for f in ended:
            self.frames.append(f.log)
            if f.judged is None or f.spec.run_id not in self.index:
                continue  # cut off by a stop (not a measurement), or a pilot run
            self.judged.append(f.judged)
            if self.decider is not None:
                self.decider.record(*self.index[f.spec.run_id], f.judged.met)
            self._notify()

    # -- reporting -------------------------------------------------------------------------
    def _notify(self, result: SearchResult | None = None) -> None:
        if self.on_update is None:
            return
        status = SearchStatus(
            phase=self.phase,
            model=self.model,
            table=self.table(),
            runs_used=self.specs.made,
            wall_s=time.monotonic() - self.t0,
            running=len(self.batch.running),
            reason="" if self.step is None else self.step.reason,
            verdict=result,
        )
        try:
            self.on_update(status)
        except (KeyboardInterrupt, SystemExit) as exc:  # a kernel interrupt during the callback
            self.batch.interrupted(exc)

    def table(self) -> pd.DataFrame:
        judged = pd.DataFrame([dataclasses.astuple(j) for j in self.judged], columns=_JUDGED)
        return search_table(judged, self.settings.batch.counts, self.pred, self.settings.confidence)

    def result(self) -> SearchResult:
        """The ``SearchResult`` of what the search measured (finished, or stopped part way)."""
        s = self.settings
        df = events.concat(self.frames) if self.frames else None
        return assemble(
            self.table(),
            self.decider,
            level=s.level,
            deadline=s.batch.deadline,
            confidence=s.confidence,
            runs_used=self.specs.made,
            wall_s=time.monotonic() - self.t0,
            model=self.model,
            events=df,
            prediction=self.pred,
            pilot_runs=self.pilot_runs,
            interrupted=self.batch.stopping,
            settings=s,
            conditions=None
            if df is None
            else Conditions(runs_at_once(df, set(self.index)), self.interference),
        )

    def abandon(self) -> None:
        """Kill every process of every run at once (the sync wrapper's last resort)."""
        self.batch.abandon()
