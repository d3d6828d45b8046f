"""The collection engine against real emulator processes over real sockets (time compressed).

No test asserts a duration: the machines are shared and noisy. They assert counts, order,
events, ground truth from the emulator's ``-sentLog``, and that no process is left.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import FAST, assert_clean, pid_alive, run_cell_interrupted, run_row, script, wait_for_async
from support import groundtruth

import workerlab as wl
from workerlab.config import HOST
from workerlab.engine.stop import Stop
from workerlab.errors import CollectError, CollectStopped, CollectTimeout, WorkerStartError
from workerlab.log import events

FAST_ARGS = dict(interval=FAST, progress=False)


def assert_matches_sent_log(df: pd.DataFrame, sent_log: Path) -> int:
    """Every number a worker fully wrote is in the log exactly once, in order, with its pid.

    A process that crashed or stalled must have delivered everything it wrote; one we
    stopped on purpose may have had lines in flight (received must be a prefix of sent).
    Returns how many lines were checked.
    """
    report = groundtruth.compare(df, groundtruth.read_sent_log(sent_log))
    assert report.ok, report.problems
    return report.lines_checked


def test_exact_target_with_consistent_seq_and_summary():
    df = wl.collect(4, 60, mtbf=0, **FAST_ARGS)
    samples = df[df.event == "sample"]
    kept = samples[samples.kept.astype(bool)]
    assert len(kept) == 60
    assert list(samples.seq) == list(range(1, len(samples) + 1))
    assert kept.seq.max() == 60 and not samples[samples.seq > 60].kept.any()
    assert samples.value.between(0, 99).all()
    assert set(df.worker_id) == {0, 1, 2, 3, 4}
    stop = events.parse_run_stop(run_row(df).detail)
    assert stop is not None and stop[:3] == (60, "reached", "")
    assert stop.t0 is not None and stop.t0 + df.t.max() <= time.monotonic()  # the run's clock
    s = wl.summary(df).iloc[0]
    assert (s.samples, s.numbers_processed, s.workers) == (60, len(samples), 4)
    assert s.elapsed_s == kept.t.max()
    # each worker: spawn, ready, connect before its first sample, one stop at the end
    for _wid, g in df[df.worker_id > 0].groupby("worker_id"):
        assert list(g.event.astype(str))[:3] == ["spawn", "ready", "connect"]
        assert list(g.event.astype(str))[-1] == "stop"
    assert_clean(df)


def test_dtypes_follow_the_schema():
    df = wl.collect(2, 10, mtbf=0, **FAST_ARGS)
    assert list(df.columns) == list(wl.SCHEMA)
    for col, dtype in wl.SCHEMA.items():
        assert df[col].dtype == dtype, col
    assert str(df.timestamp.dt.tz) == "UTC"
    assert df.t.is_monotonic_increasing


def test_crashes_restart_and_lose_nothing(tmp_path):
    log = tmp_path / "sent.log"
    df = wl.collect(6, 400, mtbf=0.4, seed=7, worker_args=["-sentLog", str(log)], **FAST_ARGS)
    crashes = df[df.event == "crash"]
    assert len(crashes) >= 3
    assert crashes.detail.str.contains("exit=2").all()
    for _, crash in crashes.iterrows():
        after = df[(df.worker_id == crash.worker_id) & (df.t >= crash.t) & (df.index > crash.name)]
        assert list(after.event.astype(str))[:2] == ["restart", "spawn"]
        assert after.iloc[1].pid != crash.pid  # a new process under the same worker_id
    assert df.kept.sum() == 400
    assert assert_matches_sent_log(df, log) == (df.event == "sample").sum()
    assert_clean(df)


def test_a_crash_is_timed_when_its_stream_broke_not_when_its_exit_status_came(monkeypatch):
    """Calibration reads a process's life up to its crash row: waiting for the exit status must not lengthen it."""
    from workerlab.engine import streaming

    real = streaming.exit_detail

    async def slow_exit_detail(proc, err):
        await asyncio.sleep(0.2)
        return await real(proc, err)

    monkeypatch.setattr(streaming, "exit_detail", slow_exit_detail)
    df = wl.collect(2, 60, mtbf=0.3, seed=5, **FAST_ARGS)
    crashes = df[(df.event == "crash") & df.detail.str.contains("; ")]  # mid-stream: "exit=2; <error>"
    assert len(crashes) >= 1
    for _, crash in crashes.iterrows():
        restart = df[
            (df.worker_id == crash.worker_id) & (df.event == "restart") & (df.index > crash.name)
        ].iloc[0]
        assert restart.t - crash.t >= 0.2  # the wait for the exit status lies between them
    assert_clean(df)


