"""Check an event log against what the workers really sent (the emulator's ``-sentLog``).

The emulator appends ``<pid> <monotonic time> <value>`` to its ``-sentLog`` file for every line it
fully handed to the socket. That is ground truth from the worker's side, and this module compares it
with the event log, process by process:

* **lost** — a line the worker wrote that is not among the ``sample`` rows of its pid;
* **duplicated** — a received line that repeats the lines right before or after it (a replay);
* **invented** — any other received line that was never sent (wrong value, foreign pid, ...);
* **in flight** — for a process *we ended on purpose* (a per-process ``stop`` row at the end of
  the run, or a ``stall`` row: we stop reading when the stall limit expires, then kill it), the
  lines it wrote after the last one we read: the socket was closed with them on the way. Its
  received lines must be a prefix of its sent lines. A process that crashed gets no such
  allowance: every line it wrote was in the kernel before it died, so received must equal sent. (The emulator logs a line just after handing it to the
  socket; both its crash path and, with ``-sentLog``, its SIGTERM wait for that log write, so a line
  we received is always in the log.) **Tightened** when the log carries the run's ``t0`` (the
  monotonic time of ``t == 0``, see :func:`run_t0`): only the unread lines the sent log shows were
  written after the decision to stop reading (:func:`decision_times`), less ``slack``, are in flight;
  an unread line written before it is lost. The sent log's times come from ``time.monotonic()`` in the
  worker, a system-wide clock on Linux, the same as ``t0``.
* **wrong worker** — a sample row whose ``worker_id`` is not the slot that spawned its pid.

:func:`check_run` adds the process-level checks of :mod:`support.leftovers`: no worker process left
(by pid, the process's command line confirming it is still ours and not a reused pid) and no worker
port left bound.

Standard library, pandas (it reads the event log) and, through ``leftovers``, psutil: the soak, the
benchmarks and the tests all use it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field, fields
from difflib import SequenceMatcher
from pathlib import Path

import pandas as pd

from support.leftovers import bound_ports, orphans
from workerlab.log import events

__all__ = [
    "SentLog",
    "Report",
    "read_sent_log",
    "run_t0",
    "decision_times",
    "compare",
    "orphans",
    "bound_ports",
    "check_run",
]

#: a line written this long before the stop decision may still be unread without being a loss: the
#: collector learns of bytes one event-loop turn after the kernel has them
SLACK = 0.005


@dataclass
class SentLog:
    """What the workers wrote: pid -> values and pid -> monotonic times, in the order written."""

    values: dict[int, list[int]] = field(default_factory=dict)
    times: dict[int, list[float]] = field(default_factory=dict)
    malformed: int = 0  # lines that are not '<pid> <time> <value>' (never expected)

    @property
    def lines(self) -> int:
        return sum(len(v) for v in self.values.values())


def read_sent_log(path: str | os.PathLike[str]) -> SentLog:
    """Parse a ``-sentLog`` file (a missing file means nothing was sent)."""
    values: dict[int, list[int]] = defaultdict(list)
    times: dict[int, list[float]] = defaultdict(list)
    malformed = 0
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        try:
            pid, t, value = int(parts[0]), float(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            malformed += 1
            continue
        if len(parts) != 3:
            malformed += 1
            continue
        values[pid].append(value)
        times[pid].append(t)
    return SentLog(dict(values), dict(times), malformed)


@dataclass
class Report:
    """The outcome of one or more checks; ``+`` adds reports up (soak totals)."""

    runs: int = 0
    pids: int = 0  # worker processes of the run(s)
    lines_sent: int = 0  # lines in the sent logs
    lines_received: int = 0  # sample rows in the event logs
    lines_checked: int = 0  # sent lines found exactly once, in order, with the right pid
    lost: int = 0
    duplicated: int = 0
    invented: int = 0
    in_flight: int = 0  # allowed: written by a process we stopped, not read before the stop
    wrong_worker: int = 0
    foreign_pids: int = 0  # pids in the sent log that this run never spawned
    malformed: int = 0  # unparsable sent-log lines
    orphans: int = 0  # worker processes still alive after the run
    ports_bound: int = 0  # worker ports still bound (by one of ours, or by an unknown holder)
    ports_taken: int = 0  # worker ports bound again by someone else afterwards (not a fault)
    problems: list[str] = field(default_factory=list)

    #: counters that must be zero for a clean run
    FAULTS = (
        "lost",
        "duplicated",
        "invented",
        "wrong_worker",
        "foreign_pids",
        "malformed",
        "orphans",
        "ports_bound",
    )

    @property
    def ok(self) -> bool:
        return all(getattr(self, name) == 0 for name in self.FAULTS)

    def __add__(self, other: Report) -> Report:
        out = Report()
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            setattr(out, f.name, a + b)
        return out

    def counts(self) -> dict[str, int]:
        """Every counter (no problem texts), for JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "problems"}


