"""Exact error control for one worker count: is its success rate ``p`` at least ``level``?

Each run of a count either meets the deadline or not (Bernoulli(p), runs independent, one fixed
``p`` per count). A ``Plan`` looks at the failures after ``looks[k]`` runs (cumulative) and says
``MEETS`` when they are at most ``meets[k]``, ``BELOW`` when they are at least ``below[k]``, else
goes on; after the last look it is ``INCONCLUSIVE``. Its operating characteristic - P(meets),
P(below), P(inconclusive) and the expected runs for a true rate ``p`` - is computed exactly by
dynamic programming over (look, failures so far): every look counts, early stops included.

Both decisions are monotone in the runs, so P(meets | p) grows with ``p`` and P(below | p)
shrinks: the largest wrong "meets" over p < level, and wrong "below" over p >= level, are their
values at p = level (``Plan.errors()``). The planner spends each side's error (1 - confidence) / 2
over the looks, unequally where that buys power (most of it on the first look, say), exactly by
the same dynamic program, and returns only plans certified on both sides. Intervals exact for a
plan: ``workerlab.thresholds.intervals``. See docs/threshold-statistics.md for what is assumed.
"""

from __future__ import annotations

import functools
import itertools
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

    def ending(self, failures: np.ndarray, runs: np.ndarray, worst: bool = False) -> tuple[np.ndarray, ...]:
        """(look index, failures, decision -1 meets / 0 inconclusive / 1 below) where the plan ends
        from ``failures`` after ``runs`` runs (broadcast) if every later run succeeds (or, ``worst``,
        fails): the first look from ``runs`` on whose rule decides, else the last look."""
        look = np.full(np.broadcast(failures, runs).shape, len(self.looks) - 1)
        f, code = failures + (self.max_runs - runs if worst else 0) + 0 * look, np.zeros_like(look)
        for k, (n, a, r) in enumerate(zip(self.looks, self.meets, self.below)):
            fk = failures + (n - runs if worst else 0)
            for hit, c in ((fk <= a, -1), (fk >= r, 1)):
                hit = hit & (runs <= n) & (code == 0)
                look, f, code = np.where(hit, k, look), np.where(hit, fk, f), np.where(hit, c, code)
        return look, f, code

    def _settled(self, failures: np.ndarray, runs: np.ndarray) -> np.ndarray:
        """Where all further runs succeeding and all failing give the same decision: its code, else 2."""
        best, worst = self.ending(failures, runs)[2], self.ending(failures, runs, True)[2]
        return np.where(best == worst, best, 2)

    def decide(self, failures: int, runs: int) -> str | None:
        """The decision after the first ``runs`` runs (in start order) with ``failures``, or None to go
        on. Call it after every run: the first decision is final. It decides before a look when the
        rest of the runs cannot change the decision (all succeeding and all failing lead to the same
        one; the rules are monotone, so then every path does), which leaves every error as it is."""
        if not 0 <= failures <= runs <= self.max_runs:
            raise ValueError(f"{failures} failures in {runs} runs is outside the plan (0..{self.max_runs})")
        code = int(_settled_table(self)[runs, failures])
        return None if code == 2 else (MEETS, INCONCLUSIVE, BELOW)[code + 1]

    def runs_one_by_one(self, p: float) -> float:
        """Exact expected runs at true rate ``p`` when runs start one at a time and the plan stops
        as soon as ``decide`` decides (``Operating.expected_runs`` runs whole looks)."""
        runs = np.arange(self.max_runs + 1)
        going = self._settled(runs[None, :], runs[:, None]) == 2  # [runs, failures]: undecided
        v = np.zeros(self.max_runs + 2)  # P(failures = f and undecided) after n runs (f <= n)
        v[0], total, q = 1.0, 0.0, 1 - p
        for n in range(self.max_runs):  # in place: the planner asks this of ~100 plans per choice
            now = v[: n + 1]
            now *= going[n, : n + 1]
            total += float(now.sum())
            fail = now * q
            now *= p
            v[1 : n + 2] += fail
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


@functools.lru_cache(maxsize=256)
def _settled_table(plan: Plan) -> np.ndarray:
    """``Plan._settled`` for every (runs, failures) of the plan at once, [runs, failures], as int8:
    ``decide`` is asked after every run of a search (and of every simulated one), so it looks up."""
    grid = np.arange(plan.max_runs + 1)
    return plan._settled(grid[None, :], grid[:, None]).astype(np.int8)


