"""A search's answer (``SearchResult``) and its progress (``SearchStatus``), in words, a frame,
Markdown and JSON (``workerlab.thresholds.assemble`` builds it beside these types).

``SearchResult`` is what ``wl.find_threshold`` returns. Printed (``str``, and the notebook's text
and HTML forms alike) it is the answer at a glance, in at most 8 lines: the count and the
conclusion first; the evidence for it and for the count below (k/n with its interval, named for
what it is); the margin (median and p95 elapsed against the deadline); the cost (runs, wall time,
most runs at once); the conditions it holds under (runs at once, interference; this machine and
worker as measured); what to do next: for a result that is not conclusive, the fresh search that
would decide (its command and its time), never more runs added to these. Everything else (the
plans, their power, the screens, the full table, the model) is ``details()``; the numbers per count
are ``to_frame()`` and ``to_markdown()`` (``workerlab.thresholds.evidence``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workerlab.thresholds import evidence
from workerlab.thresholds.evidence import FreshRun
from workerlab.thresholds.exact import Inconclusive
from workerlab.thresholds.settings import SearchSettings
from workerlab.thresholds.stats import ci_label
from workerlab.thresholds.verdict import Threshold

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["SearchResult", "SearchStatus"]


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
    beside the measured figures (``runs`` 0 where none ran); ``settings``: the search's checked
    settings (what ``fresh_run`` repeats; None in a result built by hand).
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
    settings: SearchSettings | None = field(default=None, repr=False)

    @property
    def sentence(self) -> str:
        """The first line: the count and the conclusion."""
        return headline(self)

    @property
    def below(self) -> int | None:
        """The count the conclusion needs below the answer: the next smaller allowed one."""
        if self.workers is None:
            return None
        smaller = self.table.loc[self.table["workers"] < self.workers, "workers"]
        return int(smaller.iloc[-1]) if len(smaller) else None

    def lines(self) -> list[str]:
        """The answer at a glance, at most 8 lines (the module docstring says which)."""
        return answer_lines(self)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    _repr_pretty_ = Threshold._repr_pretty_  # IPython takes a class's own __repr__ before a base's

    def details(self) -> str:
        """Everything behind the answer: why, the cost in parts, the conditions in full, each plan
        and its decision, the power, the screens, the full table and the model."""
        return details(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per allowed count (``workerlab.thresholds.evidence.FRAME_DTYPES``): the evidence
        each count's decision rests on, its interval and the interval's kind, the measured times,
        the prediction, the runs at once. For a report: ``to_markdown()``, ``to_frame().to_csv(path)``."""
        c = self.conditions
        return evidence.evidence_frame(
            self.table,
            self.decisions,
            answer=self.workers,
            below=self.below,
            screened=self.screened,
            per_count={} if c is None else c.runs.per_count,
            confidence=self.confidence,
        )

    def fresh_run(self) -> FreshRun | None:
        """The fresh search that would decide what this result left open (None when conclusive):
        ``.command`` and its time, ``.estimate()`` (``workerlab.thresholds.evidence.fresh_run``)."""
        if self.conclusive or self.table.empty:
            return None
        return evidence.fresh_run(
            self.to_frame(),
            self.decisions,
            answer=self.workers,
            stopped=self.interrupted,
            settings=self.settings,
            events=self.events,
            deadline=self.deadline,
            level=self.level,
            confidence=self.confidence,
        )

    def to_dict(self) -> dict[str, Any]:
        return search_dict(self) | super().to_dict()


def _pct(v: float) -> str:
    return f"{v * 100:.4g}%"


def headline(th: SearchResult) -> str:
    """The first line: the count and the conclusion; "conclusive" only where it is."""
    q = f"meet {th.deadline:g} s in >= {_pct(th.level)} of runs"
    conf = f"{_pct(th.confidence)} confidence"
    if th.conclusive and th.workers is not None:
        return f"{th.workers} workers {q} (conclusive, {conf})"
    state = "stopped before a conclusive answer" if th.interrupted else "not conclusive"
    if th.workers is not None:
        return f"{th.workers} workers so far: {state} whether they {q} ({conf})"
    counts = th.table["workers"]
    span = f"{counts.min()}–{counts.max()}" if len(counts) else "no"
    return f"No count of {span} workers shown to {q}: {state} ({conf})"


def _said(f: pd.DataFrame, w: int, confidence: float) -> str:
    """``15 workers met 72/72 (95% fixed-sample CI 0.95–1.00: meets)``, from ``to_frame``'s rows."""
    if w not in f.index or f.loc[w, "runs"] == 0:
        return f"{w} workers not measured"
    r = f.loc[w]
    said: str = f": {r['decision']}" if not pd.isna(r["decision"]) else ""
    said = said or (": a screen, not evidence" if r["role"] == "screen" else ": its plan still open")
    return (
        f"{w} workers met {r['successes']}/{r['runs']} ({_pct(confidence)} {r['ci_kind']} CI "
        f"{r['ci_low']:.2f}–{r['ci_high']:.2f}{said})"
    )


