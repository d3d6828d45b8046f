"""Does running side by side change a run's outcome? The pilot's estimate, and the counts that must run alone.

The question is about one run of W workers; runs that share the machine delay each other (their
interpreters and the collector's loop share the CPUs: measured on a 2-CPU machine, 14 workers at
interval 0.2 s met 2.15 s in 31 of 32 runs alone and 15 of 32 four at once). The search's pilot
runs half its runs one at a time and half side by side; from their overhead (elapsed minus the
bound, which crashes and start-up make random but alike in both halves) this module estimates the
*shift* of the elapsed time side by side, and the model predicts each count's ``p_meet`` both
ways: alone, and with its simulated elapsed times shifted. It also predicts it with the costs that
depend on a busy machine (start-up, connect, restart, start-up waves) calibrated from each half
(``cost_models``): dozens of observations a run, where the whole runs' overheads are few and mostly
crash noise. Runs share the machine only where both pairs agree within ``TOLERANCE``.

Conservative by construction: the shift planned with is ``shift_high``, the largest difference any
pilot run side by side shows against any pilot run alone (max minus min: with two runs each half,
the difference of medians is mostly crash noise, and a shift that could be as large as that must
be assumed to be); with a half that has no run that reached its target, nothing can be told and
every count the search may measure runs alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workerlab.model.model import Model

__all__ = [
    "Interference",
    "estimate",
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


@dataclass(frozen=True)
class Interference:
    """What the pilot measured and what was decided.

    ``at_once``: runs side by side in the pilot's second half (1: nothing measured, the search runs
    one at a time anyway); ``alone_overhead_s``/``side_overhead_s``: elapsed minus bound of the
    pilot runs that reached the target; ``shift_s``: difference of their medians; ``shift_high_s``:
    the shift planned with (module docstring; inf when the pilot cannot tell); ``p_alone`` and
    ``p_side``: per count, the model's p_meet both ways; ``p_costs``: per count, p_meet with the
    start-up, connect and restart costs measured alone and side by side (many observations a run,
    so less noisy than a whole run's overhead); ``alone``: the counts whose runs run alone (either
    comparison differs by more than ``tolerance``).
    """

    at_once: int
    alone_overhead_s: tuple[float, ...] = ()
    side_overhead_s: tuple[float, ...] = ()
    shift_s: float = 0.0
    shift_high_s: float = 0.0
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
        shift = "unknown (a pilot half has no run that reached the target)"
        if math.isfinite(self.shift_high_s):
            shift = (
                f"{self.shift_s * 1e3:+.0f} ms median, planned with {self.shift_high_s * 1e3:+.0f} ms "
                f"(pilot: {len(self.alone_overhead_s)} alone, {len(self.side_overhead_s)} {self.at_once} at once)"
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
            "alone_overhead_s": list(self.alone_overhead_s),
            "side_overhead_s": list(self.side_overhead_s),
            "shift_s": num(self.shift_s),
            "shift_high_s": num(self.shift_high_s),
            "tolerance": self.tolerance,
            "p_alone": {str(w): p for w, p in sorted(self.p_alone.items())},
            "p_side": {str(w): p for w, p in sorted(self.p_side.items())},
            "p_costs": {str(w): list(v) for w, v in sorted(self.p_costs.items())},
            "alone": sorted(self.alone),
        }


def shifts(alone: Sequence[float], side: Sequence[float]) -> tuple[float, float]:
    """``(median shift, conservative shift)`` of the overheads side by side against alone (s)."""
    a = np.asarray([v for v in alone if math.isfinite(v)], dtype="float64")
    s = np.asarray([v for v in side if math.isfinite(v)], dtype="float64")
    if a.size == 0 or s.size == 0:
        return math.nan, math.inf
    return float(np.median(s) - np.median(a)), max(0.0, float(s.max() - a.min()))


def estimate(
    model: Model,
    counts: Iterable[int],
    samples: int,
    deadline: float,
    *,
    alone_overhead: Sequence[float],
    side_overhead: Sequence[float],
    at_once: int,
    cost_models: tuple[Model, Model] | None = None,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> Interference:
    """The pilot's ``Interference``: the shift, ``p_meet`` per count both ways, the counts to run alone.

    ``*_overhead``: elapsed minus bound of the pilot runs that reached the target, alone and side by
    side (``at_once`` runs at once). ``cost_models``: the model with the costs measured alone and
    with those measured side by side (``with_costs``), simulated on the same random numbers. With
    ``at_once`` 1 nothing is measured and no count is alone.
    """
    counts = [int(c) for c in counts]
    if at_once <= 1:
        return Interference(at_once=1)
    shift, high = shifts(alone_overhead, side_overhead)
    p_alone: dict[int, float] = {}
    p_side: dict[int, float] = {}
    p_costs: dict[int, tuple[float, float]] = {}
    alone: set[int] = set()
    for c, ss in zip(counts, np.random.SeedSequence(seed).spawn(len(counts))):
        el = model.simulate(c, samples, SIMULATED_RUNS, np.random.default_rng(ss))["elapsed_s"].to_numpy()
        p_alone[c] = float(np.mean(el <= deadline))
        p_side[c] = float(np.mean(el + high <= deadline)) if math.isfinite(high) else 0.0
        if cost_models is not None:
            a, b = (
                float(
                    np.mean(
                        m.simulate(c, samples, SIMULATED_RUNS, np.random.default_rng(ss))["elapsed_s"]
                        <= deadline
                    )
                )
                for m in cost_models
            )
            p_costs[c] = (a, b)
        if abs(p_alone[c] - p_side[c]) > tolerance or (
            c in p_costs and abs(p_costs[c][0] - p_costs[c][1]) > tolerance
        ):
            alone.add(c)
    return Interference(
        at_once=at_once,
        alone_overhead_s=tuple(float(v) for v in alone_overhead),
        side_overhead_s=tuple(float(v) for v in side_overhead),
        shift_s=shift,
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
