"""The threshold search's plan (``Decider``): a pure state machine, checked by simulated searches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workerlab.thresholds.decider import SCREEN_RUNS, Decider, NextStep
from workerlab.thresholds.exact import BELOW, MEETS

#: what a model might predict for 150 numbers in 10 s at the 1 s pace (bounds 12, 11, 10, 9, 9 s)
PRED = {12: 0.0, 13: 0.0, 14: 0.003, 15: 0.995, 16: 0.9999}


def search(truth: dict[int, float], rng: np.random.Generator, pred=PRED, batch: int = 4, **kw):
    """One simulated search: real runs replaced by draws at the true success rates; each batch's
    runs end in a random order (a decision still counts them in the order they started)."""
    sp = Decider(pred, **kw)
    while True:
        step = sp.step()
        if step.done:
            assert_below_measured(step, sp)
            return step, sp
        assert step.runs and all(r > 0 for r in step.runs.values())
        started = [(w, sp.start(w)) for w, r in step.runs.items() for _ in range(min(r, batch))]
        for j in rng.permutation(len(started)):
            w, i = started[j]
            sp.record(w, i, bool(rng.random() < truth[w]))


def assert_below_measured(step: NextStep, sp: Decider) -> None:
    """Every conclusive answer has its count below measured by its plan and shown below (or is 1)."""
    if step.conclusive:
        assert step.candidate is not None and sp.runs[step.candidate].decision == MEETS
        assert step.below is not None or step.candidate == 1
        if step.below is not None:
            b = sp.runs[step.below]
            assert b.decision == BELOW and b.counted()[1] > 0


def feed(sp: Decider, w: int, results: list[bool]) -> None:
    for met in results:
        sp.record(w, sp.start(w), met)


def test_plan_measures_the_candidate_the_count_below_and_screens_one_larger_count():
    sp = Decider(PRED)
    step = sp.step()
    assert step.candidate == 15 and step.below == 14 and not step.done
    assert set(step.runs) == {14, 15, 16}  # 12 and 13: neither decisive nor larger
    assert step.runs[16] == SCREEN_RUNS
    plan = sp.runs[15].plan
    assert plan is not None and plan.certified() and plan.looks[0] <= 81 and plan.meets[0] == 0
    below = sp.runs[14].plan
    assert below is not None and below.certified() and below.looks[0] <= 5


def test_a_decision_counts_runs_in_start_order():
    sp = Decider(PRED)
    sp.step()
    first = [sp.start(14) for _ in range(3)]
    sp.record(14, first[1], False)
    sp.record(14, first[2], False)  # two failures ended first ...
    assert sp.runs[14].update() is None  # ... but the first-started run has not ended
    sp.record(14, first[0], True)
    assert sp.runs[14].update() == BELOW and sp.runs[14].counted() == (1, 3)


def test_the_candidate_moves_up_when_shown_below_alone_and_keeps_its_plan_as_the_count_below():
    sp = Decider(PRED, alone={15})  # 15's runs run alone from the first (e.g. the pilot said so)
    sp.step()
    plan15 = sp.runs[15].plan
    feed(sp, 16, [True] * SCREEN_RUNS)  # a screen: 16's plan starts from zero runs later
    feed(sp, 15, [False] * 12)
    step = sp.step()
    assert step.candidate == 16 and step.below == 15 and sp.runs[15].decision == BELOW
    assert sp.runs[15].plan is plan15 and sp.runs[15].alone and sp.runs[15].shared is None
    assert sp.runs[16].plan_from == SCREEN_RUNS
    assert step.runs[16] >= sp.runs[16].plan.looks[0] and 15 not in step.runs  # type: ignore[union-attr]
    # the model was shown wrong at 15: 16's plan is chosen to stay powerful at 0.99 too
    assert sp.model_wrong and sp.runs[16].plan.operating(0.99).power >= 0.8  # type: ignore[union-attr]


def test_a_candidate_whose_shared_runs_say_below_is_decided_again_alone_by_a_fresh_plan():
    sp = Decider(PRED)  # no count alone: the candidate's runs may share the machine
    step = sp.step()
    assert 15 not in sp.alone_counts() and 14 in sp.alone_counts()  # the count below runs alone
    shared = sp.runs[15].plan
    feed(sp, 15, [False] * 12)  # shared runs that fail: no evidence of "below"
    step = sp.step()
    again = sp.runs[15]
    assert step.candidate == 15 and again.decision is None and not sp.model_wrong
    assert again.shared is not None and again.shared[0] == 0  # what the shared runs said, kept
    assert again.alone and again.plan_from == 12 and 15 in sp.alone_counts()
    assert again.plan is not None and again.plan.looks == shared.looks  # type: ignore[union-attr]
    assert step.runs[15] == again.plan.looks[0]  # a fresh plan from zero runs
    # the same failures alone decide "below": the candidate moves up, 15 is its count below
    feed(sp, 15, [False] * 12)
    step = sp.step()
    assert step.candidate == 16 and step.below == 15 and sp.runs[15].decision == BELOW and sp.model_wrong
    decided = {d["workers"]: d for d in sp.decisions()}
    assert decided[15]["alone"] and decided[15]["shared"] == again.shared


def test_the_candidate_moves_down_when_the_count_below_meets():
    sp = Decider({**PRED, 14: 0.9})
    sp.step()
    feed(sp, 14, [True] * 150)  # predicted 0.9, truly fine: its below plan says meets (at 124 of 124)
    step = sp.step()
    assert sp.runs[14].decision == MEETS and step.candidate == 14 and step.below == 13
    assert sp.runs[13].aim == BELOW and 13 in step.runs
    cheap = Decider(PRED)  # predicted 0.003: a cheap plan that can only say below; 27/27 is inconclusive
    cheap.step()
    feed(cheap, 14, [True] * 27)
    step = cheap.step()
    assert step.done and not step.conclusive and "14 workers inconclusive" in step.reason


def test_a_conclusive_end_and_an_inconclusive_count_ends_the_search():
    sp = Decider(PRED)
    sp.step()
    n = sp.runs[15].plan.looks[0]  # type: ignore[union-attr]
    feed(sp, 15, [True] * n)
    feed(sp, 14, [False] * 2)
    feed(sp, 16, [True] * SCREEN_RUNS)
    step = sp.step()
    assert step.done and step.conclusive and step.candidate == 15 and step.runs == {}
    assert "conclusive" in step.reason and "15 workers meet it" in step.reason
    sp = Decider({14: 0.0, 15: 0.999, 16: 1.0})
    sp.step()
    feed(sp, 14, [False] * 2)
    feed(sp, 16, [True] * SCREEN_RUNS)
    plan = sp.runs[15].plan
    assert plan is not None and len(plan.looks) > 1 and plan.meets[:2] == (0, 1)
    # one failure goes on to the next look instead of ending the search
    feed(sp, 15, [False] + [True] * (plan.looks[0] - 1))
    step = sp.step()
    assert not step.done and sp.runs[15].decision is None and step.runs[15] == plan.looks[1] - plan.looks[0]
    # a failure more than the last look allows, and fewer than "below" needs: inconclusive
    misses = plan.meets[-1] + 1
    feed(sp, 15, [False] * (misses - 1) + [True] * (plan.max_runs - plan.looks[0] - misses + 1))
    step = sp.step()
    assert step.done and not step.conclusive and step.runs == {} and "inconclusive" in step.reason


def test_a_search_starting_at_the_candidate_is_not_conclusive():
    sp = Decider({15: 0.999, 16: 1.0})
    sp.step()
    n = sp.runs[15].plan.looks[0]  # type: ignore[union-attr]
    feed(sp, 15, [True] * n)
    feed(sp, 16, [True] * SCREEN_RUNS)
    step = sp.step()
    assert step.done and not step.conclusive and "not examined" in step.reason
    one = Decider({1: 0.999, 2: 1.0})  # 1 worker has no count below: conclusive
    one.step()
    feed(one, 1, [True] * n)
    feed(one, 2, [True] * SCREEN_RUNS)
    assert one.step().conclusive


def test_the_run_budget_ends_the_search():
    step, sp = search({12: 0.0, 13: 0.0, 14: 0.0, 15: 1.0, 16: 1.0}, np.random.default_rng(0), max_runs=30)
    assert step.done and not step.conclusive and "budget" in step.reason and sp.total <= 30 + 4


def test_the_power_is_reported_at_the_prediction_and_at_099():
    sp = Decider({14: 0.003, 15: 0.999, 16: 1.0})
    sp.step()
    pw = sp.power()
    cand, below = sp.runs[15].plan, sp.runs[14].plan
    assert cand is not None and below is not None
    assert pw["at_predicted"] == pytest.approx(cand.operating(0.999).meets * below.operating(0.003).below)
    assert pw["at_0.99"] == pytest.approx(cand.operating(0.99).meets * below.operating(0.003).below)
    assert pw["at_0.99"] >= 0.8 * below.operating(0.003).below  # the candidate's plan: power 0.8 at 0.99
    assert cand.looks[0] <= 74  # and a first look no longer than 74 runs


@pytest.mark.slow
def test_false_conclusions_stay_within_the_stated_confidence():
    """True rate 0.93 at the model's candidate: 'conclusive at 0.95' there in at most 2.5 % of searches."""
    rng = np.random.default_rng(20261127)
    truth = {12: 0.0, 13: 0.0, 14: 0.01, 15: 0.93, 16: 0.999}
    searches = [search(truth, rng) for _ in range(1000)]
    wrong = sum(s.conclusive and s.candidate == 15 for s, _ in searches)
    assert wrong / len(searches) <= 0.025
    # ...and when 15 is ruled out, a conclusive answer is 16 (15 really is below the level)
    assert all(s.candidate == 16 for s, _ in searches if s.conclusive and s.candidate != 15)


