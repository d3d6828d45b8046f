"""The public calls' conventions: the order rule, ``options=`` beside the keywords, one kind of stop.

The order rule of every long call: the leading ``workers``, then only what the call counts
(``collect``: ``samples``; ``sweep``: ``repeats``, ``samples``) may be positional; everything
else is keyword-only. Runs here are real and time-compressed (``FAST``).
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
from helpers import FAST, assert_clean, run_row

import workerlab as wl
from workerlab.batch.spec import run_seed
from workerlab.log import events

#: the parameters each long call takes by position, in order (the rest are keyword-only)
POSITIONAL = {
    "collect": ["workers", "samples"],
    "collect_async": ["workers", "samples"],
    "sweep": ["workers", "repeats", "samples"],
    "sweep_async": ["workers", "repeats", "samples"],
}


@pytest.mark.parametrize("name", sorted(POSITIONAL))
def test_only_workers_and_what_the_call_counts_are_positional(name):
    params = inspect.signature(getattr(wl, name)).parameters.values()
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == POSITIONAL[name]
    kind = inspect.Parameter
    assert {p.kind for p in params} == {kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY}
    assert {"stop", "options"} <= {p.name for p in params if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("name", sorted(POSITIONAL))
def test_a_positional_beyond_the_rule_is_a_type_error_before_anything_starts(name, spawned):
    call = getattr(wl, name)
    given = [2, 1, 10][: len(POSITIONAL[name])]
    with pytest.raises(TypeError, match="positional argument"):
        call(*given, 10.0)  # e.g. a deadline or a timeout where none may go by position
    assert spawned == []


# -- options= ---------------------------------------------------------------------------------------


def configs_seen() -> tuple[list, object]:
    """An on_update that keeps each run's Config (once per run), and the list it fills."""
    seen: list = []

    def on_update(run) -> None:
        if all(c.run_id != run.config.run_id for c in seen):
            seen.append(run.config)

    return seen, on_update


def test_collect_with_options_alone_runs_with_them():
    seen, on_update = configs_seen()
    opts = wl.RunOptions(interval=FAST, mtbf=0)
    df = wl.collect(2, 20, options=opts, progress=False, on_update=on_update)
    (cfg,) = seen
    assert cfg.interval == FAST and cfg.seed is None
    assert cfg.extra_args == ("-interval", repr(FAST), "-mtbf", "0.0")
    assert run_row(df).detail.startswith("target=20 outcome=reached") and df.kept.sum() == 20
    assert_clean(df)


def test_collect_keywords_override_the_fields_of_options():
    seen, on_update = configs_seen()
    opts = wl.RunOptions(interval=0.5, mtbf=0, seed=1)  # a pace this test never waits for
    df = wl.collect(2, 20, options=opts, interval=FAST, seed=5, progress=False, on_update=on_update)
    (cfg,) = seen
    assert (cfg.interval, cfg.seed) == (FAST, 5)
    assert cfg.extra_args == ("-interval", repr(FAST), "-mtbf", "0.0")  # mtbf kept from options
    assert opts.interval == 0.5  # the caller's object is untouched
    assert df.kept.sum() == 20
    assert_clean(df)


def test_sweep_takes_options_and_its_keywords_override_them():
    seen, on_update = configs_seen()
    opts = wl.RunOptions(interval=FAST, mtbf=0, seed=3)
    df = wl.sweep([2], 2, 20, options=opts, seed=4, progress=False, on_update=on_update)
    assert len(seen) == 2 == df.run_id.nunique()
    assert all(c.interval == FAST and c.extra_args == ("-interval", repr(FAST), "-mtbf", "0.0") for c in seen)
    # every run's seed derives from the sweep's: the keyword's 4, not the options' 3
    assert {c.seed for c in seen} == {run_seed(4, 2, 1), run_seed(4, 2, 2)}
    for _, g in df.groupby("run_id"):
        assert_clean(g)


def test_options_that_are_not_run_options_are_refused_before_anything_starts(spawned):
    with pytest.raises(wl.ConfigError, match="options must be a wl.RunOptions"):
        wl.collect(2, 10, options={"interval": FAST}, progress=False)
    with pytest.raises(wl.ConfigError, match="only exist in the bundled emulator"):
        wl.sweep([2], 1, 10, options=wl.RunOptions(worker_bin="/bin/true"), mtbf=0, progress=False)
    assert spawned == []


# -- one kind of stop ---------------------------------------------------------------------------------


def test_every_long_call_takes_a_stop_and_nothing_else(spawned):
    event = asyncio.Event()  # it has is_set and wait too: refused, there is one way to stop
    with pytest.raises(wl.ConfigError, match="stop must be a wl.Stop"):
        wl.collect(2, 10, stop=event, progress=False)
    with pytest.raises(wl.ConfigError, match="stop must be a wl.Stop"):
        wl.sweep([2], 1, 10, stop=event, progress=False)
    assert spawned == []
    assert issubclass(wl.SweepStopped, wl.CollectStopped)  # one except clause for either


def test_a_stop_set_before_collect_starts_ends_it_stopped_with_no_worker_left():
    stop = wl.Stop()
    stop.set("stopped before it began")
    with pytest.raises(wl.CollectStopped, match="stopped before it began with 0 of 1000 samples") as info:
        wl.collect(2, 1000, stop=stop, interval=FAST, mtbf=0, progress=False)
    row = events.run_stops(info.value.events).iloc[0]
    assert row.outcome == "stopped"
    if (info.value.events.event == "spawn").any():  # a slot may have spawned before the stop was seen
        assert_clean(info.value.events)
