"""The adaptive threshold search's plan and stopping rule, as pure functions of counts.

``next_step(predicted, measured)`` is called between batches of real runs. It decides, from the
model's prediction (fixed for the whole search) and the successes / runs measured so far, which
counts to measure next and whether the search is over. The counts it measures:

- the *candidate*: the smallest count the model expects to reach ``level`` (with every larger
  count too), moved up when the measurements rule it out, down when they rule out the count below;
- the *count below* it, which must be shown not to reach ``level``;
- every larger count, a few runs each, since the threshold is the smallest count from which every
  larger count also reaches ``level``;
- never a count whose bound (the ideal time) exceeds the deadline.

Conclusive means: Wilson low end >= ``level`` at the candidate and high end < ``level`` at the count
below. To keep that at its stated confidence the number of runs of each decisive count is fixed
up front from the prediction (a fixed-sample design; stopping to look at the Wilson interval after
every run would inflate false conclusions). A count is only decided early when the rest of its
runs could not change the fixed design's outcome (curtailment), which leaves the error rates of
the fixed design unchanged: each side errs with at most (1 - confidence) / 2, so a wrong
"conclusive" has probability at most 1 - confidence.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from workerlab.thresholds.stats import wilson_interval

__all__ = ["Step", "next_step", "pilot_counts", "runs_for_candidate", "min_successes", "max_successes"]


@functools.lru_cache(maxsize=4096)
def min_successes(runs: int, level: float, confidence: float) -> int | None:
    """Fewest successes in ``runs`` whose Wilson low end reaches ``level`` (None if none does)."""
    if wilson_interval(runs, runs, confidence)[0] < level:
        return None
    lo, hi = -1, runs  # low(lo) < level (or lo = -1), low(hi) >= level; the low end grows with k
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if wilson_interval(mid, runs, confidence)[0] >= level else (mid, hi)
    return hi


@functools.lru_cache(maxsize=4096)
def max_successes(runs: int, level: float, confidence: float) -> int:
    """Most successes in ``runs`` whose Wilson high end stays below ``level`` (-1 if none)."""
    lo, hi = -1, runs + 1  # high(lo) < level (or lo = -1), high(hi) >= level (or hi = runs + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if wilson_interval(mid, runs, confidence)[1] < level else (lo, mid)
    return lo


@functools.lru_cache(maxsize=1024)
def runs_for_candidate(p: float, level: float, confidence: float, power: float = 0.8, most: int = 400) -> int:
    """Runs of the candidate: the fewest whose fixed design is conclusive with probability ``power``
    when the true success rate is ``p`` (``most`` when none is)."""
    for n in range(1, most + 1):
        k = min_successes(n, level, confidence)
        if k is not None and stats.binom.sf(k - 1, n, p) >= power:
            return n
    return most


@functools.lru_cache(maxsize=1024)
def runs_for_below(
    p: float, level: float, confidence: float, power: float = 0.8, least: int = 5, most: int = 400
) -> int:
    """Runs of the count below: the fewest (at least ``least``) showing high end < ``level`` with ``power``."""
    for n in range(least, most + 1):
        if stats.binom.cdf(max_successes(n, level, confidence), n, p) >= power:
            return n
    return most


@dataclass(frozen=True)
class Step:
    """What to do next. ``runs``: more runs wanted per count now (empty when ``done``)."""

    candidate: int | None
    below: int | None
    runs: dict[int, int]
    done: bool
    conclusive: bool
    reason: str
    design: dict[int, int] = field(default_factory=dict)  # planned runs per decisive count

    @property
    def total(self) -> int:
        return sum(self.runs.values())


def _table(measured: pd.DataFrame | Mapping[int, tuple[int, int]] | None) -> dict[int, tuple[int, int]]:
    """``{workers: (successes, runs)}`` from a threshold table, a summary-like frame or a dict."""
    if measured is None:
        return {}
    if isinstance(measured, Mapping):
        return {int(w): (int(k), int(n)) for w, (k, n) in measured.items()}
    cols = measured[["workers", "successes", "runs"]].to_numpy(dtype="int64")
    return {int(w): (int(k), int(n)) for w, k, n in cols}


def next_step(
    predicted: pd.DataFrame,
    measured: pd.DataFrame | Mapping[int, tuple[int, int]] | None = None,
    *,
    level: float = 0.95,
    confidence: float = 0.95,
    deadline: float | None = None,
    power: float = 0.8,
    p_cap: float = 0.995,
    min_runs: int = 5,
    max_below: int = 100,
    max_candidate: int = 150,
    max_total: int = 400,
) -> Step:
    """The next batch of the search. ``predicted``: ``Model.predict`` output (``workers, p_meet,
    bound_s``) for the counts allowed; ``measured``: successes and runs per count so far
    (``{w: (k, n)}`` or a frame with ``workers, successes, runs``, e.g. ``threshold(...).table``).

    ``p_cap`` caps the model's success rate used to size the candidate's runs (a model that saw no
    failure in 10,000 simulated runs would otherwise plan for none at all); ``deadline`` (if
    given) drops counts whose ``bound_s`` exceeds it; ``min_runs`` is the fewest runs of a measured
    count; ``max_below`` caps the runs planned to show a count below the level (one that sits just
    under it cannot be shown in any reasonable number); ``max_candidate`` caps the candidate's runs
    (a candidate predicted just above the level would need thousands for that power; 150 runs, 148
    of them successes, still show it with power 0.8 when its true rate is 0.99 or more, which the
    model can underestimate from a short pilot); ``max_total`` ends a search that cannot decide.
    Both caps are fixed before any run, so they leave the error rates alone.
    """
    pred = predicted.sort_values("workers")
    if deadline is not None:
        pred = pred[pred["bound_s"] <= deadline]
    p = dict(zip(pred["workers"].astype(int), pred["p_meet"].astype(float)))
    counts = sorted(p)
    if not counts:
        return Step(None, None, {}, True, False, "no count can meet the deadline (every bound exceeds it)")
    ok = np.array([p[w] >= level for w in counts])
    tail = np.flip(np.logical_and.accumulate(np.flip(ok)))
    if not tail.any():
        return Step(None, None, {}, True, False, f"the model expects no count to reach {level:g}")
    rules = _Rules(level, confidence, min_runs)
    sizes = _Sizes(
        {w: runs_for_candidate(min(p[w], p_cap), level, confidence, power, max_candidate) for w in counts},
        {w: runs_for_below(p[w], level, confidence, power, min_runs, max_below) for w in counts},
    )
    got = _table(measured)
    c = _candidate(counts, counts[int(np.argmax(tail))], got, sizes, rules)
    if isinstance(c, Step):
        return c
    i = counts.index(c)
    b = counts[i - 1] if i > 0 else None
    if b is not None and _below_futile(b, got, sizes, rules):  # and the candidate's design at b too
        k, n = got.get(b, (0, 0))
        return Step(
            c, b, {}, True, False, f"{b} workers ({k}/{n}) can be shown neither below nor at {level:g}"
        )
    spent = max_total if sum(n for _, n in got.values()) >= max_total else None
    return _step(c, b, counts[i + 1 :], got, sizes, rules, spent)


@dataclass(frozen=True)
class _Rules:
    """The level to show, at what confidence, and the fewest runs of a measured count."""

    level: float
    confidence: float
    min_runs: int


@dataclass(frozen=True)
class _Sizes:
    """Planned runs per count: as the candidate (``cand``) and as the count below it (``below``)."""

    cand: dict[int, int]
    below: dict[int, int]


def _cand_futile(w: int, got: dict[int, tuple[int, int]], sizes: _Sizes, r: _Rules) -> bool:
    """The candidate's fixed design at ``w`` can no longer be conclusive."""
    k, n = got.get(w, (0, 0))
    need = min_successes(sizes.cand[w], r.level, r.confidence)
    return need is None or (n - k) > sizes.cand[w] - need


