"""Sweeps and the threshold: statistics on hand-built logs, real sweeps at compressed time.

Real sweeps run the emulator at ``FAST`` (50 numbers a second) locally and on a Dask
``LocalCluster``; like every test here they assert counts, outcomes and that no process is
left, never a duration.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import sys
import time
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import FAST, ROOT, one, pid_alive, run_cell_interrupted  # noqa: E402
from logbuilder import LogBuilder, perfect_run  # noqa: E402
from logbuilder import sweep as concat_logs
from test_collector import _script, assert_clean, run_row  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab import cli, collector, procs  # noqa: E402
from workerlab.sweeping import parse_workers  # noqa: E402
from workerlab.verdict import repeats_needed, wilson_interval  # noqa: E402

approx = pytest.approx
Z2 = NormalDist().inv_cdf(0.975) ** 2  # 3.8414588...
SMALL = dict(samples=30, interval=FAST, mtbf=0, progress=False)


# -- statistics on constructed logs -------------------------------------------------------


def test_wilson_interval_against_hand_computed_values():
    # all successes: low = n / (n + z²); none: high = z² / (n + z²)
    assert wilson_interval(5, 5) == approx((5 / (5 + Z2), 1.0))
    assert wilson_interval(5, 5)[0] == approx(0.5655, abs=1e-4)
    assert wilson_interval(0, 3) == approx((0.0, Z2 / (3 + Z2)))
    # 4 of 5: p=0.8, centre (0.8 + z²/10) / (1 + z²/5), half z·sqrt(0.16/5 + z²/100) / (1 + z²/5)
    assert wilson_interval(4, 5) == approx((0.3755, 0.9638), abs=1e-4)
    assert wilson_interval(10, 20) == approx((0.2993, 0.7007), abs=1e-4)  # symmetric around 0.5
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    # the ends are exact, so that a share of 0 or 1 lies inside the interval of 0/n or n/n
    for n in range(1, 200):
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0


def test_repeats_needed_is_the_first_count_whose_low_end_reaches_the_level():
    # all successes: n / (n + z²) >= 0.95  <=>  n >= 19 z² = 72.99
    assert repeats_needed(5, 5, 0.95) == 73
    assert wilson_interval(73, 73)[0] >= 0.95 > wilson_interval(72, 72)[0]
    assert repeats_needed(3, 3, 0.9) == 35  # n >= 9 z² = 34.57
    assert repeats_needed(80, 80, 0.95) == 80  # already conclusive: the current count
    n = repeats_needed(19, 20, 0.95)  # a failure costs more repeats than 73
    assert n > 73
    assert wilson_interval(19 + n - 20, n)[0] >= 0.95 > wilson_interval(19 + n - 21, n - 1)[0]
    assert repeats_needed(5, 5, 1.0) is None


def _perfect(workers: int, rid: str, interval: float = 1.0) -> LogBuilder:
    """Elapsed = connect at 0.06 + (ceil(150 / workers) - 1) * interval; bound without the 0.06."""
    return perfect_run(workers, 150, interval=interval, run_id=rid)


def _failed(workers: int, rid: str) -> LogBuilder:
    b = LogBuilder(n_workers=workers, target=150, run_id=rid)
    b.start(1, 0.0)
    b.samples(1, [0.1, 1.1])
    b.crash(1, 1.5)
    b.run_stop(1.6, "failed", message="WorkerStartError: worker 1 failed 5 times")
    return b


@pytest.fixture(scope="module")
def constructed():
    """14 workers miss 10 s (10.06 s), 15 and 16 meet it (9.06 s), a lucky 13 (interval 0.8: 8.86 s),
    and one 16-worker run that failed."""
    runs = [_perfect(13, "w13-r1", interval=0.8)]
    runs += [_perfect(w, f"w{w}-r{r}") for w in (14, 15, 16) for r in (1, 2, 3)]
    runs += [_failed(16, "w16-r4")]
    return concat_logs(*runs)


def test_threshold_table_and_answer(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df)
    t = th.table.set_index("workers")
    assert list(t.index) == [13, 14, 15, 16]
    assert list(t.runs) == [1, 3, 3, 3] and list(t.successes) == [1, 0, 3, 3]
    assert t.loc[14, "success_rate"] == 0 and t.loc[15, "success_rate"] == 1
    assert t.loc[15, "ci_low"] == approx(3 / (3 + Z2)) and t.loc[14, "ci_high"] == approx(Z2 / (3 + Z2))
    assert t.loc[15, "median_elapsed_s"] == approx(9.06) and t.loc[14, "p95_elapsed_s"] == approx(10.06)
    assert t.loc[13, "median_elapsed_s"] == approx(0.06 + 11 * 0.8)
    assert t.loc[15, "median_bound_s"] == approx(9.0) and t.loc[14, "median_bound_s"] == approx(10.0)
    # 13 met it once, but 14 did not: the threshold is where every larger count qualifies too
    assert th.workers == 15
    assert th.strong is False and th.repeats_needed == 73
    text = str(th)
    assert text.startswith("15 workers meet 10 s in 3/3 runs (95% CI 0.44–1.00): not yet conclusive at 0.95")
    assert "about 73 successful repeats" in text and "70 more" in text and "14 workers: 0/3" in text
    assert "<table" in th._repr_html_() and "15 workers meet" in th._repr_html_()
    d = th.to_dict()
    assert (d["workers"], d["strong"], d["repeats_needed"], d["runs"], d["successes"]) == (
        15,
        False,
        73,
        3,
        3,
    )


def test_threshold_is_strong_when_the_low_end_reaches_the_level(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df, level=0.4)  # 3 / (3 + z²) = 0.4385 >= 0.4
    assert th.workers == 15 and th.strong and th.repeats_needed == 3
    assert "conclusive at 0.4" in str(th) and "not yet" not in str(th)
    th = wl.threshold(df, deadline=11.0)  # now 14 workers (10.06 s) meet it too, and so does 13
    assert th.workers == 13 and th.table.set_index("workers").loc[14, "successes"] == 3


def test_a_failed_run_counts_as_a_miss(constructed):
    th = wl.threshold(constructed)
    row = th.table.set_index("workers").loc[16]
    assert (row.runs, row.successes, row.not_reached) == (4, 3, 1)
    assert row.median_elapsed_s == approx(9.06)  # times are those of runs that reached the target
    assert th.workers is None  # 16 now succeeds in 3/4 < 0.95
    text = str(th)
    assert text.startswith("no worker count tested (13–16) meets 10 s in at least 0.95 of runs")
    assert "1 run did not reach the target" in text


def test_threshold_refuses_bad_input(constructed):
    with pytest.raises(ValueError, match="level"):
        wl.threshold(constructed, level=1.0)
    with pytest.raises(ValueError, match="empty"):
        wl.threshold(constructed.iloc[:0])


def test_parse_workers():
    assert parse_workers("12-16") == [12, 13, 14, 15, 16]
    assert parse_workers("1,4,2") == [1, 2, 4]
    assert parse_workers("8") == [8]
    assert parse_workers("1-3,8,10-11") == [1, 2, 3, 8, 10, 11]
    for bad in ("5-2", "x", "1,,2", "-3"):
        with pytest.raises(ValueError):
            parse_workers(bad)


# -- the plot --------------------------------------------------------------------------------


def test_plot_sweep_shows_runs_median_bound_deadline_rate_and_threshold(constructed):
    df = constructed[constructed.run_id != "w13-r1"]
    fig = plt.figure(figsize=(9, 5))
    ax = fig.add_subplot()
    assert wl.plot_sweep(df, ax=ax, level=0.7) is ax
    th = wl.threshold(df, level=0.7)
    assert th.workers == 15  # 16: 3/4 = 0.75 >= 0.7
    assert len(one(ax, "runs").get_offsets()) == 9  # every run that reached the target is a point
    assert len(one(ax, "not_reached").get_offsets()) == 1
    median = one(ax, "median")
    assert list(median.get_xdata()) == [14, 15, 16]
    assert list(median.get_ydata()) == approx([10.06, 9.06, 9.06])
    assert list(one(ax, "bound").get_ydata()) == approx([10.0, 9.0, 9.0])
    assert one(ax, "deadline").get_ydata()[0] == 10.0
    assert one(ax, "threshold").get_xdata()[0] == 15
    twins = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    assert len(twins) == 1
    twin = twins[0]
    assert list(one(twin, "success").get_ydata()) == approx([0.0, 1.0, 0.75])
    ci = one(twin, "success_ci").get_segments()
    assert [tuple(np.round(s[:, 1], 4)) for s in ci] == [
        tuple(np.round(wilson_interval(k, n), 4)) for k, n in ((0, 3), (3, 3), (3, 4))
    ]
    assert one(twin, "level").get_ydata()[0] == 0.7
    assert "15 workers" in ax.get_title() and "share" in twin.get_ylabel()
    plt.close(fig)


def test_plot_sweep_refuses_an_empty_log():
    from workerlab import events

    with pytest.raises(ValueError, match="empty"):
        wl.plot_sweep(events.empty())
    plt.close("all")


# -- real sweeps at compressed time ------------------------------------------------------------


def assert_sweep(df: pd.DataFrame, counts: list[int], repeats: int, samples: int) -> None:
    """One run_id per run, n_workers right, runs in order, every run reached, nothing left."""
    runs = df.groupby("run_id", sort=False)
    assert runs.ngroups == len(counts) * repeats
    assert list(runs["n_workers"].first()) == [w for w in counts for _ in range(repeats)]
    for _rid, g in runs:
        assert g["n_workers"].nunique() == 1
        assert g.loc[g.worker_id > 0, "worker_id"].max() <= g["n_workers"].iloc[0]
        assert run_row(g).detail == f"target={samples} outcome=reached"
        assert g.kept.sum() == samples
        assert_clean(g)


def test_local_sweep_runs_every_count_and_leaves_nothing():
    df = wl.sweep(range(2, 5), repeats=2, **SMALL)
    assert_sweep(df, [2, 3, 4], 2, 30)
    assert not procs.LIVE
    assert set(wl.threshold(df, deadline=60).table.workers) == {2, 3, 4}


def test_seeded_sweeps_are_reproducible_and_repeats_differ():
    def values(df):
        s = df[df.event == "sample"]
        return {
            (int(w), r.split("-r")[-1], int(wid)): list(g.value.astype(int))[:5]
            for (w, r, wid), g in s.groupby(["n_workers", "run_id", "worker_id"])
        }

    a = values(wl.sweep([2], repeats=2, seed=11, **SMALL))
    b = values(wl.sweep([2], repeats=2, seed=11, **SMALL))
    assert a == b
    assert a[(2, "1", 1)] != a[(2, "2", 1)]


def test_sweep_on_a_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            processes=False,
            n_workers=1,
            threads_per_worker=2,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        df = wl.sweep(range(2, 5), repeats=2, client=client, **SMALL)
    assert_sweep(df, [2, 3, 4], 2, 30)


#: the emulator, except that worker 4 (only the 4-worker run has one) exits with status 3 at once;
#: a shell script, so that its five failed starts end that run long before 3 workers reach the target
FAILS_AT_4 = """#!/bin/sh
case " $* " in *" -workerId 4 "*) exit 3;; esac
exec {python} -I -S {emulator} "$@"
"""


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    from conftest import EMULATOR

    fake = _script(tmp_path, "fails-at-4", FAILS_AT_4.format(python=sys.executable, emulator=str(EMULATOR)))
    with pytest.warns(RuntimeWarning, match="1 of 3 runs did not reach the target"):
        df = wl.sweep(
            [2, 3, 4],
            repeats=1,
            samples=150,
            worker_bin=str(fake),
            progress=False,
            worker_args=["-interval", str(FAST), "-mtbf", "0"],
        )
    outcomes = {int(g.n_workers.iloc[0]): run_row(g).detail for _, g in df.groupby("run_id")}
    assert outcomes[2] == outcomes[3] == "target=150 outcome=reached"
    assert outcomes[4].startswith("target=150 outcome=failed; worker 4 failed")
    failed = df[df.n_workers == 4]
    assert (failed.event == "crash").sum() >= 1 and failed.detail.str.contains("exit=3").any()
    for _, g in df.groupby("run_id"):
        assert_clean(g)
    row = wl.threshold(df, deadline=60).table.set_index("workers").loc[4]
    assert (row.runs, row.successes, row.not_reached) == (1, 0, 1)


@pytest.fixture
def active_runs(monkeypatch):
    """Record, over the sweep, the most runs at once, their most workers, and live processes at each spawn."""
    seen = {"runs": 0, "workers": 0, "live": 0, "spawns": 0}
    active: list[int] = []
    real_run, real_spawn = collector.Run.run, procs.spawn

    async def run(self):
        active.append(self.config.workers)
        seen["runs"] = max(seen["runs"], len(active))
        seen["workers"] = max(seen["workers"], sum(active))
        try:
            return await real_run(self)
        finally:
            active.remove(self.config.workers)

    def spawn(*a, **k):
        w = real_spawn(*a, **k)
        seen["spawns"] += 1
        seen["live"] = max(seen["live"], len(procs.LIVE))
        return w

    monkeypatch.setattr(collector.Run, "run", run)
    monkeypatch.setattr(procs, "spawn", spawn)
    return seen


def test_live_worker_processes_stay_within_the_limit(active_runs):
    assert not procs.LIVE
    df = wl.sweep(range(2, 5), repeats=2, max_live_workers=4, **SMALL)
    assert active_runs["spawns"] == (df.event == "spawn").sum() >= 18
    assert active_runs["live"] <= 4 and active_runs["workers"] <= 4
    assert active_runs["runs"] >= 2  # the two 2-worker runs fit together


def test_runs_start_their_workers_one_run_at_a_time(monkeypatch):
    """Concurrent runs, but a run begins only once every earlier run's workers were all ready.

    Checked when each run begins (no timestamps): every run begun before it has a ready
    record for each of its workers, or has ended. All runs share one start limiter.
    """
    begun: list[collector.Run] = []
    checks: list[bool] = []
    limiters: set[int] = set()
    real_run = collector.Run.run

    async def run(self):
        checks.append(all(r.finished or len(_ready(r)) == r.config.workers for r in begun))
        limiters.add(id(self.start_limiter))
        begun.append(self)
        return await real_run(self)

    monkeypatch.setattr(collector.Run, "run", run)
    df = wl.sweep([2, 3, 4], repeats=2, **SMALL)
    assert len(checks) == 6 == df.run_id.nunique()
    assert all(checks)
    assert len(limiters) == 1


def _ready(run: collector.Run) -> set[int]:
    return {r[1] for r in list(run.records) if r[0] == "ready"}


def test_parallel_caps_concurrent_runs(active_runs):
    wl.sweep([2, 3], repeats=2, parallel=1, **SMALL)
    assert active_runs["runs"] == 1


def test_without_a_cap_runs_overlap(active_runs):
    wl.sweep([2, 3], repeats=2, **SMALL)
    assert active_runs["runs"] >= 2 and active_runs["workers"] <= 64


def test_sweep_refuses_bad_input_before_spawning(active_runs):
    with pytest.raises(ValueError, match="max_live_workers"):
        wl.sweep([8], max_live_workers=4, **SMALL)
    with pytest.raises(ValueError, match="cap of 16"):
        wl.sweep([17], **SMALL)
    with pytest.raises(TypeError, match="run_id"):
        wl.sweep([2], run_id="x", **SMALL)
    with pytest.raises(ValueError, match="repeats"):
        wl.sweep([2], repeats=0, **SMALL)
    assert active_runs["spawns"] == 0


def test_sweep_inside_a_running_loop():
    """What a Jupyter cell does: the blocking API while the kernel's loop runs."""

    async def cell():
        return wl.sweep([2, 3], repeats=1, **SMALL)

    assert_sweep(asyncio.run(cell()), [2, 3], 1, 30)


