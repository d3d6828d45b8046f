"""What one dashboard frame shows, computed once per frame: a :class:`Snapshot` of a run.

A frame needs the run's samples and faults, its process lifetimes, its latencies, the figures
of its summary (measured interval and lead, the bound) and what only a run in progress has:
the current rate and the time left to the target against the deadline. Two ways to get them:

- :func:`snapshot` from an event log, through ``workerlab.analysis.runs`` (the definitions of
  docs/event-log.md): a finished run's last frame, or any log;
- :class:`LiveLog` from the collector's raw records while they arrive: it folds in only the
  records that are new since the last frame (a frame costs the same at the start and the end
  of a run), keeping per process the little state those definitions need. Tests hold it to
  ``analysis`` record for record on real and hand-built logs.

No matplotlib here: the drawing is ``workerlab.plots.live``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workerlab.analysis import pace
from workerlab.analysis import runs as analysis
from workerlab.log import events, tidy

__all__ = ["LiveStats", "Snapshot", "snapshot", "LiveLog", "rate_window"]

#: the current rate counts the samples of the last this-many measured intervals
RATE_INTERVALS = 3.0
_CLOSERS = frozenset(events.STREAM_ENDS)
_ENDS = frozenset(events.PROCESS_ENDS)


@dataclass(frozen=True)
class LiveStats:
    """The counters of a run so far: rate, time left against the deadline, faults.

    ``now_s`` is the run time of the snapshot; ``rate`` is kept samples per second over the
    last ``rate_window`` seconds (NaN before the first sample); ``eta_s`` the time to the target
    at that rate (0 once reached, NaN if unknown). ``outcome`` is None while the run goes on.
    """

    now_s: float
    samples: int
    target: int
    rate: float
    eta_s: float
    deadline: float | None
    crashes: int
    restarts: int
    stalls: int
    outcome: str | None
    elapsed_s: float

    @property
    def finish_s(self) -> float:
        """When the target was (or, at the current rate, will be) reached; NaN if unknown."""
        return self.elapsed_s if self.outcome == "reached" else self.now_s + self.eta_s

    @property
    def on_track(self) -> bool | None:
        """Whether the (projected) finish is within the deadline; None when it cannot be told."""
        if self.outcome not in (None, "reached"):
            return False
        if self.deadline is None or math.isnan(self.finish_s):
            return None
        return self.finish_s <= self.deadline


@dataclass(frozen=True)
class Snapshot:
    """Everything a frame draws, as arrays (one run)."""

    stats: LiveStats
    n_workers: int
    end_s: float  # the last instant the frame covers ("now" while running)
    lead_s: float
    interval_s: float
    bound_s: float
    sample_t: np.ndarray
    sample_worker: np.ndarray
    sample_kept: np.ndarray
    kept_t: np.ndarray  # sorted
    faults: dict[str, tuple[np.ndarray, np.ndarray]]  # crash/stall/restart/error -> (t, worker_id)
    proc_start: np.ndarray  # one per process: its first row,
    proc_end: np.ndarray  # its crash/stall/stop (NaN while it runs),
    proc_end_event: np.ndarray  # which one (None while it runs),
    proc_worker: np.ndarray  # and its slot
    latencies: dict[str, np.ndarray]  # analysis.LATENCY_KINDS -> seconds


def rate_window(interval_s: float, now_s: float) -> float:
    """Seconds over which the current rate is counted: a few intervals, at most the run so far."""
    if not math.isfinite(interval_s) or interval_s <= 0:
        return max(now_s, 0.0)
    return min(RATE_INTERVALS * interval_s, max(now_s, 0.0))


def _stats(
    kept_t: np.ndarray, *, now: float, target: int, interval: float, outcome: str | None, **counts: Any
) -> LiveStats:
    n_kept = len(kept_t)
    window = rate_window(interval, now)
    if outcome not in (None, "reached") or n_kept == 0:
        rate = n_kept / now if n_kept and now > 0 else math.nan
    else:
        rate = float((kept_t > now - window).sum()) / window if window > 0 else math.nan
    eta = 0.0 if n_kept >= target else (target - n_kept) / rate if outcome is None and rate > 0 else math.nan
    reached = outcome == "reached" and n_kept > 0
    return LiveStats(
        now_s=now,
        samples=n_kept,
        target=target,
        rate=rate,
        eta_s=eta,
        outcome=outcome,
        elapsed_s=float(kept_t[-1]) if reached else math.nan,
        **counts,
    )


def snapshot(
    df: pd.DataFrame, *, deadline: float | None, now: float | None = None, target: int | None = None
) -> Snapshot:
    """The frame of the first run of the event log ``df``, through ``workerlab.analysis.runs``.

    A log still in progress has no run-level row, hence no target: pass the run's. ``now``
    (run seconds) defaults to the log's last instant.
    """
    rows, _, _ = tidy.select_run(df)
    row = analysis.summary(rows, deadline=deadline if deadline is not None else math.inf).iloc[0]
    p, _ = tidy.prepare(rows)
    t = p["t"].to_numpy(dtype="float64")
    worker = p["worker_id"].to_numpy(dtype="int64")
    is_sample, kept = tidy.event_mask(p, "sample"), tidy.kept_mask(p)
    last = float(t.max()) if len(t) else 0.0
    end = max(last, now) if now is not None else last
    lat = analysis.latencies(rows)
    procs = analysis.processes(rows)
    open_end = procs["end_event"].isna().to_numpy()
    kept_t = np.sort(t[kept])
    goal = int(row["target"]) if not pd.isna(row["target"]) else int(target or row["samples"])
    return Snapshot(
        stats=_stats(
            kept_t,
            now=end,
            target=goal,
            interval=float(row["interval_s"]),
            outcome=None if pd.isna(row["outcome"]) else str(row["outcome"]),
            deadline=deadline,
            crashes=int(row["crashes"]),
            restarts=int(row["restarts"]),
            stalls=int(row["stalls"]),
        ),
        n_workers=int(row["workers"]),
        end_s=end,
        lead_s=float(row["lead_s"]),
        interval_s=float(row["interval_s"]),
        bound_s=pace.bound(int(row["workers"]), goal, float(row["lead_s"]), float(row["interval_s"])),
        sample_t=t[is_sample],
        sample_worker=worker[is_sample],
        sample_kept=kept[is_sample],
        kept_t=kept_t,
        faults={
            kind: (t[m], worker[m])
            for kind in ("crash", "stall", "restart", "error")
            for m in [tidy.event_mask(p, kind) & (worker >= 1)]
        },
        proc_start=procs["start"].to_numpy(dtype="float64"),
        proc_end=np.where(open_end, np.nan, procs["end"].to_numpy(dtype="float64")),
        proc_end_event=np.array([None if o else e for o, e in zip(open_end, procs["end_event"].tolist())]),
        proc_worker=procs["worker_id"].to_numpy(dtype="int64"),
        latencies={
            kind: lat.loc[lat["kind"] == kind, "seconds"].to_numpy(dtype="float64")
            for kind in analysis.LATENCY_KINDS
        },
    )


class LiveLog:
    """A run's raw records (``events.RECORD_FIELDS`` tuples) folded in frame by frame.

    ``feed(records)`` takes the run's growing record list and reads only what is new since the
    last call; :meth:`snapshot` gives the frame. The run's target is known (its config), so
    the first ``target`` samples are the kept ones, as ``events.from_records`` marks them.
    """

    def __init__(self, *, n_workers: int, target: int) -> None:
        self.n_workers, self.target = n_workers, target
        self.n = 0  # records read so far
        self.sample_t: list[float] = []
        self.sample_worker: list[int] = []
        self.events: dict[str, tuple[list[float], list[int]]] = {
            k: ([], []) for k in ("crash", "stall", "restart", "error")
        }
        self.outcome: str | None = None  # from the run-level stop row, once there is one
        self.latencies: dict[str, list[float]] = {k: [] for k in analysis.LATENCY_KINDS}
        self.last_t = 0.0
        self._last_sample: dict[int, float] = {}  # pid -> t of its last sample (gaps)
        self._stream: dict[int, float | None] = {}  # pid -> connect t of its open stream, if unread
        self._spawn: dict[int, float] = {}  # pid -> its first spawn t
        self._ready: set[int] = set()  # pids with a ready row
        self._pending: dict[int, list[float]] = {}  # worker -> faults awaiting its next sample
        self._proc: dict[int, list[Any]] = {}  # pid -> [start, end, end_event, worker]
        self._slope = _Slope()

    def feed(self, records: Sequence[tuple]) -> None:
        """Fold in ``records[self.n:]`` (the list may grow meanwhile: read up to its length now)."""
        stop = len(records)
        for event, wid, pid, _port, _value, t, detail in records[self.n : stop]:
            self.last_t = t
            if wid >= 1 and pid is not None:
                proc = self._proc.setdefault(pid, [t, math.nan, None, wid])
                if event in _ENDS and proc[2] is None:
                    proc[1], proc[2] = t, event
            if event == "sample":
                self.sample_t.append(t)
                self.sample_worker.append(wid)
                for fault_t in self._pending.pop(wid, ()):
                    self.latencies["restart"].append(t - fault_t)
                if pid is not None:
                    self._slope.line(pid, t)
                    if pid in self._last_sample:
                        self.latencies["gap"].append(t - self._last_sample[pid])
                    self._last_sample[pid] = t
                    conn = self._stream.get(pid)
                    if conn is not None:
                        self.latencies["connect_to_first"].append(t - conn)
                        self._stream[pid] = None
                continue
            if event in self.events and wid != events.RUN_ROW:
                self.events[event][0].append(t)
                self.events[event][1].append(wid)
            if (
                event == "stop"
                and wid == events.RUN_ROW
                and (run_stop := events.parse_run_stop(detail)) is not None
            ):
                self.outcome, self.target = run_stop.outcome, run_stop.target
            if event in ("crash", "stall") and wid != events.RUN_ROW:
                self._pending.setdefault(wid, []).append(t)
            if pid is None:
                continue
            if event == "connect":
                self._stream[pid] = t
                self._slope.connect(pid)
            elif event in _CLOSERS:
                self._stream[pid] = None
            elif event == "spawn" and pid not in self._spawn:
                self._spawn[pid] = t
            elif event == "ready" and pid not in self._ready:
                self._ready.add(pid)
                if pid in self._spawn:
                    self.latencies["spawn_to_ready"].append(t - self._spawn[pid])
        self.n = stop

    def snapshot(self, *, deadline: float | None, now: float | None = None) -> Snapshot:
        """The frame of what was fed so far, at run time ``now`` (default: the last record's)."""
        end = max(self.last_t, now) if now is not None else self.last_t
        sample_t = np.asarray(self.sample_t, dtype="float64")
        kept = np.arange(len(sample_t)) < self.target
        kept_t = sample_t[kept]
        lat = {k: np.asarray(v, dtype="float64") for k, v in self.latencies.items()}
        interval = self._slope.slope()
        lead = float(np.median(lat["connect_to_first"])) if len(lat["connect_to_first"]) else math.nan
        procs = list(self._proc.values())
        faults = {
            k: (np.asarray(t, dtype="float64"), np.asarray(w, dtype="int64"))
            for k, (t, w) in self.events.items()
        }
        return Snapshot(
            stats=_stats(
                kept_t,
                now=end,
                target=self.target,
                interval=interval,
                outcome=self.outcome or ("reached" if len(sample_t) > self.target else None),
                deadline=deadline,
                crashes=len(self.events["crash"][0]),
                restarts=len(self.events["restart"][0]),
                stalls=len(self.events["stall"][0]),
            ),
            n_workers=self.n_workers,
            end_s=end,
            lead_s=lead,
            interval_s=interval,
            bound_s=pace.bound(self.n_workers, self.target, lead, interval),
            sample_t=sample_t,
            sample_worker=np.asarray(self.sample_worker, dtype="int64"),
            sample_kept=kept,
            kept_t=kept_t,
            faults=faults,
            proc_start=np.array([p[0] for p in procs], dtype="float64"),
            proc_end=np.array([p[1] for p in procs], dtype="float64"),
            proc_end_event=np.array([p[2] for p in procs], dtype=object),
            proc_worker=np.array([p[3] for p in procs], dtype="int64"),
            latencies=lat,
        )


class _Slope:
    """``workerlab.analysis.pace``'s interval, folded in line by line: the pooled within-stream slope.

    Per stream (a process's lines after a connect, or before its first one) it keeps the sums
    of index, time, their products and squares, twice: over the lines after the stream's first
    (what ``pace`` uses) and over all of them (its fallback when no stream has three lines).
    A stream that a new connect replaces is added to the closed totals.
    """

    def __init__(self) -> None:
        self.open: dict[
            int, list[float]
        ] = {}  # pid -> [next index, t0, n, sx, sy, sxy, sxx] x (after first, all)
        self.closed = [0.0, 0.0, 0.0, 0.0]  # sxx, sxy after the first line; sxx, sxy of all lines

    def connect(self, pid: int) -> None:
        if pid in self.open:
            for i, v in enumerate(self._centred(self.open.pop(pid))):
                self.closed[i] += v
        self.open[pid] = [0.0, math.nan] + [0.0] * 10

    def line(self, pid: int, t: float) -> None:
        st = self.open.get(pid)
        if st is None:  # lines before any connect of their process are a stream too
            st = self.open[pid] = [0.0, math.nan] + [0.0] * 10
        if st[0] == 0:
            st[1] = t
        x, y = st[0], t - st[1]  # times from the stream's first line: no cancellation
        for base in (2, 7) if x >= 1 else (7,):
            st[base] += 1
            st[base + 1] += x
            st[base + 2] += y
            st[base + 3] += x * y
            st[base + 4] += x * x
        st[0] += 1

    @staticmethod
    def _centred(st: list[float]) -> tuple[float, float, float, float]:
        out: list[float] = []
        for base in (2, 7):
            n, sx, sy, sxy, sxx = st[base : base + 5]
            out += [sxx - sx * sx / n, sxy - sx * sy / n] if n else [0.0, 0.0]
        return out[0], out[1], out[2], out[3]

    def slope(self) -> float:
        """Seconds per line (NaN until some stream has two lines)."""
        sums = list(self.closed)
        for st in self.open.values():
            for i, v in enumerate(self._centred(st)):
                sums[i] += v
        for sxx, sxy in ((sums[0], sums[1]), (sums[2], sums[3])):
            if sxx > 1e-12:
                return sxy / sxx
        return math.nan
