"""One run, one report: the CLI, the plot title and the dashboard say the same words.

Also the run-level row's detail: written by ``events.run_stop_detail`` and read back by
``events.parse_run_stop`` (the only parser), whatever the message holds.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logbuilder import LogBuilder, faulty_run, perfect_run, sweep

import workerlab as wl
from workerlab import plots
from workerlab.analysis import report
from workerlab.analysis import runs as analysis
from workerlab.cli import output as cli_format
from workerlab.log import events


def shown(html_value: str) -> str:
    """What the HTML shows, without its tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_value)).split())


def timed_out() -> LogBuilder:
    b = LogBuilder(n_workers=2, target=10, run_id="slow")
    b.start(1, t=0.0)
    b.start(2, t=0.0)
    b.samples(1, [0.5, 1.5])
    b.crash(2, 0.9)
    b.stop(1, 2.0)
    b.run_stop(2.1, "timeout", message="timed out after 2 s; 2 of 10 samples, x=1")
    return b


CASES = {
    "reached": lambda: faulty_run().frame(),
    "missed": lambda: perfect_run(3, 30, interval=1.0).frame(),  # 9 s: misses a 5 s deadline
    "timeout": lambda: timed_out().frame(),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_row_gives_the_same_words_in_cli_plot_and_dashboard(case):
    df, deadline = CASES[case](), 5.0
    row = analysis.summary(df, deadline=deadline).iloc[0]
    headline = report.headline(row, deadline=deadline)
    lines = report.details(row, deadline=deadline)

    text = cli_format.format_summary(cli_format.summary_record(df, deadline))  # the JSON record: NA is None
    title = plots.plot_run(df, deadline=deadline)._suptitle.get_text()
    page = shown(report.summary_html(df, deadline=deadline))

    assert text.splitlines()[0] == f"run {row['run_id']}: {headline}"
    assert title.splitlines()[1] == headline
    assert page.startswith(headline)
    for key, value in lines:
        assert re.search(rf"^  {re.escape(key)} +{re.escape(value)}$", text, re.M), (key, value)
        assert f"{key} {value}" in page
    total = dict(lines)["total time"]
    assert f"total time {total}" in title


def test_the_words_follow_the_outcome():
    df = timed_out().frame()
    row = analysis.summary(df).iloc[0]
    assert report.headline(row, deadline=10.0) == (
        "2 samples from 2 workers — target of 10 not reached (timeout) · 2 numbers processed"
        " · 1 crash · 0 restarts · 0 stalls"
    )
    assert dict(report.details(row, deadline=10.0))["deadline 10 s"] == "missed"
    met = analysis.summary(perfect_run(3, 30, interval=1.0).frame(), deadline=10.0).iloc[0]
    missed = analysis.summary(perfect_run(3, 30, interval=1.0).frame(), deadline=5.0).iloc[0]
    assert "(deadline 10 s met)" in report.headline(met, deadline=10.0)
    assert "(deadline 5 s missed)" in report.headline(missed, deadline=5.0)


def test_a_log_without_run_level_row_says_the_outcome_is_unknown():
    df = perfect_run(2, 4).frame()
    live = df[~((df.event == "stop") & (df.worker_id == 0))]
    row = analysis.summary(live).iloc[0]
    assert "not reached (outcome unknown)" in report.headline(row, deadline=10.0)
    assert dict(report.details(row, deadline=10.0))["deadline 10 s"] == "n/a"


@pytest.mark.parametrize(
    "x, words", [(9.087, "9.09 s"), (0.35, "350 ms"), (0.0015, "1.5 ms"), (4e-5, "40 µs"), (None, "n/a")]
)
def test_durations_read_in_the_unit_that_suits_them(x, words):
    assert report.seconds(x) == words
    assert report.seconds(float("nan")) == "n/a"


# -- the run-level row's detail ----------------------------------------------------------------

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
    outcome=st.sampled_from(("reached", "timeout", "failed", "stopped", "cancelled")),
    message=st.text(),
    t0=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
)
def test_any_message_round_trips(target, outcome, message, t0):
    stop = events.parse_run_stop(events.run_stop_detail(target, outcome, message, t0=t0))
    assert stop is not None and stop[:3] == (target, outcome, message)
    assert (stop.t0 is None) if t0 is None else stop.t0 == pytest.approx(t0, abs=1e-6)


