#!/usr/bin/env -S python3 -I -S
"""A test-only hostile worker: the worker's command line, and one misbehaviour per ``-mode``.

    hostile_worker.py -workerId N -port P -mode MODE [-only 1,3] [-interval S] [-lines K]
                      [-sentLog PATH] [-seed N] [-byteEvery S] [-then stay|exit] [-payload junk|lines] [-every M]
                      [-value V] [-childCmd CMD] [-childLog PATH] [any emulator flag]

Modes (one per row of the fault table in docs/hostile-workers.md):

  good        the bundled emulator itself (exec'd, same pid), with every emulator flag given
  endless     200, ``-lines`` valid lines, then one endless line: 64 KiB chunks with no newline, flat out
  bigchunk    200, then one chunk declared 4 GiB long; inside it ``-payload junk`` (default: bytes with no
              newline, flat out) or ``-payload lines`` (valid lines at ``-interval``, never completing it)
  429, 500    every request refused with that status and a one-line body
  noheaders   reads the request and never answers; the connection stays open
  silent200   200 and chunked headers, then nothing; the connection stays open
  rst         ``-lines`` valid lines, then a reset (SO_LINGER 0, close); ``-then stay`` (default) serves the
              next connection the same way, ``-then exit`` exits with status 3
  slow        valid lines, one byte per chunk every ``-byteEvery`` seconds (0.15)
  garbage     valid lines mixed with ``rnd=abc``, ``rnd=-1``, 20-digit numbers, binary and near misses;
              ``-every M``: one line in M valid (2); ``-every 0``: garbage only, flat out
  nolisten    one line on stderr, then sleeps without ever listening
  exit        one line on stderr, exit status 3 at once
  child       starts ``-childCmd`` (``sleep 600``, in the worker's process group), then runs as ``good``
  constant    valid lines ``rnd=<-value>`` at ``-interval`` (a stand-in for somebody else's server)
  random      seeded random byte streams: junk lines, valid lines, random chunking and pauses, then a
              normal end, a crash (FIN), a reset or a crash in the middle of a line

``-only 1,3`` applies the mode to those worker ids only; the others run as ``good``. Every valid line a
hostile mode fully hands to the socket is appended to ``-sentLog`` as ``<pid> <monotonic> <value>``, the
emulator's format, so ``support.groundtruth`` can check a run against it. Standard library only.
"""

from __future__ import annotations

import os
import sys
import time

# socket, random, signal and subprocess are imported by _load() once the mode is known: a worker that
# runs as the emulator execs it first, so that its start-up costs little more than the emulator's.

HERE = os.path.dirname(os.path.realpath(__file__))
EMULATOR_DIR = os.path.join(os.path.dirname(HERE), "workerlab", "worker")
MODES = (
    "good",
    "endless",
    "bigchunk",
    "429",
    "500",
    "noheaders",
    "silent200",
    "rst",
    "slow",
    "garbage",
    "nolisten",
    "exit",
    "child",
    "constant",
    "random",
)
#: the hostile worker's own flags: name -> (type, default); every other flag goes to the emulator
OWN = {
    "mode": (str, "good"),
    "only": (str, ""),
    "lines": (int, 3),
    "byteEvery": (float, 0.15),
    "then": (str, "stay"),
    "every": (int, 2),
    "payload": (str, "junk"),
    "value": (int, 4242),
    "childCmd": (str, "sleep 600"),
    "childLog": (str, ""),
}
#: flags shared with the emulator (kept when exec'ing it) that the hostile modes read too
SHARED = {"workerId": int, "port": int, "interval": float, "sentLog": str, "seed": int}
EMULATOR_BOOLS = ("split", "flaky")
STATUS = {"429": "429 Too Many Requests", "500": "500 Internal Server Error"}
#: what the collector accepts as a number: ``rnd=`` and 1..18 ASCII digits (then ``\r``? ``\n``)
MAX_DIGITS = 18
GARBAGE = (
    b"rnd=abc",
    b"rnd=-1",
    b"rnd=" + b"9" * 20,
    b"\x00\xff\xfe rnd=5 \x80\x81",
    b"rnd=+5",
    b" rnd=5",
    b"rnd=5 ",
    b"RND=5",
    "rnd=\u0663".encode(),  # an Arabic-Indic digit: a digit to str.isdigit, not to bytes
    b"rnd=",
    b"rnd=5\r\r",
    b"",
)


