"""A raw HTTP client and start-up helpers for the emulator's tests (tests/worker/test_emulator*.py).

Raw speaks HTTP/1.1 over a plain socket and records when each chunk arrived, so that tests see the
chunk framing and the pacing exactly as a client would.
"""

from __future__ import annotations

import os
import random
import re
import select
import socket
import subprocess
import sys
import time

from helpers import FAST

LINE = re.compile(rb"rnd=(\d|[1-9]\d)\n")
STARTED = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d worker (-?\d+) started on 127\.0\.0\.1:(\d+)\n")
VENV_PATH = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


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