# -- the planner -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _tails(level: float, most: int) -> tuple[np.ndarray, np.ndarray]:
    """At p = level, for n = 0..most runs and f = 0..most failures: P(F <= f) and P(F >= f)."""
    n, f = np.ogrid[: most + 1, : most + 1]
    return stats.binom.cdf(f, n, 1 - level), stats.binom.sf(f - 1, n, 1 - level)


#: the share of the aim's error (1 - confidence) / 2 a plan's first look may spend, all of it and
#: down: most of it on the first look buys power at later looks for a few runs more at the first
FIRST_SHARES = (1.0, 0.98, 0.95, 0.92, 0.88, 0.82, 0.75, 0.65, 0.5, 0.35, 0.2)
#: the rest is spent over looks 2..K: cumulatively ((k - 1) / (K - 1)) ** spread of it by look k
SPREADS = (0.5, 1.0, 2.0)


def _spend(
    aim: str, counts: tuple[int, ...], first: float, spread: float, level: float, confidence: float, most: int
) -> Plan | None:
    """The plan deciding ``aim`` with ``counts[k]`` failures at look k, spending the aim's error at
    p = level exactly: up to ``first`` x half by the first look (half = (1 - confidence) / 2), by
    look k that plus the rest x ((k - 1) / (K - 1)) ** ``spread``. ``MEETS``: each look at the fewest
    runs within it (more runs, less error); ``BELOW``: at the most. The other decision is left out
    here, which can only overstate the aim's error, then added by ``_other_side``. None if a look
    does not fit within ``most`` runs."""
    cdf, sf = _tails(level, most)
    half = (1 - confidence) / 2
    top = counts[-1] + 1 if aim == MEETS else counts[-1]  # failures that can still decide ``aim``
    j, v = np.arange(top), np.eye(1, top)[0]  # at p = level: P(failures = j, undecided)
    spent, start, prev, looks = 0.0, 0.0, 0, []
    lo, hi = 0, 1  # v is 0 outside failures lo..hi-1 (those decided, and those not reached yet)
    for k, t in enumerate(counts):
        m = np.arange(1, most - prev + 1)[:, None]  # the runs this look may add
        if aim == MEETS:  # P(failures <= t after m more runs): from j <= t only
            s = slice(lo, t + 1)
            err = spent + cdf[m, t - j[s]] @ v[s]
        else:  # P(failures >= t after m more runs)
            s = slice(0, hi)
            err = spent + sf[m, np.clip(t - j[s], 0, None)] @ v[s]
        goal = half * first if k == 0 else start + (half - start) * (k / (len(counts) - 1)) ** spread
        hit = np.flatnonzero((err + TOL <= goal) & ((prev + m[:, 0] >= t) | (aim == MEETS)))
        if not hit.size:
            return None
        i = int(hit[0] if aim == MEETS else hit[-1])
        n, spent = prev + i + 1, float(err[i])
        start = spent if k == 0 else start
        v = np.convolve(v, _pmf(n - prev, 1 - level))[:top]
        v[(j <= t) if aim == MEETS else (j >= t)] = 0.0
        lo, hi = (t + 1, top) if aim == MEETS else (0, t)
        looks.append(n)
        prev = n
    return Plan(level, confidence, tuple(looks), *_other_side(aim, counts, tuple(looks), level, half))


