"""Sweeps: planning, and real sweeps at compressed time (the threshold is in thresholds/test_verdict.py).

Real sweeps run the emulator at ``FAST`` (50 numbers a second) locally and on a Dask
``LocalCluster``; like every test here they assert counts, outcomes and that no process is
left, never a duration.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pandas as pd
import pytest
from helpers import (
    FAST,
    ROOT,
    assert_clean,
    emulator_wrapper,
    pid_alive,
    ready_workers,
    run_cell_interrupted,
    run_row,
    wait_for_async,
)

import workerlab as wl
from workerlab.batch.sweep import parse_workers
from workerlab.engine import collector, procs
from workerlab.log import events

SMALL = dict(samples=30, interval=FAST, mtbf=0, progress=False)


# -- planning ----------------------------------------------------------------------------------


def test_parse_workers():
    assert parse_workers("12-16") == [12, 13, 14, 15, 16]
    assert parse_workers("1,4,2") == [1, 2, 4]
    assert parse_workers("8") == [8]
    assert parse_workers("1-3,8,10-11") == [1, 2, 3, 8, 10, 11]
    for bad in ("5-2", "x", "1,,2", "-3"):
        with pytest.raises(ValueError):
            parse_workers(bad)


def test_sync_and_async_entry_points_have_the_same_signature():
    """collect/collect_async and sweep/sweep_async take the same arguments (no **options)."""
    import inspect

    for sync, coro in ((wl.collect, wl.collect_async), (wl.sweep, wl.sweep_async)):
        sig = inspect.signature(sync)
        assert sig == inspect.signature(coro)
        assert all(p.kind is not p.VAR_KEYWORD for p in sig.parameters.values())


# -- real sweeps at compressed time ------------------------------------------------------------


def assert_sweep(df: pd.DataFrame, counts: list[int], repeats: int, samples: int) -> None:
    """One run_id per run, n_workers right, runs in order, every run reached, nothing left."""
    runs = df.groupby("run_id", sort=False)
    assert runs.ngroups == len(counts) * repeats
    assert list(runs["n_workers"].first()) == [w for w in counts for _ in range(repeats)]
    for _rid, g in runs:
        assert g["n_workers"].nunique() == 1
        assert g.loc[g.worker_id > 0, "worker_id"].max() <= g["n_workers"].iloc[0]
        stop = events.parse_run_stop(run_row(g).detail)
        assert stop is not None and stop[:3] == (samples, "reached", "") and stop.t0 is not None
        assert g.kept.sum() == samples
        assert_clean(g)


def test_local_sweep_runs_every_count_and_leaves_nothing():
    df = wl.sweep(range(2, 5), repeats=2, **SMALL)
    assert_sweep(df, [2, 3, 4], 2, 30)
    assert not procs.LIVE
    assert set(wl.threshold(df, deadline=60).table.workers) == {2, 3, 4}


@pytest.mark.slow
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


@pytest.mark.slow
def test_sweep_on_a_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            processes=False,
            n_workers=1,
            threads_per_worker=2,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address="127.0.0.1:0",  # loopback only, any free port
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        df = wl.sweep(range(2, 5), repeats=2, client=client, **SMALL)
        # the async entry point takes client= too (its Dask loop runs in a thread)
        df_async = asyncio.run(wl.sweep_async([2], repeats=1, client=client, **SMALL))
    assert_sweep(df, [2, 3, 4], 2, 30)
    assert_sweep(df_async, [2], 1, 30)


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    # the emulator, except that worker 4 (only the 4-worker run has one) exits with status 3 at once;
    # a shell script, so that its five failed starts end that run long before 3 workers reach the target
    fake = emulator_wrapper(tmp_path, 'case " $* " in *" -workerId 4 "*) exit 3;; esac', "fails-at-4")
    with pytest.warns(RuntimeWarning, match="1 of 3 runs did not reach the target"):
        df = wl.sweep(
            [2, 3, 4],
            repeats=1,
            samples=150,
            worker_bin=fake,
            progress=False,
            worker_args=["-interval", str(FAST), "-mtbf", "0"],
        )
    outcomes = {
        int(g.n_workers.iloc[0]): events.parse_run_stop(run_row(g).detail) for _, g in df.groupby("run_id")
    }
    assert outcomes[2][:3] == outcomes[3][:3] == (150, "reached", "")
    assert outcomes[4][:2] == (150, "failed") and outcomes[4].message.startswith("worker 4 failed")
    failed = df[df.n_workers == 4]
    assert (failed.event == "crash").sum() >= 1 and failed.detail.str.contains("exit=3").any()
    for _, g in df.groupby("run_id"):
        assert_clean(g)
    row = wl.threshold(df, deadline=60).table.set_index("workers").loc[4]
    assert (row.runs, row.successes, row.not_reached) == (1, 0, 1)


@pytest.fixture
def active_runs(monkeypatch):
    """Record, over the sweep, the most runs at once, their most workers, and live processes at each spawn.

    With ``hold`` set to n, a run that reached its target returns only once n runs have begun: then
    whether runs overlap depends on the sweep alone, never on how fast a run ends. A hold gives up
    after ``hold_max`` seconds (``held_out`` counts it) and then no run holds any more.
    """
    seen = {"runs": 0, "workers": 0, "live": 0, "spawns": 0, "begun": 0, "hold": 0, "hold_max": 30.0}
    seen["held_out"] = 0
    active: list[int] = []
    real_run, real_spawn = collector.Run.run, procs.spawn

    async def hold() -> None:
        try:
            async with asyncio.timeout(seen["hold_max"]):
                while seen["begun"] < seen["hold"]:
                    await asyncio.sleep(0.01)
        except TimeoutError:  # the runs do not overlap: give up holding (the test fails on held_out)
            seen["held_out"] += 1
            seen["hold"] = 0

    async def run(self):
        seen["begun"] += 1
        active.append(self.config.workers)
        seen["runs"] = max(seen["runs"], len(active))
        seen["workers"] = max(seen["workers"], sum(active))
        try:
            df = await real_run(self)
            await hold()
            return df
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


@pytest.mark.slow
def test_live_worker_processes_stay_within_the_limit(active_runs):
    active_runs["hold"] = 2  # the first 2-worker run waits for the second, which fits beside it
    assert not procs.LIVE
    df = wl.sweep(range(2, 5), repeats=2, max_live_workers=4, **SMALL)
    assert active_runs["spawns"] == (df.event == "spawn").sum() >= 2 + 2 + 3 + 3 + 4 + 4
    assert active_runs["live"] <= 4
    assert (active_runs["runs"], active_runs["workers"], active_runs["held_out"]) == (2, 4, 0)


@pytest.mark.slow
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
        checks.append(all(r.finished or len(ready_workers(r.records)) == r.config.workers for r in begun))
        limiters.add(id(self.start_limiter))
        begun.append(self)
        return await real_run(self)

    monkeypatch.setattr(collector.Run, "run", run)
    df = wl.sweep([2, 3, 4], repeats=2, **SMALL)
    assert len(checks) == 6 == df.run_id.nunique()
    assert all(checks)
    assert len(limiters) == 1


@pytest.mark.slow
def test_parallel_caps_concurrent_runs(active_runs):
    active_runs.update(hold=2, hold_max=1.0)  # the first run stays 1 s longer: room for a second
    wl.sweep([2, 3], repeats=2, parallel=1, **SMALL)
    assert (active_runs["runs"], active_runs["begun"], active_runs["held_out"]) == (1, 4, 1)


def test_without_a_cap_every_run_goes_at_once(active_runs):
    active_runs["hold"] = 4  # no run returns before all four have begun
    wl.sweep([2, 3], repeats=2, **SMALL)
    assert (active_runs["runs"], active_runs["workers"], active_runs["held_out"]) == (4, 2 + 2 + 3 + 3, 0)


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


def test_progress_bar_counts_runs(capsys):
    wl.sweep([2], repeats=2, samples=20, interval=FAST, mtbf=0)
    err = capsys.readouterr().err
    assert "runs" in err and "2/2" in err and "failed=0" in err


@pytest.mark.slow
def test_wl_sweep_is_the_function_whatever_is_imported_first():
    code = (
        "import workerlab as wl, workerlab.batch.sweep, inspect; wl.threshold; "
        "assert 'repeats' in inspect.signature(wl.sweep).parameters; "
        f"df = wl.sweep([1], repeats=1, samples=3, interval={FAST}, progress=False); "
        "print(df.run_id.nunique())"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"


def test_a_batch_ends_on_its_stop_token_and_keeps_what_it_cut_off():
    """The one runner of sweeps and searches: Stop ends it, every run stops its workers, logs kept."""
    from workerlab.batch.progress import Progress
    from workerlab.batch.runner import Batch
    from workerlab.batch.spec import BatchSettings, RunSpec
    from workerlab.config import RunOptions
    from workerlab.engine.stop import Stop

    options = RunOptions(interval=FAST, mtbf=0)
    settings = BatchSettings.check(
        [2, 3], samples=100_000, deadline=10.0, parallel=None, max_live_workers=8, options=options
    )
    queue = [RunSpec(0, 2, 1, "stop-a", None), RunSpec(1, 3, 1, "stop-b", None)]
    stop = Stop()

    async def main() -> list:
        async with Batch(settings, Progress(2, False), stop=stop) as batch:
            asyncio.get_running_loop().call_later(1.0, stop.set, "enough")
            got = await batch.run_all(queue)
            assert stop.is_set() and not got  # it returned on the token, nothing ended yet
        return batch.take()

    finished = asyncio.run(main())
    assert sorted(f.spec.run_id for f in finished) == ["stop-a", "stop-b"]
    assert all(f.judged is None for f in finished)  # cut off: not a measurement
    for f in finished:
        assert_clean(f.log)
        stops = events.run_stops(f.log)
        assert stops["outcome"].tolist() == ["stopped"]  # handed the token: stopped, not cancelled
        assert stops["message"].iloc[0].startswith("enough")  # the reason the stop was given


def test_a_run_that_ends_while_the_owner_is_busy_is_in_the_next_update():
    """The owner may await between two updates (a search takes its decider's step in a thread): a
    run that ends meanwhile wakes the next update (it once cleared that wake-up and waited forever)."""
    from workerlab.batch.progress import Progress
    from workerlab.batch.runner import Batch
    from workerlab.batch.spec import BatchSettings, RunSpec
    from workerlab.config import RunOptions

    options = RunOptions(interval=FAST, mtbf=0)
    settings = BatchSettings.check(
        [2], samples=20, deadline=10.0, parallel=None, max_live_workers=8, options=options
    )

    async def main() -> list:
        got: list = []
        async with Batch(settings, Progress(1, False)) as batch:
            async for ended in batch.updates():
                got += ended
                if got:
                    break
                if not batch.running:
                    batch.start(RunSpec(0, 2, 1, "busy-w2", None))
                await asyncio.sleep(1.5)  # busy while the run (~0.2 s) ends
        return got

    finished = asyncio.run(asyncio.wait_for(main(), 20))
    assert [f.spec.run_id for f in finished] == ["busy-w2"] and finished[0].judged is not None
    assert_clean(finished[0].log)


@pytest.mark.slow
def test_a_batch_on_a_dask_cluster_of_two_processes_stops_its_runs_in_flight(dask_client):
    """The batch's stop reaches runs on Dask workers (a ``distributed.Event`` each run watches):
    they end ``stopped`` with their partial logs, not ``cancelled``, and leave nothing running."""
    from workerlab.batch.progress import Progress
    from workerlab.batch.runner import Batch
    from workerlab.batch.spec import BatchSettings, RunSpec
    from workerlab.config import RunOptions
    from workerlab.engine.stop import Stop

    options = RunOptions(interval=FAST, mtbf=0)
    settings = BatchSettings.check(
        [2], samples=100_000, deadline=10.0, parallel=None, max_live_workers=8, options=options
    )
    specs = [RunSpec(0, 2, 1, "dask-a", None), RunSpec(1, 2, 2, "dask-b", None)]
    stop = Stop()

    async def main(client: object) -> list:
        async with Batch(settings, Progress(2, False), client=client, stop=stop) as batch:
            assert batch.parallel == 2  # one run per Dask worker process

            async def stop_once_both_stream() -> None:
                await wait_for_async(lambda: len(batch.running) == 2, 60, "both runs in flight")
                await asyncio.sleep(2.0)  # long enough for both to be streaming on their Dask worker
                stop.set("enough")

            task = asyncio.create_task(stop_once_both_stream())
            await batch.run_all(specs)
            await task
        return batch.take()

    finished = asyncio.run(main(dask_client))
    assert sorted(f.spec.run_id for f in finished) == ["dask-a", "dask-b"]
    for f in finished:
        assert f.judged is None  # cut off: not a measurement
        stops = events.run_stops(f.log)
        assert stops["outcome"].tolist() == ["stopped"], stops
        assert (f.log.event == "sample").sum() > 0  # it was streaming, and what it got is kept
        assert_clean(f.log)


# -- a sweep's Stop ------------------------------------------------------------------------------

FAST_RUNS = dict(interval=FAST, mtbf=0, progress=False)


@pytest.fixture(scope="module")
def stopped_sweep():
    """A sweep of 3 runs one at a time, stopped while its second run is in flight (the first done).

    The stop is set from ``on_update`` on the sweep's loop, at the second run's first report: a run
    of 100 samples from 2 workers at ``FAST`` takes about 1 s, its reports come every 0.1 s.
    Returns (the SweepStopped, every worker pid seen, the run ids in the order they began).
    """
    stop = wl.Stop()
    pids: set[int] = set()
    begun: list[str] = []
    done: set[str] = set()

    def on_update(run) -> None:
        pids.update(run.pids)
        rid = run.config.run_id
        if rid not in begun:
            begun.append(rid)
        if run.finished:
            done.add(rid)
        elif done and rid not in done:
            stop.set("stopped by the test")

    with pytest.raises(wl.SweepStopped) as info:
        wl.sweep([2], 3, 100, parallel=1, stop=stop, on_update=on_update, **FAST_RUNS)
    return info.value, pids, begun


def test_a_stopped_sweep_keeps_what_finished_and_stops_every_worker(stopped_sweep):
    error, pids, begun = stopped_sweep
    assert isinstance(error, wl.CollectStopped)  # one except clause for collect and sweep
    assert "stopped by the test: 1 of 3 runs measured, 1 cut off, 1 not begun" in str(error)
    df = error.events
    assert list(df.run_id.unique()) == begun and len(begun) == 2  # the third never began
    first, second = (df[df.run_id == rid] for rid in begun)
    assert events.run_stops(first).outcome.tolist() == ["reached"] and first.kept.sum() == 100
    row = events.run_stops(second).iloc[0]  # handed the sweep's token: stopped, not cancelled
    assert row.outcome == "stopped" and row.message.startswith("stopped by the test")
    assert 0 < (second.event == "sample").sum() < 100  # cut off in flight, what it had is kept
    assert len(pids) >= 4 and [p for p in pids if pid_alive(p)] == []
    for _, g in df.groupby("run_id"):
        assert_clean(g)  # every process stopped, every port released


def test_a_stop_that_comes_after_the_last_run_changes_nothing():
    stop = wl.Stop()
    # set as the only run finishes (its last report): the sweep has measured everything it planned
    df = wl.sweep([2], 1, 20, stop=stop, on_update=lambda run: run.finished and stop.set(), **FAST_RUNS)
    assert stop.is_set() and events.run_stops(df).outcome.tolist() == ["reached"]
    assert_clean(df)


def test_sweep_async_stops_on_a_token_set_by_another_task():
    counts: dict[str, int] = {}

    def on_update(run) -> None:
        counts[run.config.run_id] = run.count

    async def main():
        stop = wl.Stop()
        sweep = asyncio.create_task(
            wl.sweep_async([2, 3], 1, 100_000, stop=stop, on_update=on_update, **FAST_RUNS)
        )
        await wait_for_async(lambda: len(counts) == 2 and min(counts.values()) > 0, 30, "both runs' samples")
        stop.set()
        with pytest.raises(wl.SweepStopped, match="stopped: 0 of 2 runs measured, 2 cut off") as info:
            await sweep
        return info.value.events

    df = asyncio.run(main())
    assert df.run_id.nunique() == 2 and set(events.run_stops(df).outcome) == {"stopped"}
    for _, g in df.groupby("run_id"):
        assert 0 < (g.event == "sample").sum() < 100_000
        assert_clean(g)


@pytest.mark.slow
def test_a_sweep_stopped_on_a_dask_cluster_ends_its_runs_stopped_and_leaves_nothing(dask_client):
    """The public sweep, stopped while runs are in flight on two Dask worker processes."""
    from workerlab.engine.stop import Stop

    stop = Stop()

    def on_start() -> None:
        asyncio.get_running_loop().call_later(2.0, stop.set, "enough")

    async def main() -> pd.DataFrame:
        on_start()
        return await wl.sweep_async(
            [2], 2, 100_000, interval=FAST, mtbf=0, progress=False, client=dask_client, stop=stop
        )

    with pytest.raises(wl.SweepStopped) as got:
        asyncio.run(main())
    df = got.value.events
    assert df is not None and df["run_id"].nunique() == 2
    for _, g in df.groupby("run_id"):
        assert events.run_stops(g)["outcome"].tolist() == ["stopped"]
        assert_clean(g)