def _interrupt_once_five_workers_ran(pids: set[int]):
    """An on_update that records pids and raises one KeyboardInterrupt once 5 workers have run."""
    raised: list[bool] = []

    def interrupt(run):
        pids.update(run.pids)
        if not raised and len(pids) >= 5 and run.count > 5:
            raised.append(True)
            raise KeyboardInterrupt

    return interrupt


INTERRUPTED_SWEEP = dict(workers=[2, 3], repeats=2, samples=100_000, interval=FAST, mtbf=0, progress=False)


def test_kernel_interrupt_stops_every_run():
    """A kernel interrupt (one KeyboardInterrupt raised in the loop) mid-sweep, inside a running loop."""
    pids: set[int] = set()

    async def cell():
        return wl.sweep(**INTERRUPTED_SWEEP, on_update=_interrupt_once_five_workers_ran(pids))

    run_cell_interrupted(cell)
    assert len(pids) >= 5
    assert [p for p in pids if pid_alive(p)] == []


def test_interrupt_in_a_script_stops_every_run():
    pids: set[int] = set()
    with pytest.raises(KeyboardInterrupt):
        wl.sweep(**INTERRUPTED_SWEEP, on_update=_interrupt_once_five_workers_ran(pids))
    assert len(pids) >= 5
    assert [p for p in pids if pid_alive(p)] == []


