"""The worker emulator as a real process over real loopback sockets: no mocks.

Its HTTP contract, its command line, and bin/worker; the fault flags are in test_emulator_faults.py.
Time is compressed (-interval FAST). Timing asserts are lower bounds only (the schedule can be late on a
noisy machine, never early). Workers get -mtbf 0 unless the test is about crashes, because the default
lifetime (mean 30 s) would make any test flaky.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from emulator_client import (
    LINE,
    STARTED,
    VENV_PATH,
    Raw,
    start,
    stderr_line,
    stream_values,
    values,
)
from helpers import EMULATOR, FAST, WORKER_BIN, free_port

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
    assert code == 200, "waited 5 s for the hung-up stream's slot to be free: still 429"
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
    from workerlab.worker import emulator  # the import path `workerlab worker` uses

    assert emulator.main(["-workerId", "1", "-port", "1", "-nope"]) == 2
    assert "flag provided but not defined: -nope" in capsys.readouterr().err


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
    (tmp_path / "workerlab" / "worker").mkdir(parents=True)
    shutil.copy2(WORKER_BIN, tmp_path / "bin" / "worker")
    shutil.copy2(EMULATOR, tmp_path / "workerlab" / "worker" / "emulator.py")
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
