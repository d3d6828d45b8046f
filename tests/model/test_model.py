"""The model of a run: simulation against closed forms, calibration against real emulator runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import FAST
from logbuilder import LogBuilder, perfect_run
from pytest import approx
from scipy import stats

import workerlab as wl
from workerlab.analysis import runs as analysis
from workerlab.model.calibration import calibrate
from workerlab.model.model import FEW_WAVES, Model, mtbf_lower_bound

# -- simulation against closed forms ------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 5, 14, 15, 16])
@pytest.mark.parametrize("samples,lead", [(150, 0.0), (37, 0.3)])
def test_without_crashes_elapsed_is_the_kth_start_plus_the_bound(workers, samples, lead):
    start, opening, C = 0.02, 0.001, 2
    m = Model(
        interval=1.0, lead=lead, mtbf=0, start=[start], connect=[opening], restart=[0.05], concurrency=C
    )
    rounds = math.ceil(samples / workers)
    k = samples - (rounds - 1) * workers  # the slot (in start order) that sends the last number
    expected = math.ceil(k / C) * start + opening + lead + (rounds - 1) * 1.0
    sim = m.simulate(workers, samples, runs=50, seed=1)
    assert list(sim.columns) == ["workers", "elapsed_s", "crashes", "stalls"]
    assert sim["elapsed_s"].to_numpy() == approx(np.full(50, expected))
    assert (sim["crashes"] == 0).all() and (sim["stalls"] == 0).all() and (sim["workers"] == workers).all()


def test_measured_first_waves_are_replayed_and_the_queue_continues_them():
    wave = [0.01, 0.02, 0.05]  # stream-open times of three slots, as measured
    m = Model(interval=1.0, mtbf=0, start=[0.1], connect=[0.0], concurrency=1, first_wave=[wave])
    # 5 workers, 5 samples: one number each, the last from the 5th slot: 0.05 + 0.1 + 0.1
    assert m.simulate(5, 5, runs=3, seed=0)["elapsed_s"].to_numpy() == approx([0.25] * 3)
    assert m.simulate(2, 2, runs=3, seed=0)["elapsed_s"].to_numpy() == approx([0.02] * 3)


@pytest.mark.slow
def test_crash_count_follows_walds_identity():
    """With restarts free and lead 0 a slot is always alive: E[crashes] = sum of E[alive time] / MTBF."""
    W, mtbf = 4, 3.0
    m = Model(interval=1.0, mtbf=mtbf, start=[0.5], connect=[0.0], restart=[0.0], concurrency=1)
    sim = m.simulate(W, 40, runs=20_000, seed=3)
    ready = 0.5 * np.arange(1, W + 1)
    alive = (sim["elapsed_s"].to_numpy()[:, None] - ready).sum(axis=1)
    per_run = sim["crashes"].to_numpy() - alive / mtbf
    assert abs(per_run.mean()) < 4 * per_run.std() / math.sqrt(len(per_run))
    assert sim["crashes"].mean() > 10  # crashes did happen (the test means something)


def test_crashes_slow_a_run_down_and_stalls_are_counted():
    base = Model(interval=1.0, mtbf=0)
    crashy = base.replace(mtbf=5.0, restart=[0.5])
    assert (
        crashy.simulate(8, runs=2000, seed=1)["elapsed_s"].median()
        > base.simulate(8, runs=10, seed=1)["elapsed_s"].median()
    )
    stally = base.replace(stall=0.05, stall_limit=3.0)
    sim = stally.simulate(8, runs=2000, seed=2)
    assert sim["stalls"].mean() > 0.5 and (sim["crashes"] == 0).all()


def test_predict_is_the_simulation_summarised():
    m = Model(interval=1.0, mtbf=30.0)
    pred = m.predict(range(13, 17), deadline=10.0, runs=4000, seed=5)
    assert list(pred.columns) == ["workers", "p_meet", "median_s", "p95_s", "bound_s"]
    assert pred["bound_s"].tolist() == approx([11.0, 10.0, 9.0, 9.0])
    assert pred["p_meet"].iloc[0] == 0.0 and pred["p_meet"].iloc[-1] > 0.9
    assert (pred["median_s"] <= pred["p95_s"]).all() and (pred["median_s"] >= pred["bound_s"]).all()
    again = m.predict(range(13, 17), deadline=10.0, runs=4000, seed=5)
    pd.testing.assert_frame_equal(pred, again)  # seeded: reproducible


# -- the model as a value -------------------------------------------------------------------------


def test_model_is_frozen_validated_and_rebuilt_from_its_json():
    m = Model(interval=0.5, lead=0.1, mtbf=12.0, start=[0.02, 0.03], first_wave=[[0.01, 0.02]], crashes=7)
    back = Model(**json.loads(json.dumps(m.to_dict())))  # e.g. the "model" of `workerlab threshold --json`
    assert back == m and isinstance(back.start, tuple) and back.first_wave == ((0.01, 0.02),)
    with pytest.raises(AttributeError):
        m.interval = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        Model(interval=0)
    with pytest.raises(ValueError):
        Model(start=[])
    with pytest.raises(TypeError, match="typo"):
        Model(**{"interval": 1.0, "typo": 3})


def test_repr_states_the_assumptions():
    text = repr(Model(interval=1.0, mtbf=30.0))
    assert "interval 1 s [assumed]" in text and "MTBF 30 s = 30 intervals [assumed]" in text
    assert "exponential lifetime assumed" in text
    assert "never crashes" in repr(Model(mtbf=0))


# -- calibration against real emulator runs ---------------------------------------------------------


@pytest.mark.slow
def test_calibrate_recovers_the_emulator_settings():
    # a loaded machine (make test runs two pytest processes) delays a stream's first lines, which
    # flattens the fitted slope: by up to 1.8 % at the 0.02 s pace with a crash every 10 lines, so
    # this run goes at twice that pace, where the same delays weigh half as much
    interval, mtbf, lead = 2 * FAST, 10 * 2 * FAST, 2 * 2 * FAST
    df = wl.collect(
        8, 400, interval=interval, mtbf=mtbf, seed=11, worker_args=["-lead", str(lead)], progress=False
    )
    m = calibrate(df)
    assert m.interval == approx(interval, rel=0.02)
    assert m.lead == approx(lead, abs=0.005)
    lo, hi = m.mtbf_interval(0.99)  # 99 %: a 95 % interval misses the truth in 1 of 20 seeds
    assert m.crashes > 20 and lo <= mtbf <= hi
    assert m.runs == 1 and m.concurrency >= 1 and len(m.restart) > 10
    assert m.fit_p is not None and m.weibull_shape is not None
    assert "crashes in" in repr(m) and Model(**m.to_dict()) == m


# -- calibration against hand-built logs: what it rests on ---------------------------------------


def test_with_no_crash_seen_the_model_plans_with_the_exact_lower_bound_of_the_mtbf():
    m = calibrate(perfect_run(4, 20).frame())
    T = m.exposure_s
    assert m.crashes == 0 and T > 0
    assert m.mtbf == approx(T / -math.log(0.05)) == approx(mtbf_lower_bound(0, T))
    assert m.mtbf_is_bound and "never crashes" not in repr(m)
    assert f"no crash in {T:.4g} process-s: MTBF >= {m.mtbf:.4g} s (95% one-sided)" in repr(m)
    assert m.simulate(4, 20, runs=200, seed=0)["crashes"].sum() > 0  # planned with crashes
    # the bound's boundary: at k = 0 the Poisson bound, at k = 1 chi-square with 4 degrees of freedom
    assert mtbf_lower_bound(0, 30.0, 0.9) == approx(30.0 / math.log(10))
    assert mtbf_lower_bound(1, 30.0) == approx(60.0 / stats.chi2.ppf(0.95, 4))
    assert math.isnan(mtbf_lower_bound(0, 0.0))
    # one crash in the same exposure: the estimate, not a bound
    one = m.replace(crashes=1, mtbf=T)
    assert not one.mtbf_is_bound and "crashes in" in repr(one)
    assert "never crashes" in repr(Model(mtbf=0)) and not Model(mtbf=0).mtbf_is_bound


@pytest.mark.parametrize("waves", [FEW_WAVES - 1, FEW_WAVES])
def test_a_model_resting_on_few_start_up_waves_says_so(waves):
    m = Model(first_wave=[(0.1, 0.2)] * waves)
    assert ("FEW" in repr(m)) == (waves < FEW_WAVES)
    assert f"{waves} measured first waves" in repr(m)


def test_a_process_ends_at_its_first_closing_row_and_first_processes_by_spawn_order():
    b = LogBuilder(n_workers=2, target=12, run_id="c")
    for w in (1, 2):
        tc = b.start(w, 0.0)
        b.stream(w, tc, 3, lead=0.04)
    b.crash(1, 2.5)
    b.stop(1, 2.55)  # the clean-up of a process still running after its stream broke
    b.restart(1, 2.56)
    tc = b.start(1, 2.6)
    b.stream(1, tc, 3, lead=0.04)
    b.stop(1, 5.0)
    b.stop(2, 5.0)
    b.run_stop(5.1)
    df = b.frame()
    m = calibrate(df)
    procs = analysis.processes(df)
    assert procs["end_event"].tolist() == ["crash", "stop", "stop"]  # the timeline agrees
    assert m.crashes == 1 and not m.mtbf_is_bound
    assert m.exposure_s == approx((2.5 - 0.05) + (5.0 - 0.05) + (5.0 - 2.65))
    assert len(m.first_wave) == 1 and m.first_wave[0] == approx(
        (0.06, 0.06)
    )  # the slots' first processes only


def test_a_prediction_without_a_deadline_judges_at_ten_intervals_of_the_models_pace():
    fast = Model(interval=0.1, mtbf=0)
    paced = fast.predict([12, 15], 150, runs=200, seed=0)
    assert paced.equals(fast.predict([12, 15], 150, 1.0, runs=200, seed=0))
    assert not paced.equals(
        fast.predict([12, 15], 150, 10.0, runs=200, seed=0)
    )  # 10 s would be another question
    assert fast.success_map([15], mtbf=[1e6], runs=100)["deadline_s"].iloc[0] == 1.0