def _other_side(
    aim: str, counts: tuple[int, ...], looks: tuple[int, ...], level: float, half: float
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(meets, below) of the plan deciding ``aim`` with ``counts`` failures at ``looks``: the other
    decision at each look as soon as its exact error so far, with every rule before it (p = level),
    stays within half x k / K (spent evenly over the K looks)."""
    v, prev, spent, rules = np.array([1.0]), 0, 0.0, []
    for k, (n, t) in enumerate(zip(looks, counts)):
        v = np.convolve(v, _pmf(n - prev, 1 - level))  # P(failures = f, undecided) after n runs
        goal, prev = half * (k + 1) / len(looks) - TOL, n
        if aim == MEETS:
            v[: t + 1] = 0.0
            ok = np.flatnonzero(spent + np.cumsum(v[::-1])[::-1] <= goal)  # P(failures >= r)
            rules.append((t, max(int(ok[0]), t + 1) if ok.size else n + 1))
            spent, v = spent + float(v[rules[-1][1] :].sum()), v[: rules[-1][1]]
        else:
            v = v[:t]
            ok = np.flatnonzero(spent + np.cumsum(v) <= goal)  # P(failures <= a)
            rules.append((int(ok[-1]) if ok.size else -1, t))
            spent += float(v[: rules[-1][0] + 1].sum())
            v[: rules[-1][0] + 1] = 0.0
    meets, below = zip(*rules)
    return tuple(meets), tuple(below)


def _patterns(aim: str, level: float, confidence: float, most: int) -> list[tuple[int, ...]]:
    """Failure counts at the looks: one look at f failures; 2 or 3 looks from f0 on, each allowing 1
    to 3 failures more than the one before; 4 or 5 looks from f0 on in equal steps of 1 to 3."""
    cdf, sf = _tails(level, most)
    half = (1 - confidence) / 2
    if aim == MEETS:  # the most failures a single look within ``most`` runs can allow
        first, limit = 0, max(int((cdf[most, :] <= half).sum()) - 1, 1)
    else:  # the fewest failures that show "below" only with ``most`` runs or more
        first, limit = 1, int(np.argmax(sf[most, :] <= half)) + 1
    out = {(f,) for f in range(first, limit + 1)}
    steps = [*itertools.product((1, 2, 3), repeat=1), *itertools.product((1, 2, 3), repeat=2)]
    steps += [(s,) * k for s in (1, 2, 3) for k in (3, 4)]
    for f0 in sorted({first, first + 1, first + 2, *range(first, limit + 1, 3)}):
        for step in steps:
            counts = tuple(itertools.accumulate(step, initial=f0))
            if counts[-1] <= limit:
                out.add(counts)
    return sorted(out)


@functools.lru_cache(maxsize=256)
def candidates(aim: str, level: float, confidence: float, max_runs: int) -> tuple[Plan, ...]:
    """Every plan ``plan_runs`` can choose for ``aim`` at this level, confidence and cap, each
    certified (whatever the prediction: it only picks among these)."""
    if aim not in (MEETS, BELOW) or max_runs < 1 or not (0 < level < 1 and 0 < confidence < 1):
        raise ValueError(f"no plans for aim {aim!r}, level {level}, confidence {confidence}, {max_runs} runs")
    plans = (
        _spend(aim, counts, first, spread, level, confidence, max_runs)
        for counts in _patterns(aim, level, confidence, max_runs)
        for first in (FIRST_SHARES if len(counts) > 1 else (1.0,))
        for spread in (SPREADS if len(counts) > 2 else (1.0,))
    )
    return tuple(dict.fromkeys(p for p in plans if p is not None and p.certified()))


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
    or with ``one_by_one`` one at a time as ``Plan.decide`` stops them (re-ranking the best 8 and
    the best of each first look among the most powerful)."""
    if not 0 < p_pred < 1:
        raise ValueError(f"p_pred must be a success rate strictly between 0 and 1, got {p_pred}")
    if also is None:
        also = (ROBUST_RATE,) if aim == MEETS and p_pred > ROBUST_RATE > level else ()
    ranked = []
    for plan in candidates(aim, level, confidence, max_runs):
        pred, others = plan.operating(p_pred), [plan.operating(p) for p in also]
        powers = (-min(pred.power, power), -min([o.power for o in others] + [power]))
        runs = (round(pred.expected_runs, 9), round(sum(o.expected_runs for o in others), 9))
        ranked.append(((*powers, *runs, plan.max_runs, plan.looks), plan))
    if not ranked:
        raise ValueError(f"no plan of at most {max_runs} runs can decide at level {level:g}")
    ranked.sort(key=lambda kp: kp[0])
    if one_by_one:  # deciding early favours longer first looks: also the best plan of each first look
        firsts = {p.looks[0]: (k, p) for k, p in reversed(ranked) if k[:2] == ranked[0][0][:2]}
        pool = dict.fromkeys([*ranked[:8], *sorted(firsts.values(), key=lambda kp: kp[0])])
        top = [(k[:2], round(p.runs_one_by_one(p_pred), 9), k[2:], p) for k, p in pool]
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
