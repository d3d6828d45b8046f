"""A worker's pace measured from an event log: streams, the interval and the lead.

The interval is the least-squares slope of a line's arrival time on its index within its stream,
pooled over streams (each stream gets its own intercept). The median gap between consecutive
samples, used before, is biased upward whenever lines are delayed unevenly (about 0.2 ms a line at
compressed time, +25 % when the emulator's ``-split`` coalesces lines), because a delay shows in
one gap and is given back in another that the median ignores; the slope gives it back.
``analysis.summary`` (per run, :func:`line_slopes`) and ``calibrate`` (pooled, :func:`line_slope`) share it,
as they share :func:`stream_lines` (where a stream begins and ends), :func:`leads` and :func:`bound`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workerlab.log import events

__all__ = ["stream_lines", "leads", "line_slope", "line_slopes", "bound"]


def stream_lines(df: pd.DataFrame, run: str = "run_id") -> pd.DataFrame:
    """Every sample of ``df`` with its stream: columns ``run, pid, worker_id, stream, index, t, connect_t``.

    ``df`` needs the columns ``run``, ``pid``, ``event`` and ``t`` (``worker_id`` is 0 without one).

    A stream is the samples of one process after a ``connect`` row, up to its next ``connect`` or
    ``events.STREAM_ENDS`` row (``stream_end``, ``crash``, ``stall``, ``stop``); ``index`` counts
    lines from 0 within it and ``connect_t`` is its ``connect`` row's ``t``. Samples outside a stream
    (before any connect of their process, or after a row that ended one) are grouped the same way
    with ``connect_t`` NaN. ``run`` names the column that tells runs apart (``run_id``, or a code
    column such as analysis' ``_run``).
    """
    has_pid = df["pid"].notna().to_numpy()
    keep = has_pid & df["event"].isin(("sample", "connect", *events.STREAM_ENDS)).to_numpy(dtype=bool)
    rows = df.loc[keep, [run, "pid", "event", "t"]].sort_values([run, "pid", "t"], kind="stable")
    worker = df.loc[rows.index, "worker_id"] if "worker_id" in df.columns else pd.Series(0, index=rows.index)
    runs = rows[run].to_numpy()
    pid = rows["pid"].to_numpy(dtype="int64")
    t = rows["t"].to_numpy(dtype="float64")
    ev = rows["event"]
    is_conn = (ev == "connect").to_numpy(dtype=bool)
    marker = is_conn | ev.isin(events.STREAM_ENDS).to_numpy(dtype=bool)  # rows that are not samples
    new = marker.copy()
    if len(rows):
        new[0] = True
        new[1:] |= (runs[1:] != runs[:-1]) | (pid[1:] != pid[:-1])
    stream = np.cumsum(new) - 1
    head = np.flatnonzero(new)  # first row of each stream
    pos = np.arange(len(rows)) - head[stream] - marker[head][stream]
    conn_t = np.where(is_conn[head], t[head], np.nan)[stream]
    s = ~marker
    return pd.DataFrame(
        {
            "run": runs[s],
            "pid": pid[s],
            "worker_id": worker.to_numpy(dtype="int64")[s],
            "stream": stream[s],
            "index": pos[s],
            "t": t[s],
            "connect_t": conn_t[s],
        }
    )


def leads(lines: pd.DataFrame) -> pd.DataFrame:
    """The lead of every stream (first sample ``t`` − its ``connect`` ``t``) in ``lines`` (:func:`stream_lines`).

    Columns ``run, worker_id, t`` (of the first sample) and ``seconds``, one row per stream that
    has a sample and a ``connect``.
    """
    first = lines[(lines["index"].to_numpy() == 0) & lines["connect_t"].notna().to_numpy()]
    return pd.DataFrame(
        {
            "run": first["run"].to_numpy(),
            "worker_id": first["worker_id"].to_numpy(),
            "t": first["t"].to_numpy(),
            "seconds": (first["t"] - first["connect_t"]).to_numpy(),
        }
    )


def bound(workers: Any, target: Any, lead: Any, interval: Any) -> Any:
    """The ideal time of a run: ``lead + (ceil(target / workers) - 1) * interval``.

    ``workers`` workers deliver a round of numbers per interval, the first round ``lead`` after
    they connect, so ``target`` numbers take ``ceil(target / workers)`` rounds; one round (or none)
    needs no interval, so the bound is then ``lead`` even where the interval is unknown (NaN).
    Works element-wise on arrays; a float for scalars.
    """
    rounds = np.ceil(np.asarray(target, dtype="float64") / np.maximum(workers, 1)) - 1
    with np.errstate(invalid="ignore"):
        out = np.asarray(lead, dtype="float64") + np.where(rounds > 0, rounds * np.asarray(interval), 0.0)
    return float(out) if out.ndim == 0 else out


def _centred(lines: pd.DataFrame, skip_first: bool = True) -> pd.DataFrame:
    """Per line (after the first of its stream): deviations from its stream's means, whether it counts.

    A stream's first line is left out: its time is set by the lead (the emulator sends it without
    sleeping, the rest after a timed sleep that wakes a little late), not by the interval. Only
    where no stream has three lines is it used (see :func:`line_slopes`).
    """
    if skip_first:
        lines = lines[lines["index"].to_numpy() >= 1]
    g = lines.groupby("stream")
    x = lines["index"].to_numpy(dtype="float64") - g["index"].transform("mean").to_numpy()
    y = lines["t"].to_numpy(dtype="float64") - g["t"].transform("mean").to_numpy()
    used = g["t"].transform("size").to_numpy() >= 2
    return pd.DataFrame({"sxx": x * x, "sxy": x * y, "n": used.astype("int64"), "by": lines.index})


def line_slope(lines: pd.DataFrame) -> tuple[float, int]:
    """Seconds per line over all of ``lines`` (from :func:`stream_lines`): ``(slope, lines used)``.

    The pooled within-stream least-squares slope of ``t`` on ``index`` (NaN without a stream of
    two lines); streams count from their second line on, unless no stream has three lines.
    """
    for skip_first in (True, False):
        parts = _centred(lines, skip_first)
        sxx, sxy = float(parts["sxx"].sum()), float(parts["sxy"].sum())
        if sxx > 0:
            break
    return (sxy / sxx if sxx > 0 else float("nan")), int(parts["n"].sum())


def line_slopes(lines: pd.DataFrame, by: str = "run") -> pd.Series:
    """:func:`line_slope` per value of column ``by`` (NaN where no stream has two lines)."""
    out = []
    for skip_first in (True, False):
        parts = _centred(lines, skip_first)
        sums = parts.groupby(lines.loc[parts["by"], by].to_numpy()).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(
                pd.Series(np.where(sums["sxx"] > 0, sums["sxy"] / sums["sxx"], np.nan), index=sums.index)
            )
    return out[0].reindex(out[1].index).fillna(out[1])
