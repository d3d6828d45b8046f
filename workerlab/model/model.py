"""A model of a run: how long W workers take to deliver S numbers, with crashes (``wl.Model``).

It mirrors what the collector does (workerlab/collector.py) with the costs of this machine:

- at the start every slot queues for one of ``concurrency`` start permits (one per CPU), in slot
  order; a permit is held from spawn until the worker accepts a connection (``start``: the queue's
  service time, an empirical distribution), then the stream opens (``connect``);
- a stream's first number comes ``lead`` after it opens, then one per ``interval``;
- a process crashes after an exponential lifetime of mean ``mtbf`` counted from readiness; the
  numbers scheduled before that arrive; the slot's next stream opens a ``restart`` time later
  (crash row -> next connect, empirical: detection, spawn, readiness, any queueing);
- a process hangs at rate ``stall`` per second; it is killed ``stall_limit`` after its last line
  and restarted like a crash;
- the run ends at the S-th number (``elapsed``).

``simulate`` draws many runs at once with numpy; ``predict`` turns them into a success curve,
``success_map`` into a grid of them over the MTBF.
``workerlab.model.calibration.calibrate`` estimates a model from event logs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy import stats

from workerlab.analysis import pace
from workerlab.config import DEFAULT_INTERVAL, DEFAULT_MTBF, paced_deadline, stall_limit
from workerlab.engine.limiter import usable_cpus
from workerlab.model.simulation import simulate_runs

T = TypeVar("T")

__all__ = [
    "Model",
    "mtbf_lower_bound",
    "DEFAULT_START",
    "DEFAULT_CONNECT",
    "DEFAULT_RESTART",
    "MTBF_CONFIDENCE",
    "FEW_WAVES",
    "MTBF_INTERVALS",
    "each_count",
]

#: the MTBFs of ``Model.success_map``, in intervals of the model (10 = crash-prone, as the original may be)
MTBF_INTERVALS = (5, 7.5, 10, 15, 20, 30, 45, 60, 120)
#: one-sided confidence of the MTBF planned with when no crash was seen (its lower bound)
MTBF_CONFIDENCE = 0.95
#: fewer measured start-up waves than this and the repr says the start-up rests on few observations
FEW_WAVES = 10

#: seconds, measured with the emulator on the project's 2-CPU machine under load (a sweep of 10-16
#: workers x 10 at interval 0.05 s, 70 runs, 4-7 runs at once), as the 5 %, 10 %, ..., 95 % quantiles:
#: start-permit service time (permit -> accepting connections; 908 starts)
DEFAULT_START = (0.0121, 0.013, 0.0136, 0.0142, 0.0149, 0.0156, 0.0163, 0.017, 0.0181, 0.0193, 0.0203, 0.0214,
                 0.0229, 0.0242, 0.0264, 0.0284, 0.0311, 0.0349, 0.0432)  # fmt: skip
#: ready -> stream open (1,250 processes)
DEFAULT_CONNECT = (0.0007, 0.001, 0.0016, 0.0021, 0.0026, 0.0031, 0.0036, 0.004, 0.0044, 0.0049, 0.0055, 0.0062,
                   0.007, 0.0079, 0.0094, 0.0113, 0.0139, 0.0177, 0.0237)  # fmt: skip
#: crash -> the slot's next stream open (349 crashes)
DEFAULT_RESTART = (0.0141, 0.0172, 0.019, 0.0208, 0.0229, 0.0244, 0.026, 0.0273, 0.0285, 0.03, 0.032, 0.0343,
                   0.0358, 0.0377, 0.0419, 0.0467, 0.0522, 0.0628, 0.0782)  # fmt: skip


def mtbf_lower_bound(crashes: int, exposure_s: float, confidence: float = MTBF_CONFIDENCE) -> float:
    """Exact one-sided lower bound of the MTBF from ``crashes`` in ``exposure_s`` process-seconds.

    ``2 T / chi2.ppf(confidence, 2 k + 2)``; with no crash, ``T / -ln(1 - confidence)`` (the Poisson
    bound: at a higher crash rate, at least one crash would have shown with that probability).
    NaN without exposure.
    """
    if not exposure_s > 0:
        return math.nan
    return float(2 * exposure_s / stats.chi2.ppf(confidence, 2 * crashes + 2))


def _seconds(values: Any, name: str) -> tuple[float, ...]:
    a = np.asarray(values, dtype="float64").ravel()
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be a non-empty list of finite seconds >= 0")
    return tuple(float(v) for v in a)


@dataclass(frozen=True, repr=False)
class Model:
    """A worker and this machine's costs; every estimated figure says what it rests on.

    ``mtbf`` is the mean lifetime in seconds (0 = never crashes, as the emulator's ``-mtbf 0``;
    ``calibrate`` never says that: with no crash seen it plans with :meth:`mtbf_lower`);
    ``start``, ``connect`` and ``restart`` are observed seconds (empirical distributions, see the
    module docstring); ``first_wave`` holds measured first waves (stream-open time of each slot's
    first process by spawn rank, one tuple per run), resampled whole where they cover the count; ``stall`` is hangs per process-second and ``stall_limit`` the collector's
    stall limit (None: its default, ``config.stall_limit``: ``max(3 * interval + lead, 0.5)``). The evidence fields count
    observations: ``runs`` calibrated from, ``interval_lines``, ``lead_streams``, ``crashes`` over
    ``exposure_s`` process-seconds, ``stalls``; ``weibull_shape`` and ``fit_p`` (likelihood-ratio
    test of the exponential against a Weibull lifetime) tell whether an exponential fits.
    """

    interval: float = DEFAULT_INTERVAL
    lead: float = 0.0
    mtbf: float = DEFAULT_MTBF
    start: tuple[float, ...] = DEFAULT_START
    connect: tuple[float, ...] = DEFAULT_CONNECT
    restart: tuple[float, ...] = DEFAULT_RESTART
    stall: float = 0.0
    stall_limit: float | None = None
    concurrency: int = field(default_factory=usable_cpus)
    first_wave: tuple[tuple[float, ...], ...] = ()
    runs: int = 0
    interval_lines: int = 0
    lead_streams: int = 0
    crashes: int = 0
    exposure_s: float = 0.0
    stalls: int = 0
    weibull_shape: float | None = None
    fit_p: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ValueError(f"interval must be > 0 seconds, got {self.interval!r}")
        for name in ("lead", "mtbf", "stall"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        for name in ("start", "connect", "restart"):
            object.__setattr__(self, name, _seconds(getattr(self, name), name))
        waves = tuple(_seconds(w, "first_wave") for w in self.first_wave)
        object.__setattr__(self, "first_wave", tuple(sorted(waves, key=len, reverse=True)))
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency!r}")

    # -- description ------------------------------------------------------------------------
    @property
    def stall_after(self) -> float:
        """The stall limit in effect (seconds)."""
        if self.stall_limit is not None:
            return self.stall_limit
        return stall_limit(self.interval, self.lead)

    def mtbf_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Exact (chi-square) interval of the MTBF from ``crashes`` over ``exposure_s``; NaN if not fitted."""
        if self.exposure_s <= 0:
            return math.nan, math.nan
        a = 1 - confidence
        k, T = self.crashes, self.exposure_s
        low_rate = stats.chi2.ppf(a / 2, 2 * k) / (2 * T) if k > 0 else 0.0
        high_rate = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / (2 * T)
        return float(1 / high_rate), (float(1 / low_rate) if low_rate > 0 else math.inf)

    def mtbf_lower(self, confidence: float = MTBF_CONFIDENCE) -> float:
        """Exact one-sided lower bound of the MTBF (:func:`mtbf_lower_bound`); NaN if not fitted."""
        return mtbf_lower_bound(self.crashes, self.exposure_s, confidence)

    @property
    def mtbf_is_bound(self) -> bool:
        """True when ``mtbf`` is the lower bound of an exposure without a crash (as ``calibrate`` sets it)."""
        return self.crashes == 0 and self.mtbf > 0 and math.isclose(self.mtbf, self.mtbf_lower())

    def bound(self, workers: int, samples: int = 150) -> float:
        """The ideal time: ``lead + (ceil(samples / workers) - 1) * interval`` (``analysis.pace.bound``)."""
        return float(pace.bound(workers, samples, self.lead, self.interval))

    def _crash_text(self) -> str:
        if self.mtbf_is_bound:
            return (
                f"no crash in {self.exposure_s:.4g} process-s: MTBF >= {self.mtbf:.4g} s "
                f"({MTBF_CONFIDENCE:.0%} one-sided), planned with that bound"
            )
        if self.mtbf == 0:
            return "never crashes"
        crash = f"MTBF {self.mtbf:.4g} s = {self.mtbf / self.interval:.3g} intervals "
        if self.exposure_s <= 0:
            return crash + "[assumed]"
        lo, hi = self.mtbf_interval()
        return (
            crash + f"[95% CI {lo:.4g}–{hi:.4g} s; {self.crashes} crashes in {self.exposure_s:.4g} process-s]"
        )

    def __repr__(self) -> str:
        iv = self.interval

        def said(n: int, what: str) -> str:
            return f"[{n:,} {what}]" if n else "[assumed]"

        crash = self._crash_text()
        if self.fit_p is None:
            fit = "exponential lifetime assumed (not checked)"
        else:
            verdict = "fits" if self.fit_p >= 0.05 else "does NOT fit"
            fit = (
                f"exponential lifetime {verdict} (Weibull shape {self.weibull_shape:.2f}, "
                f"likelihood-ratio p = {self.fit_p:.2g})"
            )
        src = f"calibrated from {self.runs} run{'s' if self.runs != 1 else ''}" if self.runs else "defaults"
        med = np.median
        waves = ""
        if self.first_wave:
            waves = f", {len(self.first_wave)} measured first waves of up to {len(self.first_wave[0])}"
            if len(self.first_wave) < FEW_WAVES:
                waves += f" (FEW: start-up resampled from {len(self.first_wave)} observations)"
        return (
            f"Model ({src}):\n"
            f"  interval {iv:.5g} s {said(self.interval_lines, 'lines')}, "
            f"lead {self.lead:.4g} s {said(self.lead_streams, 'streams')}\n"
            f"  {crash}\n  {fit}\n"
            f"  start-up median {med(self.start) * 1e3:.1f} ms + open {med(self.connect) * 1e3:.1f} ms "
            f"[{len(self.start)}], {self.concurrency} starting at once{waves}; restart median "
            f"{med(self.restart) * 1e3:.1f} ms [{len(self.restart)}]\n"
            f"  stalls {self.stall:.3g}/s [{self.stalls} in {self.exposure_s:.4g} process-s], "
            f"stall limit {self.stall_after:.3g} s"
        )

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists); ``Model(**d)`` rebuilds the model."""
        d = asdict(self)
        for name in ("start", "connect", "restart"):
            d[name] = list(d[name])
        d["first_wave"] = [list(w) for w in d["first_wave"]]
        return d

    # -- simulation -------------------------------------------------------------------------
    def simulate(
        self,
        workers: int,
        samples: int = 150,
        runs: int = 10_000,
        seed: int | np.random.Generator | None = None,
    ) -> pd.DataFrame:
        """``runs`` simulated runs of ``workers`` workers: one row each, ``workers, elapsed_s, crashes, stalls``.

        ``crashes`` and ``stalls`` count those before the target was reached.
        """
        if workers < 1 or samples < 1 or runs < 1:
            raise ValueError("workers, samples and runs must be >= 1")
        rng = np.random.default_rng(seed)
        elapsed, crashes, stalls = simulate_runs(self, int(workers), int(samples), int(runs), rng)
        return pd.DataFrame(
            {
                "workers": np.full(runs, workers, dtype="int64"),
                "elapsed_s": elapsed,
                "crashes": crashes.astype("int64"),
                "stalls": stalls.astype("int64"),
            }
        )

    def predict(
        self,
        workers: Any = range(1, 17),
        samples: int = 150,
        deadline: float | None = None,
        runs: int = 10_000,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Per worker count: ``workers, p_meet, median_s, p95_s, bound_s`` from ``runs`` simulated runs.

        ``deadline``: not given, 10 intervals of this model's pace (``config.paced_deadline``), as
        every call that takes a deadline."""
        deadline = paced_deadline(self.interval) if deadline is None else deadline
        counts = [int(workers)] if isinstance(workers, (int, np.integer)) else [int(w) for w in workers]

        def row(w: int, ss: np.random.SeedSequence) -> dict[str, Any]:
            el = self.simulate(w, samples, runs, np.random.default_rng(ss))["elapsed_s"].to_numpy()
            return {
                "workers": w,
                "p_meet": float(np.mean(el <= deadline)),
                "median_s": float(np.median(el)),
                "p95_s": float(np.percentile(el, 95)),
                "bound_s": self.bound(w, samples),
            }

        rows = each_count(row, counts, seed)
        return pd.DataFrame(rows).astype(
            {
                "workers": "int64",
                "p_meet": "float64",
                "median_s": "float64",
                "p95_s": "float64",
                "bound_s": "float64",
            }
        )

    def success_map(
        self,
        workers: Any = range(1, 17),
        samples: int = 150,
        deadline: float | None = None,
        *,
        mtbf: Any = None,
        runs: int = 2000,
        seed: int = 0,
    ) -> pd.DataFrame:
        """``predict``'s ``p_meet`` over worker counts x MTBF (what-if: a worker that crashes more or less).

        ``mtbf``: seconds (default: ``MTBF_INTERVALS`` of this model's interval, and its own MTBF).
        One row per cell: ``workers, mtbf, p_meet``, and ``own`` (the row's MTBF is this model's),
        ``samples`` and ``deadline_s`` (what the cell predicts), so that ``wl.plot_success_map``
        draws the frame alone.
        """
        deadline = paced_deadline(self.interval) if deadline is None else deadline
        if mtbf is None:
            values = sorted({round(m * self.interval, 9) for m in MTBF_INTERVALS} | {self.mtbf} - {0.0})
        else:
            values = [float(m) for m in mtbf]
        counts = [int(workers)] if isinstance(workers, (int, np.integer)) else [int(w) for w in workers]
        frames = [
            self.replace(mtbf=m)
            .predict(counts, samples, deadline, runs, seed=seed)[["workers", "p_meet"]]
            .assign(mtbf=m, own=bool(np.isclose(m, self.mtbf)))
            for m in values
        ]
        grid = pd.concat(frames, ignore_index=True)[["workers", "mtbf", "p_meet", "own"]]
        return grid.assign(samples=int(samples), deadline_s=float(deadline))

    def replace(self, **changes: Any) -> Model:
        """A copy with some figures changed (what-if: another MTBF, lead, pace)."""
        import dataclasses

        return dataclasses.replace(self, **changes)


def each_count(
    fn: Callable[[int, np.random.SeedSequence], T], counts: list[int], seed: int | None
) -> list[T]:
    """``fn(count, seed)`` for each count, its seed spawned from ``seed`` in order; the counts run on
    a thread per usable CPU (numpy releases the GIL while it simulates: about twice as fast on 2
    CPUs). Each count has its own seed, so the results are those of a plain loop."""
    seeds = np.random.SeedSequence(seed).spawn(len(counts))
    if len(counts) < 2:
        return [fn(c, ss) for c, ss in zip(counts, seeds)]
    with ThreadPoolExecutor(min(len(counts), usable_cpus())) as pool:
        return list(pool.map(fn, counts, seeds))
