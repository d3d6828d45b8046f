"""The threshold search's plan: one exact plan per decisive count, as a pure state machine.

``Decider`` is given the model's predicted success rate per allowed count (fixed for the whole
search) and is told of every run: ``start(workers)`` when it starts (its place in that count's
start order) and ``record(workers, index, met)`` when it ends. ``step()`` says which counts want
more runs and whether the search is over; ``alone_counts()`` which counts must run alone (every
"below" rests on runs alone). It measures the *candidate* (plan aimed at ``MEETS``), the *count
below* (plan aimed at ``BELOW``) and a ``SCREEN_RUNS``-run screen of the next ``SCREEN_COUNTS``
larger counts; the rules (start order, moves, runs alone, an inconclusive count ending the
search) are docs/threshold-statistics.md. Pure, so whole searches can be simulated.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from workerlab.thresholds.exact import BELOW, INCONCLUSIVE, MEETS, ROBUST_RATE, Plan, plan_runs

__all__ = ["NextStep", "Decider", "CountRuns", "SCREEN_RUNS", "SCREEN_COUNTS", "P_RANGE"]

#: runs of each screened larger count, and how many larger counts are screened
SCREEN_RUNS, SCREEN_COUNTS = 3, 2
#: the predicted rate used to choose a plan is clipped to this range (a model that saw no failure in
#: 10,000 simulated runs predicts 1.0, which no plan can be sized for)
P_RANGE = (0.001, 0.999)
#: the most runs one count's plan may take
PLAN_MAX_RUNS = 250


def clip(p: float) -> float:
    """The predicted rate a plan is chosen for (``P_RANGE``)."""
    return min(max(float(p), P_RANGE[0]), P_RANGE[1])


@functools.lru_cache(maxsize=1024)
def choose(aim: str, p: float, level: float, confidence: float, most: int) -> Plan:
    """The plan for a count predicted at ``p``: among the certified plans, the fewest expected runs
    (one by one, as ``Plan.decide`` stops them) at ``p`` with power 0.8 there and, for a candidate
    predicted above 0.99, at a true rate of 0.99 too (``ROBUST_RATE``: a pilot's model can be
    optimistic, and an inconclusive candidate ends the search). The planner spends most of the error
    on the first look, so this costs a candidate that always meets 74 runs instead of 72."""
    also = (ROBUST_RATE,) if aim == MEETS and p > ROBUST_RATE > level else ()
    return plan_runs(p, level, confidence, aim=aim, max_runs=most, also=also, one_by_one=True)


@dataclass
class CountRuns:
    """One count's runs in start order (``results``: start index -> met) and its plan, if decisive."""

    workers: int
    p_pred: float
    plan: Plan | None = None
    aim: str | None = None  # MEETS: planned as a candidate; BELOW: as the count below
    plan_from: int = 0  # runs started before the plan was fixed (a screen's) are not the plan's
    started: int = 0
    results: dict[int, bool] = field(default_factory=dict)
    decision: str | None = None
    alone: bool = False  # the plan's runs run alone
    shared: tuple[int, int] | None = None  # (successes, runs) of a shared plan that said "below"
    _seen: tuple[int, int] = (0, 0)  # (failures, runs) of the plan's prefix already given to decide

    def fix(self, aim: str, level: float, confidence: float, most: int, alone: bool = False) -> None:
        """Fix this count's plan now, before its first counted run (a no-op if it has one)."""
        if self.plan is not None:
            return
        self.plan = choose(aim, clip(self.p_pred), level, confidence, most)
        self.aim, self.plan_from, self.alone = aim, self.started, alone

    def again_alone(self) -> None:
        """Drop a plan whose runs shared the machine and said "below": a fresh plan, its runs alone,
        decides (the shared runs are kept in ``shared`` for the report, not counted)."""
        self.shared = self.counted()
        self.plan, self.aim, self.decision, self._seen = None, None, None, (0, 0)

    def counted(self) -> tuple[int, int]:
        """(successes, runs) of the plan's runs that decide: the prefix in start order, to the decision."""
        return self._seen[1] - self._seen[0], self._seen[1]

    def update(self) -> str | None:
        """The plan's decision from the runs ended so far, in start order (None: not yet)."""
        if self.plan is None or self.decision is not None:
            return self.decision
        f, n = self._seen
        while self.plan_from + n in self.results and n < self.plan.max_runs:
            f, n = f + (not self.results[self.plan_from + n]), n + 1
            self._seen = (f, n)
            self.decision = self.plan.decide(f, n)
            if self.decision is not None:
                break
        return self.decision

    def wanted(self) -> int:
        """More runs to start now: to the end of the plan's current look (its screen for a screen)."""
        if self.plan is None:
            return max(0, SCREEN_RUNS - self.started)
        if self.decision is not None:
            return 0
        n = self._seen[1]
        end = next(look for look in self.plan.looks if look > n)
        return max(0, self.plan_from + end - self.started)