def usage(message: str) -> None:
    sys.stderr.write(f"{message}\nusage: hostile_worker.py -workerId N -port P -mode {{{','.join(MODES)}}}\n")
    sys.exit(2)


def parse(argv: list[str]) -> tuple[dict, list[str]]:
    """(options, argv for the emulator): Go-style ``-name value`` / ``-name=value`` flags."""
    opts: dict = {name: default for name, (_, default) in OWN.items()}
    opts.update(interval=1.0, sentLog="", seed=None, workerId=None, port=None)
    passed: list[str] = []
    i = 0
    while i < len(argv):
        name, eq, value = argv[i].lstrip("-").partition("=")
        if name in EMULATOR_BOOLS:
            passed.append(argv[i])
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                usage(f"flag needs an argument: -{name}")
            i += 1
            value = argv[i]
        i += 1
        kind = OWN[name][0] if name in OWN else SHARED.get(name)
        if name not in OWN:
            passed += [f"-{name}", value]  # the emulator checks the flags it gets
        if kind is not None:
            try:
                opts[name] = kind(value)
            except ValueError:
                usage(f'invalid value "{value}" for flag -{name}')
    if opts["workerId"] is None or opts["port"] is None:
        usage("flags -workerId and -port are required")
    if opts["mode"] not in MODES:
        usage(f'invalid value "{opts["mode"]}" for flag -mode')
    return opts, passed


def exec_emulator(passed: list[str]) -> None:
    """Become the bundled emulator (same pid, so the collector's process is still this one)."""
    code = f"import sys; sys.path.insert(0, {EMULATOR_DIR!r}); import emulator; sys.exit(emulator.main())"
    os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", code, *passed])


def valid(line: bytes) -> bool:
    """True if the collector must count this line (without its ``\\n``) as a number."""
    if line[-1:] == b"\r":
        line = line[:-1]
    digits = line[4:]
    return line[:4] == b"rnd=" and digits.isdigit() and len(digits) <= MAX_DIGITS


class Sender:
    """Writes to one connection and logs each valid line once the socket has taken its newline.

    SIGTERM waits for a send and its log entry to finish, so every line the collector can have
    received is in the sent log (as the emulator does with ``-sentLog``).
    """

    def __init__(self, opts: dict) -> None:
        self.log = open(opts["sentLog"], "ab", buffering=0) if opts["sentLog"] else None
        self.pid = os.getpid()
        self.sending = False
        self.pending: int | None = None
        signal.signal(signal.SIGTERM, self.on_term)

    def on_term(self, signum: int, _frame) -> None:
        if self.sending:
            self.pending = signum
        else:
            die(signum)

    def send(self, sock: socket.socket, data: bytes, values: tuple = ()) -> None:
        self.sending = True
        try:
            sock.sendall(data)
            if self.log is not None:
                for value in values:
                    self.log.write(b"%d %.6f %d\n" % (self.pid, time.monotonic(), value))
        finally:
            self.sending = False
        if self.pending is not None:
            die(self.pending)


