"""Whole threshold searches simulated with the real planner (``Decider``), against the exact tables.

A search's plan is a pure function of the predicted rates and the measured results, so a search
can be run with binomial draws in place of real runs (``simulate_search``). ``search_errors``
runs many at true rates level - 0.005, level and level + 0.005 of one decisive count and compares
how often the search concluded with the exact per-side probability of that count's plan
(``Plan.operating``): the candidate's P(meets) on one side, the count below's P(below) on the
other. They agree when the exact value lies in the simulation's two-sided Clopper-Pearson
interval at ``agree`` (default 99.9 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workerlab.thresholds.decider import Decider, NextStep, choose, clip
from workerlab.thresholds.exact import BELOW, MEETS
from workerlab.thresholds.stats import cp_interval

__all__ = ["simulate_search", "search_errors", "SideCheck", "SIDES"]

#: the two sides' settings at level L: the counts' predicted rates, the decisive count whose true
#: rate is varied, and the true rates of the others (truly below, or truly fine)
SIDES = {
    MEETS: ({12: 0.0, 13: 0.003, 14: 0.999, 15: 1.0}, 14, {12: 0.0, 13: 0.0, 15: 1.0}),
    BELOW: ({12: 0.0, 13: 0.74, 14: 0.999, 15: 1.0}, 13, {12: 0.0, 14: 1.0, 15: 1.0}),
}


def simulate_search(
    pred: Mapping[int, float],
    truth: Mapping[int, float],
    rng: np.random.Generator,
    batch: int = 4,
    shared: Mapping[int, float] | None = None,
    **kw,
) -> tuple[NextStep, Decider]:
    """One search: up to ``batch`` runs per wanted count started at once, ending in a random order.

    ``truth``: each count's success rate alone; ``shared``: its rate when its runs share the
    machine (default: the same), used for the runs of a count the decider lets share
    (``Decider.alone_counts`` when they start), as the search's launching rule does."""
    sp = Decider(pred, **kw)
    while True:
        step = sp.step()
        if step.done:
            return step, sp
        alone = sp.alone_counts()
        rate = {w: truth[w] if shared is None or w in alone else shared.get(w, truth[w]) for w in step.runs}
        started = [(w, sp.start(w)) for w, r in step.runs.items() for _ in range(min(r, batch))]
        met = rng.random(len(started))
        for j in rng.permutation(len(started)):
            w, i = started[j]
            sp.record(w, i, bool(met[j] < rate[w]))


@dataclass(frozen=True)
class SideCheck:
    """One side at one true rate: how often the search concluded at the candidate, simulated and exact."""

    side: str
    true_rate: float
    wrong: bool  # the conclusion is wrong at this rate (an error, not power)
    searches: int
    concluded: int
    simulated: float
    ci_low: float
    ci_high: float
    exact: float
    half_alpha: float

    @property
    def agrees(self) -> bool:
        return self.ci_low <= self.exact <= self.ci_high


def search_errors(
    searches: int,
    rng: np.random.Generator,
    *,
    level: float = 0.95,
    confidence: float = 0.95,
    offsets: tuple[float, ...] = (-0.005, 0.0, 0.005),
    agree: float = 0.999,
    batch: int = 4,
) -> list[SideCheck]:
    """Per side and true rate level + offset: whole searches (``SIDES``) against the exact table."""
    out = []
    for side, (pred, count, others) in SIDES.items():
        plan = choose(side, clip(pred[count]), level, confidence, 250)
        for off in offsets:
            p = level + off
            truth = {**others, count: p}
            cand = count if side == MEETS else count + 1
            hits = 0
            for _ in range(searches):
                step, _ = simulate_search(pred, truth, rng, batch, level=level, confidence=confidence)
                hits += step.conclusive and step.candidate == cand
            oc = plan.operating(p)
            exact = oc.meets if side == MEETS else oc.below
            lo, hi = cp_interval(hits, searches, agree)
            wrong = p < level if side == MEETS else p >= level
            out.append(
                SideCheck(
                    side, p, wrong, searches, hits, hits / searches, lo, hi, exact, (1 - confidence) / 2
                )
            )
    return out