@dataclass(frozen=True)
class NextStep:
    """What to do next. ``runs``: more runs to start now per count (empty when ``done``)."""

    candidate: int | None
    below: int | None
    runs: dict[int, int]
    done: bool
    conclusive: bool
    reason: str

    @property
    def total(self) -> int:
        return sum(self.runs.values())


class Decider:
    """The search's plan and state (module docstring): pure, so whole searches can be simulated."""

    def __init__(
        self,
        predicted: Mapping[int, float] | pd.DataFrame,
        *,
        level: float = 0.95,
        confidence: float = 0.95,
        max_runs: int = 400,
        alone: Iterable[int] = (),
    ) -> None:
        if isinstance(predicted, pd.DataFrame):
            predicted = dict(zip(predicted["workers"].astype(int), predicted["p_meet"].astype(float)))
        self.counts = sorted(int(w) for w in predicted)
        self.runs = {w: CountRuns(w, float(predicted[w])) for w in self.counts}
        self.level, self.confidence, self.max_runs = level, confidence, max_runs
        self.total = 0
        self.model_wrong = False  # a count the model expected to meet was shown below
        self.alone = {int(w) for w in alone}  # counts whose planned runs run alone from the first
        self.first: tuple[int, int] | None = None  # the first candidate and count below: the power's
        ok = [all(predicted[v] >= level for v in self.counts[i:]) for i in range(len(self.counts))]
        self.candidate: int | None = self.counts[ok.index(True)] if any(ok) else None

    # -- runs --------------------------------------------------------------------------------
    def start(self, workers: int) -> int:
        """A run of ``workers`` starts: its index in that count's start order."""
        c = self.runs[workers]
        c.started += 1
        self.total += 1
        return c.started - 1

    def record(self, workers: int, index: int, met: bool) -> None:
        """The run started ``index``-th at ``workers`` ended, meeting the deadline or not."""
        self.runs[workers].results[index] = bool(met)

    def alone_counts(self) -> set[int]:
        """The counts whose runs must run alone now: planned as the count below, or in ``alone``."""
        return self.alone | {w for w, r in self.runs.items() if r.plan is not None and r.alone}

    def below_of(self, c: int) -> int | None:
        i = self.counts.index(c)
        return self.counts[i - 1] if i > 0 else None

    # -- the next step -------------------------------------------------------------------------
    def _fix(self, w: int, aim: str) -> str | None:
        """Fix ``w``'s plan if it has none, from its prediction alone (other counts' runs never enter
        it, so its plan is fixed before its own first run); a count planned as the count below, or in
        ``alone``, runs alone."""
        c = self.runs[w]
        alone = aim == BELOW or w in self.alone  # every "below" rests on runs alone
        c.fix(aim, self.level, self.confidence, PLAN_MAX_RUNS, alone)  # max_runs caps the search
        if c.plan is not None and self.first is None and aim == BELOW:
            self.first = (self.candidate, w)  # type: ignore[assignment]
        return c.update()

    def _decisive(self) -> tuple[int, int | None] | NextStep:
        """The candidate and its count below after every move the decisions so far call for."""
        if self.candidate is None:
            return NextStep(
                None, None, {}, True, False, f"the model expects no count to reach {self.level:g}"
            )
        while True:
            c = self.candidate
            got = self._fix(c, MEETS)
            if got == BELOW and not self.runs[c].alone:  # shared runs are no evidence of "below"
                self.runs[c].again_alone()
                self.alone.add(c)
                got = self._fix(c, MEETS)
            if got == BELOW:
                if c == self.counts[-1]:
                    return NextStep(
                        None, None, {}, True, False, f"no count up to {c} is shown to reach {self.level:g}"
                    )
                self.candidate = self.counts[self.counts.index(c) + 1]
                self.model_wrong = True
                continue
            b = self.below_of(c)
            if b is not None and self._fix(b, BELOW) == MEETS:
                self.candidate = b
                continue
            return c, b

    def step(self) -> NextStep:
        """The runs wanted now, or the end of the search (conclusive or not, and why)."""
        got = self._decisive()
        if isinstance(got, NextStep):
            return got
        c, b = got
        dc, db = self.runs[c].decision, None if b is None else self.runs[b].decision
        for w, d in ((c, dc), (b, db)):
            if d == INCONCLUSIVE and w is not None:
                k, n = self.runs[w].counted()
                return NextStep(
                    c, b, {}, True, False, f"{w} workers inconclusive after their plan ({k}/{n} met)"
                )
        i = self.counts.index(c)
        larger = [w for w in self.counts[i + 1 : i + 1 + SCREEN_COUNTS] if self.runs[w].plan is None]
        runs = {w: self.runs[w].wanted() for w in (c, *([b] if b is not None else []), *larger)}
        runs = {w: n for w, n in runs.items() if n > 0}
        if dc == MEETS and (b is None or db == BELOW) and not runs:
            if b is None and c != 1:
                why = f"{c} workers meet it, but the count below was not examined (no smaller count allowed)"
                return NextStep(c, b, {}, True, False, why)
            return NextStep(c, b, {}, True, b is not None or c == 1, self._why(c, b))
        if self.total >= self.max_runs:
            if self.total > sum(len(r.results) for r in self.runs.values()):  # the budget's last runs
                return NextStep(c, b, {}, False, False, self._progress(c, b))  # count: wait for them
            return NextStep(c, b, {}, True, False, f"run budget of {self.max_runs} spent before a decision")
        return NextStep(c, b, runs, False, False, self._progress(c, b))

    def _why(self, c: int, b: int | None) -> str:
        k, n = self.runs[c].counted()
        why = f"conclusive: {c} workers meet it ({k}/{n} by its plan)"
        if b is not None:
            kb, nb = self.runs[b].counted()
            why += f", {b} workers are below it ({kb}/{nb} by its plan)"
        return why

    def _progress(self, c: int, b: int | None) -> str:
        parts = []
        for w in (c, b):
            if w is not None:
                r = self.runs[w]
                k, n = r.counted()
                parts.append(f"{w} workers: {k}/{n}, {r.decision or 'undecided'}")
        return "; ".join(parts)

    # -- what the verdict reports ----------------------------------------------------------------
    def decisions(self) -> list[dict]:
        """Per count with a plan: its role, plan, decision and the runs it counted; whether they ran
        alone, and what an earlier plan's shared runs said (``shared``: (successes, runs), or None)."""
        out = []
        for w in self.counts:
            r = self.runs[w]
            if r.plan is None:
                continue
            k, n = r.counted()
            role = "candidate" if w == self.candidate else ("below" if r.aim == BELOW else "tried")
            plan = r.plan.describe()
            out.append(
                dict(
                    workers=w,
                    role=role,
                    aim=r.aim,
                    p_pred=r.p_pred,
                    plan=plan,
                    decision=r.decision,
                    successes=k,
                    runs=n,
                    alone=r.alone,
                    shared=r.shared,
                )
            )
        return out

    def power(self) -> dict[str, float | None]:
        """P(conclusive) of the search's first plans (the first candidate's and its count below's),
        exact: at the predicted rates, and with the candidate's true rate at 0.99 (``ROBUST_RATE``).
        A count with no count below: its P(meets) alone."""
        c = self.candidate if self.first is None else self.first[0]
        if c is None or self.runs[c].plan is None:
            return {"at_predicted": None, "at_0.99": None}
        pc = self.runs[c]
        assert pc.plan is not None
        below = 1.0
        if self.first is not None:
            rb = self.runs[self.first[1]]
            assert rb.plan is not None
            below = rb.plan.operating(clip(rb.p_pred)).below
        return {
            "at_predicted": pc.plan.operating(clip(pc.p_pred)).meets * below,
            "at_0.99": pc.plan.operating(ROBUST_RATE).meets * below,
        }
