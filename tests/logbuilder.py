"""Hand-build schema-correct event logs for tests (docs/event-log.md row semantics).

Tests that need an event log with known answers build it here instead of running workers::

    b = LogBuilder(n_workers=2, target=4, run_id="r1")
    b.start(1, t=0.0)                 # spawn + ready + connect (the usual start of a slot)
    b.samples(1, [0.1, 1.1, 2.1])     # three sample rows from worker 1's current process
    b.crash(1, t=2.5)
    b.restart_after("stall", 2, t=2.6)  # stall, restart, then spawn + ready + connect of a new process
    ...
    b.run_stop(t=3.0)                 # the run-level row: worker_id 0, "target=4 outcome=reached"
    df = b.frame()                    # via workerlab.log.events.from_records

Methods may be called in any time order (e.g. one worker after another): ``frame()`` orders the
records by ``t`` (stably, so rows with equal ``t`` keep call order) before ``from_records``
numbers the samples, so ``seq`` and ``kept`` come out as the collector would make them.
Each slot has a *current* process; ``spawn`` makes a new one (auto pid unless given) and every
per-process event defaults to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from workerlab.log import events


class LogBuilder:
    """Accumulate collector-style records for one run, then build the frame."""

    def __init__(
        self,
        n_workers: int = 1,
        target: int = 150,
        run_id: str = "run-1",
        wall0: float = 1_700_000_000.0,
        base_port: int = 3000,
        first_pid: int = 10_000,
    ) -> None:
        self.n_workers = n_workers
        self.target = target
        self.run_id = run_id
        self.wall0 = wall0
        self.base_port = base_port
        self._next_pid = first_pid
        self._records: list[tuple] = []
        self._pid: dict[int, int] = {}  # worker_id -> current pid
        self._port: dict[int, int] = {}  # worker_id -> current port
        self._attempt: dict[int, int] = {}  # worker_id -> spawn count
        self._restarts: dict[int, int] = {}  # worker_id -> restart count
        self._value = 0

    # -- low level -----------------------------------------------------------------------
    def add(
        self,
        event: str,
        worker_id: int,
        t: float,
        *,
        pid: int | None = None,
        port: int | None = None,
        value: int | None = None,
        detail: str | None = None,
    ) -> LogBuilder:
        """Append one raw record; pid/port default to the slot's current process."""
        if event not in events.EVENTS:
            raise ValueError(f"unknown event {event!r}")
        if worker_id != 0:
            pid = self._pid.get(worker_id) if pid is None else pid
            port = self._port.get(worker_id) if port is None else port
        self._records.append((event, worker_id, pid, port, value, float(t), detail))
        return self

    def pid(self, worker_id: int) -> int:
        """The pid of the slot's current process."""
        return self._pid[worker_id]

    # -- one worker process ----------------------------------------------------------------
    def spawn(self, worker_id: int, t: float, *, pid: int | None = None, port: int | None = None) -> int:
        """Start a new process in the slot (``detail="attempt=K"``); returns its pid."""
        if pid is None:
            pid = self._next_pid
            self._next_pid += 1
        self._pid[worker_id] = pid
        self._port[worker_id] = self.base_port + worker_id if port is None else port
        self._attempt[worker_id] = self._attempt.get(worker_id, 0) + 1
        self.add("spawn", worker_id, t, detail=f"attempt={self._attempt[worker_id]}")
        return pid

    def ready(self, worker_id: int, t: float) -> LogBuilder:
        return self.add("ready", worker_id, t)

    def connect(self, worker_id: int, t: float, n: int | None = None) -> LogBuilder:
        return self.add("connect", worker_id, t, detail=f"n={self.target if n is None else n}")

    def sample(self, worker_id: int, t: float, value: int | None = None) -> LogBuilder:
        if value is None:
            value = self._value % 100
            self._value += 7
        return self.add("sample", worker_id, t, value=value)

    def samples(self, worker_id: int, ts: Iterable[float], values: Sequence[int] | None = None) -> LogBuilder:
        """Several sample rows of the slot's current process at times ``ts``."""
        ts = list(ts)
        for i, t in enumerate(ts):
            self.sample(worker_id, t, None if values is None else values[i])
        return self

    def stream_end(self, worker_id: int, t: float, lines: int) -> LogBuilder:
        return self.add("stream_end", worker_id, t, detail=f"lines={lines}")

    def error(self, worker_id: int, t: float, detail: str = "garbage line") -> LogBuilder:
        return self.add("error", worker_id, t, detail=detail)

    def crash(
        self,
        worker_id: int,
        t: float,
        detail: str = "exit=2; ClientPayloadError: response payload is not completed",
    ) -> LogBuilder:
        return self.add("crash", worker_id, t, detail=detail)

    def stall(self, worker_id: int, t: float, detail: str = "no line for 3.0 s") -> LogBuilder:
        return self.add("stall", worker_id, t, detail=detail)

    def restart(self, worker_id: int, t: float) -> LogBuilder:
        """The slot restarts (row carries the old process's pid); call ``spawn`` next."""
        self._restarts[worker_id] = self._restarts.get(worker_id, 0) + 1
        return self.add("restart", worker_id, t, detail=f"restart={self._restarts[worker_id]}")

    def stop(self, worker_id: int, t: float, detail: str = "exit=-15") -> LogBuilder:
        return self.add("stop", worker_id, t, detail=detail)

    # -- conveniences ----------------------------------------------------------------------
    def start(
        self,
        worker_id: int,
        t: float = 0.0,
        *,
        ready_after: float = 0.05,
        connect_after: float = 0.01,
        pid: int | None = None,
    ) -> float:
        """spawn at ``t``, ready and connect shortly after; returns the connect time."""
        self.spawn(worker_id, t, pid=pid)
        self.ready(worker_id, t + ready_after)
        tc = t + ready_after + connect_after
        self.connect(worker_id, tc)
        return tc

    def restart_after(
        self,
        end: str,
        worker_id: int,
        t: float,
        *,
        ready_after: float = 0.05,
        connect_after: float = 0.01,
        pid: int | None = None,
    ) -> float:
        """The slot's process ends at ``t`` (``end``: "crash" or "stall", with its default detail).

        The slot restarts 10 ms later, and a new process starts 10 ms after that as in ``start``;
        returns the new process's connect time.
        """
        getattr(self, end)(worker_id, t)
        self.restart(worker_id, t + 0.01)
        return self.start(worker_id, t + 0.02, ready_after=ready_after, connect_after=connect_after, pid=pid)

    def stream(
        self, worker_id: int, connect_t: float, count: int, *, lead: float = 0.0, interval: float = 1.0
    ) -> list[float]:
        """``count`` samples ``lead`` after ``connect_t`` and every ``interval``; returns their times."""
        ts = [connect_t + lead + k * interval for k in range(count)]
        self.samples(worker_id, ts)
        return ts

    def run_stop(
        self,
        t: float,
        outcome: str = "reached",
        target: int | None = None,
        message: str | None = None,
        t0: float | None = None,
        deadline: float | None = None,
    ) -> LogBuilder:
        """The run-level ``stop`` row (``events.run_stop_record``) with target, outcome, t0 and the
        deadline the run was made with, at ``t``."""
        record = events.run_stop_record(
            self.target if target is None else target, outcome, message or "", t0=t0, deadline=deadline
        )
        self._records.append((*record[:5], float(t), record[6]))
        return self

    def frame(self) -> pd.DataFrame:
        """The event log, records ordered by ``t`` (stable), built by ``events.from_records``."""
        records = sorted(self._records, key=lambda r: r[5])
        return events.from_records(
            records, run_id=self.run_id, n_workers=self.n_workers, samples=self.target, wall0=self.wall0
        )