def _classify_extra(block: list[int], received: list[int], j1: int, j2: int) -> tuple[int, int]:
    """(duplicated, invented) for received[j1:j2], lines that match nothing sent.

    A block that repeats the received lines right before or right after it is a replay
    (duplicated); anything else was invented.
    """
    k = j2 - j1
    if (j1 >= k and received[j1 - k : j1] == block) or received[j2 : j2 + k] == block:
        return k, 0
    return 0, k


def run_t0(df: pd.DataFrame) -> float | None:
    """The run's ``t0`` (``time.monotonic()`` at ``t == 0``) from its run-level ``stop`` row, or None.

    Read by ``events.run_stops``. A log without it (older logs) gets the lenient rule.
    """
    t0 = events.run_stops(df)["t0"].dropna()
    return float(t0.iloc[0]) if len(t0) else None


def decision_times(df: pd.DataFrame) -> dict[int, float]:
    """pid -> ``t`` at which the collector decided to stop reading it, for processes ended on purpose.

    A stall: its ``stall`` row. An over-long line: that ``error`` row. A process stopped at the end of a
    run that reached its target: the arrival of the target-th sample (the ``t`` of the last kept one),
    which is when the run decided to stop. A process stopped at the end of a run that did not reach it
    has no entry (the timeout's moment is not in the log): it keeps the lenient rule.
    """
    out: dict[int, float] = {}
    ev = df["event"]
    kept = df["kept"].fillna(False).astype(bool)
    reached = df.loc[(ev == "sample") & kept, "t"]
    worker_stop = (ev == "stop").to_numpy(dtype=bool) & events.is_worker_row(df)
    if len(reached) and (events.run_stops(df)["outcome"] == "reached").any():
        end = float(reached.max())
        for pid in df.loc[worker_stop, "pid"].dropna():
            out[int(pid)] = end
    ended = (ev == "stall").to_numpy(dtype=bool) | events.is_overlong(df)
    for pid, t in zip(df.loc[ended & df["pid"].notna(), "pid"], df.loc[ended & df["pid"].notna(), "t"]):
        out[int(pid)] = min(float(t), out.get(int(pid), float("inf")))
    return out


def _late(times: list[float], start: int, cutoff: float | None) -> int:
    """How many of the unread lines ``times[start:]`` were written at or after ``cutoff`` (all if None)."""
    if cutoff is None:
        return len(times) - start
    return sum(1 for t in times[start:] if t >= cutoff)


def _compare_pid(
    sent: list[int],
    got: list[int],
    stopped: bool,
    times: list[float] | None = None,
    cutoff: float | None = None,
) -> dict[str, int]:
    """Counts for one process: matched, lost, duplicated, invented, in_flight.

    ``cutoff`` (monotonic seconds): for a stopped process, only unread lines written at or after it are
    in flight; the ones before are lost. ``times`` are the sent lines' times (needed with ``cutoff``).
    """
    c = dict(matched=0, lost=0, duplicated=0, invented=0, in_flight=0)
    if cutoff is not None and times is None:
        raise ValueError("a cutoff needs the sent lines' times")
    times = times if times is not None else [0.0] * len(sent)
    if got == sent:
        c["matched"] = len(sent)
        return c
    if stopped and len(got) < len(sent) and got == sent[: len(got)]:
        late = _late(times, len(got), cutoff)
        c["matched"], c["in_flight"], c["lost"] = len(got), late, len(sent) - len(got) - late
        return c
    # something is wrong: align the two sequences to say what
    ops = SequenceMatcher(None, sent, got, autojunk=False).get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            c["matched"] += i2 - i1
            continue
        if tag in ("delete", "replace"):
            if stopped and i2 == len(sent) and all(op[0] in ("delete", "replace") for op in ops[n:]):
                late = _late(times[:i2], i1, cutoff)  # the unread tail of a process we stopped
                c["in_flight"] += late
                c["lost"] += i2 - i1 - late
            else:
                c["lost"] += i2 - i1
        if tag in ("insert", "replace"):
            dup, inv = _classify_extra(got[j1:j2], got, j1, j2)
            c["duplicated"] += dup
            c["invented"] += inv
    return c


