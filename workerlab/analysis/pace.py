"""A worker's pace measured from an event log: streams, the interval and the lead.

The interval is the least-squares slope of a line's arrival time on its index within its stream,
pooled over streams (each stream gets its own intercept). The median gap between consecutive
samples, used before, is biased upward whenever lines are delayed unevenly (about 0.2 ms a line at
compressed time, +25 % when the emulator's ``-split`` coalesces lines), because a delay shows in
one gap and is given back in another that the median ignores; the slope gives it back.
``analysis.summary`` (per run, :func:`line_slopes`) and ``calibrate`` (pooled, :func:`line_slope`) share it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["stream_lines", "line_slope", "line_slopes"]


def stream_lines(df: pd.DataFrame, run: str = "run_id") -> pd.DataFrame:
    """Every sample of ``df`` with its stream: columns ``run, pid, stream, index, t, connect_t``.

    A stream is the samples of one process after a ``connect`` row, up to its next ``connect``;
    ``index`` counts lines from 0 within it and ``connect_t`` is its ``connect`` row's ``t`` (NaN
    for samples seen before any connect of their process). ``run`` names the column that tells
    runs apart (``run_id``, or a code column such as analysis' ``_run``).
    """
    has_pid = df["pid"].notna().to_numpy()
    ev = df["event"].to_numpy()
    keep = has_pid & ((ev == "sample") | (ev == "connect"))
    rows = df.loc[keep, [run, "pid", "event", "t"]].sort_values([run, "pid", "t"], kind="stable")
    runs = rows[run].to_numpy()
    pid = rows["pid"].to_numpy(dtype="int64")
    t = rows["t"].to_numpy(dtype="float64")
    is_conn = (rows["event"] == "connect").to_numpy(dtype=bool)
    new = is_conn.copy()
    if len(rows):
        new[0] = True
        new[1:] |= (runs[1:] != runs[:-1]) | (pid[1:] != pid[:-1])
    stream = np.cumsum(new) - 1
    head = np.flatnonzero(new)  # first row of each stream
    pos = np.arange(len(rows)) - head[stream] - is_conn[head][stream]
    conn_t = np.where(is_conn[head], t[head], np.nan)[stream]
    s = ~is_conn
    return pd.DataFrame(
        {
            "run": runs[s],
            "pid": pid[s],
            "stream": stream[s],
            "index": pos[s],
            "t": t[s],
            "connect_t": conn_t[s],
        }
    )


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
