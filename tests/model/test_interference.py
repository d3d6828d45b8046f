"""Runs in flight from a log's wall-clock times, and the pilot's interference estimate."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from workerlab.analysis.overlap import overlap, runs_at_once
from workerlab.model.interference import TOLERANCE, estimate, with_costs
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
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=[0.05, 0.06], side_overhead=[0.2, 0.25], at_once=2)
    assert i.measured and i.shift_s == pytest.approx(0.17) and i.shift_high_s == pytest.approx(0.20)
    assert i.p_alone[10] > 0.99 and i.p_side[10] < 0.01
    assert i.alone == {10}  # 5 is hopeless both ways, 12 and 15 meet it both ways
    assert all(abs(i.p_alone[c] - i.p_side[c]) <= TOLERANCE for c in (5, 12, 15))
    d = i.to_dict()
    assert d["alone"] == [10] and d["at_once"] == 2 and set(d["p_side"]) == {"5", "10", "12", "15"}
    assert "run alone (differ by > 0.01): 10" in i.text()


def test_no_shift_shares_every_count():
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=[0.05, 0.06], side_overhead=[0.04, 0.05], at_once=2)
    assert i.alone == frozenset() and i.shift_high_s == 0.0


def test_a_pilot_half_without_a_reached_run_tells_nothing_so_every_count_that_can_meet_it_runs_alone():
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=[math.nan], side_overhead=[0.1], at_once=2)
    assert math.isinf(i.shift_high_s) and i.alone == {10, 12, 15}
    assert i.to_dict()["shift_high_s"] is None and "unknown" in i.text()


def test_nothing_measured_one_at_a_time():
    i = estimate(MODEL, COUNTS, 150, 1.6, alone_overhead=[0.05], side_overhead=[], at_once=1)
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
        alone_overhead=[0.05, 0.06],
        side_overhead=[0.04, 0.05],
        at_once=4,
        cost_models=costs,
    )
    assert i.shift_high_s == 0.0 and i.p_alone[10] == i.p_side[10]  # the overheads alone would share 10
    a, b = i.p_costs[10]
    assert a > 0.99 and b < a - TOLERANCE and 10 in i.alone
    assert 12 not in i.alone and 15 not in i.alone  # enough slack either way
    assert i.to_dict()["p_costs"]["10"] == [a, b] and "with the costs measured each way" in i.text()
    same = estimate(
        MODEL,
        COUNTS,
        150,
        1.6,
        alone_overhead=[0.05],
        side_overhead=[0.05],
        at_once=4,
        cost_models=costs[:1] * 2,
    )
    assert same.alone == frozenset()  # the same costs both ways: nothing to run alone