@pytest.mark.slow
def test_stalled_worker_is_killed_and_restarted(tmp_path):
    log = tmp_path / "sent.log"
    df = wl.collect(
        3, 60, mtbf=0, stall_after=0.3, worker_args=["-hangAfter", "5", "-sentLog", str(log)], **FAST_ARGS
    )
    stalls = df[df.event == "stall"]
    assert len(stalls) >= 3
    assert stalls.detail.str.startswith("no line for 0.3 s").all()
    assert (df.event == "restart").sum() >= len(stalls) - 3
    assert df.kept.sum() == 60
    assert_matches_sent_log(df, log)
    assert_clean(df)


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags", [["-split"], ["-startDelay", "0.2"], ["-lead", "0.1"], ["-split", "-mtbf", "0.5"]]
)
def test_fault_flags_still_give_exact_numbers(tmp_path, flags):
    log = tmp_path / "sent.log"
    df = wl.collect(
        4,
        80,
        seed=3,
        worker_args=[*flags, "-sentLog", str(log)],
        **({"mtbf": 0} if "-mtbf" not in flags else {}),
        **FAST_ARGS,
    )
    assert df.kept.sum() == 80
    assert (df.event == "error").sum() == 0
    assert assert_matches_sent_log(df, log) == (df.event == "sample").sum()
    if "-startDelay" in flags:  # the emulator sleeps 0.2 s before listening: ready comes after
        spawn = df[df.event == "spawn"].set_index("pid").t
        ready = df[df.event == "ready"].set_index("pid").t
        assert ((ready - spawn.loc[ready.index]) >= 0.2).all()
    assert_clean(df)