def perfect_run(
    n_workers: int = 4,
    target: int = 20,
    *,
    interval: float = 1.0,
    lead: float = 0.0,
    run_id: str = "perfect",
    start_gap: float = 0.0,
    extra: int = 0,
    deadline: float | None = None,
) -> LogBuilder:
    """A run with no faults: every slot starts at 0, connects at 0.06, then streams regularly.

    Each worker streams until ``target + extra`` samples have arrived in total (``extra`` > 0
    gives samples after the target, which are processed but not kept); then every process gets
    a ``stop`` row and the run-level row says ``reached`` (and the ``deadline`` the run was made
    with, if given). ``start_gap`` staggers the slots.
    """
    b = LogBuilder(n_workers=n_workers, target=target, run_id=run_id)
    total = target + extra
    per = -(-total // n_workers)
    times = []
    for w in range(1, n_workers + 1):
        tc = b.start(w, t=(w - 1) * start_gap)
        times += [(t, w) for t in (tc + lead + k * interval for k in range(per))]
    times.sort()
    times = times[:total]
    for t, w in times:
        b.sample(w, t)
    end = times[-1][0] + 0.01
    for w in range(1, n_workers + 1):
        b.stop(w, end)
    b.run_stop(end + 0.01, "reached", deadline=deadline)
    return b


def bulk_run(
    n_workers: int = 16,
    per_worker: int = 6250,
    *,
    interval: float = 0.01,
    lead: float = 0.01,
    run_id: str = "bulk",
) -> pd.DataFrame:
    """A large fault-free log, fast (no per-sample Python calls): for scale tests.

    Every slot spawns at 0, is ready at 0.05, connects at 0.06 and sends ``per_worker`` samples
    at ``0.06 + lead + k * interval``; the target is every sample, so all are kept.
    """
    import numpy as np

    n = n_workers * per_worker
    recs = []
    for w in range(1, n_workers + 1):
        pid, port = 500 + w, 3000 + w
        recs += [
            ("spawn", w, pid, port, None, 0.0, "attempt=1"),
            ("ready", w, pid, port, None, 0.05, None),
            ("connect", w, pid, port, None, 0.06, f"n={per_worker}"),
        ]
    ws = np.tile(np.arange(1, n_workers + 1), per_worker).tolist()
    ts = (0.06 + lead + np.repeat(np.arange(per_worker), n_workers) * interval).tolist()
    recs += [("sample", w, 500 + w, 3000 + w, 1, t, None) for w, t in zip(ws, ts)]
    recs.append(
        ("stop", events.RUN_ROW, None, None, None, ts[-1] + 0.01, events.run_stop_detail(n, "reached"))
    )
    return events.from_records(recs, run_id=run_id, n_workers=n_workers, samples=n, wall0=0.0)


def faulty_run(run_id: str = "faulty") -> LogBuilder:
    """A known-answer run: 2 workers, target 8, interval 1 s; worker 1 crashes, worker 2 stalls; one sample after the target.

    Samples arrive at 0.7 0.8 1.7 1.8 2.7 3.7 4.7 5.5 | 5.7 (the 9th is not kept), so
    elapsed = 5.5. Leads: 0.5 (pid 101), 0.3 (102), 0.5 (103), 0.4 (104) -> median 0.45.
    Gaps: all 1.0 -> interval 1.0. Bound = 0.45 + (ceil(8/2) - 1) * 1.0 = 3.45.
    Restart latencies: crash 3.0 -> 3.7 (0.7), stall 4.6 -> 5.5 (0.9).
    """
    b = LogBuilder(n_workers=2, target=8, run_id=run_id)
    b.spawn(1, 0.0, pid=101)
    b.ready(1, 0.1)
    b.connect(1, 0.2)
    b.spawn(2, 0.0, pid=102)
    b.ready(2, 0.2)
    b.connect(2, 0.5)
    b.samples(1, [0.7, 1.7, 2.7])
    b.samples(2, [0.8, 1.8])
    b.error(1, 2.2, "rnd=??")  # a garbage line: recorded, never a number
    b.restart_after("crash", 1, 3.0, ready_after=0.1, connect_after=0.08, pid=103)  # 3.02, 3.12, 3.2
    b.samples(1, [3.7, 4.7, 5.7])
    b.restart_after("stall", 2, 4.6, ready_after=0.1, connect_after=0.38, pid=104)  # 4.62, 4.72, 5.1
    b.sample(2, 5.5)
    b.stop(1, 5.75)
    b.stop(2, 5.75)
    b.run_stop(5.8, "reached")
    return b


def sweep(*builders: LogBuilder) -> pd.DataFrame:
    """Concatenate the frames of several builders, as a sweep would."""
    return events.concat(b.frame() for b in builders)


def simulated_run(
    n_workers: int = 16,
    target: int = 150,
    *,
    interval: float = 1.0,
    lead: float = 0.0,
    mtbf: float | None = 20.0,
    stall_after: dict[int, int] | None = None,
    timeout: float | None = None,
    seed: int = 0,
    run_id: str = "sim",
    jitter: float = 0.002,
) -> LogBuilder:
    """A realistic run, as the collector would log it against the emulator.

    Every slot spawns at 0 and becomes ready after a short random start-up, connects, and
    streams a sample every ``interval`` (after ``lead``, with small ``jitter``). A process
    crashes after an exponential lifetime of mean ``mtbf`` (None: never); ``stall_after`` maps a
    worker_id to the number of lines after which its first process hangs (detected 3 intervals
    later). A crashed or stalled slot restarts at once. The run stops 20 ms after the target-th
    sample (later arrivals are processed, not kept) or at ``timeout`` (outcome ``timeout``).
    """
    import random

    rng = random.Random(seed)
    b = LogBuilder(n_workers=n_workers, target=target, run_id=run_id)
    horizon = timeout if timeout is not None else 10 * interval * (target / n_workers + 5) + 10
    stall_after = dict(stall_after or {})
    sample_times: list[float] = []
    for w in range(1, n_workers + 1):
        t = 0.0
        while t < horizon:
            b.spawn(w, t)
            t_ready = t + rng.uniform(0.03, 0.09)
            b.ready(w, t_ready)
            tc = t_ready + rng.uniform(0.002, 0.006)
            b.connect(w, tc)
            death = t + (rng.expovariate(1 / mtbf) if mtbf else math.inf)
            hang = stall_after.pop(w, None)
            k, ts = 0, tc + lead
            while ts < min(death, horizon) and (hang is None or k < hang):
                ts_j = ts + rng.uniform(0, jitter)
                if ts_j >= death:
                    break
                b.sample(w, ts_j)
                sample_times.append(ts_j)
                k += 1
                ts = tc + lead + k * interval
            if hang is not None and k >= hang:
                t = ts - interval + 3 * interval
                b.stall(w, t, detail=f"no line for {3 * interval:.1f} s")
            elif death < horizon:
                t = death
                b.crash(w, t)
            else:
                break
            b.restart(w, t + 0.001)
            t += 0.002
    sample_times.sort()
    if len(sample_times) >= target and (timeout is None or sample_times[target - 1] <= timeout):
        cutoff, outcome = sample_times[target - 1] + 0.02, "reached"
    else:
        cutoff, outcome = horizon, "timeout"
    b._records = [r for r in b._records if r[5] <= cutoff]
    # the slots' last rows decide which processes are still alive to be stopped
    last: dict[int, tuple] = {}
    for r in sorted(b._records, key=lambda r: r[5]):
        last[r[1]] = r
    for w, r in last.items():
        if r[0] == "restart":  # cut between restart and spawn: drop the dangling restart
            b._records.remove(r)
        elif r[0] not in ("crash", "stall"):
            b.add("stop", w, cutoff + 0.005, pid=r[2], port=r[3], detail="exit=-15")
    b.run_stop(cutoff + 0.01, outcome)
    return b
