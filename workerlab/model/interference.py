"""Does running side by side change a run's outcome? The pilot's estimate, and the counts that must run alone.

The question is about one run of W workers; runs that share the machine delay each other (their
interpreters and the collector's loop share the CPUs: measured on a 2-CPU machine, 14 workers at
interval 0.2 s met 2.15 s in 31 of 32 runs alone and 15 of 32 four at once). The search's pilot
runs its likely counts one at a time, then the same counts side by side; from their overhead
(elapsed minus the bound, which crashes and start-up make random but alike in both halves) this
module estimates the *shift* of the elapsed time side by side, like with like: each side-by-side
run against the runs *of its own count* alone (overhead grows with the count: comparing different
counts reads a shift where there is none), with a t interval from the spread of runs of one
count (``matched_shift``). The model predicts each count's ``p_meet`` both ways: alone, and with
its simulated elapsed times shifted. It also predicts it with the costs that
depend on a busy machine (start-up, connect, restart, start-up waves) calibrated from each half
(``cost_models``): dozens of observations a run, where the whole runs' overheads are few and mostly
crash noise. Runs share the machine only where both pairs agree within ``TOLERANCE``.

Conservative: the shift planned with is ``shift_high``, the upper end of its interval at
``CONFIDENCE`` (few runs, so a wide one); where nothing can be told (no count measured both ways,
or no spread to measure), every count the search may measure runs alone. The guarantee does not
rest on this estimate: every "below" decision rests on runs alone whatever it says
(``workerlab.thresholds.decider``); it only decides which candidates may share from the start.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from workerlab.model.model import Model, each_count

__all__ = [
    "Interference",
    "estimate",
    "matched_shift",
    "with_costs",
    "cost_models",
    "COSTS",
    "TOLERANCE",
    "SIMULATED_RUNS",
]

#: runs share the machine only where p_meet alone and side by side differ by at most this
TOLERANCE = 0.01
#: simulated runs per count behind the two predictions
SIMULATED_RUNS = 4000
#: the confidence of the shift's interval
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interference:
    """What the pilot measured and what was decided.

    ``at_once``: runs side by side in the pilot's second half (1: nothing measured, the search runs
    one at a time anyway); ``alone_overhead_s``/``side_overhead_s``: elapsed minus bound of the
    pilot runs (NaN where a run did not reach the target), of ``alone_workers``/``side_workers``
    workers; ``shift_s``: the like-with-like shift (``matched_shift``), ``shift_low_s`` to
    ``shift_high_s`` its interval at ``confidence``; the shift planned with is ``shift_high_s``
    (inf when the pilot cannot tell); ``p_alone`` and
    ``p_side``: per count, the model's p_meet both ways; ``p_costs``: per count, p_meet with the
    start-up, connect and restart costs measured alone and side by side (many observations a run,
    so less noisy than a whole run's overhead); ``alone``: the counts whose runs run alone (either
    comparison differs by more than ``tolerance``).
    """

    at_once: int
    alone_overhead_s: tuple[float, ...] = ()
    side_overhead_s: tuple[float, ...] = ()
    alone_workers: tuple[int, ...] = ()
    side_workers: tuple[int, ...] = ()
    shift_s: float = 0.0
    shift_low_s: float = 0.0
    shift_high_s: float = 0.0
    confidence: float = CONFIDENCE
    tolerance: float = TOLERANCE
    p_alone: dict[int, float] = field(default_factory=dict)
    p_side: dict[int, float] = field(default_factory=dict)
    p_costs: dict[int, tuple[float, float]] = field(default_factory=dict)
    alone: frozenset[int] = frozenset()

    @property
    def measured(self) -> bool:
        return self.at_once > 1

    def text(self) -> str:
        """One or two lines for a result's text."""
        if not self.measured:
            return "interference: not measured (runs went one at a time)"
        shift = "unknown (no count measured both alone and side by side, with a spread to measure)"
        if math.isfinite(self.shift_high_s):
            shift = (
                f"{self.shift_s * 1e3:+.0f} ms ({self.confidence:.0%} CI {self.shift_low_s * 1e3:+.0f} to "
                f"{self.shift_high_s * 1e3:+.0f} ms), each count against itself alone (pilot: "
                f"{len(self.alone_overhead_s)} alone, {len(self.side_overhead_s)} with {self.at_once} at once)"
            )
        decisive = sorted(w for w in self.p_alone if w in self.alone or abs(self.p_alone[w] - 0.5) < 0.49)
        both = ", ".join(f"{w}: {self.p_alone[w]:.3f}/{self.p_side[w]:.3f}" for w in decisive)
        alone = ", ".join(map(str, sorted(self.alone))) or "none"
        costs = ", ".join(
            f"{w}: {a:.3f}/{b:.3f}" for w, (a, b) in sorted(self.p_costs.items()) if w in decisive
        )
        return (
            f"interference: elapsed shift side by side {shift}; model p_meet alone/side by side {both or '-'}"
            + (f"; with the costs measured each way {costs}" if costs else "")
            + f"; run alone (differ by > {self.tolerance:g}): {alone}"
        )

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "at_once": self.at_once,
            "alone_overhead_s": [num(v) for v in self.alone_overhead_s],
            "side_overhead_s": [num(v) for v in self.side_overhead_s],
            "alone_workers": list(self.alone_workers),
            "side_workers": list(self.side_workers),
            "shift_s": num(self.shift_s),
            "shift_low_s": num(self.shift_low_s),
            "shift_high_s": num(self.shift_high_s),
            "confidence": self.confidence,
            "tolerance": self.tolerance,
            "p_alone": {str(w): p for w, p in sorted(self.p_alone.items())},
            "p_side": {str(w): p for w, p in sorted(self.p_side.items())},
            "p_costs": {str(w): list(v) for w, v in sorted(self.p_costs.items())},
            "alone": sorted(self.alone),
        }


