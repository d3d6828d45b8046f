"""The emulator's fault flags (crashes, hangs, delays, splits, the sent log) as real processes.

Time is compressed (-interval FAST); timing asserts are lower bounds only. See test_emulator.py.
"""

from __future__ import annotations

import random
import re
import socket
import time

import pytest
from emulator_client import (
    LINE,
    Raw,
    seed_with_lifetime,
    start,
    stderr_line,
    stream_values,
    values,
)
from helpers import FAST, free_port

# --- fault flags -----------------------------------------------------------------------------------


def test_mtbf_crash_is_abrupt_mid_stream(spawn):
    seed, lifetime = seed_with_lifetime(0.5, 0.25, 0.8)
    t_spawn = time.monotonic()
    proc, port = start(spawn, "-mtbf", "0.5", "-seed", str(seed))
    raw = Raw(port)
    chunks, ended = raw.rnd(100_000)
    assert not ended, "a crash must not send the terminating chunk"
    assert proc.wait(timeout=10) == 2
    assert time.monotonic() - t_spawn >= lifetime
    assert len(values(chunks)) >= 1
    assert "panic:" in proc.stderr.read().decode()


@pytest.mark.parametrize("mode", ["", "fin"])
def test_a_crash_closes_the_stream_cleanly_by_default(spawn, mode):
    """-crashMode fin (the default): the client reads every line the worker wrote, then an EOF."""
    seed, _ = seed_with_lifetime(0.4, 0.2, 0.6)
    proc, port = start(spawn, "-mtbf", "0.4", "-seed", str(seed), *(("-crashMode", mode) if mode else ()))
    chunks, ended = Raw(port).rnd(100_000)  # EOFError inside: a FIN
    assert not ended and len(values(chunks)) >= 1
    assert proc.wait(timeout=10) == 2


def test_crash_mode_rst_resets_the_connection_after_the_lines_it_wrote(spawn, tmp_path):
    """-crashMode rst: the lines written before the crash still arrive, then the read fails with a reset."""
    log = tmp_path / "sent.log"
    seed, _ = seed_with_lifetime(0.4, 0.2, 0.6)
    proc, port = start(spawn, "-mtbf", "0.4", "-seed", str(seed), "-crashMode", "rst", "-sentLog", str(log))
    raw = Raw(port)
    raw.get("/rnd?n=100000")
    assert raw.head()[0] == 200
    chunks = []
    deadline = time.monotonic() + 10
    with pytest.raises(ConnectionResetError):
        while True:
            assert time.monotonic() < deadline, "waited 10 s for the crash's connection reset"
            chunks.append((time.monotonic(), raw.chunk()))
    raw.close()
    assert proc.wait(timeout=10) == 2
    assert "panic:" in proc.stderr.read().decode()
    logged = [int(line.split(" ")[2]) for line in log.read_text().splitlines()]
    assert len(logged) >= 5 and values(chunks) == logged


def test_crash_code_sets_the_exit_status(spawn):
    seed, _ = seed_with_lifetime(0.2, 0.05, 0.3)
    proc, _ = start(spawn, "-mtbf", "0.2", "-seed", str(seed), "-crashCode", "7")
    assert proc.wait(timeout=10) == 7


@pytest.mark.slow
def test_crash_time_and_numbers_are_reproducible_from_the_seed(spawn):
    seed, lifetime = seed_with_lifetime(0.5, 0.3, 0.8)
    other, other_lifetime = seed_with_lifetime(0.5, 0.05, 0.25)
    reported, streams = [], []
    for s in (seed, seed, other):
        t_spawn = time.monotonic()
        proc, port = start(spawn, "-mtbf", "0.5", "-seed", str(s))
        streams.append(values(Raw(port).rnd(100_000)[0]))
        assert proc.wait(timeout=10) == 2
        assert time.monotonic() - t_spawn >= (lifetime if s == seed else other_lifetime)
        m = re.search(r"simulated crash after ([\d.]+) s", proc.stderr.read().decode())
        reported.append(float(m.group(1)))
    assert reported[0] == reported[1] == pytest.approx(lifetime, abs=1e-6)
    assert reported[2] == pytest.approx(other_lifetime, abs=1e-6)
    common = min(len(streams[0]), len(streams[1]))
    assert common >= 3 and streams[0][:common] == streams[1][:common]


def test_seed_gives_the_same_numbers_and_other_seeds_differ(spawn):
    runs = {}
    for key, seed in (("a", 42), ("b", 42), ("c", 43)):
        _, port = start(spawn, "-seed", str(seed), "-interval", "0.001")
        runs[key] = stream_values(port, 40)
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    rng = random.Random(42)  # documented: the lifetime is drawn first, then randrange(100) per line
    rng.random()
    assert runs["a"] == [rng.randrange(100) for _ in range(40)]


def test_numbers_continue_across_streams_without_repeating(spawn):
    _, port = start(spawn, "-seed", "9", "-interval", "0.001")
    first, second = stream_values(port, 20), stream_values(port, 20)
    _, port = start(spawn, "-seed", "9", "-interval", "0.001")
    assert stream_values(port, 40) == first + second


