"""The worker emulator as a real process over real loopback sockets: no mocks.

Time is compressed (-interval FAST). Timing asserts are lower bounds only (the schedule can be late on a
noisy machine, never early). Workers get -mtbf 0 unless the test is about crashes, because the default
lifetime (mean 30 s) would make any test flaky.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import EMULATOR, FAST, WORKER_BIN, free_port

LINE = re.compile(rb"rnd=(\d|[1-9]\d)\n")
STARTED = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d worker (-?\d+) started on 127\.0\.0\.1:(\d+)\n")
VENV_PATH = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


# --- helpers ---------------------------------------------------------------------------------------


def stderr_line(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """The next line the process writes to stderr ('' on EOF or timeout)."""
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    return proc.stderr.readline().decode() if ready else ""


def start(spawn, *args: str, fast: bool = True, worker_id: int = 1) -> tuple[subprocess.Popen, int]:
    """An emulator on an ephemeral port (-port 0, no race for a free port), once it listens.

    fast=True prepends -interval FAST -mtbf 0; a later flag of the same name wins (Go semantics).
    """
    pre = ("-interval", str(FAST), "-mtbf", "0") if fast else ()
    proc = spawn("-workerId", str(worker_id), "-port", "0", *pre, *args)
    line = stderr_line(proc)
    m = STARTED.fullmatch(line)
    assert m, f"no started line: {line!r}"
    return proc, int(m.group(2))


def seed_with_lifetime(mtbf: float, low: float, high: float) -> tuple[int, float]:
    """A seed whose lifetime (random.Random(seed).expovariate(1/mtbf), as the emulator draws it) is in range."""
    for seed in range(100_000):
        lifetime = random.Random(seed).expovariate(1 / mtbf)
        if low <= lifetime <= high:
            return seed, lifetime
    raise AssertionError("no such seed")


class Raw:
    """A hand-rolled HTTP/1.1 client on a raw socket that keeps the chunk framing visible."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sent = 0.0

    def close(self) -> None:
        self.sock.close()

    def get(self, target: str) -> None:
        self.sent = time.monotonic()
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(self.buf)
        self.buf += data

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self) -> tuple[int, dict[str, str]]:
        """Status code and headers (names lower-cased; a repeated name fails the test)."""
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")[:-2]
        version, code, _ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"repeated header {name}"
            headers[name.lower()] = value.strip()
        return int(code), headers

    def body(self, headers: dict[str, str]) -> bytes:
        return self._exactly(int(headers["content-length"]))

    def chunk(self) -> bytes | None:
        """One chunk's payload; None for the terminating 0-chunk (whose trailing CRLF is consumed)."""
        size = int(self._until(b"\r\n")[:-2], 16)
        payload = self._exactly(size + 2)
        assert payload[-2:] == b"\r\n", payload
        return payload[:-2] if size else None

    def stream(self) -> tuple[list[tuple[float, bytes]], bool]:
        """(arrival time, payload) of each chunk, and whether the stream ended with the 0-chunk."""
        chunks = []
        try:
            while (payload := self.chunk()) is not None:
                chunks.append((time.monotonic(), payload))
        except EOFError:
            return chunks, False
        return chunks, True

    def rnd(self, n: int) -> tuple[list[tuple[float, bytes]], bool]:
        """GET /rnd?n=N expecting 200; the stream as in stream()."""
        self.get(f"/rnd?n={n}")
        code, _ = self.head()
        assert code == 200
        return self.stream()


def values(chunks: list[tuple[float, bytes]]) -> list[int]:
    """The numbers of the complete lines in the chunks; every complete line must be well-formed."""
    data = b"".join(payload for _, payload in chunks)
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.splitlines(keepends=True)
    assert all(LINE.fullmatch(line) for line in lines), lines
    return [int(line[4:]) for line in lines]


def stream_values(port: int, n: int) -> list[int]:
    raw = Raw(port)
    chunks, ended = raw.rnd(n)
    raw.close()
    assert ended
    return values(chunks)


# --- HTTP contract ---------------------------------------------------------------------------------


def test_headers_chunk_framing_and_keep_alive(spawn):
    proc, port = start(spawn, worker_id=5)
    raw = Raw(port)
    raw.get("/rnd?n=3")
    code, headers = raw.head()
    assert code == 200
    assert set(headers) == {
        "cache-control",
        "connection",
        "content-type",
        "x-worker-id",
        "date",
        "transfer-encoding",
    }
    assert headers["cache-control"] == "no-cache"
    assert headers["connection"] == "keep-alive"
    assert headers["content-type"] == "application/text"
    assert headers["x-worker-id"] == "5"
    assert headers["transfer-encoding"] == "chunked"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["date"])
    chunks, ended = raw.stream()
    assert ended, "no terminating 0-chunk"
    assert len(chunks) == 3 and all(LINE.fullmatch(p) for _, p in chunks), "one line per chunk"
    # keep-alive: the same connection serves the next stream
    chunks, ended = raw.rnd(2)
    assert ended and len(values(chunks)) == 2
    assert raw.buf == b"", "nothing after the terminating chunk"
    raw.close()
    assert proc.poll() is None


