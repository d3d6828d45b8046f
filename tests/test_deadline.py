"""A deadline follows the pace, the same everywhere, and a log remembers the one it was run with.

Not given, a deadline is 10 intervals of the pace (``config.paced_deadline``; 10 s at the real
1 s pace and with a foreign binary whose pace is not set). ``collect``, ``sweep`` and
``find_threshold`` record it in each run's run-level row; ``wl.summary``, ``wl.report`` and
``wl.threshold`` judge a log at it unless told another, and a verdict at another says so.
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from helpers import FAST
from logbuilder import perfect_run

import workerlab as wl
from workerlab.batch.spec import BatchSettings, RunSpec
from workerlab.config import DEADLINE, RunOptions, paced_deadline
from workerlab.log import events, persist

# a perfect run of 4 workers at 1 s: its 20th sample arrives at 4.06 s
ELAPSED = 4.06


# -- the rule ---------------------------------------------------------------------------------------


def test_a_deadline_not_given_is_10_intervals_of_the_pace():
    assert paced_deadline(1.0) == DEADLINE == 10.0
    assert paced_deadline(0.05) == 0.5 and paced_deadline(0.03) == 0.3  # rounded, not 0.30000000000000004
    assert RunOptions().deadline() == 10.0 and RunOptions(interval=0.05).deadline() == 0.5
    assert RunOptions(worker_args=["-interval", "0.2"]).deadline() == 2.0
    assert RunOptions(worker_bin="/bin/true").deadline() == 10.0  # a foreign binary: its pace is not set
    assert RunOptions(interval=0.05).deadline(0.3) == 0.3  # given: as given
    with pytest.raises(wl.ConfigError, match="deadline must be > 0 seconds") as info:
        RunOptions().deadline(0)
    assert info.value.param == "deadline"
    assert RunOptions(interval=0.05).config(2, 10).deadline == 0.5


def test_find_threshold_and_sweep_settings_take_the_paced_deadline():
    """Both check their batch's settings by ``BatchSettings.check``: a deadline not given is paced there."""

    def checked(deadline):
        options = RunOptions(interval=0.05)
        return BatchSettings.check(
            range(1, 17), samples=150, deadline=deadline, parallel=None, max_live_workers=64, options=options
        )

    assert checked(None).deadline == 0.5 and checked(2.0).deadline == 2.0
    assert checked(None).config(RunSpec(0, 4, 1, "r", None)).deadline == 0.5  # each run is made with it
    assert inspect.signature(wl.find_threshold).parameters["deadline"].default is None
    assert inspect.signature(wl.sweep).parameters["deadline"].default is None


# -- the log remembers it ----------------------------------------------------------------------------


def test_the_run_level_row_carries_the_deadline_and_old_rows_still_parse():
    detail = events.run_stop_detail(150, "reached", "a; b=c", t0=12.5, deadline=0.30000000000000004)
    assert detail == "target=150 outcome=reached deadline=0.30000000000000004 t0=12.500000; a; b=c"
    assert events.parse_run_stop(detail) == events.RunStop(
        150, "reached", "a; b=c", 12.5, 0.30000000000000004
    )
    assert events.parse_run_stop("target=150 outcome=reached t0=1.0").deadline is None  # written before
    assert events.parse_run_stop("target=2 outcome=failed deadline=inf").deadline == float("inf")
    assert events.parse_run_stop("target=2 outcome=failed; deadline=3").deadline is None  # a message's


def test_an_old_log_without_a_deadline_loads_and_is_judged_at_10_s(tmp_path):
    b = perfect_run(4, 20, run_id="old")  # no deadline in its run-level row: the form of older files
    path = tmp_path / "old.parquet"
    b.frame().astype({"event": "string"}).to_parquet(path, index=False)
    df = persist.load(path)
    assert events.run_stops(df)["deadline"].isna().all() and events.run_deadlines(df) == []
    s = wl.summary(df).iloc[0]
    assert s["deadline_s"] == DEADLINE and bool(s["deadline_met"])
    assert wl.threshold(df).deadline == DEADLINE and wl.threshold(df).made_at is None


