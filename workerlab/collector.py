"""The collection engine: supervise worker processes, consume their streams, log every event.

One ``Run`` owns everything it starts. Its slots (one per worker id) live in a TaskGroup;
each slot owns at most one worker process at a time and restarts it after a crash or a
stall. The run ends when the target-th sample arrives (or on timeout, error or
cancellation), and then every slot stops its process before ``run()`` returns.
A sample's path: worker -> chunked HTTP -> aiohttp reader -> ``LineParser`` -> one tuple
appended to ``Run.records`` (cheap, no pandas on the hot path) -> ``events.from_records``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import pandas as pd

from . import events, ports, procs
from .config import Config, make_config
from .errors import CollectError, CollectTimeout, WorkerStartError
from .lines import LineParser

#: how often the progress bar and ``on_update`` are refreshed (seconds)
UPDATE_EVERY = 0.1
#: workers starting at once. Starting all 16 together shares the CPUs among 16 interpreters
#: and makes them all ready late; one per CPU makes the first ones ready early, and with
#: 150 samples over 16 workers only the first 6 need a 10th number: the rest have slack.
START_CONCURRENCY = max(
    1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
)
#: SIGTERM grace before SIGKILL when stopping a worker
STOP_GRACE = 0.5
_STREAM_ERRORS = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError)


class Run:
    """One collection run. ``records`` grows live; ``frame()`` snapshots it as an event log."""

    def __init__(
        self, config: Config, *, progress: bool = True, on_update: Callable[[Run], Any] | None = None
    ) -> None:
        self.config = config
        self.records: list[tuple] = []
        self.count = 0  # samples so far (kept or not)
        self.crashes = 0
        self.elapsed: float | None = None
        self.pids: set[int] = set()  # every process this run started
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.finished = False
        self._progress = progress
        self._on_update = on_update
        self._done: asyncio.Event | None = None
        self._starting: asyncio.Semaphore | None = None  # made in run(): bound to its loop
        self._session: aiohttp.ClientSession | None = None

    # -- recording ---------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def record(
        self,
        event: str,
        worker_id: int,
        pid: int | None = None,
        port: int | None = None,
        value: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.records.append((event, worker_id, pid, port, value, self.now(), detail))

    def frame(self, records: list[tuple] | None = None) -> pd.DataFrame:
        """The event log so far (safe to call during the run), or of a copy of its ``records``."""
        cfg = self.config
        return events.from_records(
            list(self.records) if records is None else records,
            run_id=cfg.run_id,
            n_workers=cfg.workers,
            samples=cfg.samples,
            wall0=self.wall0,
        )

    # -- the run -----------------------------------------------------------------
    async def run(self) -> pd.DataFrame:
        """Collect until the target; return the event log or raise a ``CollectError`` carrying it."""
        cfg = self.config
        self._done = asyncio.Event()
        self._starting = asyncio.Semaphore(START_CONCURRENCY)
        outcome, message = "failed", ""
        bar = _progress_bar(cfg.samples) if self._progress else None
        self.t0, self.wall0 = time.monotonic(), time.time()
        try:
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            async with aiohttp.ClientSession(connector=connector) as self._session:
                async with asyncio.TaskGroup() as tg:
                    tasks = [tg.create_task(self._slot(w)) for w in range(1, cfg.workers + 1)]
                    tasks.append(tg.create_task(self._ticker(bar)))
                    try:
                        async with asyncio.timeout(cfg.timeout):
                            await self._done.wait()
                        outcome = "reached"
                    except TimeoutError:
                        outcome = "timeout"
                        message = (
                            f"timed out after {cfg.timeout:g} s with {self.count} of {cfg.samples} samples"
                        )
                    for task in tasks:
                        task.cancel()
        except asyncio.CancelledError:
            outcome, message = "cancelled", "cancelled"
            raise
        except BaseExceptionGroup as group:
            error = _first_error(group)
            outcome, message = "failed", str(error)
        else:
            error = None
        finally:
            self._finish(outcome, message, bar)
        df = self.frame()
        if error is not None:
            if isinstance(error, CollectError):
                error.events = df
            raise error from None
        if outcome == "timeout":
            raise CollectTimeout(message + ". The partial event log is in the error's .events.", df)
        return df

    def _finish(self, outcome: str, message: str, bar: Any) -> None:
        """Record how the run ended, make sure nothing of it still runs, final progress."""
        self.finished = True
        self.record("stop", 0, detail=events.run_stop_detail(self.config.samples, outcome, message))
        self.abandon()  # normally a no-op: every slot stopped its own process
        self._report(bar)
        if bar is not None:
            bar.close()

    def _report(self, bar: Any) -> None:
        """Refresh the progress bar and tell ``on_update`` (during the run and once at the end)."""
        if bar is not None:
            bar.n = min(self.count, self.config.samples)
            bar.set_postfix(crashes=self.crashes, refresh=False)
            bar.refresh()
        if self._on_update is not None:
            self._on_update(self)

    def abandon(self) -> None:
        """Kill this run's processes at once (when its task could not finish cleanly)."""
        procs.kill_all(self.pids)

    async def _ticker(self, bar: Any) -> None:
        while True:
            await asyncio.sleep(UPDATE_EVERY)
            self._report(bar)

    # -- one worker slot ---------------------------------------------------------
    async def _slot(self, wid: int) -> None:
        """Keep worker ``wid`` alive and streaming until cancelled; own its process."""
        cfg = self.config
        port = ports.reserve()
        failures, attempt, prev_pid = 0, 0, None
        try:
            while True:
                attempt += 1
                if attempt > 1:
                    self.record("restart", wid, prev_pid, port, detail=f"restart={attempt - 1}")
                    if failures:
                        await asyncio.sleep(min(0.02 * 2 ** (failures - 1), 1.0))
                await self._starting.acquire()  # released by _serve once ready (or failed)
                try:
                    proc = procs.spawn(cfg.argv(wid, port, attempt))
                except BaseException:
                    self._starting.release()
                    raise
                self.pids.add(proc.pid)
                prev_pid = proc.pid
                self.record("spawn", wid, proc.pid, port, detail=f"attempt={attempt}")
                try:
                    got, started, detail = await self._serve(wid, proc, port)
                finally:
                    if proc.returncode is None:  # run over (or stall): we stop it
                        status = await procs.stop(proc, STOP_GRACE)
                        self.record("stop", wid, proc.pid, port, detail=f"exit={status}")
                    stderr = proc.stderr_tail().strip().splitlines()[-1:]
                    proc.close()
                if started and got:
                    failures = 0
                    continue
                failures += 1
                if not started:  # maybe the port was taken: a fresh one for the next try
                    ports.release(port)
                    port = ports.reserve()
                if failures >= cfg.max_start_failures:
                    raise WorkerStartError(
                        f"worker {wid} failed {failures} times in a row without producing a number "
                        f"(last: {detail}{'; stderr: ' + stderr[0] if stderr else ''}). "
                        f"Check that this command runs: {' '.join(cfg.argv(wid, port, 1))}"
                    )
        finally:
            ports.release(port)

    async def _serve(self, wid: int, proc: procs.Worker, port: int) -> tuple[int, bool, str]:
        """Wait for readiness, then stream until the process is lost.

        Returns (numbers received, became ready, why it ended). A crash or stall has
        been recorded when this returns.
        """
        pid = proc.pid
        try:
            problem = await self._wait_ready(proc, port)
        finally:
            self._starting.release()
        if problem is not None:
            self.crashes += 1
            self.record("crash", wid, pid, port, detail=problem)
            return 0, False, problem
        self.record("ready", wid, pid, port)
        cfg = self.config
        url = f"http://{ports.HOST}:{port}/rnd?n={cfg.samples}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.start_timeout, sock_read=cfg.stall_after)
        got, refused = 0, 0
        assert self._session is not None
        while True:
            try:
                async with self._session.get(url, timeout=timeout) as resp:
                    if resp.status != 200:
                        body = (await resp.content.read(200)).decode(errors="replace").strip()
                        self.record("error", wid, pid, port, detail=f"HTTP {resp.status}: {body}")
                        if resp.status == 429 and refused < 20:  # our last stream not closed yet
                            refused += 1
                            await asyncio.sleep(0.01 * refused)
                            continue
                        raise CollectError(
                            f"worker {wid} answered HTTP {resp.status} to {url} ({body}); "
                            "is this a worker with the /rnd?n= API?"
                        )
                    refused = 0
                    self.record("connect", wid, pid, port, detail=f"n={cfg.samples}")
                    n, err, partial = await self._consume(resp, wid, pid, port)
            except (*_STREAM_ERRORS, TimeoutError) as exc:  # request failed: the worker is gone
                n, err, partial = 0, exc, b""
            got += n
            if err is None:
                self.record("stream_end", wid, pid, port, detail=f"lines={n}")
                continue
            dropped = f" (partial line {partial[:40]!r} dropped)" if partial else ""
            if isinstance(err, TimeoutError):
                self.record("stall", wid, pid, port, detail=f"no line for {cfg.stall_after:g} s{dropped}")
                await procs.stop(proc, grace=0)  # a hung worker gets no grace
                return got, True, "stalled"
            detail = await _exit_detail(proc, err) + dropped
            self.crashes += 1
            self.record("crash", wid, pid, port, detail=detail)
            return got, True, detail

    async def _wait_ready(self, proc: procs.Worker, port: int) -> str | None:
        """Connect until the worker accepts (readiness is proven by connecting); None when ready."""
        deadline = time.monotonic() + self.config.start_timeout
        delay = 0.002
        while True:
            if proc.returncode is not None:
                return f"exit={proc.returncode} before listening"
            try:
                _, writer = await asyncio.open_connection(ports.HOST, port)
            except OSError:
                if time.monotonic() > deadline:
                    await procs.stop(proc, grace=0)
                    return f"not listening after {self.config.start_timeout:g} s"
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.05)
            else:
                writer.close()
                return None

    async def _consume(
        self, resp: aiohttp.ClientResponse, wid: int, pid: int, port: int
    ) -> tuple[int, BaseException | None, bytes]:
        """Read one stream to its end: (lines, None, b"") or (lines, the error, unfinished line).

        The read loop awaits nothing but the next bytes: aiohttp raises a stored error
        before handing out bytes it already buffered, so anything slower loses lines.
        """
        parser = LineParser()
        content = resp.content
        append = self.records.append
        monotonic, t0, target = time.monotonic, self.t0, self.config.samples
        lines = 0
        err: BaseException | None = None
        while True:
            try:
                data = await content.readany()
            except (*_STREAM_ERRORS, TimeoutError) as exc:
                err = exc
                data = _salvage(content)  # complete lines that arrived before the error
            if data:
                values, garbage = parser.feed(data)
                t = monotonic() - t0
                for v in values:
                    append(("sample", wid, pid, port, v, t, None))
                n = len(values)
                if n:
                    lines += n
                    self.count += n
                    if self.elapsed is None and self.count >= target:
                        self.elapsed = t
                        assert self._done is not None
                        self._done.set()
                for g in garbage:
                    append(("error", wid, pid, port, None, t, f"garbage line: {g[:80]!r}"))
            if err is not None:
                return lines, err, parser.partial
            if not data:
                return lines, None, b""