def matched_shift(
    alone: Sequence[tuple[int, float]], side: Sequence[tuple[int, float]], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """``(shift, low, high)`` of the overhead side by side against alone, like with like (s).

    ``alone``/``side``: ``(workers, overhead)`` per pilot run (NaN: did not reach the target). Each
    side-by-side run is compared with the mean of its own count's runs alone; the shift is the mean
    of those differences. Its t interval at ``confidence`` takes the spread of one run's overhead
    from the runs of one count (pooled within counts, both halves); ``(nan, -inf, inf)`` where no
    count has runs both ways, or no count has two runs to measure a spread with.
    """
    by: dict[int, tuple[list[float], list[float]]] = {}
    for half, runs in enumerate((alone, side)):
        for w, v in runs:
            if math.isfinite(v):
                by.setdefault(int(w), ([], []))[half].append(float(v))
    both = {w: (a, s) for w, (a, s) in by.items() if a and s}
    if not both:
        return math.nan, -math.inf, math.inf
    n = sum(len(s) for _, s in both.values())
    shift = sum(sum(v - float(np.mean(a)) for v in s) for a, s in both.values()) / n
    ss = sum(float(np.sum((np.asarray(g) - np.mean(g)) ** 2)) for a, s in both.values() for g in (a, s))
    df = sum(len(g) - 1 for a, s in both.values() for g in (a, s))
    if df < 1:
        return shift, -math.inf, math.inf
    scale = math.sqrt(ss / df * sum(len(s) + len(s) ** 2 / len(a) for a, s in both.values())) / n
    width = float(stats.t.ppf((1 + confidence) / 2, df)) * scale
    return shift, shift - width, shift + width


def estimate(
    model: Model,
    counts: Iterable[int],
    samples: int,
    deadline: float,
    *,
    alone_overhead: Sequence[tuple[int, float]],
    side_overhead: Sequence[tuple[int, float]],
    at_once: int,
    cost_models: tuple[Model, Model] | None = None,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> Interference:
    """The pilot's ``Interference``: the shift, ``p_meet`` per count both ways, the counts to run alone.

    ``*_overhead``: ``(workers, elapsed minus bound)`` of the pilot runs alone and side by side
    (``at_once`` runs at once; NaN where a run did not reach the target). ``cost_models``: the model with the costs measured alone and
    with those measured side by side (``with_costs``), simulated on the same random numbers. With
    ``at_once`` 1 nothing is measured and no count is alone.
    """
    counts = [int(c) for c in counts]
    if at_once <= 1:
        return Interference(at_once=1)
    shift, low, high = matched_shift(alone_overhead, side_overhead)

    def elapsed(m: Model, c: int, ss: np.random.SeedSequence) -> np.ndarray:
        return m.simulate(c, samples, SIMULATED_RUNS, np.random.default_rng(ss))["elapsed_s"].to_numpy()

    def each(c: int, ss: np.random.SeedSequence) -> tuple[float, float, tuple[float, float] | None]:
        """p_meet alone, shifted (only slows) and under each measured cost, on the same random numbers."""
        el = elapsed(model, c, ss)
        side = float(np.mean(el + max(high, 0.0) <= deadline)) if math.isfinite(high) else 0.0
        costs = None
        if cost_models is not None:
            a, b = (float(np.mean(elapsed(m, c, ss) <= deadline)) for m in cost_models)
            costs = (a, b)
        return float(np.mean(el <= deadline)), side, costs

    got = dict(zip(counts, each_count(each, counts, seed)))
    p_alone = {c: g[0] for c, g in got.items()}
    p_side = {c: g[1] for c, g in got.items()}
    p_costs = {c: g[2] for c, g in got.items() if g[2] is not None}
    alone = {
        c
        for c in counts
        if abs(p_alone[c] - p_side[c]) > tolerance
        or (c in p_costs and abs(p_costs[c][0] - p_costs[c][1]) > tolerance)
    }
    return Interference(
        at_once=at_once,
        alone_overhead_s=tuple(float(v) for _, v in alone_overhead),
        side_overhead_s=tuple(float(v) for _, v in side_overhead),
        alone_workers=tuple(int(w) for w, _ in alone_overhead),
        side_workers=tuple(int(w) for w, _ in side_overhead),
        shift_s=shift,
        shift_low_s=low,
        shift_high_s=high,
        tolerance=tolerance,
        p_alone=p_alone,
        p_side=p_side,
        p_costs=p_costs,
        alone=frozenset(alone),
    )


#: the costs that depend on how busy the machine is: start-up, connect, restart, the start-up waves
COSTS = ("start", "connect", "restart", "first_wave")


def with_costs(model: Model, measured: Model) -> Model:
    """``model`` with the machine-dependent costs of ``measured`` (all else, MTBF included, kept: so
    that two such models differ only by what sharing the machine changes)."""
    return dataclasses.replace(model, **{k: getattr(measured, k) for k in COSTS})


def cost_models(model: Model, alone: Sequence[Any], side: Sequence[Any]) -> tuple[Model, Model] | None:
    """``model`` with the costs calibrated from the runs ``alone`` and with those from the runs ``side``
    by side (event logs); None when either has too little to calibrate from."""
    from workerlab.model.calibration import calibrate

    if not alone or not side:
        return None
    try:
        return with_costs(model, calibrate(list(alone))), with_costs(model, calibrate(list(side)))
    except ValueError:  # a half with nothing to calibrate from (ConfigError is a ValueError)
        return None
