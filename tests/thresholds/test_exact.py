"""Exact error control for one count: bounds, a plan's operating characteristic, the planner."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from workerlab.thresholds.exact import (
    BELOW,
    INCONCLUSIVE,
    MEETS,
    Plan,
    candidates,
    fresh_runs,
    inconclusive,
    plan_runs,
)
from workerlab.thresholds.stats import cp_interval, cp_lower, cp_upper

SMALL = Plan(0.8, 0.9, looks=(3, 6, 10), meets=(0, 0, 1), below=(2, 3, 4))


def test_one_sided_bounds_are_the_binomial_tails():
    assert cp_lower(72, 72, 0.975) >= 0.95 > cp_lower(71, 71, 0.975)  # 72 of 72: 0.95**72 < 0.025
    assert cp_upper(0, 2, 0.975) < 0.95  # two failures in two runs bound it under 0.95 at 97.5 %
    assert cp_upper(1, 3, 0.975) < 0.95 <= cp_upper(2, 3, 0.975)
    for k, n in ((0, 5), (3, 5), (40, 50), (97, 100)):
        lo, hi = cp_lower(k, n, 0.9), cp_upper(k, n, 0.9)
        assert lo < k / n < hi or k in (0, n)
        if k:
            assert stats.binom.sf(k - 1, n, lo) == pytest.approx(0.1, rel=1e-6)
        if k < n:
            assert stats.binom.cdf(k, n, hi) == pytest.approx(0.1, rel=1e-6)
    assert cp_interval(5, 10, 0.95) == (cp_lower(5, 10, 0.975), cp_upper(5, 10, 0.975))
    assert np.isnan(cp_interval(0, 0, 0.95)).all()


def _enumerate(plan: Plan, p: float) -> dict[str, float]:
    """Every sequence of the plan's runs, weighted: the staged rules, and ``decide`` after each run."""
    out = dict.fromkeys([MEETS, BELOW, INCONCLUSIVE, "runs", "runs_one_by_one"], 0.0)
    for seq in itertools.product((0, 1), repeat=plan.max_runs):  # 1: the run failed
        w = float(np.prod([1 - p if x else p for x in seq]))
        staged = INCONCLUSIVE
        for n, a, r in zip(plan.looks, plan.meets, plan.below):
            f = sum(seq[:n])
            if f <= a or f >= r:
                staged = MEETS if f <= a else BELOW
                break
        out["runs"] += w * n
        for m in range(plan.max_runs + 1):
            said = plan.decide(sum(seq[:m]), m)
            if said is not None:
                break
        assert said == staged, (seq, said, staged)  # deciding early never changes the decision
        assert m <= n
        out[staged] += w
        out["runs_one_by_one"] += w * m
    return out


@pytest.mark.parametrize("p", [0.5, 0.8, 0.93])
def test_dynamic_programming_agrees_with_every_sequence(p):
    oc = SMALL.operating(p)
    got = _enumerate(SMALL, p)
    assert oc.meets == pytest.approx(got[MEETS], abs=1e-12)
    assert oc.below == pytest.approx(got[BELOW], abs=1e-12)
    assert oc.inconclusive == pytest.approx(got[INCONCLUSIVE], abs=1e-12)
    assert oc.expected_runs == pytest.approx(got["runs"], abs=1e-9)
    assert SMALL.runs_one_by_one(p) == pytest.approx(got["runs_one_by_one"], abs=1e-9)
    assert got["runs_one_by_one"] < got["runs"]  # deciding early saves runs
    assert oc.meets + oc.below + oc.inconclusive == pytest.approx(1.0, abs=1e-12)


def test_dynamic_programming_agrees_with_a_seeded_simulation_of_a_planned_plan():
    plan = plan_runs(0.99)
    rng = np.random.default_rng(18)
    for p in (plan.level, 0.97, 0.99):
        sims = 200_000
        fails = np.zeros(sims, dtype=np.int64)
        said = np.full(sims, INCONCLUSIVE, dtype=object)
        open_ = np.ones(sims, dtype=bool)
        prev = 0
        for n, a, r in zip(plan.looks, plan.meets, plan.below):
            fails += rng.binomial(n - prev, 1 - p, sims)
            prev = n
            for hit, what in ((open_ & (fails <= a), MEETS), (open_ & (fails >= r), BELOW)):
                said[hit] = what
                open_ &= ~hit
        oc = plan.operating(p)
        for what, exact in ((MEETS, oc.meets), (BELOW, oc.below)):
            lo, hi = cp_interval(int((said == what).sum()), sims, 0.999)
            assert lo <= exact <= hi, (p, what, lo, exact, hi)


PLANS = [
    (aim, p, level, conf, most)
    for aim, p in [(MEETS, 0.9999), (MEETS, 0.999), (MEETS, 0.99), (MEETS, 0.97), (BELOW, 0.5), (BELOW, 0.85)]
    for level, conf in [(0.95, 0.95), (0.9, 0.8), (0.95, 0.99)]
    for most in (60, 250)
]


