"""A search's answer (``SearchResult``) and its progress (``SearchStatus``), assembled here from what
the search measured (``assemble``), and put in words, a table and JSON.

``SearchResult`` is what ``wl.find_threshold`` returns: the
answer, what it cost, per count the measured successes with their exact (Clopper-Pearson)
interval beside the model's prediction, each decisive count's plan and decision, the plans'
power, the screened larger counts (a screen, not evidence) and any monotonicity violation, and
the assumptions the answer rests on (the model's measured interval, lead and MTBF).
"""

from __future__ import annotations

import dataclasses
import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workerlab.thresholds.decider import Decider, NextStep, clip
from workerlab.thresholds.exact import BELOW, MEETS, Inconclusive, inconclusive
from workerlab.thresholds.stats import (
    ci_label,
    cp_interval,
    monotonicity_violations,
    repeats_needed,
    smallest_qualifying,
)
from workerlab.thresholds.verdict import Conditions, Threshold

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["SearchResult", "SearchStatus", "assemble"]


@dataclass(frozen=True)
class SearchStatus:
    """Where a search stands, given to ``on_update`` after the pilot and after every finished run.

    ``phase``: "pilot", "measuring", "done" or "stopped"; ``table``: one row per count (``workers,
    runs, successes, success_rate, ci_low, ci_high, p_pred, bound_s``, ...); ``verdict`` is the
    ``SearchResult`` once the search is over.
    """

    phase: str
    model: Model | None
    table: pd.DataFrame
    runs_used: int
    wall_s: float
    running: int = 0
    reason: str = ""
    verdict: SearchResult | None = None


@dataclass(frozen=True)
class SearchResult(Threshold):
    """The answer of ``wl.find_threshold``: a ``Threshold`` with the search's own evidence.

    ``runs_used`` (every run started, the pilot's too), ``wall_s``, the ``model`` its plan came
    from, ``events`` (every run's event log, concatenated), ``prediction`` (``Model.predict`` per
    count), ``reason`` (the plan's last word), ``pilot_runs`` and ``interrupted``; ``decisions``
    (per count with an exact plan: its role, plan, decision and the runs it counted, in start
    order), ``power`` (P(conclusive) of the plans at the predicted rates and with the candidate at
    0.99), ``below_examined`` (False when no smaller count was allowed: then not conclusive),
    ``screened`` (larger counts given a short screen: not evidence of meeting), ``violations``
    ((smaller, larger) pairs where the larger count measured clearly worse: its interval's high
    end under the smaller's low end) and ``undecided`` (a decisive count left without a decision,
    in numbers: ``workerlab.thresholds.exact.Inconclusive``); its ``table``
    has a row per allowed count with the model's ``p_pred``, ``median_pred_s`` and ``bound_s``
    beside the measured figures (``runs`` 0 where none ran).
    """

    runs_used: int = 0
    wall_s: float = 0.0
    model: Model | None = field(default=None, repr=False)
    events: pd.DataFrame | None = field(default=None, repr=False)
    prediction: pd.DataFrame | None = field(default=None, repr=False)
    reason: str = ""
    pilot_runs: int = 0
    interrupted: bool = False
    decisions: list[dict[str, Any]] = field(default_factory=list)
    power: dict[str, float | None] = field(default_factory=dict)
    below_examined: bool = True
    screened: list[int] = field(default_factory=list)
    violations: list[tuple[int, int]] = field(default_factory=list)
    undecided: list[Inconclusive] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        return sentence(self)

    def __str__(self) -> str:
        return text(self)

    def _repr_html_(self) -> str:
        return html_text(self)

    def to_dict(self) -> dict[str, Any]:
        return search_dict(self) | super().to_dict()


def _ci(r: pd.Series) -> str:
    return f"{r['ci_low']:.2f}–{r['ci_high']:.2f}"


