"""The launching rule for runs that must not share the machine, one run per Dask worker, and a search
that measures its interference and reports how many runs ran at once."""

from __future__ import annotations

import asyncio

import pytest
from helpers import FAST, SEARCH

import workerlab as wl
from workerlab.analysis.overlap import overlap
from workerlab.batch.progress import Progress
from workerlab.batch.remote import RUN_RESOURCE, dask_resources
from workerlab.batch.runner import Batch, Finished
from workerlab.batch.spec import BatchSettings, RunSpec
from workerlab.config import RunOptions
from workerlab.log import events
from workerlab.thresholds.pilot import PILOT_ALONE, PILOT_RUNS, PILOT_SIDE


def run_batch(counts: list[int], alone: set[int], samples: int = 90) -> list[Finished]:
    settings = BatchSettings.check(
        sorted(set(counts)),
        samples=samples,
        deadline=10.0,
        parallel=None,
        max_live_workers=64,
        options=RunOptions(interval=FAST, mtbf=0),
    )
    queue = [RunSpec(i, w, i + 1, f"alone{i}-w{w}", None) for i, w in enumerate(counts)]

    async def go() -> list[Finished]:
        batch = Batch(settings, Progress(len(queue), False))
        batch.alone.update(alone)
        async with batch:
            return await batch.run_all(queue)

    return asyncio.run(go())


@pytest.mark.slow
def test_a_count_in_alone_runs_with_nothing_beside_it_and_the_others_share():
    finished = run_batch([3, 3, 2, 3, 3], alone={2})
    assert len(finished) == 5 and all(f.judged is not None and f.judged.reached for f in finished)
    o = overlap(events.concat([f.log for f in finished])).set_index("run_id")
    assert o.loc["alone2-w2", "in_flight_max"] == 1
    # the rule is not "one at a time": the runs of 3 workers overlapped each other
    assert o.loc[["alone0-w3", "alone1-w3"], "in_flight_max"].max() >= 2
    assert o.loc[["alone3-w3", "alone4-w3"], "in_flight_max"].max() >= 2


class FakeClient:
    def __init__(self, resources: list[dict[str, float]]) -> None:
        self.workers = {f"tcp://w{i}": {"resources": r, "nthreads": 4} for i, r in enumerate(resources)}

    def scheduler_info(self, n_workers: int = 5) -> dict:
        return {"workers": self.workers}


def test_each_task_asks_for_one_run_unit_and_runs_at_once_are_the_units():
    assert dask_resources(FakeClient([{RUN_RESOURCE: 1}, {RUN_RESOURCE: 2}, {}])) == ({RUN_RESOURCE: 1}, 3)


def test_a_cluster_without_the_resource_warns_and_runs_one_per_dask_worker():
    with pytest.warns(RuntimeWarning, match=f"declares no '{RUN_RESOURCE}'"):
        assert dask_resources(FakeClient([{}, {"GPU": 1}])) == (None, 2)


@pytest.mark.slow
def test_a_search_measures_its_interference_and_runs_no_more_at_once_than_its_pilot_did():
    th = wl.find_threshold(**SEARCH, seed=7)
    assert th.conditions is not None and th.conditions.interference is not None
    i, runs = th.conditions.interference, th.conditions.runs
    assert th.pilot_runs == PILOT_RUNS and len(i.alone_overhead_s) == PILOT_ALONE
    assert len(i.side_overhead_s) == PILOT_SIDE
    assert set(i.p_alone) == set(i.p_side) == {2, 6}
    assert runs.runs == int(th.table["runs"].sum()) >= 1
    assert runs.max <= max(i.at_once, 1)
    for c in i.alone:  # a count that must run alone never shared the machine
        assert c not in runs.per_count or runs.per_count[c][1] == 1
    d = th.to_dict()["conditions"]
    assert d["interference"]["at_once"] == i.at_once and d["runs_at_once"]["max"] == runs.max
    assert "runs at once" in str(th) and "interference:" in str(th)


@pytest.mark.slow
def test_a_sweep_verdict_warns_when_its_runs_overlapped_and_not_when_they_ran_alone():
    common = dict(samples=60, interval=FAST, mtbf=0, progress=False)
    shared = wl.threshold(wl.sweep([3], repeats=4, **common), deadline=5)
    assert shared.conditions is not None and shared.conditions.runs.overlapped >= 2
    assert "WARNING: runs shared the machine" in str(shared)
    assert shared.to_dict()["conditions"]["unchecked"] is True
    alone = wl.threshold(wl.sweep([3], repeats=3, parallel=1, **common), deadline=5)
    assert alone.conditions is not None and alone.conditions.runs.alone
    assert "WARNING" not in str(alone) and str(alone) == alone.sentence


@pytest.mark.slow
def test_on_a_dask_cluster_each_dask_worker_runs_one_run_at_a_time():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            processes=False,
            n_workers=2,
            threads_per_worker=2,  # 4 threads, 2 run units: at most 2 runs at once
            resources={RUN_RESOURCE: 1},
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        df = wl.sweep([3], repeats=6, samples=60, interval=FAST, mtbf=0, progress=False, client=client)
    o = overlap(df)
    assert len(o) == 6 and o["in_flight_max"].max() <= 2
