"""Event logs round-trip through Parquet exactly; several files load as one frame."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from logbuilder import LogBuilder, perfect_run, simulated_run, sweep

from workerlab.analysis import runs as analysis
from workerlab.log import events, persist


def faulty() -> pd.DataFrame:
    b = LogBuilder(n_workers=2, target=3, run_id="f")
    tc = b.start(1)
    b.stream(1, tc, 2)
    b.error(1, 1.5, "rnd=?x")
    b.restart_after("crash", 1, 1.6, ready_after=0.08)  # spawn 1.62, ready 1.7, connect 1.71
    b.sample(1, 1.72)
    b.sample(1, 2.72)  # the last one is not kept
    b.stop(1, 2.8)
    b.run_stop(2.81, "reached")
    return b.frame()


def test_round_trip_is_exact_including_dtypes_and_timezone(tmp_path):
    df = faulty()
    path = persist.save(df, tmp_path / "run.parquet")
    back = persist.load(path)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    assert str(back["timestamp"].dt.tz) == "UTC"
    assert list(back["event"].cat.categories) == list(events.EVENTS)  # unused categories kept
    assert back["kept"].isna().sum() == df["kept"].isna().sum() > 0  # NA survives in boolean
    assert back["pid"].isna().sum() == 1  # the run-level row


def test_round_trip_of_a_sweep_keeps_runs_and_their_summary(tmp_path):
    df = sweep(perfect_run(2, 6, run_id="a"), simulated_run(4, 20, mtbf=3.0, seed=4, run_id="b"))
    back = persist.load(persist.save(df, tmp_path / "sweep.parquet"))
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    pd.testing.assert_frame_equal(analysis.summary(back), analysis.summary(df))


def test_save_makes_parent_directories_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "runs" / "deep" / "latest.parquet"
    assert persist.save(faulty(), path) == path
    assert [p.name for p in path.parent.iterdir()] == ["latest.parquet"]


def test_save_refuses_a_frame_that_is_not_an_event_log(tmp_path):
    with pytest.raises(ValueError, match="not a workerlab event log"):
        persist.save(pd.DataFrame({"x": [1]}), tmp_path / "x.parquet")


def test_load_several_files_globs_and_directories_into_one_frame(tmp_path):
    a, b, c = (perfect_run(w, 4, run_id=f"r{w}").frame() for w in (1, 2, 3))
    for name, df in (("1.parquet", a), ("2.parquet", b), ("3.parquet", c)):
        persist.save(df, tmp_path / name)
    expected = events.concat([a, b, c])

    pd.testing.assert_frame_equal(
        persist.load(tmp_path / "1.parquet", tmp_path / "2.parquet", tmp_path / "3.parquet"), expected
    )
    pd.testing.assert_frame_equal(persist.load(str(tmp_path / "*.parquet")), expected)
    pd.testing.assert_frame_equal(persist.load(tmp_path), expected)
    # a file named twice (directly and through a glob) is loaded once, at its first mention
    both = persist.load(tmp_path / "3.parquet", str(tmp_path / "*.parquet"))
    assert pd.unique(both["run_id"]).tolist() == ["r3", "r1", "r2"]
    assert analysis.summary(both)["workers"].tolist() == [3, 1, 2]


def test_load_accepts_a_plain_to_parquet_file(tmp_path):
    df = faulty()
    df.to_parquet(tmp_path / "plain.parquet")
    pd.testing.assert_frame_equal(persist.load(tmp_path / "plain.parquet"), df)


def test_a_file_that_is_not_an_event_log_gets_a_clear_error(tmp_path):
    (tmp_path / "notes.parquet").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.parquet is not a workerlab event log: not a Parquet file"):
        persist.load(tmp_path / "notes.parquet")
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(
        ValueError, match=r"other\.parquet is not a workerlab event log: missing columns \['run_id'"
    ):
        persist.load(tmp_path / "other.parquet")


def test_missing_paths_and_empty_globs_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such event log"):
        persist.load(tmp_path / "nope.parquet")
    with pytest.raises(FileNotFoundError, match="no files match"):
        persist.load(str(tmp_path / "*.parquet"))
    with pytest.raises(FileNotFoundError, match="no \\*.parquet files"):
        persist.load(tmp_path)
    with pytest.raises(TypeError):
        persist.load()


def test_same_run_id_in_two_files_warns(tmp_path):
    df = perfect_run(1, 2, run_id="dup").frame()
    persist.save(df, tmp_path / "a.parquet")
    persist.save(df, tmp_path / "b.parquet")
    with pytest.warns(UserWarning, match="'dup' is in both"):
        out = persist.load(tmp_path)
    assert len(out) == 2 * len(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        persist.load(tmp_path / "a.parquet")  # one file: nothing to warn about


def test_public_names_resolve_to_this_module():
    import workerlab as wl

    assert wl.save is persist.save and wl.load is persist.load


def test_a_file_in_the_old_form_loads_and_reads_the_same(tmp_path):
    """Written before t0 was recorded and without workerlab's metadata: still a log, t0 unknown."""
    b = LogBuilder(n_workers=1, target=2, run_id="old")
    tc = b.start(1)
    b.stream(1, tc, 3, interval=0.5)
    b.stop(1, 1.2)
    b.run_stop(1.3)
    df = b.frame()
    assert df.loc[events.is_run_row(df), "detail"].tolist() == ["target=2 outcome=reached"]  # the old form
    path = tmp_path / "old.parquet"
    df.astype({"event": "string"}).to_parquet(path, index=False)  # plain pandas, the event not categorical
    back = persist.load(path)
    pd.testing.assert_frame_equal(back, df)
    stops = events.run_stops(back)
    assert stops[["target", "outcome"]].values.tolist() == [[2, "reached"]] and stops["t0"].isna().all()
    assert analysis.summary(back)["outcome"].tolist() == ["reached"]
