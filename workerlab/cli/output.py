"""What the command line prints: a run's summary record and a sweep's report, as JSON-ready
dicts and as text for people (the words themselves come from ``workerlab.analysis.report``)."""

from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any) -> Any:
    """Plain JSON values: NA/NaN -> null, numpy scalars -> Python."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def summary_record(df: Any, deadline: float | None = None) -> dict[str, Any]:
    """The run's summary row as a JSON-ready dict (the keys of ``wl.summary``, ``deadline_s`` among
    them: ``deadline``, or when None the one the run was made with)."""
    from workerlab.analysis.runs import summary

    row = summary(df, deadline=deadline).iloc[0]
    return {str(k): jsonable(v) for k, v in row.items()}


def format_summary(rec: dict[str, Any]) -> str:
    """A short human-readable report of one run (``workerlab.analysis.report``'s words)."""
    from workerlab.analysis import report

    return report.text(rec, deadline=rec["deadline_s"])


def failure(error: Exception, df: Any) -> str:
    """A failed run's message for a command line: the run-level row's (no word of Python's ``.events``)."""
    from workerlab.log import events

    if df is not None and len(df):
        messages = events.run_stops(df)["message"].dropna()
        if len(messages) and messages.iloc[-1]:
            return str(messages.iloc[-1])
    return str(error)


def sweep_report(verdict: Any) -> dict[str, Any]:
    """A sweep's verdict (``wl.threshold``) as a JSON-ready dict: per-worker-count rows, the threshold,
    and run times, all read from the verdict (its table, judged runs and event log).

    The threshold's dict carries the intervals' confidence; ``format_sweep`` labels them with it."""
    import pandas as pd

    from workerlab.log import events

    df, judged = verdict.events, verdict.judged
    rows = [{k: jsonable(v) for k, v in row.items()} for row in verdict.table.to_dict("records")]
    stops = events.run_stops(df)
    durations = stops.groupby("run_id", sort=False)["t"].max()
    outcomes = stops["outcome"].fillna("")
    c = verdict.conditions
    shared = c is not None and not c.runs.alone
    return {
        "rows": rows,
        "threshold": verdict.to_dict(),
        # the library's word on runs that shared the machine, its hint in command-line syntax
        "conditions": c.text(rerun="sweep again with --parallel 1") if shared else None,
        "runs": int(pd.unique(df["run_id"]).size),
        "failed_runs": int((outcomes == "failed").sum()),
        "not_reached_runs": int((~judged["reached"]).sum()),
        "run_time_sum_s": float(durations.sum()),
        "elapsed_sum_s": float(judged["elapsed_s"].sum()),
        "deadline_s": verdict.deadline,
        "level": verdict.level,
    }


def format_sweep(rep: dict[str, Any]) -> str:
    """The per-worker-count table and the threshold sentence, for people; the intervals' column
    is labelled with their confidence."""

    def sec(v: Any) -> str:
        return "     –" if v is None else f"{v:6.2f}"

    from workerlab.thresholds.stats import ci_label

    label = ci_label(rep["threshold"]["confidence"])
    lines = [f" workers  runs  met  not reached  share   {label:<12}  median s  p95 s  bound s"]
    for r in rep["rows"]:
        lines.append(
            f"{r['workers']:8d}  {r['runs']:4d}  {r['successes']:3d}  {r['not_reached']:11d}  "
            f"{r['success_rate']:5.2f}   {r['ci_low']:.2f}–{r['ci_high']:.2f}    {sec(r['median_elapsed_s'])}"
            f"  {sec(r['p95_elapsed_s'])}  {sec(r['median_bound_s'])}"
        )
    lines.append("")
    lines.append(rep["threshold"]["sentence"])
    if rep.get("conditions"):
        lines.append(rep["conditions"])
    if rep.get("wall_s"):
        lines.append(
            f"{rep['runs']} runs in {rep['wall_s']:.1f} s wall; their own times add up to "
            f"{rep['run_time_sum_s']:.1f} s (wall/sum {rep['wall_s'] / max(rep['run_time_sum_s'], 1e-9):.2f})"
        )
    return "\n".join(lines)
