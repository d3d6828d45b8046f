"""The event log: one tidy pandas DataFrame, one row per observed event.

Every part of workerlab (collector, summary, plots, persistence, dashboard, sweeps)
produces or consumes this frame; the schema below is the single definition of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

#: Event kinds, in lifecycle order. ``error`` (a garbage line or a failed request that is
#: not a crash) is the one kind that is not part of a worker's life: such lines must be recorded,
#: never as numbers.
EVENTS: tuple[str, ...] = (
    "spawn",
    "ready",
    "connect",
    "sample",
    "stream_end",
    "crash",
    "stall",
    "restart",
    "stop",
    "error",
)

EVENT_DTYPE = pd.CategoricalDtype(list(EVENTS))

#: column -> dtype, in column order.
SCHEMA: dict[str, Any] = {
    "run_id": "string",
    "n_workers": "int64",
    "worker_id": "int64",
    "pid": "Int64",
    "port": "Int64",
    "event": EVENT_DTYPE,
    "value": "Int64",
    "seq": "Int64",
    "kept": "boolean",
    "t": "float64",
    "timestamp": "datetime64[ns, UTC]",
    "detail": "string",
}

#: Fields of one raw record as the collector appends it (hot path: plain tuples).
RECORD_FIELDS: tuple[str, ...] = ("event", "worker_id", "pid", "port", "value", "t", "detail")


#: Rows that end a stream of a process: a sample after one of them belongs to no stream until the
#: process's next ``connect``.
STREAM_ENDS: tuple[str, ...] = ("stream_end", "crash", "stall", "stop")
#: Rows that end a process; its first such row is where it ended (a crash of a process still
#: running is followed by the ``stop`` that cleans it up, and the crash is what happened).
PROCESS_ENDS: tuple[str, ...] = ("crash", "stall", "stop")

# -- the run-level row: written and read here, nowhere else --------------------------------

#: ``worker_id`` of the run-level ``stop`` row; worker slots are 1..n_workers.
RUN_ROW = 0

# The run-level row's detail, anchored: a message may itself contain "; ", "=" or "target=".
_RUN_STOP_RE = re.compile(
    r"\Atarget=(\d+) outcome=(\w+)(?: deadline=([0-9.e+-]+|inf))?(?: t0=(\d+(?:\.\d*)?))?(?:; (.*))?\Z",
    re.DOTALL,
)


class RunStop(NamedTuple):
    """What the run-level ``stop`` row's detail says: the target, the outcome, a message, t0 and the deadline.

    ``t0`` is the run's ``time.monotonic()`` at ``t == 0`` (None in logs written before it was
    recorded): it puts the log on the same clock as a worker's own timestamps. ``deadline`` is the
    deadline the run was made to be judged at (seconds; None in logs written before it was recorded).
    """

    target: int
    outcome: str
    message: str = ""
    t0: float | None = None
    deadline: float | None = None


def run_stop_detail(
    target: int, outcome: str, message: str = "", *, t0: float | None = None, deadline: float | None = None
) -> str:
    """``detail`` of the run-level ``stop`` row: ``target=<n> outcome=<o>[ deadline=<s>][ t0=<s>][; <message>]``.

    The deadline is written as Python's shortest exact form of the float (``repr``), so it reads
    back equal. The inverse is :func:`parse_run_stop`; the two are kept side by side on purpose.
    """
    detail = f"target={target} outcome={outcome}"
    if deadline is not None:
        detail += f" deadline={float(deadline)!r}"
    if t0 is not None:
        detail += f" t0={t0:.6f}"
    return f"{detail}; {message}" if message else detail


def parse_run_stop(detail: str | None) -> RunStop | None:
    """The :class:`RunStop` in a run-level row's ``detail``; None if it is not one."""
    if not isinstance(detail, str) or not (m := _RUN_STOP_RE.match(detail)):
        return None
    try:
        deadline = float(m.group(3)) if m.group(3) else None
    except ValueError:  # not a number after all: the row is still the run's, its deadline unknown
        deadline = None
    t0 = float(m.group(4)) if m.group(4) else None
    return RunStop(int(m.group(1)), m.group(2), m.group(5) or "", t0, deadline)


def run_stop_record(
    target: int, outcome: str, message: str = "", *, t0: float | None = None, deadline: float | None = None
) -> tuple:
    """The run-level row as a raw record (:data:`RECORD_FIELDS`), ``t`` = 0: :func:`from_records` takes it."""
    detail = run_stop_detail(target, outcome, message, t0=t0, deadline=deadline)
    return ("stop", RUN_ROW, None, None, None, 0.0, detail)


def is_run_row(df: pd.DataFrame) -> np.ndarray:
    """Boolean array: the run-level rows of ``df`` (``stop`` rows of worker_id :data:`RUN_ROW`)."""
    return (df["event"] == "stop").to_numpy(dtype=bool) & (df["worker_id"] == RUN_ROW).to_numpy(dtype=bool)


