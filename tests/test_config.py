"""The one validator: every bad input is a ConfigError that says what to pass, before any spawn."""

from __future__ import annotations

import math

import numpy as np
import pytest

import workerlab as wl
from workerlab.batch.spec import BatchSettings
from workerlab.config import DEADLINE, HOST, MAX_WORKERS, RunOptions, make_config, parse_workers
from workerlab.errors import ConfigError


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(workers=0), "workers must be at least 1"),
        (dict(workers=2.5), r"workers must be a whole number, e\.g\. 1; got 2\.5"),
        (dict(workers="4"), "workers must be a whole number"),
        (dict(workers=True), "workers must be a whole number"),
        (dict(workers=17), "cap of 16.*max_workers=17"),
        (dict(max_workers=0), "max_workers must be at least 1"),
        (dict(samples=None), "samples must be a whole number"),
        (dict(worker_args="-lead 0.5"), "worker_args must be a sequence of strings.*not one string"),
        (dict(worker_args=5), "worker_args must be a sequence of strings"),
        (dict(interval=0), r"interval must be > 0 seconds"),
        (dict(interval="fast"), r"interval must be a number of seconds, e\.g\. 0\.5; got 'fast'"),
        (dict(mtbf=-1), r"mtbf must be >= 0 seconds"),
        (dict(timeout=math.nan), r"timeout must be > 0 seconds"),
        (dict(stall_after=0), r"stall_after must be > 0 seconds"),
        (dict(start_timeout=None), r"start_timeout must be a number of seconds"),
        (dict(seed=-1), "seed must be at least 0"),
        (dict(seed=1.5), "seed must be a whole number"),
        (dict(run_id=""), "run_id must be a non-empty string"),
        (dict(worker_args=["-interval", "soon"]), "-interval in worker_args must be a number of seconds"),
        (dict(worker_bin="/nonexistent/worker"), "no such file"),
        (dict(worker_bin="/bin/true", seed=3), "only exist in the bundled emulator"),
        (dict(max_line=10), "max_line must be at least 64"),
        (dict(max_line=1 << 30), r"max_line must be at most 1048576 bytes"),
        (dict(max_line="4k"), "max_line must be a whole number"),
    ],
)
def test_every_bad_run_setting_is_a_config_error(kwargs, match):
    with pytest.raises(wl.ConfigError, match=match) as info:
        make_config(**kwargs)
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


def test_good_settings_pass_and_numpy_integers_count_as_whole_numbers():
    cfg = make_config(np.int64(3), np.int32(40), seed=np.int64(7))
    assert (cfg.workers, cfg.samples, cfg.seed) == (3, 40, 7)
    assert cfg.max_line == 4096 and make_config(max_line=np.int64(100)).max_line == 100
    assert type(cfg.workers) is int
    assert (DEADLINE, MAX_WORKERS, HOST) == (10.0, 16, "127.0.0.1")


SWEEP = dict(repeats=2, samples=20, deadline=DEADLINE, parallel=None, max_live_workers=64)


def check_batch(workers, **changes) -> list[int]:
    """``BatchSettings.check`` as a sweep calls it: the sweep's own arguments, then run options."""
    own = {k: changes.pop(k) for k in list(changes) if k in SWEEP}
    settings = BatchSettings.check(workers, **{**SWEEP, **own}, options=RunOptions(**changes))
    return list(settings.counts)


@pytest.mark.parametrize(
    "workers, changes, match",
    [
        ([], {}, "workers is empty"),
        ([2, 0], {}, "every worker count must be at least 1"),
        ([2, 2.5], {}, "every worker count must be a whole number"),
        ([2], dict(repeats=0), "repeats must be at least 1"),
        ([2], dict(parallel=0), "parallel"),
        ([2], dict(deadline=0), "deadline must be > 0 seconds"),
        ([8], dict(max_live_workers=4), "max_live_workers=4"),
        ([17], {}, "cap of 16"),
        ([2], dict(interval=-1), "interval must be > 0"),
    ],
)
def test_every_bad_sweep_argument_is_a_config_error(workers, changes, match):
    with pytest.raises(wl.ConfigError, match=match):
        check_batch(workers, **changes)


def test_batch_check_returns_the_distinct_counts_in_order():
    assert check_batch(np.array([4, 2, 4])) == [2, 4]
    assert check_batch(3) == [3]


def test_parse_workers_refuses_with_config_error():
    with pytest.raises(wl.ConfigError, match="empty range"):
        parse_workers("5-3")


def test_collect_and_sweep_refuse_before_anything_starts(spawned):
    with pytest.raises(wl.ConfigError, match="samples must be at least 1"):
        wl.collect(2, 0, progress=False)
    with pytest.raises(wl.ConfigError, match="repeats must be at least 1"):
        wl.sweep([2], repeats=0, progress=False)
    with pytest.raises(wl.ConfigError, match="on_update must be callable"):
        wl.sweep([2], on_update="print", progress=False)
    assert spawned == []


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, True, "0.9", None])
def test_a_level_or_confidence_outside_0_1_is_one_config_error_wherever_given(value):
    """The sweep's verdict, the search and the CLI share one check of a share (config.share)."""
    import pandas as pd

    with pytest.raises(wl.ConfigError, match="level must be between 0 and 1"):
        wl.threshold(pd.DataFrame(), level=value)
    with pytest.raises(wl.ConfigError, match="confidence must be between 0 and 1"):
        wl.find_threshold(confidence=value, progress=False)


# -- RunOptions: the run options, validated once and passed down whole -------------------------------


