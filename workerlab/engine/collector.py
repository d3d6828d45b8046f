"""The collection engine: supervise worker processes, consume their streams, log every event.

One ``Run`` owns everything it starts. Its slots (one per worker id) live in a TaskGroup;
each slot owns at most one worker process at a time (``procs.running``: the process lives
exactly as long as its block) and restarts it after a crash or a stall. A slot's life is two
steps per process: start (spawn and readiness, holding one slot of the start limiter) and
stream (``workerlab.engine.streaming``). The run ends when the target-th sample arrives (or on
timeout, error, its ``Stop`` token or cancellation), then every slot stops its process before
``run()`` returns. Records are plain tuples (no pandas on the hot path); ``frame()`` makes the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import pandas as pd

from workerlab.config import MAX_LINE, MAX_WORKERS, START_TIMEOUT, Config, RunOptions
from workerlab.engine import ports, procs, streaming, sync
from workerlab.engine.limiter import START_CONCURRENCY, StartLimiter
from workerlab.engine.status import Record, Recorder, RunStatus
from workerlab.engine.stop import Stop, checked
from workerlab.errors import CollectError, CollectStopped, CollectTimeout, WorkerStartError
from workerlab.log import events

__all__ = ["Run", "RunStatus", "collect", "collect_async", "START_CONCURRENCY"]

#: how often the progress bar and ``on_update`` are refreshed (seconds)
UPDATE_EVERY = 0.1
#: SIGTERM grace before SIGKILL when stopping a worker
STOP_GRACE = 0.5
#: aiohttp's read buffer per response (bytes): above twice this it stops reading the socket until
#: the parser catches up, so a worker that floods us costs at most about that much (plus one read)
READ_BUFFER = 1 << 16


class Run(Recorder):
    """One collection run. ``records`` grows live; ``frame()`` snapshots it as an event log.

    ``start_limiter`` bounds how many worker processes spawn and get ready at once; runs that
    share one (a sweep's) share the bound. By default each run has its own, one slot per CPU.
    ``await run.wait_started()`` returns once every worker has been ready once, or the run
    has ended (so an owner waiting for it never hangs). Setting ``stop`` ends the run as a
    timeout does: every worker stopped, then ``CollectStopped`` carrying the partial log.
    """

    def __init__(
        self,
        config: Config,
        *,
        progress: bool = True,
        on_update: Callable[[RunStatus], Any] | None = None,
        start_limiter: contextlib.AbstractAsyncContextManager[Any] | None = None,
        stop: Stop | None = None,
    ) -> None:
        self.config = config
        self.records: list[Record] = []
        self.count = 0  # samples so far (kept or not)
        self.crashes = 0
        self.elapsed: float | None = None
        self.pids: set[int] = set()  # every process this run started
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.finished = False
        self.start_limiter = start_limiter if start_limiter is not None else StartLimiter()
        self._progress = progress
        self._on_update = on_update
        self._stop = stop
        self._done = asyncio.Event()  # the target was reached
        self._started = asyncio.Event()  # every slot was ready once, or the run ended
        self._up: set[int] = set()  # slots that have been ready once

    # -- recording (``record`` and ``now`` are the Recorder's) ----------------------
    def counted(self, n: int, t: float) -> None:
        """``n`` more samples arrived at run time ``t`` (their records are appended already)."""
        self.count += n
        if self.elapsed is None and self.count >= self.config.samples:
            self.elapsed = t
            self._done.set()

    def frame(self, records: list[Record] | None = None) -> pd.DataFrame:
        """The event log so far (safe to call during the run), or of a copy of its ``records``."""
        cfg = self.config
        return events.from_records(
            list(self.records) if records is None else records,
            run_id=cfg.run_id,
            n_workers=cfg.workers,
            samples=cfg.samples,
            wall0=self.wall0,
        )

    # -- the owner's view ------------------------------------------------------------
    @property
    def started(self) -> bool:
        """True once every worker has been ready once, or the run has ended."""
        return self._started.is_set()

    async def wait_started(self) -> None:
        """Wait until every worker has been ready once, or the run has ended."""
        await self._started.wait()

    # -- the run -----------------------------------------------------------------
    async def run(self) -> pd.DataFrame:
        """Collect until the target; return the event log or raise a ``CollectError`` carrying it."""
        cfg = self.config
        outcome, message = "failed", ""
        error: BaseException | None = None
        from tqdm.auto import tqdm  # imported when a run starts (~0.07 s)

        bar = tqdm(total=cfg.samples, desc="samples", unit="sample") if self._progress else None
        self.t0, self.wall0 = time.monotonic(), time.time()
        try:
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            # no decompression: the protocol is plain text, and a compressed "bomb" must stay small
            session = aiohttp.ClientSession(
                connector=connector, read_bufsize=READ_BUFFER, auto_decompress=False
            )
            async with session, asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._slot(w, session)) for w in range(1, cfg.workers + 1)]
                tasks.append(tg.create_task(self._ticker(bar)))
                outcome, message = await self._until_the_end(tg)
                for task in tasks:
                    task.cancel()
        except asyncio.CancelledError:
            outcome, message = "cancelled", "cancelled"
            raise
        except BaseExceptionGroup as group:
            error = _first_error(group)
            outcome, message = "failed", str(error)
        finally:
            self._finish(outcome, message, bar)
        df = self.frame()
        if error is not None:
            if isinstance(error, CollectError):
                error.events = df
            raise error from None
        if outcome == "timeout":
            raise CollectTimeout(message + ". The partial event log is in the error's .events.", df)
        if outcome == "stopped":
            raise CollectStopped(message + ". The partial event log is in the error's .events.", df)
        return df

    async def _until_the_end(self, tg: asyncio.TaskGroup) -> tuple[str, str]:
        """Wait for the target, the timeout or the stop token: (outcome, message) of the run-level row."""
        cfg = self.config
        stop = self._stop
        waits: list[asyncio.Task[Any]] = [tg.create_task(self._done.wait())]
        if stop is not None:
            waits.append(tg.create_task(stop.wait()))
        try:
            async with asyncio.timeout(cfg.timeout):
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            return "timeout", f"timed out after {cfg.timeout:g} s with {self.count} of {cfg.samples} samples"
        finally:
            for task in waits:
                task.cancel()
        if self._done.is_set() or stop is None:  # the target wins a tie with the token
            return "reached", ""
        return "stopped", f"{stop.reason} with {self.count} of {cfg.samples} samples"

    def _finish(self, outcome: str, message: str, bar: Any) -> None:
        """Record how the run ended, make sure nothing of it still runs, final progress."""
        self.finished = True
        self._started.set()  # whoever waits for the start must not wait for a run that is over
        cfg = self.config
        detail = events.run_stop_detail(cfg.samples, outcome, message, t0=self.t0, deadline=cfg.deadline)
        self.record("stop", events.RUN_ROW, detail=detail)
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
    async def _slot(self, wid: int, session: aiohttp.ClientSession) -> None:
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
                async with contextlib.AsyncExitStack() as owns:
                    async with self.start_limiter:  # held exactly around spawn and readiness
                        argv = cfg.argv(wid, port, attempt)
                        stopped = functools.partial(self._stopped, wid, port)
                        proc = await owns.enter_async_context(
                            procs.running(argv, grace=STOP_GRACE, on_stop=stopped)
                        )
                        self.pids.add(proc.pid)
                        self.record("spawn", wid, proc.pid, port, detail=f"attempt={attempt}")
                        problem = await streaming.wait_ready(proc, port, cfg.start_timeout)
                    prev_pid = proc.pid
                    if problem is not None:
                        self.crashes += 1
                        self.record("crash", wid, proc.pid, port, detail=problem)
                    elif (problem := await streaming.owner(proc, port, wid)) is not None:
                        self.record("error", wid, proc.pid, port, detail=problem)  # never stream from it
                    if problem is None:
                        self._ready(wid, proc.pid, port)
                        got, detail = await streaming.stream(self, session, wid, proc, port)
                    else:
                        got, detail = 0, problem
                    stderr = proc.stderr_tail().strip().splitlines()[-1:]
                if problem is None and got:
                    failures = 0
                    continue
                failures += 1
                if problem is not None:  # maybe the port was taken: a fresh one for the next try
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

    def _stopped(self, wid: int, port: int, proc: procs.Worker, status: int) -> None:
        self.record("stop", wid, proc.pid, port, detail=f"exit={status}")

    def _ready(self, wid: int, pid: int, port: int) -> None:
        self.record("ready", wid, pid, port)
        self._up.add(wid)
        if len(self._up) == self.config.workers:
            self._started.set()


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The most telling exception of a TaskGroup failure (a CollectError beats the rest)."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[Any]) -> None:
        for e in g.exceptions:
            walk(e) if isinstance(e, BaseExceptionGroup) else leaves.append(e)

    walk(group)
    for e in leaves:
        if isinstance(e, CollectError):
            return e
    return leaves[0]


async def collect_async(
    workers: int = MAX_WORKERS,
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
    start_timeout: float = START_TIMEOUT,
    max_workers: int = MAX_WORKERS,
    max_line: int = MAX_LINE,
    run_id: str | None = None,
    deadline: float | None = None,
    on_update: Callable[[RunStatus], Any] | None = None,
    stop: Stop | None = None,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """Run ``workers`` worker processes until ``samples`` numbers arrived; return the event log.

    The order rule of every long call: ``workers``, then what the call counts (here ``samples``)
    may be positional; everything else is keyword-only. ``interval``, ``mtbf`` and ``seed``
    configure the bundled emulator; with ``worker_bin`` (e.g. the original binary) pass such flags
    through ``worker_args`` instead. ``options``: a ``wl.RunOptions`` holding the run options
    (``worker_bin`` ... ``max_line``); a run option also given by keyword overrides that field
    (``RunOptions.resolve``). Bad settings raise ``ConfigError`` before anything starts. Raises
    ``CollectTimeout`` / ``WorkerStartError`` (with ``.events``) when the target is not reached.

    ``deadline``: what the run is judged at (seconds; the run does not stop there, see ``timeout``).
    Not given, it is 10 intervals of the pace (``RunOptions.deadline``: 10 s at the real 1 s pace,
    0.5 s with ``interval=0.05``). The log remembers it (its run-level row), so ``wl.summary(df)``
    and ``wl.threshold(df)`` judge at it unless told another.

    ``stop``: a ``wl.Stop``; once it is set, every worker is stopped, the run-level row says
    ``outcome=stopped`` and ``CollectStopped`` carries the partial log in ``.events``, as a timeout
    does. Cancelling the task stops every worker too but returns nothing (the row says ``cancelled``).
    """
    run_options = RunOptions.resolve(options, locals())
    config = run_options.config(workers, samples, run_id=run_id, deadline=deadline)
    run = Run(config, progress=progress, on_update=on_update, stop=checked(stop))
    return await run.run()


collect = sync.blocking(
    collect_async,
    "collect",
    """Blocking ``collect_async`` (same arguments): works in a script and inside a running Jupyter kernel.

    Ctrl-C or a kernel interrupt stops every worker, then propagates (``RunStatus.frame()`` has the log).
    """,
)