def _said(th: SearchResult, w: int) -> str:
    """``w`` workers' plan runs (counted in start order, to the decision) and its interval."""
    r = th.row(w)
    d = next((d for d in th.decisions if d["workers"] == w), None)
    if d is not None and d["runs"]:
        lo, hi = cp_interval(d["successes"], d["runs"], th.confidence)
        return f"{w} workers {d['successes']}/{d['runs']} met ({ci_label(th.confidence)} {lo:.2f}–{hi:.2f})"
    assert r is not None
    return f"{w} workers {int(r['successes'])}/{int(r['runs'])} met ({ci_label(th.confidence)} {_ci(r)})"


def sentence(th: SearchResult) -> str:
    """The answer in one sentence, with the two counts that decide it; "conclusive" only where it is."""
    dl, conf = f"{th.deadline:g} s", f"{th.confidence * 100:.4g}%"
    if th.conclusive and th.workers is not None:
        said = _said(th, th.workers)
        below = th.table[th.table["workers"] < th.workers].tail(1)  # the next smaller count allowed
        if not below.empty:
            said += ", " + _said(th, int(below["workers"].iloc[0]))
        return (
            f"{th.workers} workers meet {dl} in at least {th.level:g} of runs: conclusive at {conf} "
            f"confidence ({said})"
        )
    head = "stopped before a conclusive answer" if th.interrupted else "not conclusive"
    if th.workers is not None:
        r = th.row()
        assert r is not None
        head += (
            f"; so far {th.workers} workers meet {dl} in {int(r['successes'])}/{int(r['runs'])} runs "
            f"({ci_label(th.confidence)} {_ci(r)})"
        )
    return head + (f": {th.reason}" if th.reason else "")


def _decision(d: dict[str, Any]) -> str:
    role = "the candidate" if d["aim"] == MEETS else "the count below"
    return (
        f"{d['workers']} workers, planned as {role} (predicted {d['p_pred']:.3f}): {d['plan']} -> "
        f"{d['decision'] or 'undecided'} ({d['successes']}/{d['runs']} counted, in start order)"
    )


def _plans(th: SearchResult) -> list[str]:
    """The plans, their power, the screen, violations and undecided counts, in words."""
    out = [_decision(d) for d in th.decisions]
    pw = th.power
    if pw.get("at_predicted") is not None:
        out.append(
            f"power of these plans: P(conclusive) {pw['at_predicted']:.2f} at the predicted rates,"
            f" {pw['at_0.99']:.2f} if the candidate's true rate is 0.99"
        )
    if th.decisions and not th.below_examined:
        out.append(f"the count below {th.workers} workers was not examined (none allowed): not conclusive")
    if th.screened:
        k = dict(zip(th.table["workers"].astype(int), th.table["successes"].astype(int)))
        n = dict(zip(th.table["workers"].astype(int), th.table["runs"].astype(int)))
        got = ", ".join(f"{w}: {k[w]}/{n[w]}" for w in th.screened)
        out.append(f"screened larger counts (a screen, not evidence of meeting): {got}")
    for small, large in th.violations:
        out.append(
            f"monotonicity violated: {large} workers measured clearly worse than {small} (intervals apart)"
        )
    out += [u.text() for u in th.undecided]
    return out


def _cost(th: SearchResult) -> str:
    measured = int(th.table["runs"].sum())
    other = (th.runs_used or 0) - measured - th.pilot_runs
    parts = [f"{th.pilot_runs} pilot"] if th.pilot_runs else []
    parts.append(f"{measured} measured")
    if other > 0:
        parts.append(f"{other} stopped unfinished")
    return f"{th.runs_used} runs ({', '.join(parts)}) in {th.wall_s or 0:.0f} s wall"


def _shown(th: SearchResult) -> tuple[pd.DataFrame, list[int]]:
    """The rows worth printing (measured, or predicted between 0.01 and 1) and the counts left out."""
    t = th.table
    keep = (t["runs"] > 0) | t["p_pred"].between(0.01, 0.999)
    return t[keep], t.loc[~keep, "workers"].astype(int).tolist()


