"""A search's answer assembled from its state: the ``SearchResult`` of what it measured.

The loop (``workerlab.thresholds.loop``) hands over its table of measured runs, its ``Decider``
and the facts it reports; ``assemble`` decides what the answer is (conclusive or not, the count
so far) and ``plan_report`` adds the plans' side: per planned count its plan, decision and the
interval exact for that plan, the power, the screens, violations and undecided counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from workerlab.thresholds.decider import Decider, NextStep, clip
from workerlab.thresholds.exact import BELOW, MEETS, inconclusive
from workerlab.thresholds.intervals import plan_interval
from workerlab.thresholds.result import SearchResult
from workerlab.thresholds.stats import monotonicity_violations, repeats_needed, smallest_qualifying

if TYPE_CHECKING:
    from workerlab.thresholds.verdict import Conditions

__all__ = ["assemble", "plan_report"]


def _plan_interval(decider: Decider, d: dict[str, Any]) -> dict[str, float]:
    """``ci_low``/``ci_high`` exact for the count's plan (``workerlab.thresholds.intervals``), from the
    runs it counted; nothing where it counted none."""
    r = decider.runs[d["workers"]]
    if r.plan is None or not d["runs"]:
        return {}
    lo, hi = plan_interval(r.plan, d["runs"] - d["successes"], d["runs"])
    return {"ci_low": lo, "ci_high": hi}


def plan_report(
    plan: Decider | None, step: NextStep | None, table: pd.DataFrame, level: float, confidence: float
) -> dict[str, Any]:
    """The plans' side of a search's answer: per planned count its plan and decision, the power, the
    count below examined or not, the screened counts and any monotonicity violation, and the
    undecided counts in numbers (estimate, interval, runs of a fresh plan)."""
    if plan is None or step is None:
        return {}
    decisions = [d | _plan_interval(plan, d) for d in plan.decisions()]
    c, b = step.candidate, step.below
    undecided = [
        inconclusive(d["successes"], d["runs"], clip(d["p_pred"]), level, confidence)
        for d in decisions
        if d["workers"] in (c, b) and d["decision"] not in (MEETS, BELOW)
    ]
    planned = {d["workers"] for d in decisions}
    return dict(
        decisions=decisions,
        power=plan.power(),
        below_examined=not (c is not None and b is None and c != 1),
        screened=[int(w) for w in table.loc[table["runs"] > 0, "workers"] if int(w) not in planned],
        violations=monotonicity_violations(table),
        undecided=undecided,
    )


def assemble(
    table: pd.DataFrame,
    decider: Decider | None,
    *,
    level: float,
    deadline: float,
    confidence: float,
    conditions: Conditions | None,
    **facts: Any,
) -> SearchResult:
    """The ``SearchResult`` of a search's state: its ``table`` of measured runs, its ``decider``
    (None: stopped before the plans were fixed), and the ``facts`` it reports as they are
    (``runs_used``, ``wall_s``, ``model``, ``events``, ``prediction``, ``pilot_runs``, ``interrupted``,
    ``settings``)."""
    step = decider.step() if decider is not None else None
    conclusive = bool(step is not None and step.done and step.conclusive)
    measured = table[table["runs"] > 0]
    planned = set() if decider is None else {d["workers"] for d in decider.decisions()}
    # "so far" rests on the counts measured by a plan: a 3-run screen is no evidence of meeting
    plain = smallest_qualifying(measured[measured["workers"].isin(planned)] if planned else measured, level)
    workers = step.candidate if conclusive and step is not None else plain
    row = measured[measured["workers"] == workers]
    k, n = (int(row["successes"].iloc[0]), int(row["runs"].iloc[0])) if not row.empty else (0, 0)
    return SearchResult(
        workers=workers,
        table=table,
        strong=bool(not row.empty and row["ci_low"].iloc[0] >= level),
        repeats_needed=repeats_needed(k, n, level, confidence) if not row.empty else None,
        level=level,
        deadline=deadline,
        confidence=confidence,
        conclusive=conclusive,
        reason="" if step is None else step.reason,
        conditions=conditions,
        **facts,
        **plan_report(decider, step, table, level, confidence),
    )
