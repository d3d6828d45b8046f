"""What a run's event log says: the per-run summary, per-worker counts and latency samples.

Everything here takes the tidy event log (one run, or many concatenated as a sweep) and
returns tidy frames, so the same numbers feed ``wl.summary``, the plots, the CLI and the
dashboard. Definitions follow docs/event-log.md; all measurements (interval,
lead) come from the run itself so that they hold for the original worker binary too.

The work is vectorised (numpy / pandas group operations, no Python loop over rows): an event
log can hold 100k+ sample rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from workerlab.analysis import pace
from workerlab.config import DEADLINE
from workerlab.log import events
from workerlab.log.tidy import (
    event_mask,
    kept_mask,
    median_per_run,
    per_run,
    prepare,
    process_ends,
    select_run,
)

__all__ = [
    "summary",
    "worker_summary",
    "latencies",
    "processes",
    "ideal_curve",
    "select_run",
    "LATENCY_KINDS",
    "SUMMARY_DTYPES",
    "WORKER_SUMMARY_DTYPES",
]

#: Latency kinds of :func:`latencies`, in the order the plots show them.
LATENCY_KINDS: tuple[str, ...] = ("gap", "spawn_to_ready", "connect_to_first", "restart")

#: column -> dtype of :func:`summary`, in column order.
SUMMARY_DTYPES: dict[str, str] = {
    "run_id": "string",
    "workers": "Int64",
    "samples": "Int64",
    "target": "Int64",
    "outcome": "string",
    "numbers_processed": "Int64",
    "elapsed_s": "float64",
    "interval_s": "float64",
    "lead_s": "float64",
    "bound_s": "float64",
    "efficiency": "float64",
    "crashes": "Int64",
    "restarts": "Int64",
    "stalls": "Int64",
    "deadline_s": "float64",
    "deadline_met": "boolean",
}

#: column -> dtype of :func:`worker_summary`, in column order.
WORKER_SUMMARY_DTYPES: dict[str, str] = {
    "run_id": "string",
    "worker_id": "int64",
    "samples": "Int64",
    "kept": "Int64",
    "crashes": "Int64",
    "stalls": "Int64",
    "restarts": "Int64",
    "processes": "Int64",
    "first_sample_t": "float64",
    "last_sample_t": "float64",
}

# -- measurements that the summary and the plots share ------------------------------------


def _measured(run: Any, worker_id: Any, t: Any, seconds: Any) -> pd.DataFrame:
    """One latency kind's rows: ``_run, worker_id, t`` (when the measured span ended), ``seconds``."""
    return pd.DataFrame(
        {
            "_run": np.asarray(run),
            "worker_id": np.asarray(worker_id),
            "t": np.asarray(t),
            "seconds": np.asarray(seconds),
        }
    )


def _gaps(p: pd.DataFrame) -> pd.DataFrame:
    """Gaps between consecutive samples of the same process (``p`` from ``tidy.prepare``)."""
    s = p.loc[event_mask(p, "sample") & p["pid"].notna().to_numpy(), ["_run", "pid", "worker_id", "t"]]
    s = s.sort_values(["_run", "pid", "t"], kind="stable")
    run = s["_run"].to_numpy()
    pid = s["pid"].to_numpy(dtype="int64")
    t = s["t"].to_numpy()
    same = (run[1:] == run[:-1]) & (pid[1:] == pid[:-1])
    return _measured(run[1:][same], s["worker_id"].to_numpy()[1:][same], t[1:][same], np.diff(t)[same])


def _leads(p: pd.DataFrame) -> pd.DataFrame:
    """Per stream (``pace.stream_lines``): first sample ``t`` − ``connect`` ``t`` (``pace.leads``)."""
    return pace.leads(pace.stream_lines(p, run="_run")).rename(columns={"run": "_run"})


def _spawn_to_ready(p: pd.DataFrame) -> pd.DataFrame:
    """Per process: first ``ready`` t − ``spawn`` t."""
    cols = ["_run", "pid", "worker_id", "t"]
    has_pid = p["pid"].notna().to_numpy()
    sp = p.loc[event_mask(p, "spawn") & has_pid, cols].drop_duplicates(["_run", "pid"])
    rd = p.loc[event_mask(p, "ready") & has_pid, cols].drop_duplicates(["_run", "pid"])
    m = sp.merge(rd[["_run", "pid", "t"]], on=["_run", "pid"], suffixes=("_spawn", ""))
    return _measured(m["_run"], m["worker_id"], m["t"], m["t"] - m["t_spawn"])


def _restart_latency(p: pd.DataFrame) -> pd.DataFrame:
    """Per crash or stall: time to the next sample row of the same worker_id (if any)."""
    pos = np.arange(len(p))
    base = p[["_run", "worker_id", "t"]].assign(_pos=pos)
    faults = base[event_mask(p, "crash", "stall") & events.is_worker_row(p)]
    samples = base[event_mask(p, "sample")].rename(columns={"t": "t_next"})
    if faults.empty or samples.empty:
        return _measured([], [], [], [])
    m = pd.merge_asof(
        faults, samples, on="_pos", by=["_run", "worker_id"], direction="forward", allow_exact_matches=False
    )
    m = m[m["t_next"].notna()]
    return _measured(m["_run"], m["worker_id"], m["t_next"], m["t_next"] - m["t"])


