"""Estimate a :class:`~workerlab.model.model.Model` from event logs (``wl.calibrate``).

Every figure comes from the logs, so a model calibrated on the original binary's runs describes
the original: the interval (pooled least-squares slope, ``workerlab.analysis.pace``), the lead, the start-up
queue's service times, stream opening and restart costs (empirical distributions), and the crash
process from process lifetimes with right-censoring: a process we stopped, or killed for
stalling, did not crash, it was only seen alive that long. With exponential lifetimes the maximum
likelihood MTBF is total exposure / crashes; a censored Weibull fit (scipy.stats) checks that
assumption with a likelihood-ratio test (shape 1 is the exponential).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workerlab.analysis import pace
from workerlab.log import events, tidy
from workerlab.model.model import Model, mtbf_lower_bound

__all__ = ["calibrate"]


def _frame(logs: pd.DataFrame | Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [logs] if isinstance(logs, pd.DataFrame) else list(logs)
    if not frames:
        raise ValueError("calibrate needs at least one event log")
    for f in frames:
        events.validate(f)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if df.empty:
        raise ValueError("the event log is empty: there is nothing to calibrate from")
    return df


def _processes(df: pd.DataFrame) -> pd.DataFrame:
    """One row per process: run_id, worker_id, pid, attempt, spawn, ready, connect, end, how it ended.

    ``end`` and ``how`` are where the process ended (``tidy.process_ends``); a process that never
    ended in the log ends with the run, as if stopped. ``attempt`` is the process's rank among its
    slot's spawns (1 for the slot's first process), which is what the spawn row's detail says.
    """
    rows = df[df["pid"].notna().to_numpy()][["run_id", "worker_id", "pid", "event", "t"]]
    key = ["run_id", "pid"]
    out = rows.groupby(key, sort=False)["worker_id"].first().to_frame()

    def first_t(kind: str) -> pd.Series:
        return rows[rows["event"] == kind].groupby(key, sort=False)["t"].min()

    for kind in ("spawn", "ready", "connect"):
        out[kind] = first_t(kind)
    ends = tidy.process_ends(df).set_index(key)
    out["end"] = ends["end"].reindex(out.index)
    out["how"] = ends["end_event"].reindex(out.index)
    run_end = df.groupby("run_id")["t"].max()
    missing = out["end"].isna()
    out.loc[missing, "end"] = run_end.reindex(out.index.get_level_values("run_id")[missing]).to_numpy()
    out.loc[missing, "how"] = "stop"
    spawns = rows[rows["event"] == "spawn"].drop_duplicates(key).sort_values("t", kind="stable")
    attempt = spawns.groupby(["run_id", "worker_id"], sort=False).cumcount() + 1
    out["attempt"] = (
        attempt.set_axis(pd.MultiIndex.from_frame(spawns[key])).reindex(out.index).astype("float64")
    )
    return out.reset_index()


def _start_service(procs: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Service times of the first wave's start permits, and the permits (starts at once) inferred.

    Slots ask for a permit in slot order at t=0 and a permit is released at readiness, so with C
    permits the k-th first process (by spawn) got the permit released by the (k-C)-th readiness.
    C is the number of first processes spawned before the first readiness (median over runs).
    """
    first = procs[(procs["attempt"] == 1) & procs["ready"].notna() & procs["spawn"].notna()]
    counts = []
    for _, g in first.groupby("run_id", sort=False):
        counts.append(int((g["spawn"] < g["ready"].min()).sum()))
    C = max(1, int(np.median(counts))) if counts else 1
    service: list[np.ndarray] = []
    for _, g in first.groupby("run_id", sort=False):
        g = g.sort_values("spawn")
        ready = g["ready"].to_numpy()
        released = np.sort(ready)
        acquired = np.concatenate([np.zeros(min(C, len(g))), released[: max(0, len(g) - C)]])
        service.append(ready - acquired)
    s = np.concatenate(service) if service else np.array([])
    return s[s >= 0], C


def _first_waves(procs: pd.DataFrame) -> list[list[float]]:
    """Per run: stream-open time of each slot's first process, by spawn order.

    A first process that never opened a stream (it crashed at start) gets its readiness (or
    spawn) plus the median opening and start-up costs, so the wave keeps its length.
    """
    first = procs[procs["attempt"] == 1].sort_values(["run_id", "spawn"])
    opening = float((first["connect"] - first["ready"]).median())
    to_ready = float((first["ready"] - first["spawn"]).median())
    if not (math.isfinite(opening) and math.isfinite(to_ready)):
        return []
    guess = first["ready"].fillna(first["spawn"] + to_ready) + opening
    t = first["connect"].fillna(guess)
    return [
        list(g.to_numpy(dtype="float64"))
        for _, g in t.groupby(first["run_id"], sort=False)
        if g.notna().all()
    ]


