"""Confidence intervals that are exact for a multi-look plan: its outcomes ordered stage-wise, inverted.

A ``Plan`` (``workerlab.thresholds.exact``) ends at look k with F failures: "meets", "below", or
anything after the last look. A fixed-sample (Clopper-Pearson) interval of its successes and runs
ignores that the plan chose when to stop, and covers less than it says. Here the outcomes are
ordered stage-wise (Armitage; Jennison and Turnbull, *Group Sequential Methods*, 8.4), from the
most in favour of a high success rate to the least:

    "meets" at look 1 (fewest failures first), "meets" at look 2, ..., every outcome of the last
    look (fewest failures first), ..., "below" at look 2, "below" at look 1 (most failures last).

A run that fails instead of succeeding never moves the outcome up this order, so for an outcome o
P_p(an outcome at or above o) rises with p and P_p(at or below o) falls. The interval at confidence
C is [p_L, p_U] with P_{p_L}(at or above o) = (1 - C) / 2 and P_{p_U}(at or below o) = (1 - C) / 2,
computed exactly from the number of run sequences that end at each outcome (dynamic programming
over the looks, as ``Plan.operating``). Each end misses with probability at most (1 - C) / 2 at
every p, so the coverage is at least C. With one look it is the Clopper-Pearson interval. It agrees
with the plan: "meets" has p_L >= level, "below" has p_U <= level (the plan's errors are at most
(1 - C) / 2).

An early stop (``Plan.decide`` before a look, when the rest of the look cannot change the
decision), and a plan cut off before its end, are mapped onto the order by the outcomes they could
still have ended in: the run sequence goes on, so its outcome lies between "every later run fails"
and "every later run succeeds". The interval runs from p_L of the first to p_U of the second: it
holds every interval the sequence could have got, so its coverage is at least C too (a little
wider than a stage-wise interval; at a look it is that interval).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from workerlab.thresholds.exact import Plan

__all__ = ["Outcomes", "outcomes", "plan_interval", "endings"]


@dataclass(frozen=True, eq=False)
class Outcomes:
    """A plan's outcomes in stage-wise order, highest first: look index (0-based), runs, failures,
    log of the number of run sequences ending there, and each outcome's interval ``low``/``high``."""

    look: np.ndarray
    runs: np.ndarray
    failures: np.ndarray
    log_paths: np.ndarray
    low: np.ndarray
    high: np.ndarray
    rank: np.ndarray  # [look, failures] -> position in the order, -1 where no sequence ends

    def prob(self, p: np.ndarray) -> np.ndarray:
        """P_p(each outcome), [len(p), outcomes]."""
        return _prob(self.log_paths, self.runs - self.failures, self.failures, np.asarray(p, float))


def _prob(logc: np.ndarray, s: np.ndarray, f: np.ndarray, p: np.ndarray) -> np.ndarray:
    """exp(logc + s log p + f log(1 - p)), p in (0, 1), broadcast to [len(p), len(logc)]."""
    with np.errstate(divide="ignore"):
        lp, lq = np.log(p)[:, None], np.log1p(-p)[:, None]
    return np.exp(logc + np.where(s > 0, s * lp, 0.0) + np.where(f > 0, f * lq, 0.0))


def _space(plan: Plan) -> tuple[np.ndarray, ...]:
    """(look, runs, failures, log paths) of every outcome reached by some run sequence, stage-wise."""
    v, prev, ends = np.array([1.0]), 0, []  # v: sequences undecided with f failures
    for k, (n, a, r) in enumerate(zip(plan.looks, plan.meets, plan.below)):
        v = np.convolve(v, special.comb(n - prev, np.arange(n - prev + 1)))
        last = k == len(plan.looks) - 1
        stop = np.ones(n + 1, bool) if last else (np.arange(n + 1) <= a) | (np.arange(n + 1) >= r)
        ends.append(np.where(stop, v, 0.0))
        v, prev = np.where(stop, 0.0, v), n
    order = [(k, f) for k, e in enumerate(ends[:-1]) for f in range(plan.meets[k] + 1)]
    order += [(len(ends) - 1, f) for f in range(len(ends[-1]))]
    order += [(k, f) for k in reversed(range(len(ends) - 1)) for f in range(plan.below[k], len(ends[k]))]
    order = [(k, f) for k, f in order if ends[k][f] > 0]
    look = np.array([k for k, _ in order])
    fails = np.array([f for _, f in order])
    paths = np.array([ends[k][f] for k, f in order])
    return look, np.array(plan.looks)[look], fails, np.log(paths)