def latencies(df: pd.DataFrame) -> pd.DataFrame:
    """Every latency sample of the log, tidy: run_id, n_workers, worker_id, kind, seconds, t.

    Kinds (:data:`LATENCY_KINDS`):
    ``gap`` between consecutive samples of one process; ``spawn_to_ready`` per process;
    ``connect_to_first`` per stream (the lead); ``restart`` from a crash or stall to the next
    sample of that worker_id (faults with no later sample give none). ``t`` is when the
    measured interval ended (seconds since the run started).
    """
    p, run_ids = prepare(df)
    parts = {
        "gap": _gaps(p),
        "spawn_to_ready": _spawn_to_ready(p),
        "connect_to_first": _leads(p),
        "restart": _restart_latency(p),
    }
    n_workers = p.groupby("_run")["n_workers"].first().reindex(range(len(run_ids)))
    frames = []
    for kind, part in parts.items():
        codes = part["_run"].to_numpy(dtype="int64")
        frames.append(
            pd.DataFrame(
                {
                    "run_id": pd.array(run_ids.to_numpy()[codes], dtype="string"),
                    "n_workers": n_workers.to_numpy(dtype="int64")[codes],
                    "worker_id": part["worker_id"].to_numpy(dtype="int64"),
                    "kind": kind,
                    "seconds": part["seconds"].to_numpy(dtype="float64"),
                    "t": part["t"].to_numpy(dtype="float64"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["kind"] = pd.Categorical(out["kind"], categories=list(LATENCY_KINDS))
    return out


def processes(df: pd.DataFrame) -> pd.DataFrame:
    """One row per worker process: run_id, worker_id, pid, start, ready, end, end_event.

    ``start`` is its ``spawn`` (or first row), ``end`` where it ended (``tidy.process_ends``: its
    first crash/stall/stop row); a process with none of those (a truncated log) ends at the run's
    last row, with ``end_event`` NA. These are the bars of the timeline.
    """
    p, run_ids = prepare(df)
    rows = p[p["pid"].notna().to_numpy() & events.is_worker_row(p)]
    key = ["_run", "pid"]
    first = rows.drop_duplicates(key)[["_run", "worker_id", "pid", "t"]].rename(columns={"t": "start"})
    ready = rows[rows["event"] == "ready"].drop_duplicates(key)[key + ["t"]].rename(columns={"t": "ready"})
    ends = process_ends(rows, ("_run", "pid"))
    out = first.merge(ready, on=key, how="left").merge(ends, on=key, how="left")
    run_end = p.groupby("_run")["t"].max()
    out["end"] = out["end"].fillna(out["_run"].map(run_end))
    out.insert(0, "run_id", pd.array(run_ids.to_numpy()[out["_run"].to_numpy(dtype="int64")], dtype="string"))
    return out.drop(columns="_run").reset_index(drop=True)


def ideal_curve(n_workers: int, target: int, lead: float, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """Arrival staircase of a perfect system: ``n_workers`` samples at ``lead + k*interval``.

    Returns ``(t, cumulative)`` step points (for ``where="post"``), starting at (0, 0) and
    ending when the target is reached; its last ``t`` is the bound (:func:`pace.bound`).
    """
    steps = max(1, math.ceil(target / max(n_workers, 1)))
    t = np.concatenate([[0.0], lead + interval * np.arange(steps)])
    t[-1] = pace.bound(n_workers, target, lead, interval)
    cum = np.concatenate([[0], np.minimum(n_workers * np.arange(1, steps + 1), target)])
    return t, cum


# -- the summaries ------------------------------------------------------------------------


def _run_level(p: pd.DataFrame, n_runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, outcome, deadline) per run from its run-level row (``events.run_stops``): None
    (NaN for the deadline) where absent."""
    target = np.full(n_runs, None, dtype=object)
    outcome = np.full(n_runs, None, dtype=object)
    deadline = np.full(n_runs, np.nan)
    stops = events.run_stops(p)
    runs = p.loc[events.is_run_row(p), "_run"].to_numpy()
    for run, tg, oc, dl in zip(runs, stops["target"], stops["outcome"], stops["deadline"]):
        if not (pd.isna(tg) or pd.isna(oc)):
            target[run], outcome[run] = int(tg), str(oc)
        if not np.isnan(dl):
            deadline[run] = dl
    return target, outcome, deadline


def _empty(dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})


def summary(df: pd.DataFrame, deadline: float | None = None) -> pd.DataFrame:
    """One row per run (order of first appearance): the figures defined in docs/event-log.md.

    Columns (:data:`SUMMARY_DTYPES`): run_id, workers, samples (kept), target and outcome
    (from the run-level stop row; NA if absent — a run with unkept samples is then inferred
    ``reached``, since only a reached target leaves samples unkept), numbers_processed (all
    samples), elapsed_s (last kept sample, NaN unless reached), interval_s, lead_s, bound_s
    (``lead + (ceil(target / workers) - 1) * interval``, target falling back to samples),
    efficiency (bound / elapsed), crashes, restarts, stalls (row counts), deadline_s (what the
    run is judged at: ``deadline`` if given, else the one the run was made with, recorded in its
    run-level row, else the challenge's 10 s for a log that does not say), deadline_met (reached
    and elapsed <= deadline_s; NA when the outcome is unknown).
    """
    p, run_ids = prepare(df)
    n = len(run_ids)
    if n == 0:
        return _empty(SUMMARY_DTYPES)
    codes = p["_run"].to_numpy()
    t = p["t"].to_numpy()
    is_sample = event_mask(p, "sample")
    kept = kept_mask(p)

    samples = per_run(codes, kept, n)
    processed = per_run(codes, is_sample, n)
    workers = p.groupby("_run")["n_workers"].first().reindex(range(n)).to_numpy()
    last_kept = pd.Series(t[kept]).groupby(codes[kept]).max().reindex(range(n)).to_numpy(dtype="float64")
    target, outcome, recorded = _run_level(p, n)
    inferred = np.array([o is None for o in outcome]) & (processed > samples)
    outcome[inferred] = "reached"
    reached = np.array([o == "reached" for o in outcome])
    known = np.array([o is not None for o in outcome])

    leads = _leads(p)
    interval = pace.line_slopes(pace.stream_lines(p, run="_run")).reindex(range(n)).to_numpy(dtype="float64")
    lead = median_per_run(leads["_run"].to_numpy(), leads["seconds"].to_numpy(), n)
    goal = np.array([tg if tg is not None else s for tg, s in zip(target, samples)], dtype="float64")
    bound = pace.bound(workers, goal, lead, interval)
    elapsed = np.where(reached, last_kept, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(elapsed > 0, bound / elapsed, np.nan)
    judged_at = np.where(np.isnan(recorded), DEADLINE, recorded) if deadline is None else np.full(n, deadline)
    met = pd.array(reached & (elapsed <= judged_at), dtype="boolean")
    met[~known] = pd.NA

    out = pd.DataFrame(
        {
            "run_id": run_ids.to_numpy(),
            "workers": workers,
            "samples": samples,
            "target": pd.array(list(target), dtype="Int64"),
            "outcome": pd.array(list(outcome), dtype="string"),
            "numbers_processed": processed,
            "elapsed_s": elapsed,
            "interval_s": interval,
            "lead_s": lead,
            "bound_s": bound,
            "efficiency": efficiency,
            "crashes": per_run(codes, event_mask(p, "crash"), n),
            "restarts": per_run(codes, event_mask(p, "restart"), n),
            "stalls": per_run(codes, event_mask(p, "stall"), n),
            "deadline_s": judged_at.astype("float64"),
            "deadline_met": met,
        }
    )
    return out.astype(SUMMARY_DTYPES)


def worker_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run_id, worker slot 1..n_workers): how that slot fared.

    Columns (:data:`WORKER_SUMMARY_DTYPES`): samples (all sample rows), kept, crashes, stalls,
    restarts (row counts), processes (distinct pids), first_sample_t / last_sample_t (NaN
    without samples). Slots with no rows at all still get a row of zeros, so a slot that
    never started is visible.
    """
    p, run_ids = prepare(df)
    if len(run_ids) == 0:
        return _empty(WORKER_SUMMARY_DTYPES)
    slots = p.groupby("_run")["n_workers"].first()
    p = p[events.is_worker_row(p)]
    is_sample = event_mask(p, "sample")
    g = (
        pd.DataFrame(
            {
                "_run": p["_run"].to_numpy(),
                "worker_id": p["worker_id"].to_numpy(),
                "samples": is_sample,
                "kept": kept_mask(p),
                "crashes": event_mask(p, "crash"),
                "stalls": event_mask(p, "stall"),
                "restarts": event_mask(p, "restart"),
                "pid": p["pid"].to_numpy(),
                "ts": np.where(is_sample, p["t"].to_numpy(), np.nan),
            }
        )
        .groupby(["_run", "worker_id"])
        .agg(
            samples=("samples", "sum"),
            kept=("kept", "sum"),
            crashes=("crashes", "sum"),
            stalls=("stalls", "sum"),
            restarts=("restarts", "sum"),
            processes=("pid", "nunique"),
            first_sample_t=("ts", "min"),
            last_sample_t=("ts", "max"),
        )
    )
    # every slot 1..n_workers of every run, plus any observed id beyond that
    full = pd.MultiIndex.from_tuples(
        sorted(set(g.index) | {(r, w) for r, nw in slots.items() for w in range(1, int(nw) + 1)}),
        names=["_run", "worker_id"],
    )
    g = g.reindex(full)
    counts = ["samples", "kept", "crashes", "stalls", "restarts", "processes"]
    g[counts] = g[counts].fillna(0)
    g = g.reset_index()
    g.insert(0, "run_id", run_ids.to_numpy()[g["_run"].to_numpy(dtype="int64")])
    return g.drop(columns="_run")[list(WORKER_SUMMARY_DTYPES)].astype(WORKER_SUMMARY_DTYPES)