def test_pacing_follows_an_absolute_schedule(spawn):
    _, port = start(spawn)
    raw = Raw(port)
    n = 12
    chunks, ended = raw.rnd(n)
    assert ended and len(chunks) == n
    arrivals = [t for t, _ in chunks]
    assert arrivals == sorted(arrivals)
    for i, t in enumerate(arrivals):  # line i is never sent before request + i * interval
        assert t - raw.sent >= i * FAST - 1e-3
    assert arrivals[-1] - raw.sent >= (n - 1) * FAST


def test_line_format_and_value_range(spawn):
    _, port = start(spawn, "-interval", "0.0005")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/rnd?n=400")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200
    assert re.fullmatch(rb"(rnd=(\d|[1-9]\d)\n){400}", body)
    nums = [int(v) for v in re.findall(rb"rnd=(\d+)", body)]
    assert min(nums) >= 0 and max(nums) <= 99
    assert len(set(nums)) > 50, "values should cover the range"


@pytest.mark.parametrize(
    "target",
    ["/rnd", "/rnd?n=", "/rnd?n=abc", "/rnd?n=0", "/rnd?n=-3", "/rnd?n=1.5", "/rnd?m=5", "/rnd?n=%205"],
)
def test_bad_n_is_400_with_one_line(spawn, target):
    _, port = start(spawn)
    raw = Raw(port)
    raw.get(target)
    code, headers = raw.head()
    body = raw.body(headers)
    assert code == 400
    assert body.endswith(b"\n") and body.count(b"\n") == 1 and len(body) > 1
    chunks, ended = raw.rnd(1)  # the connection stays usable
    assert ended and len(values(chunks)) == 1


@pytest.mark.parametrize("target", ["/", "/rnd/", "/foo?n=3", "/rnd2?n=1"])
def test_other_paths_are_404(spawn, target):
    _, port = start(spawn)
    raw = Raw(port)
    raw.get(target)
    code, headers = raw.head()
    assert code == 404
    assert raw.body(headers).count(b"\n") == 1


def test_second_concurrent_stream_is_429_until_the_first_ends(spawn):
    _, port = start(spawn)
    first, second = Raw(port), Raw(port)
    first.get("/rnd?n=15")
    assert first.head()[0] == 200
    assert first.chunk() is not None  # the stream is under way
    second.get("/rnd?n=2")
    code, headers = second.head()
    body = second.body(headers)
    assert code == 429
    assert body.endswith(b"\n") and body.count(b"\n") == 1
    chunks, ended = first.stream()
    assert ended and len(chunks) == 14
    chunks, ended = second.rnd(2)  # the same (keep-alive) connection, now accepted
    assert ended and len(values(chunks)) == 2


def test_keep_alive_with_http_client(spawn):
    _, port = start(spawn)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    bodies, socks = [], []
    for n in (3, 4):
        conn.request("GET", f"/rnd?n={n}")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Connection") == "keep-alive"
        bodies.append(resp.read())
        socks.append(conn.sock)
    conn.close()
    assert [b.count(b"\n") for b in bodies] == [3, 4]
    assert socks[0] is socks[1], "http.client had to reconnect"


def test_a_client_hanging_up_frees_the_stream_slot(spawn):
    _, port = start(spawn)
    quitter = Raw(port)
    quitter.get("/rnd?n=100000")
    assert quitter.head()[0] == 200 and quitter.chunk() is not None
    quitter.close()
    deadline = time.monotonic() + 5
    while True:  # the worker notices within about one interval; retry until then
        raw = Raw(port)
        raw.get("/rnd?n=1")
        code, headers = raw.head()
        if code == 200 or time.monotonic() > deadline:
            break
        raw.body(headers)
        raw.close()
        time.sleep(FAST)
    assert code == 200
    assert len(values(raw.stream()[0])) == 1


def test_sigterm_stops_it_promptly(spawn):
    proc, port = start(spawn)
    raw = Raw(port)
    raw.get("/rnd?n=1000")
    assert raw.head()[0] == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == -signal.SIGTERM


# --- command line ----------------------------------------------------------------------------------


def test_started_line_on_stderr_when_listening(spawn):
    port = free_port()
    proc = spawn("-workerId", "5", "-port", str(port), "-mtbf", "0")
    line = stderr_line(proc)
    assert STARTED.fullmatch(line) and line.endswith(f"worker 5 started on 127.0.0.1:{port}\n"), line
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # listening when it says so


@pytest.mark.parametrize("style", ["-{} {}", "-{}={}", "--{} {}", "--{}={}"])
def test_go_flag_syntaxes(spawn, style):
    port = free_port()
    args = []
    for name, value in (("workerId", "7"), ("port", port), ("interval", FAST), ("mtbf", 0)):
        args += style.format(name, value).split(" ")
    proc = spawn(*args)
    assert STARTED.fullmatch(line := stderr_line(proc)) and f"worker 7 started on 127.0.0.1:{port}" in line
    raw = Raw(port)
    raw.get("/rnd?n=2")
    code, headers = raw.head()
    assert code == 200 and headers["x-worker-id"] == "7"
    assert raw.stream()[1]


