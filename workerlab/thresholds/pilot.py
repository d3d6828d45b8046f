"""The threshold search's pilot: a few runs that give the search a model and its launching rule.

Without a given model the search first runs ``PILOT_RUNS`` runs at the counts a prior model (the
worker's settings, this machine's default costs) finds likely: ``PILOT_ALONE`` one at a time, then
``PILOT_SIDE`` of the same counts side by side (as many at once as the search would run: four of
16 workers fill the default capacity of 64 live workers). A model is calibrated from them (``wl.calibrate``) and the
interference of runs side by side is estimated (``workerlab.model.interference``): the search then
runs alone the counts where sharing the machine changes the predicted p_meet, and no more runs at
once than the pilot measured side by side (beyond that, unmeasured).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import pandas as pd

from workerlab.analysis.judge import Judgement
from workerlab.analysis.overlap import runs_at_once
from workerlab.batch.runner import Batch, Finished
from workerlab.batch.spec import SpecMaker
from workerlab.config import DEFAULT_MTBF, flag_value
from workerlab.errors import CollectError
from workerlab.log import events
from workerlab.model.interference import Interference, cost_models, estimate
from workerlab.model.model import Model
from workerlab.thresholds.settings import SearchSettings

__all__ = ["Pilot", "PilotOutcome", "pilot_counts", "PILOT_ALONE", "PILOT_SIDE", "PILOT_RUNS"]

#: the pilot's runs one at a time, then side by side
PILOT_ALONE = 2
PILOT_SIDE = 4
PILOT_RUNS = PILOT_ALONE + PILOT_SIDE


@dataclass(frozen=True)
class PilotOutcome:
    """What the pilot measured: its runs (logs in the order they ended; judgements of those not cut
    off), the model calibrated from them, the interference and the most runs that ran at once."""

    finished: list[Finished]
    model: Model
    interference: Interference
    at_once: int

    @property
    def run_ids(self) -> set[str]:
        return {f.spec.run_id for f in self.finished}


class Pilot:
    """The pilot of one search (module docstring): its counts, fixed when it is made."""

    def __init__(self, settings: SearchSettings, at_once: int) -> None:
        self.settings = settings
        self.at_once = at_once  # how many runs the search would run at once
        self.counts = self._counts()
        self.finished: list[Finished] = []

    def _counts(self) -> list[int]:
        """The counts a prior model finds likely, largest first: the ``PILOT_ALONE`` of the first half,
        then the same counts again side by side (each as often), so that every run side by side has
        runs of its own count alone to be compared with (``interference.matched_shift``)."""
        b = self.settings.batch
        cfg = b.options.config(b.counts[-1], b.samples)
        mtbf = float(flag_value(cfg.extra_args, "mtbf") or DEFAULT_MTBF)  # the emulator's default
        lead = float(flag_value(cfg.extra_args, "lead") or 0.0)
        prior = Model(interval=cfg.interval, lead=lead, mtbf=mtbf).predict(
            list(b.counts), b.samples, b.deadline, runs=2000, seed=0
        )
        alone = pilot_counts(prior, self.settings.level, PILOT_ALONE)
        return alone + [w for w in alone for _ in range(PILOT_SIDE // len(alone))]

    async def run(self, batch: Batch, specs: SpecMaker) -> PilotOutcome | None:
        """Run the pilot on ``batch``; None if it was stopped (its runs are in ``finished``)."""
        half = PILOT_ALONE if self.at_once > 1 else len(self.counts)
        batch.alone.update(self.settings.batch.counts)  # the first half: one at a time
        alone = await batch.run_all([specs.make(w, "pilot") for w in self.counts[:half]])
        batch.alone.clear()  # the second half: as many at once as the search would run
        side = (
            []
            if batch.stopping
            else await batch.run_all([specs.make(w, "pilot") for w in self.counts[half:]])
        )
        self.finished = alone + side
        if batch.stopping:
            return None
        judged = [f.judged for f in self.finished if f.judged is not None]
        if not any(j.reached for j in judged):
            first = events.run_stops(self.finished[0].log)["message"].fillna("(no message)").iloc[0]
            raise CollectError(
                f"every pilot run failed, so there is no model to plan with; the first: {first}"
            )
        return await asyncio.to_thread(self._outcome, alone, side)

    def _outcome(self, alone: list[Finished], side: list[Finished]) -> PilotOutcome:
        """Calibrate the model, estimate the interference (off the event loop: about a second)."""
        from workerlab.model.calibration import calibrate

        model = calibrate([f.log for f in self.finished])
        at_once = runs_at_once(events.concat([f.log for f in side])).max if side else 1
        costs = cost_models(model, [f.log for f in alone], [f.log for f in side])
        b = self.settings.batch
        interference = estimate(
            model,
            list(b.counts),
            b.samples,
            b.deadline,
            alone_overhead=_overheads(alone),
            side_overhead=_overheads(side),
            at_once=at_once,
            cost_models=costs,
            seed=self.settings.seed,
        )
        return PilotOutcome(self.finished, model, interference, at_once)


def _overheads(finished: list[Finished]) -> list[tuple[int, float]]:
    """Each judged run's workers and elapsed time over its bound (NaN where it did not reach the target)."""
    judged: list[Judgement] = [f.judged for f in finished if f.judged is not None]
    return [(j.workers, j.elapsed_s - j.bound_s if j.reached else math.nan) for j in judged]


def pilot_counts(prior: pd.DataFrame, level: float, runs: int = 4) -> list[int]:
    """The pilot's ``runs`` worker counts, largest first, from a prior prediction (``workers, p_meet``).

    The likely counts: the smallest count from which every larger one reaches ``level`` (the
    largest count if none does), the one below and the one above it; the largest of them again
    to fill up, since a run with more workers tells more about start-up and crashes.
    """
    counts = prior["workers"].astype(int).tolist()
    ok = (prior["p_meet"] >= level).to_numpy()
    tail = [bool(ok[i:].all()) for i in range(len(ok))]
    i = tail.index(True) if any(tail) else len(counts) - 1
    likely = counts[max(0, i - 1) : i + 2]
    return sorted(likely + [likely[-1]] * max(0, runs - len(likely)), reverse=True)[:runs]