def compare(
    df: pd.DataFrame,
    sent: SentLog,
    *,
    max_problems: int = 20,
    t0: float | None = None,
    slack: float = SLACK,
) -> Report:
    """Compare the sample rows of one run's event log with the sent log of that run.

    ``t0`` (default: :func:`run_t0` of the log) turns on the tightened in-flight rule; ``slack`` is how
    long before the stop decision an unread line still counts as in flight.
    """
    if t0 is None:
        t0 = run_t0(df)
    decided = decision_times(df) if t0 is not None else {}
    r = Report(runs=1, malformed=sent.malformed, lines_sent=sent.lines)
    is_sample = (df["event"] == "sample").to_numpy()
    samples = df.loc[is_sample, ["worker_id", "pid", "value"]]
    r.lines_received = len(samples)
    spawn = df[(df["event"] == "spawn") & df["pid"].notna()]
    slot_of = {int(p): int(w) for p, w in zip(spawn["pid"], spawn["worker_id"])}
    # ended on purpose: stopped at the end of the run, or given up on as stalled (we stop reading
    # when the stall limit expires, so a late worker's last lines may be on the way when killed)
    on_purpose = ((df["event"] == "stop").to_numpy(dtype=bool) & events.is_worker_row(df)) | (
        df["event"] == "stall"
    ).to_numpy(dtype=bool)
    stopped = {int(p) for p in df.loc[on_purpose, "pid"].dropna()}
    r.pids = len(slot_of)

    def problem(text: str) -> None:
        if len(r.problems) < max_problems:
            r.problems.append(text)

    got: dict[int, list[int]] = {}
    if len(samples):
        pids = samples["pid"].to_numpy(dtype="int64", na_value=-1)
        wids = samples["worker_id"].to_numpy(dtype="int64")
        vals = samples["value"].to_numpy(dtype="int64", na_value=-1)
        order: dict[int, list[int]] = defaultdict(list)
        wrong: dict[int, int] = defaultdict(int)
        for pid, wid, val in zip(pids.tolist(), wids.tolist(), vals.tolist()):
            order[pid].append(val)
            if slot_of.get(pid, wid) != wid:
                wrong[pid] += 1
        got = dict(order)
        for pid, n in wrong.items():
            r.wrong_worker += n
            problem(f"pid {pid}: {n} sample rows under a worker_id other than {slot_of[pid]}")

    for pid in sorted(set(sent.values) | set(got)):
        s, g = sent.values.get(pid, []), got.get(pid, [])
        if pid not in slot_of and s:
            r.foreign_pids += 1
            problem(f"pid {pid} wrote {len(s)} lines to the sent log but was not spawned by this run")
        cutoff = t0 + decided[pid] - slack if t0 is not None and pid in decided else None
        c = _compare_pid(s, g, pid in stopped, sent.times.get(pid, []), cutoff)
        r.lines_checked += c["matched"]
        r.lost += c["lost"]
        r.duplicated += c["duplicated"]
        r.invented += c["invented"]
        r.in_flight += c["in_flight"]
        if c["lost"] or c["duplicated"] or c["invented"]:
            how = "stopped or stalled" if pid in stopped else "crashed"
            problem(
                f"pid {pid} ({how}, worker {slot_of.get(pid, '?')}): sent {len(s)}, received {len(g)}: "
                f"lost {c['lost']}, duplicated {c['duplicated']}, invented {c['invented']}"
            )
    return r


def check_run(
    df: pd.DataFrame,
    sent_log: str | os.PathLike[str] | SentLog | None = None,
    *,
    t0: float | None = None,
) -> Report:
    """Every check of one run: the sent log (if given), orphans by pid, ports left bound.

    ``t0``: the run's monotonic start, for the tightened in-flight rule when the log does not carry it.
    """
    if sent_log is None:
        r = Report(runs=1)
        r.pids = int(df.loc[df["event"] == "spawn", "pid"].nunique())
        r.lines_received = int((df["event"] == "sample").sum())
    else:
        sent = sent_log if isinstance(sent_log, SentLog) else read_sent_log(sent_log)
        r = compare(df, sent, t0=t0)
    left = orphans(df)
    r.orphans = len(left)
    if left:
        r.problems.append(f"worker processes still alive after the run: {left}")
    leaked, taken = bound_ports(df)
    r.ports_bound, r.ports_taken = len(leaked), len(taken)
    if leaked:
        r.problems.append(f"worker ports still bound after the run: {leaked}")
    return r
