"""The fault table of docs/hostile-workers.md: one real hostile process per row, at compressed time.

Each test points workerlab at tests/hostile_worker.py (or the emulator) and asserts what the event log
shows, the error's type and message (it must name the cause), that no process is left (children
included: every process a run starts inherits a tag in its environment, found with psutil) and that no
port is left bound. No test asserts a duration; each run has a small ``timeout=`` so that a wrong
behaviour costs seconds, not minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import hostile_worker
import pandas as pd
import psutil
import pytest
from helpers import FAST, ROOT
from support import groundtruth

import workerlab as wl
from workerlab.engine import ports
from workerlab.errors import CollectError, CollectTimeout

TAG = "WORKERLAB_HOSTILE_TAG"
IV = ("-interval", str(FAST))


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """The hostile worker's command; every process started meanwhile carries a fresh tag, killed at the end."""
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG, tag)
    yield hostile_worker.command(tmp_path)
    for proc in tagged(tag):
        proc.kill()


def tagged(tag: str | None = None) -> list[psutil.Process]:
    """Live (non-zombie) processes other than this one whose environment has the tag."""
    tag = tag or os.environ[TAG]
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(TAG) == tag and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def assert_nothing_left(df: pd.DataFrame) -> None:
    """No process of the run alive (children included), no port of the run still bound by one of ours."""
    deadline = time.monotonic() + 2.0  # a killed process may take a moment to be gone: wait, never race
    while (left := tagged()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running: {[(p.pid, p.cmdline()) for p in left]}"
    leaked, _ = groundtruth.bound_ports(df)
    assert not leaked, f"ports still bound: {leaked}"


def run_row(df: pd.DataFrame) -> str:
    rows = df[(df.event == "stop") & (df.worker_id == 0)]
    assert len(rows) == 1
    return str(rows.detail.iloc[0])


def details(df: pd.DataFrame, *events: str) -> list[str]:
    return df.loc[df.event.isin(events), "detail"].fillna("").astype(str).tolist()


def collect(hostile_bin: str, workers: int, samples: int, *args: str, **kw) -> pd.DataFrame:
    kw = {"timeout": 6.0, "progress": False, **kw}
    return wl.collect(workers, samples, worker_bin=hostile_bin, worker_args=(*IV, *args), **kw)


def fails(hostile_bin: str, workers: int, *args: str, **kw) -> CollectError:
    """Run expecting a failure that names its cause early: a CollectError that is not the timeout."""
    with pytest.raises(CollectError) as info:
        collect(hostile_bin, workers, 10_000, *args, **kw)
    err = info.value
    assert not isinstance(err, CollectTimeout), f"ended only at the timeout: {err}"
    assert "\n" not in str(err), "one line"
    assert run_row(err.events).startswith("target=10000 outcome=failed")
    assert_nothing_left(err.events)
    return err


def matches_sent_log(df: pd.DataFrame, log: Path) -> groundtruth.Report:
    report = groundtruth.compare(df, groundtruth.read_sent_log(log))
    assert (report.lost, report.duplicated, report.invented) == (0, 0, 0), report.problems
    return report


# --- floods: bounded memory ------------------------------------------------------------------------


def test_endless_line_is_an_error_and_the_run_goes_on(hostile, tmp_path):
    log = tmp_path / "sent.log"
    df = collect(hostile, 2, 40, "-mode", "endless", "-only", "1", "-lines", "2", "-sentLog", str(log))
    assert df.kept.sum() == 40
    w1 = df[df.worker_id == 1]
    assert any("line longer than 4096 bytes" in d for d in details(w1, "error"))
    assert (w1.event == "restart").any()
    matches_sent_log(df, log)  # the two lines before each endless one are counted
    assert_nothing_left(df)


def test_endless_line_from_every_worker_ends_early_naming_it(hostile):
    err = fails(hostile, 2, "-mode", "endless", "-lines", "0")
    assert "line longer than 4096 bytes" in str(err)


@pytest.mark.slow
def test_a_chunk_declared_gigabytes_long_is_read_as_lines_not_buffered(hostile):
    err = fails(hostile, 2, "-mode", "bigchunk")
    assert "line longer than 4096 bytes" in str(err)


@pytest.mark.slow
def test_lines_inside_a_gigabyte_chunk_count_as_they_arrive(hostile, tmp_path):
    log = tmp_path / "sent.log"
    df = collect(hostile, 1, 10, "-mode", "bigchunk", "-payload", "lines", "-sentLog", str(log))
    assert df.kept.sum() == 10
    matches_sent_log(df, log)
    assert_nothing_left(df)


# --- refusals and silence: a cause in every message -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("status", ["429", "500"])
def test_a_refusal_on_every_request_names_status_and_body(hostile, status):
    err = fails(hostile, 2, "-mode", status)
    assert f"HTTP {status}" in str(err) and f"refused ({status} mode)" in str(err)
    assert any(d.startswith(f"HTTP {status}") for d in details(err.events, "error"))
    assert not (err.events.event == "sample").any()


@pytest.mark.slow
def test_headers_never_sent(hostile):
    err = fails(hostile, 2, "-mode", "noheaders", stall_after=0.3)
    assert "no response headers" in str(err)


@pytest.mark.slow
def test_200_then_silence(hostile):
    err = fails(hostile, 2, "-mode", "silent200", stall_after=0.3)
    assert "then sent nothing" in str(err)


@pytest.mark.slow
def test_never_listens(hostile):
    err = fails(hostile, 2, "-mode", "nolisten", start_timeout=0.3)
    message = str(err)
    port = int(err.events.port.dropna().iloc[-1])
    assert "never listened on port" in message and "0.3 s" in message
    assert "never listening on port" in message  # the tail of its stderr
    assert any(f"port {p}" in message for p in err.events.port.dropna().astype(int)), (port, message)


def test_exits_at_once(hostile):
    err = fails(hostile, 2, "-mode", "exit")
    assert "exit=3" in str(err) and "exiting at once" in str(err)
    assert len(details(err.events, "crash")) >= 5


# --- resets -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reset_mid_stream_loses_no_line_and_says_reset(hostile, tmp_path):
    log = tmp_path / "sent.log"
    df = collect(hostile, 2, 16, "-mode", "rst", "-lines", "4", "-sentLog", str(log))
    assert df.kept.sum() == 16
    crashes = details(df, "crash")
    assert crashes and all("reset" in d.lower() for d in crashes), crashes
    matches_sent_log(df, log)
    assert_nothing_left(df)


@pytest.mark.slow
def test_reset_before_any_line_from_every_worker_ends_early_naming_it(hostile):
    err = fails(hostile, 2, "-mode", "rst", "-lines", "0", "-then", "exit")
    assert "reset" in str(err).lower()


@pytest.mark.slow
def test_emulator_crash_mode_rst_loses_no_line(tmp_path, monkeypatch):
    monkeypatch.setenv(TAG, uuid.uuid4().hex)
    log = tmp_path / "sent.log"
    df = wl.collect(
        3,
        90,
        interval=FAST,
        mtbf=0.3,
        seed=5,
        worker_args=("-crashMode", "rst", "-sentLog", str(log)),
        progress=False,
        timeout=20,
    )
    assert df.kept.sum() == 90 and (df.event == "crash").sum() >= 1
    assert any("reset" in d.lower() for d in details(df, "crash"))
    matches_sent_log(df, log)
    assert_nothing_left(df)


# --- slow and garbage: must succeed -----------------------------------------------------------------


@pytest.mark.slow
def test_one_byte_every_0_15_s_is_slow_not_stalled(hostile, tmp_path):
    log = tmp_path / "sent.log"
    df = collect(hostile, 1, 2, "-mode", "slow", "-sentLog", str(log), stall_after=0.5)
    assert df.kept.sum() == 2
    assert not (df.event == "stall").any()
    matches_sent_log(df, log)
    assert_nothing_left(df)


def test_garbage_mixed_with_good_lines_keeps_only_valid_numbers(hostile, tmp_path):
    log = tmp_path / "sent.log"
    df = collect(hostile, 1, 20, "-mode", "garbage", "-sentLog", str(log))
    assert df.kept.sum() == 20
    values = df.loc[df.event == "sample", "value"].astype(int)
    assert values.between(0, 99).all()
    errors = " ".join(details(df, "error"))
    for shown in ("rnd=abc", "rnd=-1", "9" * 20, "\\x00\\xff", "rnd=+5", "RND=5", "rnd=\\xd9\\xa3"):
        assert shown in errors, shown
    matches_sent_log(df, log)
    assert_nothing_left(df)


@pytest.mark.slow
def test_a_flood_of_garbage_lines_is_not_recorded_line_by_line(hostile):
    df = collect(hostile, 2, 30, "-mode", "garbage", "-every", "0", "-only", "1", "-mtbf", "0")
    assert df.kept.sum() == 30
    per_process = df[(df.event == "error") & (df.worker_id == 1)].groupby("pid").size()
    assert len(per_process) and (per_process <= 101).all(), per_process.to_dict()
    assert any("more garbage lines" in d for d in details(df, "error"))
    assert_nothing_left(df)


# --- nothing left running, and only our worker streamed from ----------------------------------------


def test_a_child_of_the_worker_is_stopped_with_it(hostile, tmp_path):
    children = tmp_path / "children"
    df = collect(hostile, 2, 40, "-mode", "child", "-childLog", str(children), "-mtbf", "0")
    assert df.kept.sum() == 40
    pids = [int(p) for p in children.read_text().split()]
    assert len(pids) >= 2
    assert_nothing_left(df)


@pytest.mark.slow
def test_a_foreign_listener_on_the_port_is_never_streamed_from(hostile, tmp_path, monkeypatch):
    port = ports.reserve()
    foreign_env = {k: v for k, v in os.environ.items() if k != TAG}
    squatter = subprocess.Popen(
        [hostile, "-workerId", "99", "-port", str(port), "-mode", "constant", "-value", "4242", *IV],
        env=foreign_env,
        stderr=subprocess.PIPE,
    )
    try:
        assert b"listening" in squatter.stderr.readline()
        handed = iter([port])
        real = ports.reserve
        monkeypatch.setattr(ports, "reserve", lambda: next(handed, None) or real())
        # our worker is slow to listen, so that the foreign one is the first to accept on the port
        df = wl.collect(
            1, 20, interval=FAST, mtbf=0, worker_args=("-startDelay", "0.3"), progress=False, timeout=6
        )
        assert df.kept.sum() == 20
        assert not (df.value == 4242).any(), "streamed from the foreign listener"
        assert any("another process" in d for d in details(df, "error", "crash"))
        assert squatter.poll() is None, "a foreign process is not ours to stop"
        assert_nothing_left(df)
    finally:
        squatter.kill()
        squatter.wait()
        squatter.stderr.close()
        ports.release(port)


def test_a_listener_in_the_workers_process_group_is_the_worker(hostile, tmp_path):
    """A wrapper that runs the real worker as its child (no exec): the child listens, in the wrapper's group."""
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(f"#!/bin/sh\n'{hostile}' \"$@\"\nexit $?\n")
    wrapper.chmod(0o755)
    df = collect(str(wrapper), 2, 20, "-mtbf", "0")
    assert df.kept.sum() == 20
    assert not any("another process" in d for d in details(df, "error", "crash"))
    assert_nothing_left(df)


# --- the command line -------------------------------------------------------------------------------


def _cli_run(hostile: str, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``workerlab run`` with one hostile worker in ``mode``, as a person would type it."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "workerlab", "run", "--workers", "1", "--no-progress"),
            *("--worker-bin", hostile, "--worker-arg=-mode", f"--worker-arg={mode}", *args),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.slow
def test_cli_failure_says_where_the_partial_log_went(hostile, tmp_path):
    out = tmp_path / "partial.parquet"
    res = _cli_run(hostile, "slow", "--samples", "100", "--timeout", "1", "--out", str(out))
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert str(out) in res.stderr and ".events" not in res.stderr, res.stderr
    assert wl.load(out).event.eq("spawn").any()


@pytest.mark.slow
def test_cli_failure_without_out_says_how_to_keep_the_log(hostile):
    res = _cli_run(hostile, "exit", "--samples", "10")
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "exiting at once" in res.stderr and "pass --out FILE.parquet" in res.stderr, res.stderr
    assert ".events" not in res.stderr


# --- property: random byte streams ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_random_byte_streams_never_raise_and_never_lose_a_valid_line(hostile, tmp_path, seed):
    """Seeded random streams (junk, valid lines, random chunks and pauses, four endings) from real processes.

    Each process mixes its pid into the seed, so restarts differ; the property holds for every stream:
    nothing but a documented CollectError leaves the collector, and every complete valid line the worker
    handed to its socket is in the log exactly once (in flight only for a process we stopped).
    """
    log = tmp_path / "sent.log"
    try:
        df = collect(hostile, 2, 60, "-mode", "random", "-seed", str(seed), "-sentLog", str(log), timeout=15)
    except CollectError as err:  # documented: e.g. five processes in a row without a valid line
        assert type(err).__module__ == "workerlab.errors"
        df = err.events
    report = matches_sent_log(df, log)
    assert report.lines_sent > 0 and report.malformed == 0
    assert_nothing_left(df)