def _below_futile(w: int, got: dict[int, tuple[int, int]], sizes: _Sizes, r: _Rules) -> bool:
    """The fixed design of the count below at ``w`` can no longer show it below the level."""
    k, _ = got.get(w, (0, 0))
    return k > max_successes(sizes.below[w], r.level, r.confidence)


def _candidate(
    counts: list[int], c: int, got: dict[int, tuple[int, int]], sizes: _Sizes, r: _Rules
) -> int | Step:
    """The candidate: moved up while its design is futile, down while the count below's is (and the
    candidate's design there is not); a final ``Step`` when no count is left."""
    while True:
        if _cand_futile(c, got, sizes, r):
            if c == counts[-1]:
                return Step(
                    None, None, {}, True, False, f"no count up to {c} can be shown to reach {r.level:g}"
                )
            c = counts[counts.index(c) + 1]
            continue
        i = counts.index(c)
        if (
            i > 0
            and _below_futile(counts[i - 1], got, sizes, r)
            and not _cand_futile(counts[i - 1], got, sizes, r)
        ):
            c = counts[i - 1]
            continue
        return c


def _step(
    c: int,
    b: int | None,
    larger: list[int],
    got: dict[int, tuple[int, int]],
    sizes: _Sizes,
    r: _Rules,
    spent: int | None,
) -> Step:
    """The runs still wanted at the candidate ``c``, the count below ``b`` and the ``larger`` counts;
    ``spent``: the run budget when it is spent (the search ends), else None."""
    runs: dict[int, int] = {}
    reasons = []
    # the candidate: decided at its planned runs, or earlier when already certain
    k, n = got.get(c, (0, 0))
    need = min_successes(sizes.cand[c], r.level, r.confidence)
    assert need is not None
    low = wilson_interval(k, n, r.confidence)[0] if n else 0.0
    cand_done = k >= need and low >= r.level
    if not cand_done:
        runs[c] = sizes.cand[c] - n
        reasons.append(f"{c} workers: {k}/{n} of {sizes.cand[c]} planned, {need} successes needed")
    below_done = True
    if b is not None:
        kb, nb = got.get(b, (0, 0))
        plan_b = max(sizes.below[b], nb)  # more than planned only after it was the candidate
        most = max_successes(plan_b, r.level, r.confidence)
        high = wilson_interval(kb, nb, r.confidence)[1] if nb else 1.0
        below_done = high < r.level and kb + (plan_b - nb) <= most
        if not below_done:
            runs[b] = max(1, plan_b - nb)
            reasons.append(f"{b} workers: {kb}/{nb}, must stay at most {most}")
    for w in larger:  # larger counts must reach the level too (point estimate)
        kw, nw = got.get(w, (0, 0))
        want = max(r.min_runs, math.ceil((nw - kw) / (1 - r.level)))
        if nw < want:
            runs[w] = want - nw
    design = {c: sizes.cand[c]} | ({b: max(sizes.below[b], got.get(b, (0, 0))[1])} if b is not None else {})
    if cand_done and below_done and not runs:
        kb, nb = got.get(b, (0, 0)) if b is not None else (0, 0)
        why = f"conclusive: {c} workers {k}/{n}" + (f", {b} workers {kb}/{nb}" if b else "")
        return Step(c, b, {}, True, True, why, design)
    if spent:
        return Step(c, b, {}, True, False, f"run budget of {spent} spent; " + "; ".join(reasons), design)
    return Step(c, b, runs, False, False, "; ".join(reasons) or "larger counts need runs", design)


def pilot_counts(prior: pd.DataFrame, level: float, runs: int = 4) -> list[int]:
    """The pilot's ``runs`` worker counts, largest first, from a prior prediction (``workers, p_meet``).

    The likely counts: the smallest count from which every larger one reaches ``level`` (the
    largest count if none does), the one below and the one above it; the largest of them again
    to fill up, since a run with more workers tells more about start-up and crashes.
    """
    counts = prior["workers"].astype(int).tolist()
    ok = (prior["p_meet"] >= level).to_numpy()
    tail = [bool(ok[i:].all()) for i in range(len(ok))]
    i = tail.index(True) if any(tail) else len(counts) - 1
    likely = counts[max(0, i - 1) : i + 2]
    return sorted(likely + [likely[-1]] * max(0, runs - len(likely)), reverse=True)[:runs]