def test_summary_and_report_judge_at_the_recorded_deadline_unless_given():
    df = perfect_run(4, 20, run_id="r", deadline=4.0).frame()
    s = wl.summary(df).iloc[0]
    assert s["elapsed_s"] == pytest.approx(ELAPSED) and s["deadline_s"] == 4.0 and not s["deadline_met"]
    given = wl.summary(df, deadline=5.0).iloc[0]
    assert given["deadline_s"] == 5.0 and bool(given["deadline_met"])
    text = str(wl.report(df))
    assert "(deadline 4 s missed)" in text.splitlines()[0] and "deadline 4 s" in text
    assert "(deadline 5 s met)" in str(wl.report(df, deadline=5.0))
    assert "deadline 4 s" in wl.report(df)._repr_html_()
    two = events.concat([df, perfect_run(2, 20, run_id="s", deadline=30.0).frame()])
    assert str(wl.report(two, run_id="s")).startswith("run s: ") and "\n\nrun s" in str(wl.report(two))


def test_collect_records_its_deadline_in_the_log(tmp_path):
    df = wl.collect(2, 10, interval=FAST, mtbf=0, progress=False)
    assert events.run_deadlines(df) == [10 * FAST] and wl.summary(df)["deadline_s"].tolist() == [10 * FAST]
    given = wl.collect(2, 10, interval=FAST, mtbf=0, deadline=0.05, progress=False)
    path = tmp_path / "run.parquet"
    wl.save(given, path)
    assert wl.summary(wl.load(path))["deadline_s"].tolist() == [0.05]  # the saved file remembers it


# -- a sweep's verdict judges at its deadline ----------------------------------------------------------


def made_with(deadline: float | None, *counts: int) -> pd.DataFrame:
    return events.concat(perfect_run(w, 20, run_id=f"w{w}", deadline=deadline).frame() for w in counts)


def test_threshold_judges_a_sweep_at_the_deadline_it_was_run_with():
    df = made_with(4.0, 4, 5)  # 4 workers take 4.06 s, 5 take 3.06 s
    v = wl.threshold(df, level=0.5)
    assert (v.deadline, v.made_at, v.asked, v.workers) == (4.0, 4.0, False, 5)
    assert v.sentence.startswith("5 workers meet 4 s in 1/1 runs") and "as asked" not in v.sentence
    asked = wl.threshold(df, 10.0, level=0.5)
    assert (asked.deadline, asked.made_at, asked.asked, asked.workers) == (10.0, 4.0, True, 4)
    assert asked.sentence.startswith("4 workers meet 10 s (as asked; the runs were made with 4 s) in 1/1")
    assert asked.to_dict()["made_at"] == 4.0
    none = wl.threshold(df, 1.0, level=0.5)
    assert none.workers is None and "meets 1 s (as asked; the runs were made with 4 s)" in none.sentence


def test_runs_made_with_different_deadlines_need_one_asked_for():
    df = events.concat([made_with(4.0, 4), made_with(30.0, 5)])
    with pytest.raises(wl.ConfigError, match=r"different deadlines \(4 s, 30 s\); pass deadline="):
        wl.threshold(df)
    assert wl.threshold(df, 5.0).deadline == 5.0


def test_a_compressed_sweep_is_judged_at_its_own_deadline():
    df = wl.sweep([2], 1, 10, interval=FAST, mtbf=0, deadline=0.4, progress=False)
    v = wl.threshold(df)
    assert v.deadline == 0.4 and v.made_at == 0.4 and wl.summary(df)["deadline_s"].tolist() == [0.4]
    paced = wl.sweep([2], 1, 10, interval=FAST, mtbf=0, progress=False)
    assert wl.threshold(paced).deadline == pytest.approx(10 * FAST)


def test_the_dashboard_deadline_follows_the_pace_by_the_same_rule():
    from workerlab.ui.dashboard import Dashboard

    d = Dashboard(interval=0.03)
    assert d.deadline.value == paced_deadline(0.03) == 0.3
    d._settings.interval.value = 0.05
    assert d.deadline.value == 0.5
    d.close()
