"""One worker's streams: request numbers over chunked HTTP until the process is lost.

A sample's path: worker -> chunked HTTP -> aiohttp reader -> ``LineParser`` -> one tuple
appended to the run's ``records`` (cheap, no pandas on the hot path). The caller (a slot of
``collector.Run``, seen here as a ``Recorder``) has proven the worker ready; this module reads until the worker crashes or
stalls, records why, and returns. It never starts or stops a process other than ending a
stalled one at once.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from workerlab.config import HOST
from workerlab.engine import listener, procs
from workerlab.engine.lines import LineParser
from workerlab.engine.status import Recorder
from workerlab.errors import CollectError
from workerlab.log import events

STREAM_ERRORS = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError)
#: garbage lines recorded one by one per process; the rest are counted in one more row
GARBAGE_ROWS = 100
#: 429 answers retried per stream (back-off 10, 20, ... ms: about 0.9 s in all); the emulator says 429
#: while the stream before is not closed yet on its side
REFUSALS = 13


async def wait_ready(proc: procs.Worker, port: int, start_timeout: float) -> str | None:
    """Connect until the worker accepts (then see ``owner``); None when it accepts, else why not."""
    deadline = time.monotonic() + start_timeout
    delay = 0.002
    while True:
        if proc.returncode is not None:
            return f"exit={proc.returncode} before listening"
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            if time.monotonic() > deadline:
                await procs.stop(proc, grace=0)
                return f"never listened on port {port} (waited {start_timeout:g} s)"
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        else:
            writer.close()
            return None


async def owner(proc: procs.Worker, port: int, wid: int) -> str | None:
    """None if the listener on ``port`` is ``proc`` (or its process group), else who holds the port.

    The worker's own descriptors are asked first, at once (the common case, ~0.2 ms); anything
    more (its children, naming a foreign holder) reads the host's socket table, in a thread.
    """
    if listener.listens(proc.pid, port):
        return None
    return await asyncio.to_thread(listener.foreign_detail, proc.pid, port, wid)


class Garbage:
    """How many garbage lines a process sent: the first ``GARBAGE_ROWS`` are recorded one by one, the rest counted.

    A worker flooding the collector with bad lines would otherwise grow the event log (and memory)
    without bound; the count goes in one more ``error`` row when the process is done.
    """

    __slots__ = ("shown", "skipped")

    def __init__(self) -> None:
        self.shown = 0
        self.skipped = 0

    def record(self, run: Recorder, wid: int, pid: int, port: int, t: float, lines: list[bytes]) -> None:
        room = max(GARBAGE_ROWS - self.shown, 0)
        for g in lines[:room]:
            run.records.append(("error", wid, pid, port, None, t, f"garbage line: {g[:80]!r}"))
        self.shown += min(room, len(lines))
        self.skipped += len(lines) - min(room, len(lines))

    def summary(self, run: Recorder, wid: int, pid: int, port: int) -> None:
        if self.skipped:
            detail = f"{self.skipped} more garbage lines (only the first {GARBAGE_ROWS} are recorded)"
            run.record("error", wid, pid, port, detail=detail)


async def stream(
    run: Recorder, session: aiohttp.ClientSession, wid: int, proc: procs.Worker, port: int
) -> tuple[int, str]:
    """Stream from a ready worker until it is lost: (numbers received, why it ended).

    A crash, stall or over-long line has been recorded (and a stalled process killed) when this
    returns; after an over-long line the connection is closed and the caller stops the process.
    """
    garbage = Garbage()
    try:
        return await _stream(run, session, wid, proc, port, garbage)
    finally:  # also when the run ends (cancelled): the count of unrecorded garbage is never lost
        garbage.summary(run, wid, proc.pid, port)


async def _stream(
    run: Recorder, session: aiohttp.ClientSession, wid: int, proc: procs.Worker, port: int, garbage: Garbage
) -> tuple[int, str]:
    cfg, pid = run.config, proc.pid
    url = f"http://{HOST}:{port}/rnd?n={cfg.samples}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.start_timeout, sock_read=cfg.stall_after)
    got, refused = 0, 0
    while True:
        status: int | None = None  # of this request, once its headers came
        received = 0
        try:
            async with session.get(url, timeout=timeout) as resp:
                status = resp.status
                if resp.status != 200:
                    body = (await resp.content.read(200)).decode(errors="replace").strip()
                    run.record("error", wid, pid, port, detail=f"HTTP {resp.status}: {body}")
                    if resp.status == 429 and refused < REFUSALS:  # our last stream not closed yet
                        refused += 1
                        await asyncio.sleep(0.01 * refused)
                        continue
                    raise CollectError(
                        f"worker {wid} answered HTTP {resp.status} to {url} ({body}); "
                        "is this a worker with the /rnd?n= API?"
                    )
                refused = 0
                run.record("connect", wid, pid, port, detail=f"n={cfg.samples}")
                n, err, partial, received = await consume(run, resp, wid, pid, port, garbage)
                if isinstance(err, LineTooLong):
                    resp.close()  # drop the connection now, whatever is still coming
        except (*STREAM_ERRORS, TimeoutError) as exc:  # request failed: the worker is gone
            n, err, partial = 0, exc, b""
        broke = run.now()  # a crash is timed here, not after its exit status came (a few ms later)
        got += n
        if err is None:
            run.record("stream_end", wid, pid, port, detail=f"lines={n}")
            continue
        if isinstance(err, LineTooLong):
            return got, str(err)  # recorded by consume
        dropped = f" (partial line {partial[:40]!r} dropped)" if partial else ""
        if isinstance(err, TimeoutError):
            limit = f"{cfg.stall_after:g} s"
            if status is None:
                why = f"no response headers within {limit}"
            elif not received:
                why = f"answered {status}, then sent nothing for {limit}"
            else:
                why = f"no line for {limit}{dropped}"
            run.record("stall", wid, pid, port, detail=why)
            await procs.stop(proc, grace=0)  # a hung worker gets no grace
            return got, why
        detail = await exit_detail(proc, err) + dropped
        run.crashes += 1
        run.record("crash", wid, pid, port, detail=detail, at=broke)
        return got, detail


class LineTooLong(Exception):
    """A worker sent a line longer than the run's ``max_line``: the stream is dropped."""