def test_run_options_are_validated_when_built_and_again_when_replaced():
    import dataclasses

    opts = RunOptions(interval=0.5, worker_args=["-lead", "0.1"])
    assert opts.worker_args == ("-lead", "0.1") and opts.pace() == (0.5, 0.1)
    with pytest.raises(ConfigError, match="interval must be > 0 seconds"):
        RunOptions(interval=-1)
    with pytest.raises(ConfigError, match="mtbf must be"):
        dataclasses.replace(opts, mtbf="soon")
    with pytest.raises(ConfigError, match="only exist in the bundled emulator"):
        RunOptions(worker_bin="/bin/true", seed=3)


def test_run_options_make_each_runs_config_and_check_its_size():

    opts = RunOptions(max_workers=4, mtbf=0)
    cfg = opts.config(4, 10, run_id="r1")
    assert (cfg.workers, cfg.samples, cfg.run_id, cfg.emulator) == (4, 10, "r1", True)
    assert cfg.extra_args == ("-mtbf", "0.0") and cfg.stall_after == 3.0
    with pytest.raises(ConfigError, match="more than the cap of 4"):
        opts.config(5, 10)
    with pytest.raises(ConfigError, match="unknown run option .intervall.; the run options are worker_bin"):
        make_config(4, 10, intervall=0.5)


# -- RunOptions.resolve: options= beside the keywords, one rule for every public call ---------------


def test_resolve_without_options_is_the_keywords_validated():
    opts = RunOptions.resolve(None, interval=0.5, mtbf=0)
    assert opts == RunOptions(interval=0.5, mtbf=0)
    assert RunOptions.resolve(None) == RunOptions()
    with pytest.raises(ConfigError, match="interval must be > 0 seconds"):
        RunOptions.resolve(None, interval=-1)


def test_resolve_keywords_override_the_fields_of_options_and_defaults_leave_them():
    base = RunOptions(interval=0.5, mtbf=5, seed=1, worker_args=["-lead", "0.1"], max_line=100)
    assert RunOptions.resolve(base) is base  # nothing given: the caller's object as it is
    # a keyword at its default (None, (), [], the START_TIMEOUT float as an int) is not given
    untouched = dict(interval=None, mtbf=None, seed=None, worker_args=[], start_timeout=10, max_line=4096)
    assert RunOptions.resolve(base, **untouched) is base
    changed = RunOptions.resolve(base, seed=7, mtbf=0, worker_args=("-lead", "0.2"))
    assert (changed.interval, changed.mtbf, changed.seed) == (0.5, 0.0, 7)
    assert changed.worker_args == ("-lead", "0.2") and changed.max_line == 100
    assert base.seed == 1  # never changed in place


def test_resolve_reads_only_the_run_options_of_a_calls_arguments():
    arguments = dict(workers=4, samples=10, progress=False, interval=0.25, stop=None, options=None)
    assert RunOptions.resolve(None, arguments) == RunOptions(interval=0.25)
    assert RunOptions.resolve(RunOptions(mtbf=1), arguments) == RunOptions(interval=0.25, mtbf=1)


def test_resolve_refuses_what_no_call_could_run():
    with pytest.raises(ConfigError, match="unknown run option 'intervall'; the run options are worker_bin"):
        RunOptions.resolve(None, intervall=0.5)
    with pytest.raises(ConfigError, match="options must be a wl.RunOptions"):
        RunOptions.resolve({"interval": 0.5})  # type: ignore[arg-type]
    # the combination is validated as a whole: an emulator flag beside a foreign binary
    with pytest.raises(ConfigError, match="only exist in the bundled emulator"):
        RunOptions.resolve(RunOptions(worker_bin="/bin/true"), interval=0.5)


# -- ConfigError names its argument: the command line names the flag from it -----------------------


@pytest.mark.parametrize(
    "make, param, problem",
    [
        (lambda: make_config(0, 10), "workers", "must be at least 1, got 0"),
        (lambda: RunOptions(interval=-1), "interval", "must be > 0 seconds, got -1"),
        (lambda: RunOptions(max_line=10), "max_line", "must be at least 64, got 10"),
        (lambda: RunOptions(worker_bin="/no/such/worker"), "worker_bin", "no such file: '/no/such/worker'"),
        (lambda: parse_workers("5-3"), "workers", "5-3 is an empty range"),
        (lambda: check_batch([8], max_live_workers=4), "max_live_workers", "a run of 8 workers needs 8"),
    ],
)
def test_a_config_error_names_its_argument_and_says_the_problem_without_it(make, param, problem):
    with pytest.raises(ConfigError) as info:
        make()
    err = info.value
    assert err.param == param and err.problem.startswith(problem)
    assert err.cli.startswith(problem[:4])  # the command line's wording of the same problem


def test_hints_exist_in_both_syntaxes_where_they_differ():
    with pytest.raises(ConfigError) as cap:
        make_config(20, 10)
    assert "max_workers=20" in str(cap.value) and cap.value.cli.endswith("with --max-workers 20")
    with pytest.raises(ConfigError) as emu:
        RunOptions(worker_bin="/bin/true", interval=0.05)
    assert "worker_args=('-interval', '0.05')" in str(emu.value) and emu.value.param == "interval"
    assert emu.value.cli.endswith("pass --worker-arg=-interval --worker-arg=0.05")


def test_a_missing_binary_is_said_before_the_emulator_only_options():
    with pytest.raises(ConfigError, match="no such file: '/no/such/worker'") as info:
        RunOptions(worker_bin="/no/such/worker", interval=0.05, seed=1)
    assert info.value.param == "worker_bin"