def _invert(logc: np.ndarray, s: np.ndarray, f: np.ndarray, tail: float, upper: bool) -> np.ndarray:
    """Per outcome o but the first in the order (``upper``) or the last (else): the p in (0, 1)
    where P_p(outcomes at or above o) = tail (``upper``: P_p(at or below o) = tail). Bracketed on a
    grid, then Newton steps on the log of the tail, kept inside the bracket (else bisection)."""
    m = len(logc)
    rows = np.arange(1, m) if upper else np.arange(m - 1)
    keep = (np.triu if upper else np.tril)(np.ones((m, m)))[rows]  # row o: the outcomes its tail sums
    sign = -1.0 if upper else 1.0  # each function, so signed, rises with p
    grid = np.linspace(0, 1, 129)[1:-1]
    below = (sign * (_prob(logc, s, f, grid) @ keep.T - tail) < 0).sum(0)  # grid points under the root
    lo = np.where(below > 0, grid[np.maximum(below - 1, 0)], 0.0)
    hi = np.where(below < len(grid), grid[np.minimum(below, len(grid) - 1)], 1.0)
    x, todo = (lo + hi) / 2, np.arange(len(rows))
    for _ in range(100):
        p = x[todo]
        terms = _prob(logc, s, f, p) * keep[todo]
        total = terms.sum(1)
        val = sign * (np.log(total) - np.log(tail))
        slope = sign * (terms * (s / p[:, None] - f / (1 - p[:, None]))).sum(1) / total
        lo[todo], hi[todo] = np.where(val < 0, p, lo[todo]), np.where(val < 0, hi[todo], p)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = p - val / slope
        step = np.where((step > lo[todo]) & (step < hi[todo]), step, (lo[todo] + hi[todo]) / 2)
        x[todo], todo = step, todo[np.abs(step - p) > 1e-14 * p]
        if not todo.size:
            return np.insert(x, 0 if upper else m - 1, 1.0 if upper else 0.0)
    raise ArithmeticError("interval ends did not converge")  # pragma: no cover


@functools.lru_cache(maxsize=512)
def outcomes(plan: Plan, confidence: float | None = None) -> Outcomes:
    """The plan's outcomes with their intervals at ``confidence`` (default: the plan's own)."""
    tail = (1 - (plan.confidence if confidence is None else confidence)) / 2
    look, runs, fails, logc = _space(plan)
    s = runs - fails
    low, high = np.zeros(len(look)), np.ones(len(look))
    if len(look) > 1:  # the last outcome (every run failed) has low 0, the first (every run met) high 1
        low, high = _invert(logc, s, fails, tail, False), _invert(logc, s, fails, tail, True)
    rank = np.full((len(plan.looks), plan.max_runs + 1), -1)
    rank[look, fails] = np.arange(len(look))
    return Outcomes(look, runs, fails, logc, low, high, rank)


def _reachable(plan: Plan, failures: int, runs: int) -> bool:
    """Whether some run sequence reaches ``failures`` after ``runs`` without the plan deciding at a
    look before (the failures at each look lie between its two rules)."""
    lo, hi, prev = 0, 0, 0
    for n, a, r in zip(plan.looks, plan.meets, plan.below):
        if n >= runs:
            break
        lo, hi, prev = max(lo, a + 1), min(hi + n - prev, r - 1), n
        if lo > hi:
            return False
    return lo <= failures <= hi + runs - prev


def plan_interval(
    plan: Plan, failures: int, runs: int, confidence: float | None = None
) -> tuple[float, float]:
    """The interval for the plan's success rate after ``failures`` in its first ``runs`` runs (in
    start order), exact for the plan (module docstring): at a look, the stage-wise interval of that
    outcome; before a look (an early stop by ``Plan.decide``, or a plan cut off), from the low end
    if every later run fails to the high end if every one succeeds. ``confidence``: the plan's own
    by default. With one look at its end: the Clopper-Pearson interval."""
    if not 0 <= failures <= runs <= plan.max_runs or not _reachable(plan, failures, runs):
        raise ValueError(
            f"{failures} failures in {runs} runs: not a state the plan can reach ({plan.describe()})"
        )
    space = outcomes(plan, confidence)
    f, n = np.array([failures]), np.array([runs])
    (kw, fw), (kb, fb) = (plan.ending(f, n, w)[:2] for w in (True, False))
    return float(space.low[space.rank[kw[0], fw[0]]]), float(space.high[space.rank[kb[0], fb[0]]])


def endings(plan: Plan, confidence: float | None = None) -> tuple[np.ndarray, ...]:
    """Where the plan, asked after every run as ``Plan.decide`` is, can end: (runs, failures, log of
    the number of run sequences ending there, low, high) with ``plan_interval`` at each."""
    space, grid = outcomes(plan, confidence), np.arange(plan.max_runs + 1)
    best, worst = (plan.ending(grid[None, :], grid[:, None], w)[2] for w in (False, True))
    settled = best == worst  # [runs, failures]: the plan has decided
    v = np.array([1.0])  # run sequences undecided with f failures after n runs
    ends: list[tuple[int, int, float]] = []
    for n in grid:
        stop = settled[n, : n + 1] & (v > 0)
        ends += [(int(n), int(f), float(np.log(v[f]))) for f in np.flatnonzero(stop)]
        v = np.where(stop, 0.0, v)
        v = np.append(v, 0.0) + np.insert(v, 0, 0.0)
    runs, fails, logc = (np.array(x) for x in zip(*ends))
    low = space.low[space.rank[plan.ending(fails, runs, True)[:2]]]
    return runs, fails, logc, low, space.high[space.rank[plan.ending(fails, runs)[:2]]]