def test_ctrl_c_on_the_cli_sweep_stops_every_worker():
    import psutil

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workerlab",
            "sweep",
            "--workers",
            "2-3",
            "--repeats",
            "2",
            "--samples",
            "1000000",
            "--interval",
            str(FAST),
            "--mtbf",
            "0",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):  # up to ~30 s to import and spawn all 10 workers
            kids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            if len(kids) >= 10:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the sweep never started its workers")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err and out == ""
    for _ in range(100):
        if not [p for p in kids if pid_alive(p)]:
            break
        time.sleep(0.05)
    assert [p for p in kids if pid_alive(p)] == []


def test_progress_bar_counts_runs(capsys):
    wl.sweep([2], repeats=2, samples=20, interval=FAST, mtbf=0)
    err = capsys.readouterr().err
    assert "runs" in err and "2/2" in err and "failed=0" in err


def test_wl_sweep_is_the_function_whatever_is_imported_first():
    code = (
        "import workerlab as wl, workerlab.sweeping, inspect; wl.threshold; "
        "assert 'repeats' in inspect.signature(wl.sweep).parameters; "
        f"df = wl.sweep([1], repeats=1, samples=3, interval={FAST}, progress=False); "
        "print(df.run_id.nunique())"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"


# -- command line ----------------------------------------------------------------------------


def test_cli_sweep_json(capsys, tmp_path):
    out = tmp_path / "sweep.parquet"
    code = cli.main(
        [
            "sweep",
            "--workers",
            "2-3",
            "--repeats",
            "2",
            "--samples",
            "30",
            "--interval",
            str(FAST),
            "--mtbf",
            "0",
            "--deadline",
            "30",
            "--json",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rep = json.loads(captured.out)  # exactly one JSON object
    assert [r["workers"] for r in rep["rows"]] == [2, 3]
    assert all(r["runs"] == 2 and r["successes"] == 2 for r in rep["rows"])
    th = rep["threshold"]
    assert (th["workers"], th["strong"], th["repeats_needed"], th["level"], th["deadline"]) == (
        2,
        False,
        73,
        0.95,
        30,
    )
    assert rep["runs"] == 4 and rep["wall_s"] > 0 and rep["run_time_sum_s"] >= rep["elapsed_sum_s"] > 0
    assert wl.load(out).run_id.nunique() == 4


def test_cli_sweep_human_output_says_when_no_count_qualifies(capsys):
    code = cli.main(
        [
            "sweep",
            "--workers",
            "2",
            "--repeats",
            "1",
            "--samples",
            "30",
            "--interval",
            str(FAST),
            "--mtbf",
            "0",
            "--deadline",
            "0.001",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "workers  runs  met" in out and "no worker count tested (2) meets 0.001 s" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "5-2"], "empty range"),
        (["--workers", "17"], "cap of 16"),
        (["--workers", "0"], "at least 1"),
        (["--level", "1.5"], "--level"),
        (["--workers", "8", "--max-live-workers", "4"], "max_live_workers"),
    ],
)
def test_cli_sweep_bad_arguments_exit_2_with_one_line(capsys, args, message):
    assert cli.main(["sweep", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
