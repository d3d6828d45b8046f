"""summary / worker_summary / latencies against hand-built event logs with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logbuilder import LogBuilder, bulk_run, faulty_run, perfect_run, simulated_run, sweep

from workerlab.analysis import runs as analysis
from workerlab.analysis.runs import latencies, summary, worker_summary
from workerlab.log import events

approx = pytest.approx


def row(df: pd.DataFrame, run_id: str | None = None) -> pd.Series:
    s = summary(df)
    return s.iloc[0] if run_id is None else s.set_index("run_id").loc[run_id]


# -- the log builder itself (others reuse it) -------------------------------------------------


def test_builder_makes_schema_correct_logs_in_time_order():
    df = faulty_run().frame()
    assert list(df.columns) == list(events.SCHEMA)
    assert {c: str(d) for c, d in df.dtypes.items()} == {c: str(d) for c, d in events.empty().dtypes.items()}
    assert df["t"].is_monotonic_increasing
    s = df[df["event"] == "sample"]
    assert s["seq"].tolist() == list(range(1, 10))
    assert s["kept"].tolist() == [True] * 8 + [False]
    rl = df[df["worker_id"] == 0]
    assert len(rl) == 1 and rl["pid"].isna().all() and rl["detail"].iloc[0] == "target=8 outcome=reached"


def test_simulated_run_reaches_target_and_has_faults():
    df = simulated_run(8, 40, mtbf=5.0, stall_after={2: 2}, seed=1).frame()
    s = row(df)
    assert s["samples"] == 40 and s["outcome"] == "reached"
    assert s["stalls"] == 1 and s["crashes"] >= 1
    assert s["restarts"] == s["crashes"] + s["stalls"]


# -- summary ------------------------------------------------------------------------------------


def test_summary_of_a_run_with_crash_stall_and_samples_after_target():
    s = row(faulty_run().frame())
    assert s["run_id"] == "faulty"
    assert s["workers"] == 2
    assert s["samples"] == 8
    assert s["target"] == 8
    assert s["outcome"] == "reached"
    assert s["numbers_processed"] == 9
    assert s["elapsed_s"] == approx(5.5)
    assert s["interval_s"] == approx(1.0)
    assert s["lead_s"] == approx(0.45)
    assert s["bound_s"] == approx(3.45)
    assert s["efficiency"] == approx(3.45 / 5.5)
    assert (s["crashes"], s["restarts"], s["stalls"]) == (1, 2, 1)
    assert bool(s["deadline_met"]) is True


def test_summary_columns_and_dtypes_are_explicit():
    s = summary(faulty_run().frame())
    assert list(s.columns) == list(analysis.SUMMARY_DTYPES)
    assert {c: str(d) for c, d in s.dtypes.items()} == {
        c: str(pd.Series([], dtype=d).dtype) for c, d in analysis.SUMMARY_DTYPES.items()
    }
    assert s.index.equals(pd.RangeIndex(1))


def test_deadline_is_a_parameter():
    df = faulty_run().frame()
    assert bool(summary(df, deadline=5.5)["deadline_met"].iloc[0]) is True
    assert bool(summary(df, deadline=5.0)["deadline_met"].iloc[0]) is False


def test_timed_out_run_has_no_elapsed_and_bound_uses_the_target():
    b = LogBuilder(n_workers=2, target=10, run_id="slow")
    for w in (1, 2):
        tc = b.start(w, 0.0)  # connect at 0.06
        b.stream(w, tc, 2, lead=0.2, interval=1.0)  # 0.26, 1.26
    b.stop(1, 30.0)
    b.stop(2, 30.0)
    b.run_stop(30.0, "timeout", message="CollectTimeout: 4 of 10 samples after 30 s")
    s = row(b.frame())
    assert s["outcome"] == "timeout" and s["target"] == 10 and s["samples"] == 4
    assert math.isnan(s["elapsed_s"]) and math.isnan(s["efficiency"])
    assert s["bound_s"] == approx(0.2 + 4 * 1.0)  # ceil(10 / 2) - 1 = 4 rounds after the lead
    assert bool(s["deadline_met"]) is False


def test_without_run_level_row_unkept_samples_prove_the_target_was_reached():
    b = perfect_run(2, 6, extra=1)
    b._records = [r for r in b._records if r[1] != 0]  # drop the run-level row
    s = row(b.frame())
    assert pd.isna(s["target"])
    assert s["outcome"] == "reached"
    assert s["samples"] == 6 and s["numbers_processed"] == 7
    assert s["elapsed_s"] == approx(0.06 + 2.0)
    assert s["bound_s"] == approx(2.0)  # falls back to samples: (ceil(6/2) - 1) * 1


def test_without_run_level_row_and_all_samples_kept_the_outcome_is_unknown():
    b = LogBuilder(n_workers=1, target=5)
    tc = b.start(1)
    b.stream(1, tc, 3)
    s = row(b.frame())
    assert pd.isna(s["outcome"]) and pd.isna(s["target"]) and pd.isna(s["deadline_met"])
    assert math.isnan(s["elapsed_s"])
    assert s["samples"] == 3


def test_sweep_of_two_runs_one_row_each_in_order_of_first_appearance():
    a, b = faulty_run("b-faulty"), perfect_run(4, 20, lead=0.25, run_id="a-perfect")
    s = summary(sweep(a, b))
    assert s["run_id"].tolist() == ["b-faulty", "a-perfect"]
    pd.testing.assert_frame_equal(s.iloc[[0]].reset_index(drop=True), summary(a.frame()))
    pd.testing.assert_frame_equal(s.iloc[[1]].reset_index(drop=True), summary(b.frame()))
    p = s.iloc[1]
    assert p["workers"] == 4 and p["elapsed_s"] == approx(0.06 + 0.25 + 4.0)
    assert p["bound_s"] == approx(0.25 + 4.0) and p["crashes"] == 0


def test_summary_does_not_depend_on_row_order():
    df = sweep(faulty_run("x"), perfect_run(3, 9, run_id="y"))
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    a = summary(df).sort_values("run_id", ignore_index=True)
    b = summary(shuffled).sort_values("run_id", ignore_index=True)
    pd.testing.assert_frame_equal(a, b)


def test_stream_end_starts_a_new_stream_for_the_lead():
    b = LogBuilder(n_workers=1, target=4)
    b.spawn(1, 0.0)
    b.ready(1, 0.05)
    b.connect(1, 0.1)
    b.samples(1, [0.3, 1.3])  # lead 0.2
    b.stream_end(1, 1.31, lines=2)
    b.connect(1, 1.32)
    b.samples(1, [2.02, 3.02])  # lead 0.7
    b.run_stop(3.1)
    lat = latencies(b.frame())
    leads = sorted(lat.loc[lat["kind"] == "connect_to_first", "seconds"])
    assert leads == approx([0.2, 0.7])
    assert row(b.frame())["lead_s"] == approx(0.45)


def test_samples_before_any_connect_have_no_lead():
    b = LogBuilder(n_workers=1, target=2)
    b.spawn(1, 0.0)
    b.ready(1, 0.1)
    b.sample(1, 0.5)  # no connect row: belongs to no stream
    b.connect(1, 0.6)
    b.sample(1, 0.9)
    b.run_stop(1.0)
    lat = latencies(b.frame())
    assert lat.loc[lat["kind"] == "connect_to_first", "seconds"].tolist() == approx([0.3])


def test_empty_log_gives_empty_frames_with_the_schema():
    s = summary(events.empty())
    assert s.empty and list(s.columns) == list(analysis.SUMMARY_DTYPES)
    w = worker_summary(events.empty())
    assert w.empty and list(w.columns) == list(analysis.WORKER_SUMMARY_DTYPES)


def test_not_an_event_log_is_refused():
    with pytest.raises(ValueError, match="not a workerlab event log"):
        summary(pd.DataFrame({"t": [1.0]}))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 16),
    target=st.integers(1, 60),
    lead=st.floats(0.0, 1.0),
    interval=st.floats(0.05, 2.0),
    extra=st.integers(0, 5),
)
def test_perfect_runs_elapsed_is_startup_plus_bound(n, target, lead, interval, extra):
    s = row(perfect_run(n, target, lead=lead, interval=interval, extra=extra).frame())
    rounds = math.ceil(target / n) - 1
    assert s["samples"] == target and s["numbers_processed"] == target + extra
    assert s["elapsed_s"] == approx(0.06 + lead + rounds * interval)
    if rounds:
        assert s["interval_s"] == approx(interval)
    bound = lead + rounds * interval
    assert s["bound_s"] == approx(bound, abs=1e-9)
    assert s["efficiency"] == approx(bound / (0.06 + bound), abs=1e-9)  # bound / elapsed, never the inverse


def test_a_run_ahead_of_its_bound_has_efficiency_above_one():
    """Restarted workers whose first number comes at once (lead 0) beat the bound: not clipped to 1."""
    b = LogBuilder(n_workers=2, target=4, run_id="ahead")
    b.stream(1, b.start(1), 3)  # 0.06, 1.06, 2.06: the interval is 1 s
    b.sample(2, b.start(2))  # 0.06
    for t in (0.3, 0.5):  # two crashes; each new process sends its first number as it connects
        b.sample(2, b.restart_after("crash", 2, t, ready_after=0.03, connect_after=0.03))  # 0.38, 0.58
    b.run_stop(2.1)
    s = row(b.frame())
    assert (s["samples"], s["elapsed_s"], s["bound_s"]) == (4, approx(0.58), approx(1.0))
    assert s["efficiency"] == approx(1.0 / 0.58)


# -- worker_summary -----------------------------------------------------------------------------


def test_worker_summary_counts_per_slot():
    w = worker_summary(faulty_run().frame())
    assert list(w.columns) == list(analysis.WORKER_SUMMARY_DTYPES)
    assert w["worker_id"].tolist() == [1, 2]
    one, two = w.iloc[0], w.iloc[1]
    assert (
        one["samples"],
        one["kept"],
        one["crashes"],
        one["stalls"],
        one["restarts"],
        one["processes"],
    ) == (6, 5, 1, 0, 1, 2)
    assert (
        two["samples"],
        two["kept"],
        two["crashes"],
        two["stalls"],
        two["restarts"],
        two["processes"],
    ) == (3, 3, 0, 1, 1, 2)
    assert (one["first_sample_t"], one["last_sample_t"]) == approx((0.7, 5.7))
    assert (two["first_sample_t"], two["last_sample_t"]) == approx((0.8, 5.5))


def test_worker_summary_lists_slots_that_never_started_and_covers_a_sweep():
    b = LogBuilder(n_workers=3, target=2, run_id="r")
    tc = b.start(1)
    b.stream(1, tc, 2)
    b.run_stop(2.0)
    w = worker_summary(sweep(b, perfect_run(2, 4, run_id="p")))
    assert list(zip(w["run_id"], w["worker_id"])) == [("r", 1), ("r", 2), ("r", 3), ("p", 1), ("p", 2)]
    assert w["samples"].tolist() == [2, 0, 0, 2, 2]
    assert w["processes"].tolist() == [1, 0, 0, 1, 1]
    assert w["first_sample_t"].isna().tolist() == [False, True, True, False, False]


# -- latencies and helpers ------------------------------------------------------------------------


def test_latencies_of_each_kind():
    lat = latencies(faulty_run().frame())
    assert list(lat.columns[:5]) == ["run_id", "n_workers", "worker_id", "kind", "seconds"]
    by = {k: sorted(g["seconds"]) for k, g in lat.groupby("kind", observed=False)}
    assert by["gap"] == approx([1.0] * 5)
    assert by["spawn_to_ready"] == approx([0.1, 0.1, 0.1, 0.2])
    assert by["connect_to_first"] == approx([0.3, 0.4, 0.5, 0.5])
    assert by["restart"] == approx([0.7, 0.9])
    r = lat[lat["kind"] == "restart"].sort_values("seconds")
    assert r["worker_id"].tolist() == [1, 2]
    assert (lat["n_workers"] == 2).all() and (lat["run_id"] == "faulty").all()


def test_a_crash_without_later_sample_gives_no_restart_latency():
    b = perfect_run(2, 4)
    b.crash(1, 100.0)
    lat = latencies(b.frame())
    assert (lat["kind"] == "restart").sum() == 0


def test_processes_are_the_timeline_bars():
    pr = analysis.processes(faulty_run().frame())
    assert pr["pid"].tolist() == [101, 102, 103, 104]
    assert pr["end_event"].tolist() == ["crash", "stall", "stop", "stop"]
    assert pr["worker_id"].tolist() == [1, 2, 1, 2]
    ends = dict(zip(pr["pid"], pr["end"]))
    assert ends == approx({101: 3.0, 102: 4.6, 103: 5.75, 104: 5.75})
    assert dict(zip(pr["pid"], pr["start"])) == approx({101: 0.0, 102: 0.0, 103: 3.02, 104: 4.62})


def test_ideal_curve_reaches_the_target_at_the_bound():
    t, cum = analysis.ideal_curve(4, 10, lead=0.5, interval=1.0)
    assert t.tolist() == approx([0.0, 0.5, 1.5, 2.5])
    assert cum.tolist() == [0, 4, 8, 10]


def test_select_run_defaults_to_the_first_and_rejects_unknown_ids():
    df = sweep(perfect_run(1, 2, run_id="a"), perfect_run(2, 2, run_id="b"))
    rows, rid, n = analysis.select_run(df)
    assert (rid, n) == ("a", 2) and set(rows["run_id"]) == {"a"}
    assert analysis.select_run(df, "b")[0]["n_workers"].iloc[0] == 2
    with pytest.raises(ValueError, match="not in this event log"):
        analysis.select_run(df, "zzz")


def test_large_log_is_summarised_correctly():
    """100k sample rows (16 workers x 6250 at 10 ms): values exact, vectorised paths exercised."""
    n, per, interval = 16, 6250, 0.01
    df = bulk_run(n, per, interval=interval, lead=0.01)
    s = row(df)
    assert s["samples"] == 100_000 and s["numbers_processed"] == 100_000
    assert s["interval_s"] == approx(interval) and s["lead_s"] == approx(0.01)
    assert s["bound_s"] == approx(0.01 + (per - 1) * interval)
    lat = latencies(df)
    assert (lat["kind"] == "gap").sum() == n * (per - 1)
    assert (worker_summary(df)["samples"] == per).all()


def test_the_preparation_api_orders_runs_by_first_appearance_and_rows_stably():
    from workerlab.log import tidy

    df = sweep(perfect_run(2, 4, run_id="b"), perfect_run(3, 6, run_id="a"))
    shuffled = df.iloc[::-1]
    p, run_ids = tidy.prepare(shuffled)
    assert list(run_ids) == ["a", "b"]  # "a" comes first in the reversed frame
    assert p["_run"].is_monotonic_increasing and list(p.index) == list(range(len(p)))
    for code in (0, 1):
        assert p.loc[p["_run"] == code, "t"].is_monotonic_increasing
    assert int(tidy.kept_mask(p).sum()) == 4 + 6
    assert int(tidy.event_mask(p, "crash", "stall").sum()) == 0
    assert tidy.event_mask(p, "spawn").sum() == (p["event"] == "spawn").sum() == 5
