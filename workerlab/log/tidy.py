"""Preparing an event log for computation: the small public API that analysis and plots share.

The summary, the latency and process tables and every plot start the same way: validate the
log, sort it by run and time, and pick rows by event kind. Doing it here, once, keeps data
preparation apart from drawing (as seaborn's plotters prepare their data before they draw):
plots compute nothing that ``analysis`` could not, and read no private helper of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workerlab.log import events

__all__ = ["prepare", "event_mask", "kept_mask", "process_ends", "per_run", "median_per_run", "select_run"]


def prepare(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Validated copy sorted by (run in order of first appearance, t), with ``_run`` = run code.

    The sort is stable, so rows with equal ``t`` keep their arrival order. Returns the frame
    (fresh RangeIndex) and the run ids in order of first appearance (``_run`` indexes them).
    """
    events.validate(df)
    codes, run_ids = pd.factorize(df["run_id"], use_na_sentinel=False)
    out = df.assign(_run=codes)
    out = out.sort_values(["_run", "t"], kind="stable", ignore_index=True)
    return out, pd.Index(run_ids, dtype="string")


def event_mask(df: pd.DataFrame, *kinds: str) -> np.ndarray:
    """Boolean array: the rows of ``df`` whose event is one of ``kinds``."""
    return df["event"].isin(kinds).to_numpy(dtype=bool)


def kept_mask(df: pd.DataFrame) -> np.ndarray:
    """Boolean array: the sample rows counted toward the target."""
    return event_mask(df, "sample") & df["kept"].fillna(False).to_numpy(dtype=bool)


def process_ends(df: pd.DataFrame, key: tuple[str, ...] = ("run_id", "pid")) -> pd.DataFrame:
    """Where each process ended: its first ``events.PROCESS_ENDS`` row in time.

    Columns: ``key`` (a process per value, e.g. ``("_run", "pid")`` on a frame from :func:`prepare`),
    ``end`` (its ``t``) and ``end_event`` (string). A process with no such row (a log cut short, a
    run still going) has no row here.
    """
    rows = df[event_mask(df, *events.PROCESS_ENDS) & df["pid"].notna().to_numpy()]
    rows = rows.sort_values("t", kind="stable").drop_duplicates(list(key))
    out = rows[[*key, "t", "event"]].rename(columns={"t": "end", "event": "end_event"})
    return out.astype({"end_event": "string"}).reset_index(drop=True)


def per_run(codes: np.ndarray, mask: np.ndarray, n_runs: int) -> np.ndarray:
    """Count of ``mask`` rows per run code (``codes`` is the ``_run`` column of :func:`prepare`)."""
    return np.bincount(codes[mask], minlength=n_runs)


def median_per_run(codes: np.ndarray, values: np.ndarray, n_runs: int) -> np.ndarray:
    """Median of ``values`` per run code (NaN for runs without values)."""
    if len(values) == 0:
        return np.full(n_runs, np.nan)
    med = pd.Series(values).groupby(codes).median()
    return med.reindex(range(n_runs)).to_numpy(dtype="float64")


def select_run(df: pd.DataFrame, run_id: str | None = None) -> tuple[pd.DataFrame, str, int]:
    """The rows of one run: ``run_id``, or the first run of the frame if None.

    Returns ``(rows, run_id, number of runs in df)`` so that a plot can say which run of a
    sweep it shows.
    """
    events.validate(df)
    run_ids = pd.unique(df["run_id"])
    if len(run_ids) == 0:
        raise ValueError("the event log is empty: there is no run to show")
    if run_id is None:
        run_id = str(run_ids[0])
    elif run_id not in set(run_ids):
        raise ValueError(f"run_id {run_id!r} is not in this event log (it has {list(run_ids)[:5]}...)")
    return df[df["run_id"] == run_id], str(run_id), len(run_ids)