def test_t0_is_written_before_the_message_and_a_message_cannot_fake_it():
    detail = events.run_stop_detail(4, "failed", "worker said t0=5", t0=1234.5)
    assert detail == "target=4 outcome=failed t0=1234.500000; worker said t0=5"
    assert events.parse_run_stop(detail).t0 == 1234.5
    assert events.parse_run_stop("target=4 outcome=failed; worker said t0=5").t0 is None


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


def test_the_run_level_row_is_named_once_and_run_stops_reads_its_t0():
    b = LogBuilder(n_workers=1, target=2, run_id="t")
    tc = b.start(1)
    b.stream(1, tc, 2)
    b.stop(1, 2.5)
    b.run_stop(2.6, t0=1234.25)
    df = b.frame()
    rows = df[events.is_run_row(df)]
    assert rows["worker_id"].tolist() == [events.RUN_ROW] and rows["t"].tolist() == [2.6]
    assert not events.is_worker_row(df)[events.is_run_row(df)].any()
    assert events.is_worker_row(df).sum() == len(df) - 1  # the worker's own stop row is a worker row
    stops = events.run_stops(df)
    assert stops["t0"].tolist() == [1234.25] and stops["outcome"].tolist() == ["reached"]
    record = events.run_stop_record(3, "failed", "boom", t0=1.5)
    assert record[:2] == ("stop", events.RUN_ROW) and record[5] == 0.0
    assert events.parse_run_stop(record[6]) == events.RunStop(3, "failed", "boom", 1.5)


def test_the_details_read_back_are_read_by_the_log_module():
    b = LogBuilder(n_workers=1, target=9, run_id="d")
    tc = b.start(1)
    b.stream(1, tc, 2)
    b.error(1, 2.0, "garbage line: 'line longer than x'")  # not the over-long line: it does not start so
    b.error(1, 2.1, "line longer than 4096 bytes (starts b'rnd=1')")
    b.stall(1, 3.0, "no line for 0.75 s (partial line b'rnd=1' dropped)")
    b.stall(1, 3.1, "no response headers within 2 s")
    b.stall(1, 3.2, "no line for 1e-05 s")
    df = b.frame()
    assert df.loc[events.is_overlong(df), "t"].tolist() == [2.1]
    assert events.stall_limits(df).tolist() == [0.75, 1e-05]


@pytest.mark.parametrize(
    "efficiency, restarts, says",
    [
        (0.995, 3, None),
        (1.0, 0, None),
        (1.04, 3, "a restarted worker's first number comes after the lead"),
        (1.001, 1, "a restarted worker's first number comes after the lead"),
        (1.04, 0, "which assumes one number a worker per measured interval"),
    ],
)
def test_a_run_ahead_of_the_bound_says_why(efficiency, restarts, says):
    row = dict(analysis.summary(faulty_run().frame()).iloc[0]) | {
        "efficiency": efficiency,
        "restarts": restarts,
        "lead_s": 0.0,
        "interval_s": 1.0,
    }
    total = dict(report.details(row, deadline=10.0))["total time"]
    assert f"efficiency {efficiency:.3f}" in total
    assert ("ahead of the bound" in total) == (says is not None)
    if says is not None:
        assert says in total


def test_restarts_explain_a_run_ahead_of_the_bound_only_when_the_lead_is_under_an_interval():
    row = dict(analysis.summary(faulty_run().frame()).iloc[0]) | {"efficiency": 1.02, "restarts": 4}
    slow_lead = dict(report.details(row | {"lead_s": 1.0, "interval_s": 1.0}, deadline=10.0))["total time"]
    assert "restarted" not in slow_lead and "per measured interval" in slow_lead
    quick_lead = dict(report.details(row | {"lead_s": 0.2, "interval_s": 1.0}, deadline=10.0))["total time"]
    assert "restarted worker's first number comes after the lead" in quick_lead