@pytest.mark.slow
def test_holds_exactly_one_stream_per_worker():
    """While the run streams, a second client is refused by the worker (429)."""
    seen: list[int] = []

    def probe(run):
        if seen or run.count < 5:
            return
        port = next(r[3] for r in run.records if r[0] == "connect")
        with socket.create_connection((HOST, port)) as s:
            s.sendall(b"GET /rnd?n=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            seen.append(int(s.recv(100).split()[1]))

    df = wl.collect(2, 200, mtbf=0, on_update=probe, **FAST_ARGS)
    assert seen == [429]
    assert (df.event == "connect").sum() == 2  # one stream per worker, never re-opened
    assert_clean(df)


GARBAGE_WORKER = '''#!{python}
"""A worker with the original's CLI that sends garbage between good lines."""
import socket, sys
port = int(sys.argv[sys.argv.index("-port") + 1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen()
while True:
    c, _ = srv.accept()
    req = b""
    while b"\\r\\n\\r\\n" not in req:
        data = c.recv(1024)
        if not data:
            break
        req += data
    if not data:
        c.close(); continue
    body = b"rnd=1\\nhello\\r\\nrnd=2\\r\\nrnd=x\\nrnd=3\\n"
    c.sendall(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
              + b"%x\\r\\n" % len(body) + body + b"\\r\\n0\\r\\n\\r\\n")
    c.close()
'''


def test_garbage_lines_are_errors_never_numbers(tmp_path):
    fake = script(tmp_path, "garbage-worker", GARBAGE_WORKER.format(python=sys.executable))
    df = wl.collect(1, 9, worker_bin=str(fake), stall_after=5, progress=False)
    samples = df[df.event == "sample"]
    assert list(samples.value.astype(int))[:9] == [1, 2, 3] * 3
    errors = df[df.event == "error"]
    assert errors.detail.str.contains("hello|rnd=x").all() and len(errors) >= 4
    assert (df.event == "stream_end").sum() >= 2  # each normal end was re-requested
    assert_clean(df)


def test_binary_that_dies_at_start_fails_clearly(tmp_path):
    bad = script(tmp_path, "broken-worker", "#!/bin/sh\necho 'error: libfoo.so missing' >&2\nexit 3\n")
    with pytest.raises(WorkerStartError) as info:
        wl.collect(2, 10, worker_bin=str(bad), progress=False)
    message = str(info.value)
    assert "exit=3" in message and "libfoo.so missing" in message and str(bad) in message
    df = info.value.events
    assert (df.event == "crash").sum() >= 5
    assert run_row(df).detail.startswith("target=10 outcome=failed")
    assert_clean(df)


def test_worker_that_crashes_before_any_number_backs_off_and_fails():
    with pytest.raises(WorkerStartError, match="without producing a number"):
        wl.collect(1, 10, mtbf=0.0001, **FAST_ARGS)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(workers=0), "workers must be at least 1"),
        (dict(workers=17), "cap of 16"),
        (dict(samples=0), "samples must be at least 1"),
        (dict(samples=-5), "samples must be at least 1"),
        (dict(worker_bin="/nonexistent/worker"), "no such file"),
        (dict(worker_bin="NOT_EXECUTABLE"), "not executable"),
        (dict(worker_bin="/tmp"), "directory"),
        (dict(worker_bin="/bin/true", interval=0.5), "only exist in the bundled emulator"),
        (dict(timeout=-1), "timeout must be > 0"),
    ],
)
def test_bad_input_is_one_clear_error_before_any_spawn(kwargs, match, tmp_path, spawned):
    if kwargs.get("worker_bin") == "NOT_EXECUTABLE":
        plain = tmp_path / "worker"
        plain.write_text("#!/bin/sh\n")
        plain.chmod(0o644)
        kwargs = {**kwargs, "worker_bin": str(plain)}
    with pytest.raises(wl.ConfigError, match=match):
        wl.collect(**{"progress": False, **kwargs})
    assert spawned == []


@pytest.mark.slow
def test_seventeen_workers_when_the_cap_is_raised():
    df = wl.collect(17, 850, max_workers=17, mtbf=0, **FAST_ARGS)  # long enough for all to start
    assert (df.n_workers == 17).all() and df.kept.sum() == 850
    assert df.worker_id.max() == 17
    assert_clean(df)


def test_timeout_returns_what_it_has():
    with pytest.raises(CollectTimeout, match="timed out after 0.5 s") as info:
        wl.collect(2, 100_000, mtbf=0, timeout=0.5, **FAST_ARGS)
    df = info.value.events
    assert 0 < (df.event == "sample").sum() < 100_000
    assert run_row(df).detail.startswith("target=100000 outcome=timeout")
    assert wl.summary(df).iloc[0].deadline_met == False  # noqa: E712 (pandas boolean)
    assert_clean(df)


@pytest.mark.slow
def test_two_runs_at_once_do_not_collide():
    async def both():
        return await asyncio.gather(
            wl.collect_async(4, 100, mtbf=0, **FAST_ARGS), wl.collect_async(4, 100, mtbf=0, **FAST_ARGS)
        )

    a, b = asyncio.run(both())
    assert a.kept.sum() == b.kept.sum() == 100
    assert a.run_id[0] != b.run_id[0]
    assert not set(a.port.dropna()) & set(b.port.dropna())
    assert_clean(a)
    assert_clean(b)


def test_cancelling_collect_async_stops_every_worker():
    pids: set[int] = set()

    async def main():
        task = asyncio.create_task(
            wl.collect_async(4, 100_000, mtbf=0, on_update=lambda run: pids.update(run.pids), **FAST_ARGS)
        )
        await wait_for_async(lambda: len(pids) >= 4, 30, "the 4 workers to have started")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(pids) == 4
    assert [p for p in pids if pid_alive(p)] == []


