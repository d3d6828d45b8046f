"""The run-level row's detail: written by ``events.run_stop_detail`` and read back by
``events.parse_run_stop`` (the only parser), whatever the message holds.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logbuilder import LogBuilder, faulty_run, sweep

import workerlab as wl
from workerlab import events


def timed_out() -> LogBuilder:
    b = LogBuilder(n_workers=2, target=10, run_id="slow")
    b.start(1, t=0.0)
    b.start(2, t=0.0)
    b.samples(1, [0.5, 1.5])
    b.crash(2, 0.9)
    b.stop(1, 2.0)
    b.run_stop(2.1, "timeout", message="timed out after 2 s; 2 of 10 samples, x=1")
    return b


TRICKY = [
    "",
    "timed out after 0.5 s; 3 of 10 samples",
    "exit=3; WorkerStartError: target=99 outcome=reached",
    "a=b=c;;; d",
    "two\nlines; and = signs",
]


@pytest.mark.parametrize("message", TRICKY)
def test_run_level_detail_round_trips_through_writer_and_parser(message):
    detail = events.run_stop_detail(150, "failed", message)
    assert events.parse_run_stop(detail) == events.RunStop(150, "failed", message)


@given(
    target=st.integers(min_value=0, max_value=10**9),
    outcome=st.sampled_from(events.OUTCOMES),
    message=st.text(),
)
def test_any_message_round_trips(target, outcome, message):
    stop = events.parse_run_stop(events.run_stop_detail(target, outcome, message))
    assert stop == events.RunStop(target, outcome, message)


def test_a_detail_that_is_not_a_run_level_one_does_not_parse():
    for detail in (None, "", "exit=-15", "outcome=reached target=4", "target=x outcome=reached"):
        assert events.parse_run_stop(detail) is None


def test_the_message_survives_a_whole_log_and_the_summary_reads_the_same_row():
    df = sweep(timed_out(), faulty_run("ok"))
    stops = events.run_stops(df)
    assert stops["run_id"].tolist() == ["slow", "ok"]
    assert stops["message"].tolist() == ["timed out after 2 s; 2 of 10 samples, x=1", ""]
    summ = wl.summary(df)
    assert summ["target"].tolist() == stops["target"].tolist() == [10, 8]
    assert summ["outcome"].tolist() == stops["outcome"].tolist() == ["timeout", "reached"]
