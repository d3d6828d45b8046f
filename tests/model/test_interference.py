"""Runs in flight from a log's wall-clock times, and the pilot's interference estimate."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
from scipy import stats

from workerlab.analysis.overlap import overlap, runs_at_once
from workerlab.model.interference import TOLERANCE, estimate, matched_shift, with_costs
from workerlab.model.model import Model


def spans_log(spans: dict[str, tuple[int, float, float]]) -> pd.DataFrame:
    """A minimal log: per run (workers, wall-clock start s, duration s), a row at t=0 and one at the end."""
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for run, (workers, start, dur) in spans.items():
        for t in (0.0, dur):
            rows.append(
                {
                    "run_id": run,
                    "n_workers": workers,
                    "t": t,
                    "timestamp": t0 + pd.to_timedelta(start + t, unit="s"),
                }
            )
    return pd.DataFrame(rows)


def test_runs_in_flight_come_from_the_wall_clock_spans():
    df = spans_log({"a": (3, 0, 10), "b": (3, 5, 10), "c": (2, 20, 5)})
    o = overlap(df).set_index("run_id")
    assert o.loc["a", "in_flight_mean"] == pytest.approx(1.5)  # b ran through the second half of a
    assert o.loc["b", "in_flight_mean"] == pytest.approx(1.5)
    assert o.loc["c", "in_flight_mean"] == pytest.approx(1.0)
    assert list(o["in_flight_max"]) == [2, 2, 1]
    r = runs_at_once(df)
    assert (r.runs, r.overlapped, r.max) == (3, 2, 2) and not r.alone
    assert r.per_count == {2: (1.0, 1), 3: (1.5, 2)}
    assert "2 of 3 runs shared the machine" in r.text()
    # only some runs summed up, every run counted in flight
    assert runs_at_once(df, {"c"}).alone and runs_at_once(df, {"a"}).max == 2


# no crashes, 150 samples at 0.1 s: 10 workers need 14 intervals (1.4 s), 12 need 12 (1.2 s)
MODEL = Model(interval=0.1, mtbf=0)
COUNTS = [5, 10, 12, 15]


def test_a_shift_sends_only_the_counts_it_moves_across_the_deadline_alone():
    # side by side 0.2 s slower: 10 workers (1.4 s + start-up, ~1.52 s) miss 1.6 s, 12 (~1.28 s) still make it
    alone, side = [(10, 0.05), (10, 0.051)], [(10, 0.20), (10, 0.201)]
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=alone, side_overhead=side, at_once=2)
    assert i.measured and i.shift_s == pytest.approx(0.15)
    assert i.shift_low_s < i.shift_s < i.shift_high_s < 0.16 and i.confidence == 0.95
    assert i.p_alone[10] > 0.99 and i.p_side[10] < 0.01
    assert i.alone == {10}  # 5 is hopeless both ways, 12 and 15 meet it both ways
    assert all(abs(i.p_alone[c] - i.p_side[c]) <= TOLERANCE for c in (5, 12, 15))
    d = i.to_dict()
    assert d["alone"] == [10] and d["at_once"] == 2 and set(d["p_side"]) == {"5", "10", "12", "15"}
    assert "run alone (differ by > 0.01): 10" in i.text()


def test_no_shift_shares_every_count():
    alone, side = [(10, 0.05), (10, 0.06)], [(10, 0.04), (10, 0.05)]
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=alone, side_overhead=side, at_once=2)
    assert i.alone == frozenset() and i.shift_s == pytest.approx(-0.01) and i.shift_low_s < 0 < i.shift_high_s


def test_the_shift_compares_each_count_with_itself_alone():
    """Overhead grows with the count; with no interference at all, a run of 15 side by side against
    a run of 14 alone would read a shift of ~90 ms. Like with like it reads none."""
    alone = [(15, 0.159), (14, 0.068)]
    side = [(15, 0.160), (15, 0.158), (14, 0.070), (14, 0.066)]
    shift, low, high = matched_shift(alone, side)
    assert shift == pytest.approx(0.0, abs=1e-9) and low < 0 < high
    assert max(v for _, v in side) - min(v for _, v in alone) > 0.09  # what max minus min read
    # the interval at its level, exactly: t with the pooled within-count spread (2 degrees of freedom)
    sd = math.sqrt((2 * 0.001**2 + 2 * 0.002**2) / 2)
    half = stats.t.ppf(0.975, 2) * sd * math.sqrt(2 * (2 + 2**2 / 1)) / 4
    assert high == pytest.approx(half) and matched_shift(alone, side, 0.5)[2] < high


@pytest.mark.parametrize(
    "alone, side",
    [
        ([(10, math.nan)], [(10, 0.1)]),  # no run alone reached the target
        ([(12, 0.05)], [(10, 0.1), (10, 0.1)]),  # no count measured both ways
        ([(10, 0.05)], [(10, 0.1)]),  # one run each: no spread to measure
    ],
)
def test_a_pilot_that_cannot_tell_sends_every_count_that_can_meet_it_alone(alone, side):
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=alone, side_overhead=side, at_once=2)
    assert math.isinf(i.shift_high_s) and i.alone == {10, 12, 15}
    assert i.to_dict()["shift_high_s"] is None and "unknown" in i.text()


def test_nothing_measured_one_at_a_time():
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=[(10, 0.05)], side_overhead=[], at_once=1)
    assert not i.measured and i.alone == frozenset() and "not measured" in i.text()


def test_start_up_slower_side_by_side_sends_a_count_alone_even_when_the_overheads_show_no_shift():
    """Whole-run overheads of two or four pilot runs are mostly crash noise; the costs measured each
    way (dozens of start-ups a run) still show what sharing the machine does."""
    slow = dataclasses.replace(MODEL, start=tuple(x + 0.05 for x in MODEL.start))  # 50 ms more a start
    costs = (with_costs(MODEL, MODEL), with_costs(MODEL, slow))
    assert costs[1].mtbf == MODEL.mtbf and costs[1].start != MODEL.start  # only the costs differ
    i = estimate(
        MODEL,
        COUNTS,
        150,
        1.6,
        alone_overhead=[(10, 0.05), (10, 0.06)],
        side_overhead=[(10, 0.04), (10, 0.05)],
        at_once=4,
        cost_models=costs,
    )
    assert abs(i.p_alone[10] - i.p_side[10]) <= TOLERANCE  # the overheads alone would share 10
    a, b = i.p_costs[10]
    assert a > 0.99 and b < a - TOLERANCE and 10 in i.alone
    assert 12 not in i.alone and 15 not in i.alone  # enough slack either way
    assert i.to_dict()["p_costs"]["10"] == [a, b] and "with the costs measured each way" in i.text()
    same = estimate(
        MODEL,
        COUNTS,
        150,
        1.6,
        alone_overhead=[(10, 0.05), (10, 0.05)],
        side_overhead=[(10, 0.05), (10, 0.05)],
        at_once=4,
        cost_models=costs[:1] * 2,
    )
    assert same.alone == frozenset()  # the same costs both ways: nothing to run alone
