"""Exact error control for one worker count: is its success rate ``p`` at least ``level``?

Each run of a count either meets the deadline or not (Bernoulli(p), runs independent, one fixed
``p`` per count). A ``Plan`` looks at the failures after ``looks[k]`` runs (cumulative) and says
``MEETS`` when they are at most ``meets[k]``, ``BELOW`` when they are at least ``below[k]``, else
goes on; after the last look it is ``INCONCLUSIVE``. Its operating characteristic - P(meets),
P(below), P(inconclusive) and the expected runs for a true rate ``p`` - is computed exactly by
dynamic programming over (look, failures so far): every look counts, early stops included.

Both decisions are monotone in the runs, so P(meets | p) grows with ``p`` and P(below | p)
shrinks: the largest wrong "meets" over p < level, and wrong "below" over p >= level, are their
values at p = level (``Plan.errors()``). The planner's rules come from one-sided Clopper-Pearson
bounds at a per-look error gamma, raised as far as the exact error of the whole plan allows, and
it only returns plans whose two errors are at most (1 - confidence) / 2. See
docs/threshold-statistics.md for what is guaranteed and what is assumed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from workerlab.thresholds.stats import cp_interval

__all__ = [
    "MEETS",
    "BELOW",
    "INCONCLUSIVE",
    "Plan",
    "Operating",
    "candidates",
    "plan_runs",
    "fresh_runs",
    "Inconclusive",
    "inconclusive",
]

MEETS, BELOW, INCONCLUSIVE = "meets", "below", "inconclusive"
#: floating-point slack kept below (1 - confidence) / 2 when a plan's error is certified
TOL = 1e-12
#: the planner also wants power at this rate when the model predicts more (a short pilot's model can be optimistic)
ROBUST_RATE = 0.99


@functools.lru_cache(maxsize=8192)
def _pmf(m: int, q: float) -> np.ndarray:
    """Failures in ``m`` runs with failure rate ``q``: Binomial(m, q) probabilities 0..m."""
    return stats.binom.pmf(np.arange(m + 1), m, q)  # read only: np.convolve copies


# -- plans and their exact operating characteristic -------------------------------------------


@dataclass(frozen=True)
class Operating:
    """Exact operating characteristic of a plan at true success rate ``p``. ``expected_runs``: mean
    runs when each look's runs all run (a whole stage, e.g. in parallel); ``power``: probability of
    the right decision (``meets`` if ``p >= level``, else ``below``)."""

    p: float
    meets: float
    below: float
    inconclusive: float
    expected_runs: float
    power: float

    @property
    def conclusive(self) -> float:
        return self.meets + self.below


@dataclass(frozen=True)
class Plan:
    """Looks after ``looks[k]`` runs (cumulative, increasing); at look k: ``MEETS`` if failures <=
    ``meets[k]`` (-1: never), ``BELOW`` if failures >= ``below[k]`` (> looks[k]: never), else go on;
    ``INCONCLUSIVE`` after the last look. Runs are counted in the order they were *started*, never
    in the order they ended (a slow run is more likely a miss: stopping on the first ones to end
    would favour successes). Fix the plan before the first run; a new plan starts from zero runs.
    """

    level: float
    confidence: float
    looks: tuple[int, ...]
    meets: tuple[int, ...]
    below: tuple[int, ...]

    def __post_init__(self) -> None:
        ok = len(self.looks) == len(self.meets) == len(self.below) > 0
        ok = ok and all(a < b for a, b in zip((0, *self.looks), self.looks))
        ok = ok and all(a < r for a, r in zip(self.meets, self.below))
        if not ok or not 0 < self.level < 1 or not 0 < self.confidence < 1:
            raise ValueError(f"not a plan: {self}")

    @property
    def max_runs(self) -> int:
        return self.looks[-1]

    def _codes(self, start: int, failures: np.ndarray, runs: int, worst: bool) -> np.ndarray:
        """Decision from look ``start`` on, -1 meets / 0 inconclusive / 1 below, for each count of
        ``failures`` after ``runs`` runs if no further run fails (or, ``worst``, every one does)."""
        out = np.zeros(failures.shape, dtype=np.int8)
        open_ = np.ones(failures.shape, dtype=bool)
        for n, a, r in zip(self.looks[start:], self.meets[start:], self.below[start:]):
            f = failures + (n - runs if worst else 0)
            for hit, code in ((open_ & (f <= a), -1), (open_ & (f >= r), 1)):
                out[hit] = code
                open_ &= ~hit
        return out

    def _settled(self, failures: np.ndarray, runs: int) -> np.ndarray:
        """Where all further runs succeeding and all failing give the same decision: its code, else 2."""
        k = int(np.searchsorted(self.looks, runs))
        best, worst = self._codes(k, failures, runs, False), self._codes(k, failures, runs, True)
        return np.where(best == worst, best, 2)

    def decide(self, failures: int, runs: int) -> str | None:
        """The decision after the first ``runs`` runs (in start order) with ``failures``, or None to go
        on. Call it after every run: the first decision is final. It decides before a look when the
        rest of the runs cannot change the decision (all succeeding and all failing lead to the same
        one; the rules are monotone, so then every path does), which leaves every error as it is."""
        if not 0 <= failures <= runs <= self.max_runs:
            raise ValueError(f"{failures} failures in {runs} runs is outside the plan (0..{self.max_runs})")
        code = int(self._settled(np.array([failures]), runs)[0])
        return None if code == 2 else (MEETS, INCONCLUSIVE, BELOW)[code + 1]

    def runs_one_by_one(self, p: float) -> float:
        """Exact expected runs at true rate ``p`` when runs start one at a time and the plan stops
        as soon as ``decide`` decides (``Operating.expected_runs`` runs whole looks)."""
        v = np.array([1.0])  # P(failures = f and undecided) after n runs
        total = 0.0
        for n in range(self.max_runs):
            v = np.where(self._settled(np.arange(n + 1), n) == 2, v, 0.0)
            total += float(v.sum())
            v = np.append(v * p, 0.0) + np.insert(v * (1 - p), 0, 0.0)
        return total

    def operating(self, p: float) -> Operating:
        """Exact P(meets), P(below), P(inconclusive) and expected runs at true success rate ``p``."""
        q = 1.0 - p
        v = np.array([1.0])  # P(failures = f and still going), f < below of the last look
        meets = below = runs = 0.0
        prev = 0
        for n, a, r in zip(self.looks, self.meets, self.below):
            alive = float(v.sum())
            runs += alive * (n - prev)
            v = np.convolve(v, _pmf(n - prev, q)[:r])[: min(r, n + 1)]
            below += max(alive - float(v.sum()), 0.0)
            meets += float(v[: a + 1].sum())
            v[: a + 1] = 0.0
            prev = n
        rest = float(v.sum())
        power = meets if p >= self.level else below
        return Operating(p, meets, below, rest, runs, power)

    def errors(self) -> tuple[float, float]:
        """(largest P(meets) over p < level, largest P(below) over p >= level): both at p = level."""
        oc = self.operating(self.level)
        return oc.meets, oc.below

    def certified(self) -> bool:
        """Each error at most (1 - confidence) / 2 (with ``TOL`` to spare for rounding)."""
        half = (1 - self.confidence) / 2
        return all(e + TOL <= half for e in self.errors())

    def describe(self) -> str:
        """The plan in words, one look per clause."""
        parts = []
        for n, a, r in zip(self.looks, self.meets, self.below):
            say = [f"meets if <= {a} failed"] if a >= 0 else []
            say += [f"below if >= {r} failed"] if r <= n else []
            parts.append(f"at {n} runs: " + (", ".join(say) or "go on"))
        return "; ".join(parts) + "; else inconclusive"


# -- the planner -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _tails(level: float, most: int) -> tuple[np.ndarray, np.ndarray]:
    """At p = level, for n = 0..most runs and f = 0..most failures: P(F <= f) and P(F >= f)."""
    n, f = np.ogrid[: most + 1, : most + 1]
    return stats.binom.cdf(f, n, 1 - level), stats.binom.sf(f - 1, n, 1 - level)


def _looks(aim: str, counts: tuple[int, ...], gamma: float, level: float, most: int) -> list[int]:
    """Per failure count f in ``counts``, the look where f failures decide ``aim`` at one-sided
    error ``gamma``: the fewest runs whose CP lower bound with f failures reaches ``level``
    (``MEETS``), or the most runs whose CP upper bound with f failures stays under it (``BELOW``);
    -1 where there is none within ``most`` runs."""
    cdf, sf = _tails(level, most)
    out = []
    for f in counts:
        if aim == MEETS:
            ok = cdf[:, f] <= gamma
            out.append(int(np.argmax(ok)) if ok.any() else -1)
        else:
            n = min(int((sf[:, f] <= gamma).sum()) - 1, most)
            out.append(n if n >= f else -1)
    return out


def _build(aim: str, counts: tuple[int, ...], gamma: float, level: float, confidence: float, most: int):  # noqa: E501
    """The plan deciding ``aim`` with f failures at the looks of ``_looks``, the other decision at
    the same looks by Bonferroni (each look at error half / looks): None if a look is missing."""
    looks = _looks(aim, counts, gamma, level, most)
    if min(looks) < 1 or any(b <= a for a, b in zip(looks, looks[1:])):
        return None
    cdf, sf = _tails(level, most)
    other = (1 - confidence) / 2 / len(looks)
    meets, below = [], []
    for n, f in zip(looks, counts):
        if aim == MEETS:
            meets.append(f)
            below.append(int(np.argmax(sf[n, : n + 2] <= other)) if sf[n, n] <= other else n + 1)
        else:
            below.append(f)
            meets.append(int((cdf[n, : n + 1] <= other).sum()) - 1)
    return Plan(level, confidence, tuple(looks), tuple(meets), tuple(below))


def _one_side(plan: Plan, aim: str) -> float:
    """Upper bound of the ``aim`` error: the plan without the other decision (which only ever takes
    runs away from ``aim``), computed exactly at p = level."""
    if aim == MEETS:  # stop (as "below") once no later look can say meets: same P(meets)
        last = plan.meets[-1] + 1
        bare = Plan(plan.level, plan.confidence, plan.looks, plan.meets, (last,) * len(plan.looks))
        return bare.operating(plan.level).meets
    bare = Plan(plan.level, plan.confidence, plan.looks, (-1,) * len(plan.looks), plan.below)
    return bare.operating(plan.level).below


@functools.lru_cache(maxsize=16384)
def _fit(aim: str, counts: tuple[int, ...], level: float, confidence: float, most: int) -> Plan | None:
    """The plan with the largest per-look gamma whose ``aim`` error (exact, whole plan) is at most
    half = (1 - confidence) / 2 (bisection on log gamma), then certified on both sides."""
    half = (1 - confidence) / 2

    def ok(gamma: float) -> Plan | None:
        p = _build(aim, counts, gamma, level, confidence, most)
        return p if p is not None and _one_side(p, aim) + TOL <= half else None

    cdf, sf = _tails(level, most)  # below this gamma a look falls outside 1..most runs
    floor = cdf[most, counts[-1]] if aim == MEETS else max(sf[f, f] for f in counts)
    best = ok(half)
    if best is None and floor < half:
        best = ok(floor)
        lo, hi = math.log(floor), math.log(half)
        for _ in range(12 if best is not None else 0):
            mid = (lo + hi) / 2
            got = ok(math.exp(mid))
            lo, hi, best = (mid, hi, got) if got is not None else (lo, mid, best)
    return best if best is not None and best.certified() else None


def _patterns(aim: str, level: float, confidence: float, most: int) -> list[tuple[int, ...]]:
    """Failure counts at the looks: one look at f failures, or K looks at f0, f0 + s, ..."""
    cdf, sf = _tails(level, most)
    half = (1 - confidence) / 2
    if aim == MEETS:  # the most failures a single look within ``most`` runs can allow
        first, limit = 0, max(int((cdf[most, :] <= half).sum()) - 1, 1)
    else:  # the fewest failures that show "below" only with ``most`` runs or more
        first, limit = 1, int(np.argmax(sf[most, :] <= half)) + 1
    starts = sorted({first, first + 1, first + 2, *range(first, limit + 1, 3)})
    out = {(f,) for f in range(first, limit + 1)}
    for f0 in starts:
        for s in (1, 2, 3):
            for k in range(2, 6):
                if f0 + s * (k - 1) <= limit:
                    out.add(tuple(f0 + s * i for i in range(k)))
    return sorted(out)


@functools.lru_cache(maxsize=256)
def candidates(aim: str, level: float, confidence: float, max_runs: int) -> tuple[Plan, ...]:
    """Every plan ``plan_runs`` can choose for ``aim`` at this level, confidence and cap, each
    certified (whatever the prediction: it only picks among these)."""
    if aim not in (MEETS, BELOW) or max_runs < 1 or not (0 < level < 1 and 0 < confidence < 1):
        raise ValueError(f"no plans for aim {aim!r}, level {level}, confidence {confidence}, {max_runs} runs")
    fits = (_fit(aim, c, level, confidence, max_runs) for c in _patterns(aim, level, confidence, max_runs))
    return tuple(dict.fromkeys(p for p in fits if p is not None))


def plan_runs(
    p_pred: float,
    level: float = 0.95,
    confidence: float = 0.95,
    *,
    aim: str = MEETS,
    max_runs: int = 250,
    power: float = 0.8,
    also: tuple[float, ...] | None = None,
    one_by_one: bool = False,
) -> Plan:
    """The plan for a count predicted at ``p_pred``: among ``candidates(aim, ...)``, the one with
    ``power`` (P(right decision)) at ``p_pred`` and at the rates in ``also`` (default: 0.99 when
    aiming at ``MEETS`` above a lower level) with the fewest expected runs at ``p_pred``; where none
    has it, the most powerful. ``aim``: ``MEETS`` for a candidate, ``BELOW`` for the count below it
    (the other decision stops early when the prediction was wrong). Runs are counted by whole looks,
    or with ``one_by_one`` one at a time as ``Plan.decide`` stops them (re-ranking the best 8)."""
    if not 0 < p_pred < 1:
        raise ValueError(f"p_pred must be a success rate strictly between 0 and 1, got {p_pred}")
    if also is None:
        also = (ROBUST_RATE,) if aim == MEETS and p_pred > ROBUST_RATE > level else ()
    ranked = []
    for plan in candidates(aim, level, confidence, max_runs):
        pred = plan.operating(p_pred)
        others = [plan.operating(p) for p in also]
        key = (
            -min(pred.power, power),
            -min([o.power for o in others] + [power]),
            round(pred.expected_runs, 9),
            round(sum(o.expected_runs for o in others), 9),
            plan.max_runs,
            plan.looks,
        )
        ranked.append((key, plan))
    if not ranked:
        raise ValueError(f"no plan of at most {max_runs} runs can decide at level {level:g}")
    ranked.sort(key=lambda kp: kp[0])
    if one_by_one:
        top = [(k[:2], round(p.runs_one_by_one(p_pred), 9), k[2:], p) for k, p in ranked[:8]]
        return min(top, key=lambda t: t[:3])[3]
    return ranked[0][1]


# -- inconclusive, in numbers -------------------------------------------------------------------


def fresh_runs(p: float, level: float, confidence: float, power: float = 0.8) -> int | None:
    """Runs of a fresh single-look plan (exact one-sided CP at (1 - confidence) / 2) that decides
    rightly with probability ``power`` at true rate ``p``; None if none within 20,000."""
    half, n = (1 - confidence) / 2, np.arange(1, 20_001)
    if p > level:  # meets with at most a failures, a the most with P(F <= a | level) <= half
        a = stats.binom.ppf(half, n, 1 - level)
        a = np.where(stats.binom.cdf(a, n, 1 - level) > half, a - 1, a)
        got = np.where(a >= 0, stats.binom.cdf(a, n, 1 - p), 0.0)
    else:  # below with at least r failures, r the fewest with P(F >= r | level) <= half
        r = stats.binom.isf(half, n, 1 - level) + 1
        got = stats.binom.sf(r - 1, n, 1 - p)
    hit = np.flatnonzero(got >= power)
    return int(n[hit[0]]) if hit.size and p != level else None


@dataclass(frozen=True)
class Inconclusive:
    """What an inconclusive count's runs say, and what a fresh plan would cost."""

    successes: int
    runs: int
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    p_pred: float
    fresh_runs: int | None

    def text(self) -> str:
        ci = f"{self.confidence:.0%} CI {self.ci_low:.3f}-{self.ci_high:.3f}"
        head = f"inconclusive: {self.successes}/{self.runs} met ({self.estimate:.3f}, {ci}); "
        if self.fresh_runs is None:
            return head + "at the predicted rate no plan of reasonable size decides."
        return head + (
            f"a fresh plan would need about {self.fresh_runs} runs, all of them new, for an 80% chance of a"
            f" conclusive answer at the predicted rate {self.p_pred:.3f}; adding runs to these would void"
            " the stated confidence."
        )


def inconclusive(successes: int, runs: int, p_pred: float, level: float, confidence: float) -> Inconclusive:
    """The estimate, its CP interval at ``confidence`` and ``fresh_runs`` at ``p_pred``."""
    lo, hi = cp_interval(successes, runs, confidence)
    est, fresh = successes / runs if runs else math.nan, fresh_runs(p_pred, level, confidence)
    return Inconclusive(successes, runs, est, lo, hi, confidence, p_pred, fresh)
