"""The short soak: 20 runs with random faults, each checked against the emulator's sent log.

The same code as ``make soak`` (benchmarks/soak.py, 200+ runs), with a fixed seed so that the plan of
runs is the same every time (timing is not: the machine is shared). Counts only, no durations.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import soak  # noqa: E402

SEED, RUNS = 20240607, 20


def test_plan_is_reproducible_and_mixes_every_fault():
    a = [soak.plan(random.Random(SEED), i) for i in range(1)]
    b = [soak.plan(random.Random(SEED), i) for i in range(1)]
    assert a == b
    rng = random.Random(SEED)
    plans = [soak.plan(rng, i) for i in range(RUNS)]
    kinds = {k for p in plans for k in p["faults"]}
    assert kinds == set(soak.FAULT_KINDS)
    assert any(len(p["faults"]) >= 3 for p in plans)  # faults are also combined
    for p in plans:
        assert 1 <= p["workers"] <= 16 and p["samples"] >= 1
        assert ("-hangAfter" in p["worker_args"]) == ("stall" in p["faults"])
        assert (p["mtbf"] > 0) == ("crash" in p["faults"])


@pytest.fixture(scope="module")
def totals():
    """One short soak (hostile workers mixed in, as make soak does), shared by the checks below.

    Each check says what failed, with the runs' settings. The in-flight rule is the tightened one: the
    soak refuses a log without t0.
    """
    return soak.soak(runs=RUNS, seed=SEED, verbose=False)


def failed(totals) -> list:
    return [(f["spec"], f["counts"]["outcome"], f["problems"]) for f in totals["failed_runs"]]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_short_soak_loses_nothing_and_leaves_nothing(totals):
    r = totals["report"]
    assert r.runs == RUNS and r.pids >= RUNS and r.lines_checked > 0
    assert (r.lost, r.duplicated, r.invented, r.wrong_worker) == (0, 0, 0, 0), failed(totals)
    assert (r.orphans, r.ports_bound, r.foreign_pids, r.malformed) == (0, 0, 0, 0), failed(totals)
    assert r.lines_checked + r.in_flight == r.lines_sent
    assert r.lines_checked == r.lines_received
    assert totals["fault_events"]["crashes"] > 0 and totals["fault_events"]["stalls"] > 0


@pytest.mark.slow
def test_short_soak_every_run_reaches_its_target(totals):
    assert totals["not_reached"] == 0, failed(totals)


@pytest.mark.slow
def test_short_soak_every_run_returns_once_its_target_is_reached(totals):
    """A run still going 10 s after its target is hung (the soak cancels it until it ends)."""
    assert totals["hung"] == 0, f"runs that did not return after reaching their target: {failed(totals)}"


def test_hostile_plans_mix_hostile_workers_with_the_emulators_faults():
    rng = random.Random(SEED)
    plans = [soak.plan(rng, i, hostile=True) for i in range(80)]
    bad = [p for p in plans if p["hostile"]]
    assert {p["hostile"]["mode"] for p in bad} == set(soak.HOSTILE_MODES)
    for p in bad:  # some workers hostile, never all: the others are emulators that keep the run going
        ids = p["hostile"]["workers"]
        assert 1 <= len(ids) < p["workers"] and set(ids) <= set(range(1, p["workers"] + 1))
        assert "hostile" in p["faults"]
    assert any({"crash", "stall"} <= set(p["faults"]) for p in bad)
    assert not any(p["hostile"] for p in [soak.plan(random.Random(SEED), i) for i in range(20)])


@pytest.mark.slow
def test_short_soak_mixes_hostile_workers_in(totals):
    assert soak.HOSTILE and totals["hostile"]
    assert totals["runs_with_fault"].get("hostile", 0) > 0
    assert totals["fault_events"]["errors"] > 0  # garbage, random junk or an over-long line was seen
