"""A threshold search's settings, checked once at the boundary (``find_threshold``) before anything starts.

Besides each argument, ``SearchSettings.check`` checks the budget: ``max_runs`` must cover the
least a conclusive search can cost (``least_runs``), or no worker starts. ``cost()`` says what the
search is expected to cost before it starts: runs, and minutes at the deadline's pace.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from workerlab.batch.spec import BatchSettings
from workerlab.config import share
from workerlab.errors import ConfigError
from workerlab.model.model import Model
from workerlab.thresholds.decider import P_RANGE, PLAN_MAX_RUNS, SCREEN_COUNTS, SCREEN_RUNS, choose
from workerlab.thresholds.exact import BELOW, MEETS, Plan

__all__ = ["SearchSettings", "Floor", "Least", "Cost", "floor", "least_runs", "fewest_runs"]


def fewest_runs(plan: Plan, aim: str) -> int | None:
    """The fewest runs after which ``plan`` decides ``aim`` (``Plan.decide`` after every run, early
    stops included, as the search follows it), every run going that way (met for ``MEETS``, missed
    for ``BELOW``); None if it never does."""
    for n in range(1, plan.max_runs + 1):
        if plan.decide(0 if aim == MEETS else n, n) == aim:
            return n
    return None


@dataclass(frozen=True)
class Floor:
    """The fewest runs the search's own plans spend to decide a clear-cut count: ``meets`` for a
    candidate whose every run meets the deadline, ``below`` for a count below whose every run misses."""

    meets: int
    below: int


@functools.lru_cache(maxsize=64)
def floor(level: float, confidence: float) -> Floor:
    """``fewest_runs`` of the plans the search chooses (``decider.choose``, at most ``PLAN_MAX_RUNS``
    runs) for the clearest counts it can be given: a candidate predicted to meet always (its
    prediction clipped to ``P_RANGE[1]``) and a count below predicted to miss always (``P_RANGE[0]``).
    These are its cheapest: a plan for a lower (higher) prediction must allow more failures (more
    successes) before it decides. ``ConfigError`` if no plan can decide at this level and confidence."""
    found = {}
    for aim, p in ((MEETS, P_RANGE[1]), (BELOW, P_RANGE[0])):
        try:
            found[aim] = fewest_runs(choose(aim, p, level, confidence, PLAN_MAX_RUNS), aim)
        except ValueError:  # the planner has no plan of that size at all
            found[aim] = None
        if found[aim] is None:
            problem = (
                f"{level:g} cannot be shown: no exact plan of at most {PLAN_MAX_RUNS} runs can show a count "
                f"{'meets' if aim == MEETS else 'is below'} it at confidence {confidence:g}; lower the "
                "level or the confidence"
            )
            raise ConfigError(f"level={problem}", param="level", problem=problem)
    return Floor(found[MEETS], found[BELOW])  # type: ignore[arg-type]


@dataclass(frozen=True)
class Least:
    """The fewest runs of a conclusive search, in parts: the ``pilot``'s, the candidate's plan
    (``meets``), the count below's (``below``) and the larger counts' ``screens``."""

    pilot: int
    meets: int
    below: int
    screens: int
    conclusive: bool = True  # False: no count allowed can end conclusive (one count, above 1)

    @property
    def total(self) -> int:
        return self.pilot + self.meets + self.below + self.screens

    def text(self) -> str:
        """The parts in words: ``6 pilot runs + 72 for a count that meets (every run met) + ...``."""
        parts = [f"{self.pilot} pilot runs"] if self.pilot else []
        parts.append(f"{self.meets} for a count that meets (every run met)")
        if self.below:
            parts.append(f"{self.below} for the count below it (every run missed)")
        if self.screens:
            parts.append(f"{self.screens} to screen larger counts")
        what = "a conclusive search over these counts" if self.conclusive else "the one count's plan"
        return f"the least {what} takes: " + " + ".join(parts)


def least_runs(counts: tuple[int, ...], f: Floor, pilot: int) -> Least:
    """The fewest runs of any conclusive search over ``counts``, its ``pilot`` runs included.

    A search is conclusive when its candidate c meets by its plan (at least ``f.meets`` runs), the
    next smaller allowed count is below by its own (at least ``f.below``; none when c is 1 worker,
    and a c > 1 with no smaller count allowed is never conclusive) and the next ``SCREEN_COUNTS``
    larger allowed counts had their ``SCREEN_RUNS``-run screens: the least over every c that can be
    conclusive. Where none can (one count allowed, above 1), what the candidate's plan needs.
    """
    options = [Least(pilot, f.meets, 0, 0, conclusive=False)]  # one count allowed, above 1
    for i, c in enumerate(counts):
        if i > 0 or c == 1:
            screens = SCREEN_RUNS * min(SCREEN_COUNTS, len(counts) - i - 1)
            options.append(Least(pilot, f.meets, f.below if i > 0 else 0, screens))
    conclusive = options[1:] or options
    return min(conclusive, key=lambda least: least.total)


@dataclass(frozen=True)
class Cost:
    """What a search is expected to cost before it starts: at ``least`` runs (pilot included; more
    where a count sits near the level), about ``seconds`` of wall time at this pace with up to
    ``at_once`` runs side by side, ``alone_seconds`` if the pilot finds every count must run alone."""

    least: int
    seconds: float
    at_once: int = 1
    alone_seconds: float = math.nan

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def when(self) -> str:
        """``~4 min`` (or ``~40 s`` under two minutes); with runs side by side, the time alone too."""
        a, b = self.seconds, self.alone_seconds
        if not (self.at_once > 1 and b > a):
            return _duration(a)
        if a >= 120:
            return f"~{a / 60:.0f}–{b / 60:.0f} min"
        return f"~{a:.0f}–{b:.0f} s" if b < 120 else f"~{a:.0f} s–{b / 60:.0f} min"

    def text(self) -> str:
        """One line for people: the runs and the time they take at the least."""
        if self.at_once > 1 and self.alone_seconds > self.seconds:
            time = (
                f"{_duration(self.seconds)} at this pace with up to {self.at_once} runs at once, "
                f"{_duration(self.alone_seconds)} if the pilot finds they must run alone"
            )
        else:
            time = f"{_duration(self.seconds)} at this pace"
        return f"expect at least {self.least} runs, {time} (more where a count sits near the level)"


def _duration(seconds: float) -> str:
    """``~4 min``, or ``~40 s`` under two minutes."""
    return f"~{seconds:.0f} s" if seconds < 120 else f"~{seconds / 60:.0f} min"


@dataclass(frozen=True)
class SearchSettings:
    """A search's own settings, validated (``check``); the batch's (counts, samples, deadline,
    runs at once, run options) are in ``batch``. ``pilot``: the runs of its pilot (0 with a model)."""

    batch: BatchSettings
    level: float
    confidence: float
    max_runs: int
    model: Model | None
    pilot: int = 0

    @classmethod
    def check(
        cls,
        batch: BatchSettings,
        *,
        level: float,
        confidence: float,
        model: Model | None,
        max_runs: int,
        pilot: int = 0,
    ) -> SearchSettings:
        """Check a search's own arguments beside its checked ``batch`` settings; ``ConfigError``
        before anything is spawned. ``max_runs`` (every run, the ``pilot``'s too) must cover
        ``least_runs``: a smaller budget could never end conclusive."""
        level, confidence = share("level", level), share("confidence", confidence)
        if model is not None and not isinstance(model, Model):
            raise ConfigError.of("model", f"must be a wl.Model (e.g. wl.calibrate(logs)), got {model!r}")
        if isinstance(max_runs, bool) or not (isinstance(max_runs, int) and max_runs >= 1):
            raise ConfigError.of("max_runs", f"must be a whole number >= 1, got {max_runs!r}")
        settings = cls(batch, level, confidence, max_runs, model, pilot)
        least = settings.least_runs()
        if max_runs < least.total:
            why, n = least.text(), least.total
            raise ConfigError(
                f"max_runs={max_runs} is below {n} runs, {why}; give max_runs={n} or more",
                param="max_runs",
                problem=f"is {max_runs}, below {n} runs, {why}; give at least {n}",
                cli=f"{max_runs} is below {n} runs, {why}; give --max-runs {n} or more",
            )
        return settings

    @property
    def seed(self) -> int:
        """The search's seed (0 when the runs have none): the prediction's and the interleaving's."""
        return self.batch.options.seed or 0

    def least_runs(self) -> Least:
        """``least_runs`` of these counts, this level and confidence, and this pilot."""
        return least_runs(self.batch.counts, floor(self.level, self.confidence), self.pilot)

    def cost(self, *, at_once: int, alone: int) -> Cost:
        """The expected cost at the least (``least_runs``): ``alone`` of its runs one at a time (the
        pilot's first ones, say), the count below's too (its runs run alone), the rest up to
        ``at_once`` side by side (and, for the worst case, every run alone); a run near the answer
        takes about the deadline and its start."""
        least = self.least_runs()
        alone = min(least.total, alone + least.below)
        shared = least.total - alone
        per_run = self.batch.deadline + _START_S
        side = per_run * (alone + math.ceil(shared / max(1, at_once)))
        return Cost(least.total, side, at_once, per_run * least.total)


#: what a run costs beside its deadline: starting its workers, stopping them (seconds, measured
#: at compressed time on 2 CPUs; at the real pace it is within the deadline's rounding)
_START_S = 0.3
