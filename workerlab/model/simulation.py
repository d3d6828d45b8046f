"""Vectorised simulation of many runs of a model (:class:`Costs`; numpy, no Python loop per run).

Each slot's life is a chain of processes ("segments"); segment j of every (run, slot) is computed
for all runs at once. A segment's numbers form an arithmetic sequence ``first + i * interval``
(``i < count``), so the run's elapsed time, the S-th smallest of all those times, is found by
bisection on the *round* (``floor(time / interval)``) and a sort of the phases inside that round,
without materialising every number. If some chain ends before the run does, the chains are drawn
again twice as long.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

__all__ = ["Costs", "simulate_runs"]


class Costs(Protocol):
    """What a simulation reads of a model (``workerlab.model.model.Model`` is one); seconds throughout.

    A protocol, so that this module needs nothing of the model's: the model imports the
    simulation, never the other way round.
    """

    @property
    def interval(self) -> float: ...
    @property
    def lead(self) -> float: ...
    @property
    def mtbf(self) -> float: ...
    @property
    def start(self) -> tuple[float, ...]: ...
    @property
    def connect(self) -> tuple[float, ...]: ...
    @property
    def restart(self) -> tuple[float, ...]: ...
    @property
    def stall(self) -> float: ...
    @property
    def stall_after(self) -> float: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def first_wave(self) -> tuple[tuple[float, ...], ...]: ...


def _first_wave(m: Costs, W: int, R: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ready and stream-open times of each slot's first process, shape (R, W) each.

    Measured first waves (``m.first_wave``: open times by spawn rank, one tuple per observed run)
    are resampled whole, which keeps how rank, load and early crashes shaped them; ranks beyond the
    longest observed wave (or all, without one) come from the queue: W slots ask, in order, for
    ``concurrency`` permits held for a ``start`` time each.
    """
    C = m.concurrency
    hold = rng.choice(np.asarray(m.start), size=(R, W))
    opened = rng.choice(np.asarray(m.connect), size=(R, W))
    waves = [w for w in m.first_wave if len(w) >= min(W, max(map(len, m.first_wave)))] if m.first_wave else []
    conn = np.empty((R, W))
    known = 0
    if waves:
        known = min(W, len(waves[0]))
        table = np.array([w[:known] for w in waves])
        conn[:, :known] = table[rng.integers(len(table), size=R)]
    ready = conn - opened
    free = np.zeros((R, min(C, W)))
    if known:  # the queue goes on from the last permits handed out
        free = np.sort(ready[:, :known], axis=1)[:, -min(C, W, known) :]
        free = np.concatenate([free, np.zeros((R, min(C, W) - free.shape[1]))], axis=1)
    rows = np.arange(R)
    for k in range(known, W):
        j = free.argmin(axis=1)
        ready[:, k] = free[rows, j] + hold[:, k]
        free[rows, j] = ready[:, k]
        conn[:, k] = ready[:, k] + opened[:, k]
    return ready, conn


def _segments(
    m: Costs, ready0: np.ndarray, conn0: np.ndarray, S: int, P: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P processes per (run, slot): first-number time, number count, end time, end kind (1 crash, 2 stall)."""
    R, W = ready0.shape
    shape = (R, W, P)
    iv = m.interval
    conn_draw = rng.choice(np.asarray(m.connect), size=shape)
    restart = rng.choice(np.asarray(m.restart), size=shape)
    life = rng.exponential(m.mtbf, size=shape) if m.mtbf > 0 else np.full(shape, np.inf)
    hang = rng.exponential(1 / m.stall, size=shape) if m.stall > 0 else None
    first = np.empty(shape)
    count = np.empty(shape)
    end = np.empty(shape)
    kind = np.ones(shape, dtype=np.int8)
    ready = ready0
    conn = conn0
    for j in range(P):
        if j:
            conn = end[..., j - 1] + restart[..., j - 1]
            ready = conn - conn_draw[..., j]
        f = conn + m.lead
        crash_t = ready + life[..., j]
        cut = crash_t if hang is None else np.minimum(crash_t, ready + hang[..., j])
        with np.errstate(invalid="ignore"):
            n = np.where(cut > f, np.ceil((cut - f) / iv), 0.0)
        n = np.minimum(n, S)  # a process never needs more than the target
        e = crash_t
        if hang is not None:
            stalled = cut < crash_t
            last = np.where(n > 0, f + (n - 1) * iv, conn)
            kill = last + m.stall_after
            by_stall = stalled & (kill < crash_t)
            e = np.where(by_stall, kill, crash_t)
            kind[..., j] = np.where(by_stall, 2, 1)
        first[..., j], count[..., j], end[..., j] = f, n, e
    return first, count, end, kind


def _elapsed(first: np.ndarray, count: np.ndarray, iv: float, S: int) -> np.ndarray:
    """Per run: time of the S-th number over all segments (inf when there are fewer than S)."""
    R = first.shape[0]
    f = first.reshape(R, -1)
    n = count.reshape(R, -1)
    base = np.floor(f / iv)
    total = n.sum(axis=1)
    enough = total >= S
    last_round = np.where(n > 0, base + n - 1, -np.inf).max(axis=1)
    lo = np.where(n > 0, base, np.inf).min(axis=1) - 1  # count(rounds <= lo) < S
    hi = np.where(enough, last_round, 1.0)  # count(rounds <= hi) >= S where enough
    lo = np.where(enough, lo, 0.0)

    def upto(m: np.ndarray) -> np.ndarray:
        return np.clip(m[:, None] - base + 1, 0, n).sum(axis=1)

    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        ok = upto(mid) >= S
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    need = S - upto(hi - 1)  # the need-th number of round hi
    active = (n > 0) & (base <= hi[:, None]) & (hi[:, None] <= base + n - 1)
    phase = np.where(active, f / iv - base, np.inf)
    order = np.argsort(phase, axis=1, kind="stable")
    k = np.clip(need.astype(np.int64) - 1, 0, f.shape[1] - 1)
    seg = order[np.arange(R), k]
    pick = np.arange(R)
    out = f[pick, seg] + (hi - base[pick, seg]) * iv
    return np.where(enough, out, np.inf)


def simulate_runs(
    m: Costs, W: int, S: int, R: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(elapsed, crashes, stalls)`` arrays of ``R`` simulated runs of ``W`` workers and target ``S``."""
    ready0, conn0 = _first_wave(m, W, R, rng)
    rate = (1 / m.mtbf if m.mtbf > 0 else 0.0) + m.stall
    horizon = float(conn0.max()) + m.lead + (math.ceil(S / W) + 1) * m.interval
    P = 1 if rate == 0 else max(2, math.ceil(2 + 2 * horizon * rate))
    while True:
        first, count, end, kind = _segments(m, ready0, conn0, S, P, rng)
        elapsed = _elapsed(first, count, m.interval, S)
        # every chain must outlast the run, or a later process could have sent an earlier number
        if np.all(np.isfinite(elapsed)) and np.all(end[..., -1] >= elapsed[:, None]):
            break
        P *= 2
    before = end <= elapsed[:, None, None]
    crashes = (before & (kind == 1)).sum(axis=(1, 2))
    stalls = (before & (kind == 2)).sum(axis=(1, 2))
    return elapsed, crashes, stalls
