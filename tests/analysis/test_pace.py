"""The interval estimator shared by the summary and the model: a slope, not a median gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import FAST
from pytest import approx

import workerlab as wl
from workerlab.analysis import pace


def test_slope_is_not_fooled_by_coalesced_lines_where_the_median_gap_is():
    # the emulator's -split pattern: line 3k+1 a quarter interval late, line 3k+2 held to 3k+3
    t = [i + (0.25 if i % 3 == 1 else 1.0 if i % 3 == 2 else 0.0) for i in range(60)]
    df = pd.DataFrame({"run_id": "r", "pid": 1, "event": ["connect"] + ["sample"] * 60, "t": [-0.01] + t})
    assert np.median(np.diff(t)) == approx(1.25)
    slope, used = pace.line_slope(pace.stream_lines(df))
    assert slope == approx(1.0, rel=1e-3) and used == 59


def test_streams_restart_their_index_at_each_connect():
    df = pd.DataFrame(
        {
            "run_id": "r",
            "pid": [1, 1, 1, 1, 1, 1, 2, 2],
            "event": ["connect", "sample", "sample", "connect", "sample", "sample", "connect", "sample"],
            "t": [0.0, 0.1, 1.1, 2.0, 2.5, 3.5, 0.0, 0.3],
        }
    )
    lines = pace.stream_lines(df)
    assert lines["index"].tolist() == [0, 1, 0, 1, 0]
    assert lines["connect_t"].tolist() == [0.0, 0.0, 2.0, 2.0, 0.0]
    # no stream has three lines: the first lines are used after all
    assert pace.line_slope(lines) == (approx(1.0), 4)


def test_summary_interval_is_the_slope_under_split():
    df = wl.collect(4, 200, interval=FAST, mtbf=0, worker_args=["-split"], progress=False)
    assert wl.summary(df)["interval_s"].iloc[0] == approx(FAST, rel=0.005)


def test_a_stream_ends_at_its_closing_row_and_what_follows_has_no_connect():
    df = pd.DataFrame(
        {
            "run_id": "r",
            "pid": 1,
            "worker_id": 3,
            "event": ["connect", "sample", "sample", "stream_end", "sample", "sample", "connect", "sample"],
            "t": [0.0, 0.1, 1.1, 1.5, 1.6, 2.6, 3.0, 3.2],
        }
    )
    lines = pace.stream_lines(df)
    assert lines["index"].tolist() == [0, 1, 0, 1, 0]
    assert lines["connect_t"].fillna(-1).tolist() == [0.0, 0.0, -1, -1, 3.0]
    assert lines["worker_id"].tolist() == [3] * 5
    leads = pace.leads(lines)  # a stream without its connect has no lead
    assert leads["seconds"].tolist() == approx([0.1, 0.2]) and leads["t"].tolist() == [0.1, 3.2]


def test_the_bound_needs_no_interval_for_one_round():
    assert pace.bound(4, 4, 0.5, float("nan")) == 0.5  # one round: the lead alone
    assert pace.bound(4, 5, 0.5, 2.0) == 2.5  # two rounds
    assert pace.bound(4, 0, 0.5, 2.0) == 0.5  # no round at all is no earlier than the lead
    assert pace.bound(16, 150, 0.0, 1.0) == 9.0  # the challenge: ceil(150 / 16) = 10 rounds
    got = pace.bound(np.array([1, 2, 3, 2]), 3, 0.25, np.array([1.0, 1.0, np.nan, np.nan]))
    assert got[:3].tolist() == [2.25, 1.25, 0.25] and np.isnan(got[3])
    assert wl.Model(interval=1.0, lead=0.25).bound(2, 3) == 1.25