async def consume(
    run: Recorder, resp: aiohttp.ClientResponse, wid: int, pid: int, port: int, garbage: Garbage
) -> tuple[int, BaseException | None, bytes, int]:
    """Read one stream to its end: (lines, None or the error, the unfinished line, bytes received).

    The read loop awaits nothing but the next bytes: aiohttp raises a stored error
    before handing out bytes it already buffered, so anything slower loses lines. Memory
    is bounded: aiohttp pauses the socket above its buffer's high-water mark and the
    parser keeps at most ``max_line`` bytes of an unfinished line. When the run ends
    (cancellation), the complete lines already received still go in the log.
    """
    parser = LineParser(run.config.max_line)
    content = resp.content
    append = run.records.append
    monotonic, t0 = time.monotonic, run.t0
    lines = received = 0

    def take(data: bytes) -> LineTooLong | None:
        """Record what ``data`` completes; the error if it holds an over-long line."""
        nonlocal lines, received
        received += len(data)
        values, bad = parser.feed(data)
        t = monotonic() - t0
        for v in values:
            append(("sample", wid, pid, port, v, t, None))
        if values:
            lines += len(values)
            run.counted(len(values), t)
        if bad:
            garbage.record(run, wid, pid, port, t, bad)
        if parser.overlong is None:
            return None
        too_long = f"{events.OVERLONG} {parser.max_line} bytes (starts {parser.overlong!r})"
        append(("error", wid, pid, port, None, t, too_long))
        return LineTooLong(too_long)

    while True:
        err: BaseException | None = None
        try:
            data = await content.readany()
        except (*STREAM_ERRORS, TimeoutError) as exc:
            err = exc
            data = salvage(content)  # complete lines that arrived before the error
        except asyncio.CancelledError:  # the run is over: bytes that arrived before it are not lost
            if data := salvage(content):
                take(data)
            raise
        if data and (too_long := take(data)) is not None:
            return lines, too_long, b"", received
        if err is not None:
            return lines, err, parser.partial, received
        if not data:
            return lines, None, b"", received


def salvage(content: aiohttp.StreamReader) -> bytes:
    """Bytes still buffered in a reader whose connection failed or whose run ended (else dropped).

    No public API returns them once an error is set, so this reads the reader's buffer
    directly (not ``_read_nowait``: after a read timeout that re-raises the timeout).
    """
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)[getattr(content, "_buffer_offset", 0) :]
    buffer.clear()
    return data


async def exit_detail(proc: procs.Worker, err: BaseException) -> str:
    """'exit=<status>; <error>' once the process is gone (it is killed if it lingers)."""
    try:
        async with asyncio.timeout(1.0):  # not wait_for: see procs.stop
            await proc.wait()
    except TimeoutError:
        await procs.stop(proc, grace=0)
        return f"exit={proc.returncode} (killed: alive after its stream broke); {type(err).__name__}: {err}"
    return f"exit={proc.returncode}; {type(err).__name__}: {err}"