@pytest.mark.parametrize("aim,p_pred,level,confidence,most", PLANS)
def test_every_planned_plan_keeps_each_error_at_the_level_and_next_to_it(
    aim, p_pred, level, confidence, most
):
    try:
        plan = plan_runs(p_pred, level, confidence, aim=aim, max_runs=most)
    except ValueError:  # e.g. 60 runs cannot show 0.95 at 99.5 % one-sided (needs 104)
        assert aim == MEETS and most == 60
        return
    half = (1 - confidence) / 2
    assert plan.max_runs <= most and plan.certified()
    wrong_meets = [plan.operating(p).meets for p in np.linspace(level - 0.05, level, 101)]
    wrong_below = [plan.operating(p).below for p in np.linspace(level, min(level + 0.05, 1), 101)]
    assert max(wrong_meets) <= half and max(wrong_below) <= half
    # worst case at the level itself: P(meets) rises with p, P(below) falls
    assert np.all(np.diff(wrong_meets) >= -1e-15) and np.all(np.diff(wrong_below) <= 1e-15)
    assert plan.operating(level - 0.005).meets <= plan.operating(level).meets <= half
    assert plan.operating(level + 0.005).below <= plan.operating(level).below <= half


@pytest.mark.parametrize("aim", [MEETS, BELOW])
@pytest.mark.parametrize("level,confidence,most", [(0.95, 0.95, 90), (0.95, 0.95, 250), (0.8, 0.9, 150)])
def test_every_plan_the_planner_can_choose_is_certified_at_and_beside_the_level(aim, level, confidence, most):
    half = (1 - confidence) / 2
    plans = candidates(aim, level, confidence, most)
    assert len(plans) >= (1 if (aim, most) == (MEETS, 90) else 5)  # in 90 runs: only 72 of 72
    for plan in plans:
        assert plan.max_runs <= most
        assert max(plan.operating(p).meets for p in (level - 0.005, level)) <= half
        assert max(plan.operating(p).below for p in (level, level + 0.005)) <= half
    for p_pred in (0.3, 0.9, 0.97, 0.999):
        assert plan_runs(p_pred, level, confidence, aim=aim, max_runs=most) in plans


def test_ranking_by_runs_one_at_a_time():
    plan = plan_runs(0.74, aim=BELOW, one_by_one=True)
    assert plan.runs_one_by_one(0.74) <= plan_runs(0.74, aim=BELOW).runs_one_by_one(0.74)
    assert plan.operating(0.74).power >= 0.8


def test_plans_the_docs_name():
    # a model sure of its candidate: stop at 72 of 72 when nothing fails
    plan = plan_runs(0.9999, also=())
    assert plan.looks == (72,) and plan.meets == (0,)
    assert plan.decide(0, 72) == MEETS and plan.decide(1, 50) is None
    # predicted 0.999, asked to hold up at 0.99 too: a failure in the first look goes on to more runs
    plan = plan_runs(0.999)
    assert plan.meets[0] == 0 and len(plan.looks) > 1 and plan.decide(1, plan.looks[0]) is None
    assert plan.operating(0.999).power >= 0.8 and plan.operating(0.99).power >= 0.8
    assert plan.operating(0.999).expected_runs < plan.looks[0] + 10
    # the count below, predicted 0.3: two failures in the first two runs say "below" already
    below = plan_runs(0.3, aim=BELOW)
    assert below.decide(2, 2) == BELOW and below.decide(1, 2) is None
    assert below.errors()[1] <= 0.025 and below.operating(0.3).power >= 0.8
    assert plan_runs(0.999) == plan_runs(0.999)  # deterministic


def test_a_plan_rejects_what_it_cannot_be():
    with pytest.raises(ValueError):
        Plan(0.95, 0.95, looks=(10, 5), meets=(0, 0), below=(3, 3))
    with pytest.raises(ValueError):
        Plan(0.95, 0.95, looks=(10,), meets=(3,), below=(3,))
    with pytest.raises(ValueError):
        SMALL.decide(4, 3)
    with pytest.raises(ValueError):
        plan_runs(0.99, aim="maybe")


def _single_look_power(m: int, p: float, level: float) -> float:
    """P(right decision) of the single-look plan of ``m`` runs, by brute force over failures."""
    f = np.arange(m + 1)
    wrong = stats.binom.cdf(f, m, 1 - level) if p > level else stats.binom.sf(f - 1, m, 1 - level)
    ok = f[wrong <= 0.025]
    if not ok.size:
        return 0.0
    if p > level:
        return float(stats.binom.cdf(ok.max(), m, 1 - p))
    return float(stats.binom.sf(ok.min() - 1, m, 1 - p))


def test_inconclusive_says_what_a_fresh_plan_costs():
    for p, level in ((0.99, 0.95), (0.97, 0.95), (0.85, 0.95)):
        n = fresh_runs(p, level, 0.95)
        assert n is not None
        assert (
            _single_look_power(n, p, level) >= 0.8 > max(_single_look_power(m, p, level) for m in range(1, n))
        )
    assert fresh_runs(0.95, 0.95, 0.95) is None
    info = inconclusive(95, 98, 0.97, 0.95, 0.95)
    assert info.estimate == pytest.approx(95 / 98)
    assert (info.ci_low, info.ci_high) == cp_interval(95, 98, 0.95)
    assert info.fresh_runs == fresh_runs(0.97, 0.95, 0.95)
    assert "fresh plan" in info.text() and "would void" in info.text() and "95% CI" in info.text()
