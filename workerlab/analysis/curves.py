"""What the throughput and timeline plots show, as plain frames: computed here, drawn in ``plots``.

``throughput(df)`` gives each run's cumulative kept samples as step points, the crashes and
stalls on those curves and the ideal of a perfect system per (worker count, target);
``timeline(df)`` gives one run's process lifetimes, samples and events by worker lane. Nothing
here draws, so what a plot shows can be tested without matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workerlab.analysis import runs
from workerlab.log import events, tidy

__all__ = ["Throughput", "Timeline", "throughput", "timeline", "MARKED", "TIMELINE_EVENTS"]

#: The events marked on the throughput curves, in drawing order.
MARKED = ("crash", "stall")
#: The events marked on a timeline's lanes, in drawing order.
TIMELINE_EVENTS = ("crash", "stall", "restart", "error")


@dataclass(frozen=True)
class Throughput:
    """Cumulative kept samples per run, and the ideal per worker count (see ``throughput``)."""

    #: ``run, workers, t, kept``: step points (``where="post"``) of each run, from (0, 0) to its end
    curves: pd.DataFrame
    #: ``kind, run, t, kept``: a crash or stall of a worker, at the height of its run's curve then
    marks: pd.DataFrame
    #: ``workers, goal, t, kept``: the perfect system's staircase per (worker count, target)
    ideals: pd.DataFrame
    #: worker count of each run, by run code
    counts: np.ndarray
    #: the targets, smallest first
    goals: list[int]
    #: the last instant of any run or ideal (s)
    data_end: float
    #: the height the samples axis must reach: the largest target or count of samples
    top: float

    @property
    def n_runs(self) -> int:
        return len(self.counts)

    @property
    def ideal_end(self) -> float:
        return float(self.ideals["t"].max()) if len(self.ideals) else 0.0


def throughput(df: pd.DataFrame, *, deadline: float | None = None) -> Throughput:
    """The data of ``plot_throughput``: one step curve per run, its crash/stall marks, the ideals.

    Runs are numbered in order of appearance (``tidy.prepare``'s ``_run`` codes). The ideal of a
    (worker count, target) starts at the median lead of those runs and steps every median
    interval; it is left out where the lead (or, if one step is not enough, the interval) is
    unknown. Raises ``ValueError`` for an empty log.
    """
    p, run_ids = tidy.prepare(df)
    n_runs = len(run_ids)
    if n_runs == 0:
        raise ValueError("the event log is empty: there is no throughput to plot")
    summ = runs.summary(df, deadline=deadline if deadline is not None else math.inf)
    counts = summ["workers"].to_numpy(dtype="int64")
    codes = p["_run"].to_numpy()
    t = p["t"].to_numpy()
    kept = tidy.kept_mask(p)
    run_end = p.groupby("_run")["t"].max().reindex(range(n_runs)).to_numpy()
    by_worker = events.is_worker_row(p)
    curves: list[pd.DataFrame] = []
    marks: dict[str, list[pd.DataFrame]] = {kind: [] for kind in MARKED}
    for r in range(n_runs):
        kt = np.sort(t[kept & (codes == r)])
        xs = np.concatenate([[0.0], kt, [max(run_end[r], kt[-1] if len(kt) else 0.0)]])
        ys = np.concatenate([[0], np.arange(1, len(kt) + 1), [len(kt)]])
        curves.append(pd.DataFrame({"run": r, "workers": counts[r], "t": xs, "kept": ys}))
        for kind in MARKED:
            ft = t[tidy.event_mask(p, kind) & (codes == r) & by_worker]
            on_curve = np.searchsorted(kt, ft, side="right")
            marks[kind].append(pd.DataFrame({"kind": kind, "run": r, "t": ft, "kept": on_curve}))
    goal = summ["target"].fillna(summ["samples"]).to_numpy(dtype="int64")
    ideals = _ideals(counts, goal, summ)
    data_end = max(float(np.nanmax(run_end, initial=0.0)), float(ideals["t"].max()) if len(ideals) else 0.0)
    return Throughput(
        curves=pd.concat(curves, ignore_index=True),
        marks=pd.concat([m for kind in MARKED for m in marks[kind]], ignore_index=True),
        ideals=ideals,
        counts=counts,
        goals=sorted(set(goal.tolist())),
        data_end=data_end,
        top=float(max(goal.max(initial=1), summ["samples"].max())),
    )


def _ideals(counts: np.ndarray, goal: np.ndarray, summ: pd.DataFrame) -> pd.DataFrame:
    """The ideal staircase per (worker count, target), from the median lead and interval of those runs."""
    ideal = pd.DataFrame({"w": counts, "goal": goal, "lead": summ["lead_s"], "interval": summ["interval_s"]})
    med = ideal.groupby(["w", "goal"], sort=True)[["lead", "interval"]].median().reset_index()
    frames = []
    for w, g, lead, interval in zip(
        med["w"].to_numpy(dtype="int64").tolist(),
        med["goal"].to_numpy(dtype="int64").tolist(),
        med["lead"].to_numpy(dtype="float64"),
        med["interval"].to_numpy(dtype="float64"),
    ):
        if not np.isfinite(lead) or (g > w and not np.isfinite(interval)):
            continue
        it, icum = runs.ideal_curve(w, g, float(lead), float(interval if np.isfinite(interval) else 0))
        frames.append(pd.DataFrame({"workers": w, "goal": g, "t": it, "kept": icum}))
    if not frames:
        return pd.DataFrame({"workers": [], "goal": [], "t": [], "kept": []}, dtype="float64")
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class Timeline:
    """One run by worker lane (see ``timeline``)."""

    run_id: str
    #: 1-based position of the run in the log, and how many runs the log holds
    nth: int
    n_runs: int
    n_workers: int
    #: the lanes shown: every slot of the run and any other worker id logged
    lanes: list[int]
    #: ``worker_id, start, end, end_event``: one row per process (``end_event`` "open" if none logged)
    lifetimes: pd.DataFrame
    #: ``t, worker_id, kept``: one row per sample
    samples: pd.DataFrame
    #: ``kind, t, worker_id``: crashes, stalls, restarts and errors of workers, in ``TIMELINE_EVENTS`` order
    events: pd.DataFrame
    #: the last instant logged (1.0 for an empty run)
    end: float
    #: how the run ended (None while it is still running) and when it reached its target
    outcome: str | None
    elapsed_s: float


def timeline(df: pd.DataFrame, *, run_id: str | None = None) -> Timeline:
    """The data of ``plot_timeline``: the first run of ``df``, or ``run_id``."""
    rows, rid, n_runs = tidy.select_run(df, run_id)
    n_workers = int(rows["n_workers"].iloc[0])
    p, _ = tidy.prepare(rows)
    procs = runs.processes(rows)
    summ = runs.summary(rows).iloc[0]
    by_worker = events.is_worker_row(p)
    s = p[tidy.event_mask(p, "sample")]
    kinds = [p[tidy.event_mask(p, kind) & by_worker].assign(kind=kind) for kind in TIMELINE_EVENTS]
    outcome, elapsed = summ["outcome"], summ["elapsed_s"]
    return Timeline(
        run_id=rid,
        nth=list(pd.unique(df["run_id"])).index(rid) + 1 if n_runs > 1 else 1,
        n_runs=n_runs,
        n_workers=n_workers,
        lanes=sorted(set(range(1, n_workers + 1)) | set(p.loc[by_worker, "worker_id"].tolist())),
        lifetimes=pd.DataFrame(
            {
                "worker_id": procs["worker_id"].to_numpy(),
                "start": procs["start"].to_numpy(),
                "end": procs["end"].to_numpy(),
                "end_event": procs["end_event"].fillna("open").to_numpy(),
            }
        ),
        samples=pd.DataFrame(
            {
                "t": s["t"].to_numpy(),
                "worker_id": s["worker_id"].to_numpy(dtype="float64"),
                "kept": s["kept"].fillna(False).to_numpy(dtype=bool),
            }
        ),
        events=pd.concat(kinds, ignore_index=True)[["kind", "t", "worker_id"]],
        end=float(p["t"].max()) if len(p) else 1.0,
        outcome=None if pd.isna(outcome) else str(outcome),
        elapsed_s=math.nan if pd.isna(elapsed) else float(elapsed),
    )
