"""The planner spends each side's error unequally over its looks where that buys power."""

from __future__ import annotations

import numpy as np
import pytest

from workerlab.thresholds.exact import BELOW, MEETS, Plan, candidates, plan_runs

HALF = 0.025  # (1 - 0.95) / 2


def _first_look_error(plan: Plan) -> float:
    """P(meets at the first look | level): the error the first look spends."""
    return float(
        Plan(plan.level, plan.confidence, plan.looks[:1], plan.meets[:1], plan.below[:1]).errors()[0]
    )


def test_a_plan_that_spends_most_of_its_error_on_the_first_look():
    # 73 runs meets if none failed; 173 if <= 1; 245 if <= 3 (below if >= 22): the figures to reach
    plan = Plan(0.95, 0.95, looks=(73, 173, 245), meets=(0, 1, 3), below=(74, 174, 22))
    assert plan.errors()[0] == pytest.approx(0.0249954, abs=5e-8) and plan.certified()
    assert plan.operating(0.99).power == pytest.approx(0.819, abs=5e-4)
    assert plan.operating(0.995).power == pytest.approx(0.973, abs=5e-4)
    assert plan.operating(1.0).expected_runs == 73
    assert _first_look_error(plan) > 0.9 * plan.errors()[0]  # 0.95**73: most of it at the first look


def test_the_default_candidate_plan_is_powerful_at_099_and_starts_within_74_runs():
    plan = plan_runs(0.999)  # the default: power 0.8 at the prediction and at 0.99
    assert plan.certified() and plan.meets[0] == 0 and plan.looks[0] <= 74
    assert plan.operating(0.99).power >= 0.8 and plan.operating(0.999).power >= 0.8
    assert plan.operating(1.0).expected_runs == plan.looks[0]  # a count that always meets: the floor
    # one failure in the first look goes on to the next look, it is not inconclusive
    assert plan.decide(1, plan.looks[0]) is None and len(plan.looks) > 1
    assert plan.decide(1, plan.looks[1]) == MEETS
    assert _first_look_error(plan) >= 0.8 * HALF  # unequal: an even split would spend half / looks
    # before: the even split's plan with that power cost 83 runs at its first look
    assert plan.operating(0.999).expected_runs < 83


def test_the_candidates_hold_plans_an_even_split_cannot_reach():
    plans = candidates(MEETS, 0.95, 0.95, 250)
    good = [p for p in plans if p.looks[0] <= 74 and p.operating(0.99).power >= 0.8]
    assert good and all(p.certified() for p in good)
    assert max(p.operating(0.995).power for p in good) >= 0.95
    assert any(p.looks == (72,) for p in plans)  # the cheapest plan is still there, for a sure model


def test_the_plan_for_the_count_below_stays_cheap():
    plan = plan_runs(0.5, aim=BELOW)
    assert plan.looks == (5,) and plan.below == (2,)  # below after 2 failures in the first 5
    sure = plan_runs(0.003, aim=BELOW, one_by_one=True)
    assert sure.decide(2, 2) == BELOW and sure.decide(2, 3) == BELOW
    assert sure.runs_one_by_one(0.003) <= 2.01 and sure.operating(0.003).power >= 0.99
    for p in (0.74, 0.8):  # nearer the level: more looks, each spending part of the error
        plan = plan_runs(p, aim=BELOW, one_by_one=True)
        assert plan.certified() and plan.operating(p).power >= 0.8 and plan.runs_one_by_one(p) <= 21


def test_one_by_one_ranking_looks_past_the_cheapest_whole_looks():
    # by whole looks a 2-run first look is cheapest; run by run, a 5-run look stopped at 2 failures is
    by_looks, by_runs = plan_runs(0.003, aim=BELOW), plan_runs(0.003, aim=BELOW, one_by_one=True)
    assert by_runs.runs_one_by_one(0.003) <= by_looks.runs_one_by_one(0.003)


@pytest.mark.parametrize("aim", [MEETS, BELOW])
def test_each_side_of_every_candidate_is_spent_within_its_error(aim):
    plans = candidates(aim, 0.95, 0.95, 250)
    errors = np.array([p.errors() for p in plans])
    assert errors.max() <= HALF
    aimed = errors[:, 0] if aim == MEETS else errors[:, 1]
    assert np.median(aimed) >= 0.9 * HALF  # the aim's error is spent, not left on the table


def test_ending_is_where_every_later_run_succeeding_or_failing_leads():
    plan = Plan(0.95, 0.95, looks=(73, 173, 245), meets=(0, 1, 3), below=(74, 174, 22))
    look, f, code = plan.ending(np.array([1, 1, 30]), np.array([10, 10, 150]))
    assert look.tolist() == [1, 1, 2] and f.tolist() == [1, 1, 30] and code.tolist() == [-1, -1, 1]
    look, f, code = plan.ending(np.array([1]), np.array([10]), worst=True)
    assert (look[0], f[0], code[0]) == (2, 236, 1)  # 173 runs say below only from 174 failures: 245 does