def test_hang_after_k_lines_keeps_the_connection_open(spawn):
    proc, port = start(spawn, "-hangAfter", "3")
    raw = Raw(port)
    raw.get("/rnd?n=10")
    assert raw.head()[0] == 200
    got = [raw.chunk() for _ in range(3)]
    assert all(LINE.fullmatch(p) for p in got)
    raw.sock.settimeout(15 * FAST + 0.3)  # only the silence is timed: a slow machine never fails it
    with pytest.raises(TimeoutError):  # silence, not EOF: the connection is still open
        raw.chunk()
    assert raw.buf == b""
    assert proc.poll() is None
    other = Raw(port)
    other.get("/rnd?n=1")
    assert other.head()[0] == 429, "a stalled stream still holds the worker"


def test_start_delay_listens_only_after_the_delay(spawn):
    port = free_port()
    t_spawn = time.monotonic()
    proc = spawn("-workerId", "1", "-port", str(port), "-mtbf", "0", "-startDelay", "0.3")
    refused = 0
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            break
        except ConnectionRefusedError:
            refused += 1
            assert proc.poll() is None and time.monotonic() - t_spawn < 10, "waited 10 s for it to listen"
            time.sleep(0.005)
    assert time.monotonic() - t_spawn >= 0.3
    assert refused > 0
    assert "started" in stderr_line(proc)


def test_split_splits_and_coalesces_but_keeps_the_lines(spawn):
    n = 30
    _, port = start(spawn, "-split", "-seed", "11")
    raw = Raw(port)
    chunks, ended = raw.rnd(n)
    assert ended
    payloads = [p for _, p in chunks]
    assert any(not p.endswith(b"\n") for p in payloads), "no line split across chunks"
    assert any(p.count(b"\n") >= 2 for p in payloads), "no lines coalesced into one chunk"
    assert any(p.endswith(b"\n") and p.count(b"\n") == 1 and p.startswith(b"rnd=") for p in payloads)
    assert chunks[-1][0] - raw.sent >= (n - 1) * FAST, "pacing stays one line per interval"
    _, plain_port = start(spawn, "-seed", "11", "-interval", "0.001")
    assert values(chunks) == stream_values(plain_port, n), "exactly the lines an unsplit stream has"


def test_lead_delays_the_first_line_of_every_stream(spawn):
    _, port = start(spawn, "-lead", "0.2")
    raw = Raw(port)
    for _ in range(2):
        raw.get("/rnd?n=3")
        assert raw.head()[0] == 200
        chunks, ended = raw.stream()
        assert ended and len(chunks) == 3
        assert chunks[0][0] - raw.sent >= 0.2
        assert chunks[-1][0] - raw.sent >= 0.2 + 2 * FAST


def test_flaky_means_mtbf_10_unless_mtbf_is_given(spawn):
    seed, lifetime = seed_with_lifetime(10, 0.1, 0.4)
    proc, _ = start(spawn, "-flaky", "-interval", str(FAST), "-seed", str(seed), fast=False)
    assert proc.wait(timeout=10) == 2
    assert "mtbf 10" in proc.stderr.read().decode()
    steady, port = start(spawn, "-flaky", "-mtbf", "0", "-seed", str(seed), fast=False)
    time.sleep(lifetime + 0.3)
    assert steady.poll() is None, "-mtbf 0 given explicitly: never crash"


def test_sent_log_matches_what_the_client_received(spawn, tmp_path):
    log = tmp_path / "sent.log"
    seed, _ = seed_with_lifetime(0.6, 0.3, 1.0)
    proc, port = start(spawn, "-split", "-mtbf", "0.6", "-seed", str(seed), "-sentLog", str(log))
    chunks, ended = Raw(port).rnd(100_000)
    assert proc.wait(timeout=10) == 2 and not ended
    received = values(chunks)
    rows = [line.split(" ") for line in log.read_text().splitlines()]
    assert len(received) >= 5
    assert [int(r[2]) for r in rows] == received
    assert {int(r[0]) for r in rows} == {proc.pid}
    times = [float(r[1]) for r in rows]
    assert times == sorted(times) and all(re.fullmatch(r"\d+\.\d{6}", r[1]) for r in rows)


def test_sent_log_can_be_shared_by_several_workers(spawn, tmp_path):
    log = tmp_path / "sent.log"
    started = [start(spawn, "-seed", str(s), "-sentLog", str(log)) for s in (1, 2)]
    clients = [Raw(port) for _, port in started]
    for raw in clients:  # both streams at once, appending to the same file
        raw.get("/rnd?n=10")
    got = {}
    for (proc, _), raw in zip(started, clients):
        assert raw.head()[0] == 200
        chunks, ended = raw.stream()
        assert ended
        got[proc.pid] = values(chunks)
    logged: dict[int, list[int]] = {}
    for line in log.read_text().splitlines():
        pid, _, value = line.split(" ")
        logged.setdefault(int(pid), []).append(int(value))
    assert logged == got
