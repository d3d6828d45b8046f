"""How many runs shared the machine: runs in flight, from an event log's wall-clock times.

A run's wall-clock span is from its ``timestamp - t`` (the wall clock at its t = 0) to that plus
its last ``t``. Per run, ``overlap`` gives the time-averaged number of runs in flight while it ran
(itself included: 1.0 means it ran alone) and the most at any moment; ``RunsAtOnce`` sums them up
per worker count, which is what a result reports ("conditions are part of the result": a share
measured with four runs at once is not the share of one run alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["overlap", "runs_at_once", "RunsAtOnce"]


def _spans(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run (order of first appearance): run_id, workers, start and end (epoch seconds)."""
    run = df["run_id"].astype(str)
    wall0 = df["timestamp"] - pd.to_timedelta(df["t"], unit="s")
    g = pd.DataFrame({"run_id": run, "w0": wall0, "t": df["t"], "workers": df["n_workers"]}).groupby(
        "run_id", sort=False
    )
    start = g["w0"].min()
    epoch = (start - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return pd.DataFrame(
        {
            "run_id": start.index.to_numpy(),
            "workers": g["workers"].first().to_numpy(dtype="int64"),
            "start": epoch.to_numpy(dtype="float64"),
            "end": (epoch + g["t"].max().fillna(0.0)).to_numpy(dtype="float64"),
        }
    )


def overlap(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: ``run_id, workers, start_s`` (from the first run's start), ``duration_s``,
    ``in_flight_mean`` (time-averaged runs in flight while it ran, itself included) and
    ``in_flight_max`` (the most at any moment of it)."""
    s = _spans(df)
    if s.empty:
        return pd.DataFrame(
            columns=["run_id", "workers", "start_s", "duration_s", "in_flight_mean", "in_flight_max"]
        )
    start, end = s["start"].to_numpy(), s["end"].to_numpy()
    length = np.maximum(end - start, 1e-9)
    # pairwise overlap: [i, j] = seconds run j ran while run i ran
    both = np.clip(
        np.minimum(end[:, None], end[None, :]) - np.maximum(start[:, None], start[None, :]), 0, None
    )
    mean = both.sum(axis=1) / length
    mean[end - start <= 0] = 1.0
    # the most at once during run i happens at some run's start within it (or its own start)
    alive = (start[None, :] <= start[:, None]) & (
        start[:, None] < end[None, :]
    )  # [k, j]: j alive at k's start
    count_at = alive.sum(axis=1)  # runs alive at each run's start
    within = (start[None, :] >= start[:, None]) & (start[None, :] < end[:, None])  # [i, k]: k starts in i
    most = np.where(within, count_at[None, :], 0).max(axis=1)
    return pd.DataFrame(
        {
            "run_id": s["run_id"],
            "workers": s["workers"],
            "start_s": start - start.min(),
            "duration_s": end - start,
            "in_flight_mean": mean,
            "in_flight_max": np.maximum(most, 1).astype("int64"),
        }
    )


@dataclass(frozen=True)
class RunsAtOnce:
    """How many runs were in flight, overall and per worker count (from the logs' wall-clock times).

    ``runs``: runs in the log; ``overlapped``: runs that shared the machine with another at some
    moment; ``mean``/``max``: time-averaged and most runs in flight (itself included), over every
    run; ``per_count``: ``{workers: (mean, max)}``.
    """

    runs: int
    overlapped: int
    mean: float
    max: int
    per_count: dict[int, tuple[float, int]] = field(default_factory=dict)

    @property
    def alone(self) -> bool:
        """Every run ran alone."""
        return self.overlapped == 0

    def text(self) -> str:
        """One line for a result's text."""
        if self.alone:
            return f"runs at once: 1 (each of the {self.runs} runs ran alone)"
        per = ", ".join(f"{w}: {m:.2f}/{x}" for w, (m, x) in sorted(self.per_count.items()))
        return (
            f"runs at once: mean {self.mean:.2f}, max {self.max}; {self.overlapped} of {self.runs} runs "
            f"shared the machine (per count, mean/max in flight: {per})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "overlapped": self.overlapped,
            "mean": self.mean,
            "max": self.max,
            "per_count": {str(w): {"mean": m, "max": x} for w, (m, x) in sorted(self.per_count.items())},
        }


def runs_at_once(df: pd.DataFrame, run_ids: set[str] | None = None) -> RunsAtOnce:
    """``RunsAtOnce`` of a log's runs (all of them in flight counts; only ``run_ids`` summed, if given)."""
    o = overlap(df)
    if run_ids is not None:
        o = o[o["run_id"].isin(run_ids)]
    if o.empty:
        return RunsAtOnce(0, 0, 1.0, 1)
    g = o.groupby("workers", sort=True)
    mean, most = g["in_flight_mean"].mean(), g["in_flight_max"].max()
    per = {int(w): (float(mean[w]), int(most[w])) for w in mean.index.to_numpy(dtype="int64")}
    return RunsAtOnce(
        runs=len(o),
        overlapped=int((o["in_flight_max"] > 1).sum()),
        mean=float(o["in_flight_mean"].mean()),
        max=int(o["in_flight_max"].max()),
        per_count=per,
    )