def is_worker_row(df: pd.DataFrame) -> np.ndarray:
    """Boolean array: the rows of ``df`` that belong to a worker slot (every row but the run-level ones)."""
    return (df["worker_id"] != RUN_ROW).to_numpy(dtype=bool)


def run_stops(df: pd.DataFrame) -> pd.DataFrame:
    """The run-level rows of ``df`` parsed: run_id, t, target (Int64), outcome, message, t0 and
    deadline (float64).

    One row per run-level row, in frame order; a detail that does not parse gives NA fields (NaN
    ``t0`` and ``deadline`` also where the log was written before they were recorded).
    """
    rows = df[is_run_row(df)]
    parsed = [parse_run_stop(d) for d in rows["detail"].fillna("").tolist()]
    return pd.DataFrame(
        {
            "run_id": pd.array(rows["run_id"].to_numpy(), dtype="string"),
            "t": rows["t"].to_numpy(dtype="float64"),
            "target": pd.array([p.target if p else None for p in parsed], dtype="Int64"),
            "outcome": pd.array([p.outcome if p else None for p in parsed], dtype="string"),
            "message": pd.array([p.message if p else None for p in parsed], dtype="string"),
            "t0": np.array([p.t0 if p and p.t0 is not None else np.nan for p in parsed], dtype="float64"),
            "deadline": np.array(
                [p.deadline if p and p.deadline is not None else np.nan for p in parsed], dtype="float64"
            ),
        }
    )


def run_deadlines(df: pd.DataFrame) -> list[float]:
    """The distinct deadlines the runs of ``df`` were made with, sorted (empty: none recorded)."""
    recorded = run_stops(df)["deadline"].dropna()
    return sorted({float(d) for d in recorded})


# -- details of process rows that are read back ------------------------------------------

#: start of the ``error`` detail after which the collector closed the connection on purpose
OVERLONG = "line longer than"
# the ``stall`` detail of a stream that stopped between lines (``engine.streaming`` writes it)
_NO_LINE_RE = re.compile(r"\Ano line for ([0-9.]+(?:e[-+]?\d+)?) s")


def is_overlong(df: pd.DataFrame) -> np.ndarray:
    """Boolean array: the ``error`` rows of a line over ``max_line`` (the stream was dropped on purpose)."""
    detail = df["detail"].fillna("").astype(str)
    return (df["event"] == "error").to_numpy(dtype=bool) & detail.str.startswith(OVERLONG).to_numpy(
        dtype=bool
    )


def stall_limits(df: pd.DataFrame) -> np.ndarray:
    """The stall limit (seconds) each ``stall`` row of a stream stopped between lines reports."""
    detail = df.loc[(df["event"] == "stall").to_numpy(dtype=bool), "detail"].dropna()
    return detail.str.extract(_NO_LINE_RE, expand=False).astype("float64").dropna().to_numpy()


def empty() -> pd.DataFrame:
    """An event log with no rows and the full schema."""
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in SCHEMA.items()})


def from_records(
    records: Sequence[tuple],
    *,
    run_id: str,
    n_workers: int,
    samples: int,
    wall0: float,
) -> pd.DataFrame:
    """Build the event log from raw collector records.

    ``records`` are ``RECORD_FIELDS`` tuples in arrival order; ``wall0`` is the wall-clock
    time (epoch seconds) of ``t == 0``. ``seq`` numbers samples in arrival order and the
    first ``samples`` of them are ``kept``.
    """
    if not records:
        df = empty()
        return df
    cols = dict(zip(RECORD_FIELDS, zip(*records)))
    event = pd.Categorical(cols["event"], categories=EVENT_DTYPE.categories)
    is_sample = np.asarray(event == "sample")
    seq = np.cumsum(is_sample)
    t = np.asarray(cols["t"], dtype="float64")
    n = len(records)
    df = pd.DataFrame(
        {
            "run_id": pd.array([run_id] * n, dtype="string"),
            "n_workers": np.full(n, n_workers, dtype="int64"),
            "worker_id": np.asarray(cols["worker_id"], dtype="int64"),
            "pid": pd.array(cols["pid"], dtype="Int64"),
            "port": pd.array(cols["port"], dtype="Int64"),
            "event": event,
            "value": pd.array(cols["value"], dtype="Int64"),
            "seq": pd.array(np.where(is_sample, seq, 0), dtype="Int64"),
            "kept": pd.array(seq <= samples, dtype="boolean"),
            "t": t,
            "timestamp": pd.to_datetime(wall0 + t, unit="s", utc=True).astype(SCHEMA["timestamp"]),
            "detail": pd.array(cols["detail"], dtype="string"),
        }
    )
    df.loc[~is_sample, ["seq", "kept"]] = pd.NA
    return df


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` follows the schema; return it unchanged or raise ``ValueError``."""
    missing = [c for c in SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(
            f"not a workerlab event log: missing columns {missing}. "
            "Pass the frame returned by wl.collect / wl.sweep / wl.load."
        )
    return df


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event logs (e.g. the runs of a sweep) keeping every dtype."""
    frames = [validate(f) for f in frames]
    if not frames:
        return empty()
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"event": EVENT_DTYPE})