def _evidence(th: SearchResult, f: pd.DataFrame) -> str:
    """The evidence for the answer and for the count below (or for the last plans, with no answer)."""
    b = th.below
    if th.workers is not None:
        counts = [th.workers, *([b] if b is not None else [])]
    else:
        counts = [int(d["workers"]) for d in th.decisions][-2:]
    said = [_said(f, w, th.confidence) for w in counts] or ["nothing measured yet"]
    if th.workers is not None and b is None and th.workers != 1:
        said.append(f"the count below ({th.workers - 1}) not examined")
    why = "" if th.conclusive or th.interrupted or not th.reason else f"; {th.reason}"
    return "evidence: " + "; ".join(said) + why


def _margin(th: SearchResult) -> list[str]:
    """The answer's median and p95 elapsed against the deadline (none without a measured answer)."""
    r = th.row()
    if r is None or not r["runs"]:
        return []
    med, p95 = r["median_elapsed_s"], r["p95_elapsed_s"]
    if math.isnan(p95):
        return [f"margin: no run of {th.workers} workers reached the target"]
    gap = th.deadline - p95
    left = f"{gap:.2g} s to spare at p95" if gap >= 0 else f"p95 {-gap:.2g} s over it"
    return [
        f"margin: {th.workers} workers took {med:.3g} s median, {p95:.3g} s p95 against the "
        f"{th.deadline:g} s deadline ({left})"
    ]


def _cost(th: SearchResult) -> str:
    measured = int(th.table["runs"].sum())
    other = (th.runs_used or 0) - measured - th.pilot_runs
    parts = [f"{th.pilot_runs} pilot"] if th.pilot_runs else []
    parts.append(f"{measured} measured")
    if other > 0:
        parts.append(f"{other} stopped unfinished")
    return f"{th.runs_used} runs ({', '.join(parts)}) in {th.wall_s or 0:.0f} s wall"


def _next(th: SearchResult) -> str:
    fresh = th.fresh_run()
    if fresh is None:
        return (
            f"next: use {th.workers} workers here; the plans, power, screens, table and model: "
            "result.details() (workerlab threshold --details)"
        )
    return (
        "next: a fresh search would decide it (all its runs new: adding runs to these would void the "
        f"confidence): {fresh.command} ({fresh.estimate()})"
    )


def answer_lines(th: SearchResult) -> list[str]:
    """The answer at a glance, at most 8 lines (the module docstring says which)."""
    c = th.conditions
    most = "" if c is None else f", up to {c.runs.max} at once"
    out = [headline(th), _evidence(th, th.to_frame().set_index("workers")), *_margin(th)]
    out.append(f"cost: {_cost(th)}{most}")
    counts = [w for w in (th.workers, th.below) if w is not None]
    out += [
        evidence.conditions_line(None if c is None else c.runs, None if c is None else c.interference, counts)
    ]
    out += [evidence.model_line(th.model), _next(th)]
    if th.violations:
        pairs = "; ".join(f"{large} workers worse than {small}" for small, large in th.violations)
        out.append(f"WARNING: more workers measured clearly worse ({pairs}), against the answer's assumption")
    return out


def _decision(th: SearchResult, d: dict[str, Any]) -> str:
    w = d["workers"]
    role = "the answer" if w == th.workers else "the count below" if w == th.below else d["role"]
    said = (
        f"{w} workers ({role}; its plan aimed to show it {d['aim']}, predicted {d['p_pred']:.3f}): "
        f"{d['plan']} -> {d['decision'] or 'undecided'} ({d['successes']}/{d['runs']} counted, in start order"
    )
    said += ", alone" if d.get("alone") else ""
    if d.get("ci_low") is not None and d.get("ci_high") is not None:
        said += f"; {ci_label(th.confidence)} exact for this plan {d['ci_low']:.2f}–{d['ci_high']:.2f}"
    said += ")"
    if d.get("shared"):
        k, n = d["shared"]
        said += f"; before it, a plan side by side said below at {k}/{n} (not evidence: decided again alone)"
    return said


def _plans(th: SearchResult) -> list[str]:
    """The plans, their power, the screen, violations and undecided counts, in words."""
    out = [_decision(th, d) for d in th.decisions]
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


def details(th: SearchResult) -> str:
    """``SearchResult.details()``: the first line, then everything behind it."""
    out = [headline(th), *([f"why: {th.reason}"] if th.reason else []), f"cost: {_cost(th)}"]
    out += [th.conditions.text()] if th.conditions else []
    out += ["", "plans (each fixed before its count's first counted run):", *_plans(th), ""]
    out += evidence.table_lines(th.table, f"{ci_label(th.confidence)} (f)")
    out.append(
        "(f) fixed-sample intervals of every run measured: exact for a fixed number of runs, not for a "
        "count a plan stopped early (there they can cover less than stated); the plans' own intervals are above"
    )
    if th.model is not None:
        out += ["", "assumptions: the answer holds for a worker and machine like this", repr(th.model)]
    out += ["", "per count: result.to_frame(), .to_markdown(), .to_frame().to_csv(path)"]
    return "\n".join(out)


def search_dict(th: SearchResult) -> dict[str, Any]:
    """The search's own JSON keys (``SearchResult.to_dict`` adds the threshold's): ``answer`` is its
    lines, ``fresh_run`` the fresh search's command and time (None when conclusive)."""
    fresh = th.fresh_run()

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
        "answer": th.lines(),
        "fresh_run": None if fresh is None else fresh.to_dict(),
    }
