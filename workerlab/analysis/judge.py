"""The one judge of a run: did it reach its target, did it meet the deadline, how long did it take.

Every place that counts a run as a success or a miss asks here: the progress bar of a batch, the
sweep's warning about failed runs, the threshold verdict, the search's evidence, the CLI's report
and the sweep plot. A run *reached* its target when its run-level row says so (``summary``'s
``outcome``; a log without one counts as reached when it holds more samples than kept); it *met*
the deadline when it reached it and its elapsed time is at most the deadline. A run whose outcome
is unknown is neither: it counts as a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workerlab.analysis.runs import summary

__all__ = ["Judgement", "judge", "judge_log", "judge_run", "JUDGED_COLUMNS"]

#: the columns of ``judge``'s frame, in order
JUDGED_COLUMNS = ["run_id", "workers", "reached", "met", "elapsed_s", "bound_s"]


@dataclass(frozen=True)
class Judgement:
    """One run judged: its size, whether it reached the target and met the deadline, its times."""

    workers: int
    reached: bool
    met: bool
    elapsed_s: float
    bound_s: float


def judge(runs: pd.DataFrame) -> pd.DataFrame:
    """``summary`` rows judged: ``run_id, workers, reached, met`` (plain bools), ``elapsed_s, bound_s``."""
    reached = (runs["outcome"] == "reached").fillna(False).astype(bool)
    met = reached & runs["deadline_met"].fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "run_id": runs["run_id"].to_numpy(),
            "workers": runs["workers"].to_numpy(dtype="int64"),
            "reached": reached.to_numpy(),
            "met": met.to_numpy(),
            "elapsed_s": runs["elapsed_s"].to_numpy(dtype="float64"),
            "bound_s": runs["bound_s"].to_numpy(dtype="float64"),
        },
        columns=JUDGED_COLUMNS,
    )


def judge_log(df: pd.DataFrame, deadline: float | None = None) -> pd.DataFrame:
    """Every run of an event log judged against ``deadline`` (one row per run, in log order; None:
    each run's own, recorded in its log, as ``summary`` does)."""
    return judge(summary(df, deadline=deadline))


def judge_run(df: pd.DataFrame, deadline: float | None = None) -> Judgement:
    """The one run of ``df`` judged against ``deadline`` (None: the one its log records)."""
    row = judge_log(df, deadline).iloc[0]
    return Judgement(
        workers=int(row["workers"]),
        reached=bool(row["reached"]),
        met=bool(row["met"]),
        elapsed_s=float(row["elapsed_s"]),
        bound_s=float(row["bound_s"]),
    )
