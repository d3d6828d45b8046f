"""The model of a run: simulation against closed forms, calibration against real emulator runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import FAST
from pytest import approx

import workerlab as wl
from workerlab.model.calibration import calibrate
from workerlab.model.model import Model

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


def test_model_is_frozen_validated_and_round_trips_through_json():
    m = Model(interval=0.5, lead=0.1, mtbf=12.0, start=[0.02, 0.03], first_wave=[[0.01, 0.02]], crashes=7)
    back = Model.from_json(m.to_json())
    assert back == m and isinstance(back.start, tuple) and back.first_wave == ((0.01, 0.02),)
    with pytest.raises(AttributeError):
        m.interval = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        Model(interval=0)
    with pytest.raises(ValueError):
        Model(start=[])
    with pytest.raises(ValueError):
        Model.from_json('{"interval": 1.0, "typo": 3}')


def test_repr_states_the_assumptions():
    text = repr(Model(interval=1.0, mtbf=30.0))
    assert "interval 1 s [assumed]" in text and "MTBF 30 s = 30 intervals [assumed]" in text
    assert "exponential lifetime assumed" in text
    assert "never crashes" in repr(Model(mtbf=0))


# -- calibration against real emulator runs ---------------------------------------------------------


@pytest.mark.slow
def test_calibrate_recovers_the_emulator_settings():
    interval, mtbf, lead = FAST, 10 * FAST, 2 * FAST
    df = wl.collect(
        8, 400, interval=interval, mtbf=mtbf, seed=11, worker_args=["-lead", str(lead)], progress=False
    )
    m = calibrate(df)
    assert m.interval == approx(interval, rel=0.005)
    assert m.lead == approx(lead, abs=0.005)
    lo, hi = m.mtbf_interval(0.99)  # 99 %: a 95 % interval misses the truth in 1 of 20 seeds
    assert m.crashes > 20 and lo <= mtbf <= hi
    assert m.runs == 1 and m.concurrency >= 1 and len(m.restart) > 10
    assert m.fit_p is not None and m.weibull_shape is not None
    assert "crashes in" in repr(m) and Model.from_json(m.to_json()) == m