def _restart_costs(df: pd.DataFrame) -> np.ndarray:
    """Per crash or stall of a worker: seconds to the next ``connect`` of the same slot."""
    cols = ["run_id", "worker_id", "t"]
    ev = df["event"]
    faults = df.loc[ev.isin(["crash", "stall"]).to_numpy() & events.is_worker_row(df), cols]
    conns = df.loc[(ev == "connect").to_numpy(), cols].rename(columns={"t": "t_next"})
    if faults.empty or conns.empty:
        return np.array([])
    faults = faults.assign(run_id=faults["run_id"].astype(str)).sort_values("t")
    conns = conns.assign(run_id=conns["run_id"].astype(str), t=conns["t_next"]).sort_values("t")
    m = pd.merge_asof(faults, conns, on="t", by=["run_id", "worker_id"], direction="forward")
    m = m[m["t_next"].notna()]
    return (m["t_next"] - m["t"]).to_numpy(dtype="float64")


def lifetime_fit(exposure: np.ndarray, crashed: np.ndarray) -> tuple[float, float | None, float | None]:
    """``(mtbf, weibull_shape, p)``: exponential MLE with censoring and the check against a Weibull.

    ``p`` is the likelihood-ratio test's p-value (chi-square, 1 degree of freedom) of the
    exponential (Weibull shape 1) within the censored Weibull fit; None with fewer than 5 crashes.
    """
    k = int(crashed.sum())
    T = float(exposure.sum())
    mtbf = T / k if k else 0.0  # no crash: the caller plans with a lower bound (Model.mtbf_lower)
    if k < 5:
        return mtbf, None, None
    x = np.maximum(exposure, 1e-9)
    data = stats.CensoredData(uncensored=x[crashed], right=x[~crashed])
    shape, _, scale = stats.weibull_min.fit(data, floc=0)

    def loglik(dist: Any) -> float:
        return float(np.sum(dist.logpdf(x[crashed])) + np.sum(dist.logsf(x[~crashed])))

    lr = 2 * (loglik(stats.weibull_min(shape, 0, scale)) - loglik(stats.expon(0, mtbf)))
    return mtbf, float(shape), float(stats.chi2.sf(max(lr, 0.0), 1))


def calibrate(logs: pd.DataFrame | Sequence[pd.DataFrame], **overrides: Any) -> Model:
    """A :class:`Model` estimated from one or more event logs (e.g. a sweep's, or the user's own runs).

    ``overrides`` set figures directly (e.g. ``concurrency=2``). With no crash in the logs the MTBF
    is its exact one-sided lower bound from the exposure (``Model.mtbf_lower``, 95 %), never "never
    crashes": the repr says so, with the exposure it rests on.
    """
    df = _frame(logs)
    lines = pace.stream_lines(df)
    interval, n_lines = pace.line_slope(lines)
    if not math.isfinite(interval):
        raise ValueError("no stream with three or more numbers: the interval cannot be measured")
    leads = pace.leads(lines)["seconds"].to_numpy()
    procs = _processes(df)
    service, concurrency = _start_service(procs)
    opened = (procs["connect"] - procs["ready"]).dropna().to_numpy()
    restart = _restart_costs(df)
    origin = procs["ready"].fillna(procs["spawn"])
    exposure = (procs["end"] - origin).clip(lower=0).to_numpy(dtype="float64")
    how = procs["how"].to_numpy()
    crashed = how == "crash"
    mtbf, shape, p = lifetime_fit(exposure, crashed)
    stalls = int((how == "stall").sum())
    T = float(exposure.sum())
    fitted: dict[str, Any] = {
        "interval": float(interval),
        "lead": float(np.median(leads)) if len(leads) else 0.0,
        "mtbf": mtbf,
        "stall": stalls / T if T > 0 else 0.0,
        "concurrency": concurrency,
        "runs": int(df["run_id"].nunique()),
        "interval_lines": n_lines,
        "lead_streams": len(leads),
        "crashes": int(crashed.sum()),
        "exposure_s": T,
        "stalls": stalls,
        "weibull_shape": shape,
        "first_wave": _first_waves(procs),
        "fit_p": p,
    }
    for name, values in (("start", service), ("connect", opened), ("restart", restart)):
        if len(values):
            fitted[name] = values
    limit = events.stall_limits(df)
    if len(limit):
        fitted["stall_limit"] = float(np.median(limit))
    if mtbf == 0 and T > 0:
        fitted["mtbf"] = mtbf_lower_bound(0, T)
    fitted.update(overrides)
    return Model(**fitted)
