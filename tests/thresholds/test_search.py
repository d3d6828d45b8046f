"""The adaptive threshold search (``wl.find_threshold``): real runs of the emulator at compressed time.

The search (``helpers.SEARCH``) has a certain answer: 6 workers, with 2 measured as the count below.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading

import pandas as pd
import pytest
from helpers import FAST, SEARCH, wait_gone

import workerlab as wl
from workerlab.analysis.overlap import overlap
from workerlab.engine.stop import Stop
from workerlab.log import events
from workerlab.thresholds import decider
from workerlab.thresholds.pilot import PILOT_RUNS
from workerlab.thresholds.search import SearchStatus
from workerlab.thresholds.stats import cp_interval


def pids(th: wl.Threshold) -> set[int]:
    assert th.events is not None
    return {int(p) for p in th.events["pid"].dropna().unique()}


def assert_no_process_left(th: wl.Threshold) -> None:
    assert wait_gone(pids(th)) == []


def assert_below_measured(th: wl.Threshold) -> None:
    """A conclusive search has its count below measured by its own plan and shown below the level."""
    if th.conclusive:
        assert th.below_examined and th.workers is not None
        below = [d for d in th.decisions if d["workers"] < th.workers]
        assert below and below[-1]["decision"] == "below" and below[-1]["runs"] > 0
        assert th.row(below[-1]["workers"])["ci_high"] < th.level


def assert_conclusive_at_6(th: wl.Threshold) -> None:
    assert th.conclusive and th.workers == 6 and th.strong
    t = th.table.set_index("workers")
    assert_below_measured(th)
    assert t.loc[2, "successes"] == 0 and t.loc[2, "runs"] > 0
    assert t.loc[6, "ci_low"] >= 0.8
    assert th.pilot_runs == PILOT_RUNS and th.model is not None and th.model.runs == PILOT_RUNS
    assert th.runs_used is not None and th.runs_used >= th.pilot_runs + int(t["runs"].sum())
    assert th.events is not None and th.events["run_id"].nunique() == th.runs_used
    assert set(t.columns) >= {"runs", "successes", "ci_low", "ci_high", "p_pred", "median_pred_s", "bound_s"}


@pytest.mark.slow
def test_a_small_search_is_conclusive_and_leaves_nothing():
    statuses: list[SearchStatus] = []
    th = wl.find_threshold(**SEARCH, seed=5, on_update=statuses.append)
    assert_conclusive_at_6(th)
    assert_no_process_left(th)
    # the progress of the search: the pilot, then measuring, then done with the verdict
    phases = [s.phase for s in statuses]
    assert phases[0] == "pilot" and "measuring" in phases and phases[-1] == "done"
    assert statuses[-1].verdict is th and statuses[-1].runs_used == th.runs_used
    # what it prints: the answer at a glance; behind it the evidence beside the prediction, the assumptions
    text = str(th)
    assert text.startswith("6 workers meet 0.744 s in >= 80% of runs (conclusive, 95% confidence)")
    assert len(text.splitlines()) <= 8 and "runs at once" in th._repr_html_() and th.fresh_run() is None
    # mtbf=0: no crash seen, so the model plans with the MTBF's lower bound and says so
    for words in ("assumptions", "lead", "no crash in", "model p_meet", "pilot"):
        assert words in th.details()
    # the measured interval is printed (its last digits depend on the machine's timing)
    printed = re.search(r"interval (\d+(?:\.\d+)?) s", th.details())
    assert printed is not None and float(printed.group(1)) == pytest.approx(th.model.interval, rel=1e-3)
    assert th.model.interval == pytest.approx(FAST, rel=0.05)
    assert th.settings is not None and th.settings.batch.samples == 75


@pytest.mark.slow
def test_a_given_model_skips_the_pilot():
    model = wl.Model(interval=FAST, mtbf=0)
    th = wl.find_threshold(**SEARCH, model=model)
    assert th.pilot_runs == 0 and th.model is model
    assert_below_measured(th)
    # the bound of 2 workers is exactly 37 intervals, 0.74 s: measured as the count below, beside the answer
    t = th.table.set_index("workers")
    assert t.loc[2, "successes"] == 0 and t.loc[2, "runs"] >= 3 and t.loc[2, "ci_high"] < 0.8
    assert "; 2 workers met 0/" in str(th).splitlines()[1]  # the evidence for the count below
    assert th.conclusive and th.workers == 6


@pytest.mark.slow
def test_a_wrong_model_moves_the_search_with_its_plans_chosen_off_the_event_loop(monkeypatch):
    """A model that expects 2 workers to meet (its interval half the real one): 2's shared runs miss,
    so it is decided again on runs alone, shown below, and the search moves to 6. The plans this
    takes are chosen mid-search, while runs are in flight: never on the event loop's thread."""
    planned_on, notified_on = set(), set()

    def choose(*args):
        planned_on.add(threading.get_ident())
        return real_choose(*args)

    real_choose = decider.choose
    monkeypatch.setattr(decider, "choose", choose)
    wrong = wl.Model(interval=FAST / 2, mtbf=0)
    th = wl.find_threshold(
        **SEARCH, model=wrong, parallel=3, seed=3, on_update=lambda _: notified_on.add(threading.get_ident())
    )
    assert th.conclusive and th.workers == 6
    two = {d["workers"]: d for d in th.decisions}[2]
    assert two["decision"] == "below" and two["alone"] and two["shared"] is not None
    assert planned_on and notified_on and not planned_on & notified_on
    assert_no_process_left(th)