def _span(counts: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1–3, 5"``."""
    groups: list[list[int]] = []
    for c in counts:
        if groups and c == groups[-1][-1] + 1:
            groups[-1].append(c)
        else:
            groups.append([c])
    return ", ".join(f"{g[0]}" if len(g) == 1 else f"{g[0]}–{g[-1]}" for g in groups)


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def text(th: SearchResult) -> str:
    """str() of a search's ``Threshold``: answer, cost, evidence beside the model, assumptions."""
    rows, left = _shown(th)
    out = [sentence(th), _cost(th), *([th.conditions.text()] if th.conditions else []), *_plans(th), ""]
    out.append(
        f" workers  runs  met  share  {ci_label(th.confidence):<10}  median s   p95 s | model p_meet  median s | bound s"
    )
    for _, r in rows.iterrows():
        ci = "    –    " if r["runs"] == 0 else _ci(r)
        out.append(
            f"{int(r['workers']):8d}  {int(r['runs']):4d}  {int(r['successes']):3d}  "
            f"{_fmt(r['success_rate'], '5.2f'):>5}  {ci:<10}  {_fmt(r['median_elapsed_s'], '7.2f'):>8}  "
            f"{_fmt(r['p95_elapsed_s'], '6.2f'):>6} |  {_fmt(r['p_pred'], '11.3f'):>11}  "
            f"{_fmt(r['median_pred_s'], '8.2f'):>8} | {_fmt(r['bound_s'], '7.2f'):>7}"
        )
    if left:
        out.append(f"not measured: {_span(left)} workers (the model: p_meet below 0.01 or above 0.999)")
    if th.model is not None:
        out += ["", "assumptions: the answer holds for a worker and machine like this", repr(th.model)]
    return "\n".join(out)


def html_text(th: SearchResult) -> str:
    """_repr_html_ of a search's ``Threshold``."""
    rows, left = _shown(th)
    table = rows.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="–")
    parts = [f"<p><b>{html.escape(sentence(th))}</b></p>", f"<p>{html.escape(_cost(th))}</p>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in _plans(th)] + [table]
    if left:
        parts.append(
            f"<p>not measured: {html.escape(_span(left))} workers (the model: p_meet below 0.01 or above 0.999)</p>"
        )
    if th.model is not None:
        parts.append(
            "<p>assumptions: the answer holds for a worker and machine like this</p>"
            f"<pre>{html.escape(repr(th.model))}</pre>"
        )
    return "\n".join(parts)


def search_dict(th: SearchResult) -> dict[str, Any]:
    """The search's own JSON keys (``SearchResult.to_dict`` adds the threshold's)."""

    def plain(v: Any) -> Any:
        if hasattr(v, "item"):
            v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "runs_used": th.runs_used,
        "pilot_runs": th.pilot_runs,
        "wall_s": th.wall_s,
        "interrupted": th.interrupted,
        "reason": th.reason,
        "model": None if th.model is None else th.model.to_dict(),
        "model_text": None if th.model is None else repr(th.model),
        "table": [{k: plain(v) for k, v in r.items()} for r in th.table.to_dict("records")],
        "decisions": [{k: plain(v) for k, v in d.items()} for d in th.decisions],
        "power": th.power,
        "below_examined": th.below_examined,
        "screened": th.screened,
        "monotonicity_violations": [list(v) for v in th.violations],
        "undecided": [dataclasses.asdict(u) | {"text": u.text()} for u in th.undecided],
    }


def plan_report(
    plan: Decider | None, step: NextStep | None, table: pd.DataFrame, level: float, confidence: float
) -> dict[str, Any]:
    """The plans' side of a search's answer: per planned count its plan and decision, the power, the
    count below examined or not, the screened counts and any monotonicity violation, and the
    undecided counts in numbers (estimate, interval, runs of a fresh plan)."""
    if plan is None or step is None:
        return {}
    decisions = plan.decisions()
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
    (``runs_used``, ``wall_s``, ``model``, ``events``, ``prediction``, ``pilot_runs``, ``interrupted``)."""
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