def die(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def head(worker_id: int) -> bytes:
    """The original worker's 200 response head."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    return (
        "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n"
        f"Content-Type: application/text\r\nX-Worker-Id: {worker_id}\r\nDate: {date}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


def read_request(sock: socket.socket) -> int | None:
    """Read one request head; return its ``n`` (1 if absent or bad), or None if the client left."""
    buf = b""
    while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
        data = sock.recv(65536)
        if not data or len(buf) > 65536:
            return None
        buf += data
    target = buf.split(b" ", 2)[1] if buf.count(b" ") >= 2 else b""
    for part in target.partition(b"?")[2].split(b"&"):
        if part.startswith(b"n=") and part[2:].isdigit():
            return max(1, int(part[2:]))
    return 1


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, (1).to_bytes(4, "little") + bytes(4))
    sock.close()


class Hostile:
    """Listens on ``-port`` and serves one connection at a time in the chosen mode."""

    def __init__(self, opts: dict) -> None:
        self.o = opts
        self.id = opts["workerId"]
        self.out = Sender(opts)
        seed = opts["seed"] if opts["seed"] is not None else time.time_ns() + os.getpid()
        if opts["mode"] == "random":  # every process its own stream: a restart must not replay the last one
            seed = (seed * 1_000_003 + self.id) * 4_194_319 + os.getpid()
        self.rng = random.Random(seed * 1_000_003 + self.id)
        self.held: list[socket.socket] = []  # connections kept open without an answer

    def line(self, sock: socket.socket, value: int | None = None) -> None:
        value = self.rng.randrange(100) if value is None else value
        self.out.send(sock, chunk(b"rnd=%d\n" % value), (value,))

    def serve_forever(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.o["port"]))
        listener.listen(16)
        sys.stderr.write(f"hostile worker {self.id} ({self.o['mode']}) listening on port {self.o['port']}\n")
        sys.stderr.flush()
        while True:
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.connection(sock)
            except OSError:  # the client went away: next one
                sock.close()

    def connection(self, sock: socket.socket) -> None:
        mode, interval = self.o["mode"], self.o["interval"]
        while (n := read_request(sock)) is not None:
            if mode in STATUS:
                body = f"hostile worker {self.id}: refused ({mode} mode)\n".encode()
                sock.sendall(
                    f"HTTP/1.1 {STATUS[mode]}\r\nContent-Type: text/plain\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                continue
            if mode == "noheaders":
                self.held.append(sock)
                return
            sock.sendall(head(self.id))
            if mode == "silent200":
                self.held.append(sock)
                return
            getattr(self, "stream_" + mode)(sock, n, interval)
            return

    def paced(self, sock: socket.socket, count: int, interval: float) -> None:
        start = time.monotonic()
        for i in range(count):
            time.sleep(max(0.0, start + i * interval - time.monotonic()))
            self.line(sock)

    def stream_endless(self, sock: socket.socket, n: int, interval: float) -> None:
        self.paced(sock, self.o["lines"], interval)
        flood = chunk(b"x" * 65536)
        while True:
            sock.sendall(flood)

    def stream_bigchunk(self, sock: socket.socket, n: int, interval: float) -> None:
        sock.sendall(b"100000000\r\n")  # 4 GiB declared; never completed
        if self.o["payload"] == "lines":
            start = time.monotonic()
            for i in range(n):
                time.sleep(max(0.0, start + i * interval - time.monotonic()))
                value = self.rng.randrange(100)
                self.out.send(sock, b"rnd=%d\n" % value, (value,))
            sock.close()
            return
        flood = b"y" * 65536
        while True:
            sock.sendall(flood)

    def stream_rst(self, sock: socket.socket, n: int, interval: float) -> None:
        self.paced(sock, min(n, self.o["lines"]), interval)
        reset(sock)
        if self.o["then"] == "exit":
            os._exit(3)

    def stream_slow(self, sock: socket.socket, n: int, interval: float) -> None:
        for _ in range(n):
            value = self.rng.randrange(100)
            data = b"rnd=%d\n" % value
            for i in range(len(data)):
                time.sleep(self.o["byteEvery"])
                last = i == len(data) - 1
                self.out.send(sock, chunk(data[i : i + 1]), (value,) if last else ())
        sock.sendall(b"0\r\n\r\n")

    def stream_garbage(self, sock: socket.socket, n: int, interval: float) -> None:
        """Every ``-every``-th line valid, the others garbage, one a ``-interval``; ``-every 0``: garbage
        only, as fast as the socket takes it (a flood)."""
        every = self.o["every"]
        if every == 0:
            flood = chunk(b"\n".join(GARBAGE * 50) + b"\n")
            while True:
                sock.sendall(flood)
        start, sent, k = time.monotonic(), 0, 0
        while sent < n:
            time.sleep(max(0.0, start + k * interval - time.monotonic()))
            if k % every:
                self.out.send(sock, chunk(GARBAGE[(k // every) % len(GARBAGE)] + b"\n"))
            else:
                self.line(sock)
                sent += 1
            k += 1
        sock.sendall(b"0\r\n\r\n")

    def stream_constant(self, sock: socket.socket, n: int, interval: float) -> None:
        start = time.monotonic()
        for i in range(n):
            time.sleep(max(0.0, start + i * interval - time.monotonic()))
            self.line(sock, self.o["value"])
        sock.sendall(b"0\r\n\r\n")

    def stream_random(self, sock: socket.socket, n: int, interval: float) -> None:
        """Junk and valid lines in random chunks with random pauses, then one of four endings."""
        rng = self.rng
        pending = b""  # generated, not yet handed to the socket
        values: list[int] = []  # values of the valid lines generated and not yet logged, in order
        tail = b""  # bytes handed to the socket after the last newline

        def flush(part: bytes) -> None:
            nonlocal tail
            lines = (tail + part).split(b"\n")
            tail = lines.pop()
            done = tuple(values.pop(0) for line in lines if valid(line))
            self.out.send(sock, chunk(part), done)

        for _ in range(rng.randint(5, 80)):
            if rng.random() < 0.5:
                value = rng.choice([rng.randrange(100), rng.randrange(10**MAX_DIGITS)])
                pending += b"rnd=%d%s\n" % (value, b"\r" if rng.random() < 0.1 else b"")
                values.append(value)
            else:
                junk = rng.randbytes(rng.randint(0, 300)).replace(b"\n", b"")
                pending += (b"#" + junk if valid(junk) else junk) + b"\n"
            if rng.random() < 0.6:  # hand a random prefix of what is pending to the socket
                cut = rng.randint(1, len(pending))
                part, pending = pending[:cut], pending[cut:]
                flush(part)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0, 2 * interval))
        ending = rng.choice(["end", "crash", "reset", "cut"])
        if ending == "cut":  # dies in the middle of a line: that partial line must not count
            pending += b"rnd=12"
        if pending:
            flush(pending)
        if ending == "end":
            sock.sendall(b"0\r\n\r\n")
            return
        if ending == "reset":
            reset(sock)
        os._exit(4)


def _load() -> None:
    global random, signal, socket, subprocess
    import random
    import signal
    import socket
    import subprocess


def command(directory: str | os.PathLike[str]) -> str:
    """Write an executable wrapper that runs this file with the current interpreter; return its path.

    ``wl.collect(worker_bin=command(tmp), worker_args=("-mode", "rst"))``. The file itself is
    executable too (``#!/usr/bin/env python3``); the wrapper pins the interpreter and skips ``env``.
    """
    path = os.path.join(os.fspath(directory), "hostile-worker")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec '{sys.executable}' -I -S '{os.path.realpath(__file__)}' \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def main(argv: list[str] | None = None) -> int:
    opts, passed = parse(sys.argv[1:] if argv is None else argv)
    only = {int(w) for w in opts["only"].split(",") if w.strip()}
    mode = opts["mode"] if not only or opts["workerId"] in only else "good"
    opts["mode"] = mode
    if mode == "good":
        exec_emulator(passed)
    _load()
    if mode == "exit":
        sys.stderr.write(f"hostile worker {opts['workerId']}: exiting at once (mode exit)\n")
        return 3
    if mode == "nolisten":
        sys.stderr.write(f"hostile worker {opts['workerId']}: never listening on port {opts['port']}\n")
        sys.stderr.flush()
        while True:
            time.sleep(3600)
    if mode == "child":
        child = subprocess.Popen(
            opts["childCmd"].split(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        if opts["childLog"]:
            with open(opts["childLog"], "a") as f:
                f.write(f"{child.pid}\n")
        exec_emulator(passed)
    Hostile(opts).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