@pytest.mark.slow
def test_the_search_on_a_process_based_dask_cluster(dask_client):
    th = wl.find_threshold(**SEARCH, client=dask_client)
    assert_conclusive_at_6(th)


@pytest.mark.slow
def test_a_search_stopped_on_a_dask_cluster_ends_its_runs_stopped_and_leaves_nothing(dask_client):
    # 100,000 samples: no run ends by itself, so the stop finds the pilot's first run in flight
    async def main() -> wl.Threshold:
        stop = Stop()
        asyncio.get_running_loop().call_later(1.5, stop.set, "enough")
        return await wl.find_threshold_async(**{**SEARCH, "samples": 100_000}, client=dask_client, stop=stop)

    th = asyncio.run(main())
    assert th.interrupted and not th.conclusive and th.events is not None
    outcomes = events.run_stops(th.events)["outcome"]
    assert "cancelled" not in set(outcomes) and (outcomes == "stopped").any()
    assert_no_process_left(th)


def _interrupt_after(measured: int):
    """An on_update that raises one KeyboardInterrupt (as a kernel interrupt would) once runs were measured."""

    def on_update(status: SearchStatus) -> None:
        if status.phase == "measuring" and int(status.table["runs"].sum()) >= measured:
            raise KeyboardInterrupt

    return on_update


@pytest.mark.slow
def test_an_interrupt_returns_what_was_measured_with_no_worker_left():
    th = wl.find_threshold(**SEARCH, on_update=_interrupt_after(3))
    assert th.interrupted and not th.conclusive
    assert int(th.table["runs"].sum()) >= 3
    assert "stopped before a conclusive answer" in str(th).splitlines()[0]
    # the fresh search that would decide: the settings' flags (no seed), its time from the runs' logs
    fresh = th.fresh_run()
    assert (
        fresh is not None
        and "--samples 75 --deadline 0.744 --level 0.8 --interval 0.02 --mtbf 0" in fresh.command
    )
    assert fresh.runs is not None and 0 < fresh.run_s < 60 and fresh.command in str(th)
    assert_no_process_left(th)


@pytest.mark.slow
def test_a_kernel_interrupt_returns_too():
    async def cell():  # a Jupyter cell: the blocking API while the kernel's loop runs
        return wl.find_threshold(**SEARCH, on_update=_interrupt_after(2))

    th = asyncio.run(cell())
    assert th.interrupted and int(th.table["runs"].sum()) >= 2
    assert_no_process_left(th)


@pytest.mark.slow
def test_stop_token_ends_the_async_search_and_its_cut_off_runs_end_stopped():
    async def main() -> wl.Threshold:
        stop = Stop()

        def on_update(status: SearchStatus) -> None:
            if int(status.table["runs"].sum()) >= 2 and status.running:  # while runs are in flight
                stop.set()

        return await wl.find_threshold_async(**SEARCH, stop=stop, on_update=on_update)

    th = asyncio.run(main())
    assert th.interrupted and not th.conclusive and int(th.table["runs"].sum()) >= 2
    assert_no_process_left(th)
    assert th.events is not None
    outcomes = events.run_stops(th.events)["outcome"]
    assert "cancelled" not in set(outcomes) and (outcomes == "stopped").any()