@pytest.mark.slow
def test_a_good_candidate_is_found_conclusively_within_the_run_goal():
    rng = np.random.default_rng(7)
    truth = {12: 0.0, 13: 0.0, 14: 0.003, 15: 0.999, 16: 1.0}
    searches = [search(truth, rng, pred={**PRED, 15: 0.999}) for _ in range(200)]
    conclusive = [s.conclusive and s.candidate == 15 for s, _ in searches]
    assert np.mean(conclusive) >= 0.9
    assert np.median([sp.total for _, sp in searches]) <= 86  # 90 with the 4-run pilot


def test_a_count_below_predicted_hopeless_is_measured_all_the_same():
    # Model(mtbf=1.5) put 12 workers' bound at 12 s > 11 s, yet p_meet 0.9995: never dropped
    sp = Decider(pd.DataFrame({"workers": [12, 13], "p_meet": [0.0, 0.9995]}))
    step = sp.step()
    assert step.candidate == 13 and step.below == 12 and 12 in step.runs


def test_pilot_counts_are_the_likely_counts_largest_first():
    from workerlab.thresholds.pilot import pilot_counts

    prior = pd.DataFrame({"workers": [12, 13, 14, 15, 16], "p_meet": [0.0, 0.0, 0.3, 0.99, 1.0]})
    assert pilot_counts(prior, 0.95) == [16, 16, 15, 14]  # candidate 15, the one below and above
    assert pilot_counts(prior, 0.999) == [16, 16, 16, 15]  # 16 only: it and the one below
    none = prior.assign(p_meet=0.0)
    assert pilot_counts(none, 0.95, runs=3) == [16, 16, 15]  # nothing reaches: the largest counts


def test_a_candidate_predicted_just_above_the_level_gets_a_capped_plan():
    # measured with -lead 1: a 4-run pilot put 17 workers at 0.956, truly ~0.995
    sp = Decider({16: 0.0, 17: 0.956, 18: 1.0})
    step = sp.step()
    plan = sp.runs[17].plan
    assert step.candidate == 17 and plan is not None and plan.max_runs <= 250 and plan.certified()
    assert plan.operating(0.995).power >= 0.8  # still powerful where the truth was