@pytest.mark.parametrize("flag", ["-split", "-split=true", "--split=1", "-split=T"])
def test_bool_flags_take_no_value_or_an_explicit_one(spawn, flag):
    _, port = start(spawn, flag, "-seed", "3")
    chunks, ended = Raw(port).rnd(9)
    assert ended and any(not p.endswith(b"\n") for _, p in chunks), "-split had no effect"


def test_port_in_use_is_one_line_and_exit_1(spawn):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn("-workerId", "4", "-port", str(port), "-mtbf", "0")
        assert proc.wait(timeout=10) == 1
        err = proc.stderr.read().decode()
    assert err == f"worker 4: port {port} is already in use\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["-workerId", "1", "-port", "1", "-bogus"], "flag provided but not defined: -bogus"),
        (["--bogus=1", "-workerId", "1", "-port", "1"], "flag provided but not defined: -bogus"),
        (["-workerId", "1", "-port", "x"], 'invalid value "x" for flag -port'),
        (["-workerId", "1", "-port", "1", "-interval", "-1"], 'invalid value "-1" for flag -interval'),
        (["-workerId", "1", "-port", "1", "-split=maybe"], 'invalid boolean value "maybe" for -split'),
        (["-workerId", "1", "-port"], "flag needs an argument: -port"),
        (["-port", "1"], "flag -workerId is required"),
        (["-workerId", "1"], "flag -port is required"),
        (["-workerId", "1", "-port", "1", "-crashMode", "boom"], 'invalid value "boom" for flag -crashMode'),
    ],
)
def test_bad_command_line_prints_usage_and_exits_2(args, message):
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(EMULATOR), *args], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(message), proc.stderr
    assert "Usage of worker:" in proc.stderr and "-workerId int" in proc.stderr


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help_prints_usage_and_exits_0(flag):
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(EMULATOR), flag], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 0
    assert proc.stderr.startswith("Usage of worker:")
    for name in (
        "crashCode",
        "crashMode",
        "flaky",
        "hangAfter",
        "interval",
        "lead",
        "mtbf",
        "port",
        "seed",
        "sentLog",
        "split",
        "startDelay",
        "workerId",
    ):
        assert f"  -{name}" in proc.stderr


def test_main_returns_the_status_in_process(capsys):
    from workerlab import emulator  # the import path `workerlab worker` uses

    assert emulator.main(["-workerId", "1", "-port", "1", "-nope"]) == 2
    assert "flag provided but not defined: -nope" in capsys.readouterr().err


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
    with pytest.raises(ConnectionResetError):
        while True:
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
            assert proc.poll() is None and time.monotonic() - t_spawn < 10
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


# --- bin/worker and start-up weight ----------------------------------------------------------------


def test_bin_worker_runs_with_the_original_cli():
    assert os.access(WORKER_BIN, os.X_OK)
    assert WORKER_BIN.read_text().startswith("#!/usr/bin/env -S python3 -I -S\n")
    port = free_port()
    proc = subprocess.Popen(
        [str(WORKER_BIN), "-workerId", "3", "-port", str(port), "-interval", str(FAST), "-mtbf", "0"],
        env=dict(os.environ, PATH=VENV_PATH),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert f"worker 3 started on 127.0.0.1:{port}" in stderr_line(proc)
        assert len(stream_values(port, 3)) == 3
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()


def test_bin_worker_needs_neither_the_package_nor_its_real_location(tmp_path):
    """A copy of bin/worker + emulator.py alone (no workerlab/__init__.py), run through a symlink."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "workerlab").mkdir()
    shutil.copy2(WORKER_BIN, tmp_path / "bin" / "worker")
    shutil.copy2(EMULATOR, tmp_path / "workerlab" / "emulator.py")
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "worker"
    link.symlink_to(tmp_path / "bin" / "worker")
    proc = subprocess.run(
        [str(link), "-h"], env=dict(os.environ, PATH=VENV_PATH), capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 0 and proc.stderr.startswith("Usage of worker:"), proc.stderr


def test_importing_the_emulator_pulls_in_no_heavy_module():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules); import emulator; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(EMULATOR.parent)],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.split()
    assert "emulator" in out
    heavy = {
        "socket",
        "threading",
        "asyncio",
        "random",
        "hashlib",
        "http",
        "email",
        "datetime",
        "argparse",
        "selectors",
        "enum",
        "re",
        "pandas",
        "aiohttp",
        "workerlab",
        "os",
    }
    assert not heavy & set(out), f"heavy imports: {heavy & set(out)}"
    source = EMULATOR.read_text()
    assert not re.search(r"^\s*(import|from)\s+workerlab", source, re.M)