def test_only_a_stop_token_stops_a_search():
    with pytest.raises(wl.ConfigError, match="wl.Stop"):
        wl.find_threshold(**SEARCH, stop=asyncio.Event())  # type: ignore[arg-type]


def test_find_threshold_takes_only_workers_by_position():
    with pytest.raises(TypeError):
        wl.find_threshold(range(1, 3), 150)  # type: ignore[misc]


def test_sync_and_async_have_the_same_signature():
    assert inspect.signature(wl.find_threshold) == inspect.signature(wl.find_threshold_async)


@pytest.mark.parametrize(
    "bad", [dict(level=1.5), dict(confidence=0), dict(workers=[]), dict(max_runs=0), dict(model="m")]
)
def test_bad_arguments_raise_before_anything_runs(bad):
    with pytest.raises(wl.ConfigError):
        wl.find_threshold(**{**SEARCH, **bad})


def test_search_table_keeps_unmeasured_counts():
    from workerlab.thresholds.stats import search_table

    pred = wl.Model(interval=0.05, mtbf=0).predict([2, 3, 4], 60, 1.46, runs=200, seed=0)
    none = pd.DataFrame([], columns=["workers", "met", "reached", "elapsed_s", "bound_s"])
    t = search_table(none, [2, 3, 4], pred, 0.95)
    assert t["workers"].tolist() == [2, 3, 4] and t["runs"].tolist() == [0, 0, 0]
    assert t["p_pred"].notna().all() and t["ci_low"].isna().all()
    runs = [
        {"workers": 4, "met": True, "reached": True, "elapsed_s": 0.8, "bound_s": 0.7},
        {"workers": 4, "met": False, "reached": True, "elapsed_s": 1.6, "bound_s": 0.7},
        {"workers": 4, "met": False, "reached": False, "elapsed_s": float("nan"), "bound_s": 0.7},
    ]
    r = search_table(pd.DataFrame(runs), [2, 3, 4], None, 0.95).set_index("workers").loc[4]
    assert (r["runs"], r["successes"], r["not_reached"]) == (3, 1, 1)
    assert r["median_elapsed_s"] == pytest.approx(1.2) and r["bound_s"] == pytest.approx(0.7)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(cp_interval(1, 3, 0.95))


def test_a_search_whose_pilot_runs_all_fail_raises_the_collect_error_itself():
    """Not wrapped in an ExceptionGroup by the batch's task group; no worker left."""
    with pytest.raises(wl.CollectError, match="every pilot run failed"):
        wl.find_threshold(
            deadline=1.0, samples=10, workers=[1, 2], worker_bin="/bin/false", start_timeout=1, progress=False
        )


@pytest.mark.slow
def test_the_count_below_runs_alone_while_the_candidate_shares_the_machine():
    """With a given model and three runs at once, the candidate's runs share the machine; every run
    of the count below (the one a "below" decision rests on) ran with nothing beside it."""
    th = wl.find_threshold(**SEARCH, model=wl.Model(interval=FAST, mtbf=0), parallel=3, seed=4)
    assert th.conclusive and th.workers == 6
    assert th.events is not None
    o = overlap(th.events).set_index("run_id")
    below = [r for r in o.index if r.endswith("-w2")]
    candidate = [r for r in o.index if r.endswith("-w6")]
    assert below and (o.loc[below, "in_flight_max"] == 1).all()
    assert (o.loc[candidate, "in_flight_max"] >= 2).any()  # the candidate's runs did share
    # the runs alone go first, on the empty machine, rather than each waiting for it to empty
    assert o.loc[below, "start_s"].max() < o.loc[candidate, "start_s"].min()
    decided = {d["workers"]: d for d in th.decisions}
    assert decided[2]["alone"] and decided[2]["decision"] == "below" and not decided[6]["alone"]
    assert_no_process_left(th)
