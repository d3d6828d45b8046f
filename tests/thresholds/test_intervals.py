"""Intervals exact for a multi-look plan: stage-wise ordering, inverted; early stops by their span."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from workerlab.thresholds.exact import BELOW, MEETS, Plan, candidates, plan_runs
from workerlab.thresholds.intervals import endings, outcomes, plan_interval
from workerlab.thresholds.stats import cp_interval

#: small enough to run every sequence of its runs; the fixed-sample interval covers it only 0.772
SMALL = Plan(0.7, 0.8, looks=(4, 8, 12), meets=(0, 1, 2), below=(3, 4, 5))


@functools.cache
def _ends(plan: Plan) -> dict[tuple[int, int], float]:
    """Every sequence of the plan's runs asked ``decide`` after each run: (runs, failures) where it
    stopped -> the number of distinct run prefixes stopping there (2 ** unused runs sequences each)."""
    out: dict[tuple[int, int], float] = {}
    for seq in itertools.product((0, 1), repeat=plan.max_runs):  # 1: the run failed
        f = 0
        for m, x in enumerate(seq, 1):
            f += x
            if plan.decide(f, m) is not None:
                break
        out[(m, f)] = out.get((m, f), 0.0) + 0.5 ** (plan.max_runs - m)
    return out


def _coverage(plan: Plan, ends: dict, p: float, naive: bool = False) -> float:
    """Exact P_p(the interval of where the plan stopped holds p)."""
    got = 0.0
    for (m, f), count in ends.items():
        lo, hi = cp_interval(m - f, m, plan.confidence) if naive else plan_interval(plan, f, m)
        got += count * p ** (m - f) * (1 - p) ** f if lo <= p <= hi else 0.0
    return got


def _boundary(plan: Plan, ends: dict) -> list[float]:
    """Every interval end, and a little on both sides of it (where coverage jumps), and the level."""
    cuts = {x for m, f in ends for x in (*plan_interval(plan, f, m), *cp_interval(m - f, m, plan.confidence))}
    ps = [x + d for x in cuts for d in (-1e-9, 0.0, 1e-9)] + [plan.level + d for d in (-0.005, 0, 0.005)]
    return sorted(p for p in ps if 0 < p < 1)


def test_coverage_at_the_boundaries_is_at_least_the_confidence_where_a_fixed_sample_one_is_not():
    ends = _ends(SMALL)
    assert sum(c * 0.5**m for (m, _), c in ends.items()) == pytest.approx(1.0)  # every sequence ends
    exact = {p: _coverage(SMALL, ends, p) for p in _boundary(SMALL, ends)}
    assert min(exact.values()) >= SMALL.confidence - 1e-12
    naive = min(_coverage(SMALL, ends, p, naive=True) for p in _boundary(SMALL, ends))
    assert naive < SMALL.confidence - 0.02  # Clopper-Pearson on sequentially stopped runs: 0.772
    # the jump at an interval's end: closed intervals, so the end itself is covered
    lo, _ = plan_interval(SMALL, 0, 4)
    assert _coverage(SMALL, ends, lo) > _coverage(SMALL, ends, lo - 1e-9)


def test_endings_agree_with_every_sequence():
    runs, fails, logc, low, high = endings(SMALL)
    ends = _ends(SMALL)
    assert {(int(m), int(f)): float(np.exp(c)) for m, f, c in zip(runs, fails, logc)} == pytest.approx(ends)
    for m, f, lo, hi in zip(runs, fails, low, high):
        assert (lo, hi) == plan_interval(SMALL, int(f), int(m))


@pytest.mark.parametrize(
    "n,a,r,confidence", [(5, -1, 2, 0.95), (20, 0, 4, 0.95), (72, 0, 9, 0.95), (30, 3, 9, 0.8)]
)
def test_one_look_is_clopper_pearson(n, a, r, confidence):
    plan = Plan(0.9, confidence, looks=(n,), meets=(a,), below=(r,))
    for f in range(n + 1):
        assert plan_interval(plan, f, n) == pytest.approx(
            cp_interval(n - f, n, confidence), rel=1e-10, abs=1e-13
        )
    assert plan_interval(plan, 0, n, confidence=0.5) == pytest.approx(cp_interval(n, n, 0.5), rel=1e-10)


PLANS = {
    "candidate 0.999": lambda: plan_runs(0.999),
    "candidate 0.99": lambda: plan_runs(0.99),
    "below 0.74": lambda: plan_runs(0.74, aim=BELOW, one_by_one=True),
    "small": lambda: SMALL,
}


@pytest.mark.parametrize("which", list(PLANS))
def test_monotone_in_failures_and_agreeing_with_the_decision(which):
    plan = PLANS[which]()
    runs, fails, _, low, high = endings(plan)
    for m in np.unique(runs):
        at = np.argsort(fails[runs == m])
        assert np.all(np.diff(low[runs == m][at]) <= 1e-12) and np.all(np.diff(high[runs == m][at]) <= 1e-12)
    space = outcomes(plan)
    assert np.all(np.diff(space.low) <= 1e-12) and np.all(np.diff(space.high) <= 1e-12)  # down the order
    assert np.all(space.low <= space.high)
    if plan.certified():  # each error <= (1 - C) / 2: "meets" lies above the level, "below" under it
        for m, f, lo, hi in zip(runs, fails, low, high):
            said = plan.decide(int(f), int(m))
            assert (said != MEETS or lo >= plan.level) and (said != BELOW or hi <= plan.level)


def test_an_early_stop_spans_every_interval_its_runs_could_have_got():
    plan = Plan(0.95, 0.95, looks=(5, 20), meets=(-1, 0), below=(2, 3))
    assert plan.decide(2, 2) == BELOW  # two failures in two runs: the first look's rule is settled
    lo, hi = plan_interval(plan, 2, 2)
    staged = [plan_interval(plan, 2 + k, 5) for k in range(4)]  # the three runs left: 0-3 failures
    assert lo == min(s[0] for s in staged) and hi == max(s[1] for s in staged)
    assert hi == plan_interval(plan, 2, 5)[1] < plan.level


def test_states_the_plan_cannot_reach_are_refused():
    plan = Plan(0.95, 0.95, looks=(73, 173, 245), meets=(0, 1, 3), below=(74, 174, 22))
    with pytest.raises(ValueError):
        plan_interval(plan, 0, 100)  # none failed in 73 runs: it said "meets" there
    with pytest.raises(ValueError):
        plan_interval(plan, 5, 4)
    assert plan_interval(plan, 1, 100)[0] < plan_interval(plan, 0, 73)[0]


def test_a_meets_at_the_first_look_of_the_default_plan():
    plan = plan_runs(0.999)
    lo, hi = plan_interval(plan, 0, plan.looks[0])
    assert hi == 1.0 and lo == pytest.approx(((1 - plan.confidence) / 2) ** (1 / plan.looks[0]), rel=1e-9)
    assert lo >= plan.level  # p ** n = (1 - C) / 2: as for n of n runs alone, at this first look


def test_every_candidate_at_the_defaults_has_an_interval_at_each_outcome():
    for aim in (MEETS, BELOW):
        for plan in candidates(aim, 0.95, 0.95, 250)[::50]:
            space = outcomes(plan)
            assert np.all((0 <= space.low) & (space.low < space.high) & (space.high <= 1))
            assert space.low[-1] == 0 and space.high[0] == 1
