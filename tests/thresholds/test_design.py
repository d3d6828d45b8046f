"""The threshold search's plan and stopping rule: pure functions, checked by simulated searches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workerlab.thresholds.design import max_successes, min_successes, next_step, runs_for_candidate
from workerlab.thresholds.verdict import wilson_interval

#: what a model might predict for 150 numbers in 10 s at the 1 s pace (bounds 12, 11, 10, 9, 9 s)
PRED = pd.DataFrame(
    {
        "workers": [12, 13, 14, 15, 16],
        "p_meet": [0.0, 0.0, 0.003, 0.995, 0.9999],
        "bound_s": [12.0, 11.0, 10.0, 9.0, 9.0],
    }
)


def search(truth: dict[int, float], rng: np.random.Generator, batch: int = 8, **kw):
    """One simulated search: real runs replaced by binomial draws at the true success rates."""
    got: dict[int, tuple[int, int]] = {}
    while True:
        step = next_step(PRED, got, deadline=10.0, **kw)
        if step.done:
            return step, got
        assert step.runs and all(r > 0 for r in step.runs.values())
        for w, r in step.runs.items():
            r = min(r, batch)
            k, n = got.get(w, (0, 0))
            got[w] = (k + int(rng.binomial(r, truth[w])), n + r)


def test_success_counts_agree_with_the_wilson_interval():
    assert min_successes(73, 0.95, 0.95) == 73 and min_successes(72, 0.95, 0.95) is None
    for n in (5, 40, 110):
        k = min_successes(n, 0.95, 0.95)
        if k is not None:
            assert wilson_interval(k, n)[0] >= 0.95 > wilson_interval(k - 1, n)[0]
        j = max_successes(n, 0.95, 0.95)
        assert wilson_interval(j, n)[1] < 0.95 <= wilson_interval(j + 1, n)[1]
    assert runs_for_candidate(1.0, 0.95, 0.95) == 73  # all successes: 73 runs
    assert runs_for_candidate(0.995, 0.95, 0.95) > 73  # room for a failure


def test_plan_measures_the_candidate_the_count_below_and_larger_counts_never_hopeless_ones():
    step = next_step(PRED, {}, deadline=10.0)
    assert step.candidate == 15 and step.below == 14 and not step.done
    assert set(step.runs) == {14, 15, 16}  # 12 and 13 cannot meet 10 s (bounds 12 and 11 s)
    assert step.runs[15] == step.design[15] > 73 and step.runs[16] == 5
    # 15 fails twice early: its fixed design can no longer be conclusive, so the candidate moves up
    step = next_step(PRED, {15: (8, 10), 14: (0, 5), 16: (5, 5)}, deadline=10.0)
    assert step.candidate == 16 and step.below == 15


def test_measured_table_as_a_frame_and_a_conclusive_end():
    need = next_step(PRED, {}, deadline=10.0).design[15]
    table = pd.DataFrame({"workers": [14, 15, 16], "successes": [0, need, 5], "runs": [5, need, 5]})
    step = next_step(PRED, table, deadline=10.0)
    assert step.done and step.conclusive and step.candidate == 15 and step.runs == {}
    assert "conclusive" in step.reason


@pytest.mark.slow
def test_false_conclusions_stay_within_the_stated_confidence():
    """True rate 0.93 at the model's candidate: 'conclusive at 0.95' there in at most 5 % of searches."""
    rng = np.random.default_rng(20261127)
    truth = {12: 0.0, 13: 0.0, 14: 0.01, 15: 0.93, 16: 0.999}
    searches = [search(truth, rng) for _ in range(1000)]
    wrong = sum(s.conclusive and s.candidate == 15 for s, _ in searches)
    assert wrong / len(searches) <= 0.05
    # ...and when 15 is ruled out, a conclusive answer is 16 (15 really is below the level)
    assert all(s.candidate == 16 for s, _ in searches if s.conclusive and s.candidate != 15)


@pytest.mark.slow
def test_a_good_candidate_is_found_conclusively_within_the_run_goal():
    rng = np.random.default_rng(7)
    truth = {12: 0.0, 13: 0.0, 14: 0.003, 15: 0.999, 16: 1.0}
    searches = [search(truth, rng) for _ in range(200)]
    conclusive = [s.conclusive and s.candidate == 15 for s, _ in searches]
    runs = [sum(n for _, n in got.values()) for _, got in searches]
    assert np.mean(conclusive) >= 0.9
    assert np.median(runs) <= 170


def test_pilot_counts_are_the_likely_counts_largest_first():
    from workerlab.thresholds.design import pilot_counts

    prior = pd.DataFrame({"workers": [12, 13, 14, 15, 16], "p_meet": [0.0, 0.0, 0.3, 0.99, 1.0]})
    assert pilot_counts(prior, 0.95) == [16, 16, 15, 14]  # candidate 15, the one below and above
    assert pilot_counts(prior, 0.999) == [16, 16, 16, 15]  # 16 only: it and the one below
    none = prior.assign(p_meet=0.0)
    assert pilot_counts(none, 0.95, runs=3) == [16, 16, 15]  # nothing reaches: the largest counts


def test_a_candidate_predicted_just_above_the_level_gets_capped_runs():
    # measured with -lead 1: a 4-run pilot put 17 workers at 0.956, truly ~0.995; uncapped, the plan
    # was 400 runs (the whole budget) and the search ended inconclusive at 383/385
    pred = pd.DataFrame({"workers": [16, 17, 18], "p_meet": [0.0, 0.956, 1.0], "bound_s": [10.0, 9.0, 9.0]})
    step = next_step(pred, {}, deadline=10.0)
    assert step.candidate == 17 and step.design[17] == 150 and min_successes(150, 0.95, 0.95) == 148
    done = next_step(pred, {16: (0, 5), 17: (148, 148), 18: (5, 5)}, deadline=10.0)
    assert done.done and done.conclusive