def _salvage(content: aiohttp.StreamReader) -> bytes:
    """Bytes still buffered in a reader whose connection failed (aiohttp would drop them).

    No public API returns them once an error is set, so this reads the reader's buffer
    directly (not ``_read_nowait``: after a read timeout that re-raises the timeout).
    """
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)[getattr(content, "_buffer_offset", 0) :]
    buffer.clear()
    return data


async def _exit_detail(proc: procs.Worker, err: BaseException) -> str:
    """'exit=<status>; <error>' once the process is gone (it is killed if it lingers)."""
    try:
        async with asyncio.timeout(1.0):  # not wait_for: see procs.stop
            await proc.wait()
    except TimeoutError:
        await procs.stop(proc, grace=0)
        return f"exit={proc.returncode} (killed: alive after its stream broke); {type(err).__name__}: {err}"
    return f"exit={proc.returncode}; {type(err).__name__}: {err}"


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The most telling exception of a TaskGroup failure (a CollectError beats the rest)."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup) -> None:
        for e in g.exceptions:
            walk(e) if isinstance(e, BaseExceptionGroup) else leaves.append(e)

    walk(group)
    for e in leaves:
        if isinstance(e, CollectError):
            return e
    return leaves[0]


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="samples", unit="sample", leave=True)


async def collect_async(
    workers: int = 16,
    samples: int = 150,
    *,
    worker_bin: str | None = None,
    worker_args: Sequence[str] = (),
    interval: float | None = None,
    mtbf: float | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    stall_after: float | None = None,
    start_timeout: float = 10.0,
    max_workers: int = 16,
    run_id: str | None = None,
    on_update: Callable[[Run], Any] | None = None,
) -> pd.DataFrame:
    """Run ``workers`` worker processes until ``samples`` numbers arrived; return the event log.

    ``interval``, ``mtbf`` and ``seed`` configure the bundled emulator; with ``worker_bin``
    (e.g. the original binary) pass such flags through ``worker_args`` instead. Raises
    ``CollectTimeout`` / ``WorkerStartError`` (with ``.events``) when the target is not reached.
    """
    config = make_config(
        workers,
        samples,
        worker_bin=worker_bin,
        worker_args=worker_args,
        interval=interval,
        mtbf=mtbf,
        seed=seed,
        timeout=timeout,
        stall_after=stall_after,
        start_timeout=start_timeout,
        max_workers=max_workers,
        run_id=run_id,
    )
    return await Run(config, progress=progress, on_update=on_update).run()


def collect(workers: int = 16, samples: int = 150, **options: Any) -> pd.DataFrame:
    """Blocking ``collect_async``: works in a script and inside a running Jupyter kernel."""
    from .sync import run_sync

    config = make_config(
        workers, samples, **{k: v for k, v in options.items() if k not in ("progress", "on_update")}
    )
    run = Run(config, progress=options.get("progress", True), on_update=options.get("on_update"))
    return run_sync(run.run(), on_abandon=run.abandon)
