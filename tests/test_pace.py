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