def test_a_stop_set_mid_run_stops_every_worker_and_returns_the_partial_log():
    stop = Stop()
    pids: set[int] = set()

    def watch(run):
        pids.update(run.pids)
        if run.count > 20:
            stop.set("stopped by the test")

    with pytest.raises(CollectStopped, match="stopped by the test with") as info:
        wl.collect(3, 100_000, mtbf=0, on_update=watch, stop=stop, **FAST_ARGS)
    assert isinstance(info.value, CollectError)
    df = info.value.events
    assert 20 < (df.event == "sample").sum() < 100_000
    row = events.parse_run_stop(run_row(df).detail)
    assert row is not None and row.outcome == "stopped" and row.message.startswith("stopped by the test")
    assert len(pids) >= 3 and [p for p in pids if pid_alive(p)] == []
    assert (df[df.worker_id > 0].event == "stop").sum() == len(set(df.pid.dropna()))  # each process stopped
    assert_clean(df)


def test_a_stop_set_in_a_running_loop_ends_collect_async_with_no_worker_left():
    pids: set[int] = set()

    async def main():
        stop = Stop()
        task = asyncio.create_task(
            wl.collect_async(
                4, 100_000, mtbf=0, stop=stop, on_update=lambda run: pids.update(run.pids), **FAST_ARGS
            )
        )
        await wait_for_async(lambda: len(pids) >= 4, 30, "the 4 workers to have started")
        stop.set()
        with pytest.raises(CollectStopped) as info:
            await task
        return info.value.events

    df = asyncio.run(main())
    assert len(pids) == 4 and [p for p in pids if pid_alive(p)] == []
    assert run_row(df).detail.startswith("target=100000 outcome=stopped")


def test_sync_collect_inside_a_running_loop():
    """What a Jupyter cell does: call the blocking API while the kernel's loop runs."""

    async def cell():
        return wl.collect(3, 30, mtbf=0, **FAST_ARGS)

    df = asyncio.run(cell())
    assert df.kept.sum() == 30
    assert_clean(df)


def test_interrupt_inside_a_running_loop_leaves_no_worker():
    """A kernel interrupt (KeyboardInterrupt raised in the loop) mid-run."""
    pids: set[int] = set()

    def interrupt(run):
        pids.update(run.pids)
        if run.count > 20:
            raise KeyboardInterrupt

    async def cell():
        return wl.collect(3, 100_000, mtbf=0, on_update=interrupt, **FAST_ARGS)

    run_cell_interrupted(cell)
    assert len(pids) == 3
    assert [p for p in pids if pid_alive(p)] == []


def test_progress_bar_shows_samples_and_crashes(capsys):
    wl.collect(2, 40, interval=FAST, mtbf=0)
    err = capsys.readouterr().err
    assert "40/40" in err and "crashes=0" in err


def test_salvage_returns_the_bytes_aiohttp_would_drop():
    """aiohttp raises a stored error before handing out buffered bytes; _salvage takes them."""
    import aiohttp
    from aiohttp.streams import StreamReader

    from workerlab.engine.streaming import salvage as _salvage

    class Protocol:
        _reading_paused = False

        def pause_reading(self) -> None: ...

        def resume_reading(self) -> None: ...

    async def main() -> tuple[bytes, bytes, bool]:
        reader = StreamReader(Protocol(), 2**16, loop=asyncio.get_running_loop())
        reader.feed_data(b"rnd=1\nrnd=2\n")
        reader.feed_data(b"rnd=3\n")
        assert await reader.read(3) == b"rnd"  # partly consumed: the offset must be honoured
        reader.set_exception(aiohttp.ClientPayloadError("worker died"))
        try:
            await reader.readany()
            raised = False
        except aiohttp.ClientPayloadError:
            raised = True
        return _salvage(reader), _salvage(reader), raised

    first, again, raised = asyncio.run(main())
    assert raised  # the behaviour that makes salvaging necessary
    assert first == b"=1\nrnd=2\nrnd=3\n"
    assert again == b""
