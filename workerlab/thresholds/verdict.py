"""How many workers meet the deadline, and how sure we can be (``wl.threshold``).

Per worker count: the success rate of meeting the deadline with its exact (Clopper-Pearson) interval, median and
p95 elapsed time, and the bound. The threshold is the smallest count from which every larger
count reaches ``level``; the result says whether the interval's lower end reaches ``level`` too
(strong evidence), whether the count below is shown under it (conclusive), or how many repeats
of a fresh sweep would (never "a few more" of these: that voids the confidence).

``Threshold`` is what every answer to the question shares; a sweep's answer is a
``SweepVerdict`` (this module), a search's a ``SearchResult`` (``workerlab.thresholds.result``).
Both carry the ``Conditions`` their runs were measured under (this module too: part of the result).
A ``SweepVerdict`` also carries its runs as judged once and its event log, so that what draws or
prints it (``wl.plot_sweep``, ``workerlab sweep``) never judges them again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workerlab.analysis.judge import JUDGED_COLUMNS, judge_log
from workerlab.analysis.overlap import RunsAtOnce, runs_at_once
from workerlab.config import DEADLINE, seconds, share
from workerlab.errors import ConfigError
from workerlab.log import events as event_log
from workerlab.model.interference import Interference
from workerlab.thresholds.stats import (
    CONFIDENCE,
    TABLE_DTYPES,
    ci_label,
    count_table,
    markdown,
    repeats_needed,
    smallest_qualifying,
)

__all__ = [
    "threshold",
    "Threshold",
    "SweepVerdict",
    "Conditions",
    "repeats_needed",
    "CONFIDENCE",
    "TABLE_DTYPES",
]


@dataclass(frozen=True)
class Conditions:
    """The conditions a result's runs were measured under (part of the result): how many ran at
    once (``runs``, from the logs) and, for a search, the ``interference`` its pilot measured."""

    runs: RunsAtOnce
    interference: Interference | None = None

    @property
    def unchecked(self) -> bool:
        """Runs shared the machine with no measurement that this left their outcome alone."""
        return not self.runs.alone and (self.interference is None or not self.interference.measured)

    def text(self, *, rerun: str = "sweep with parallel=1") -> str:
        """The conditions in words, with a warning when runs shared the machine unchecked; ``rerun``:
        what rules it out, in the reader's syntax (the command line says ``--parallel 1``)."""
        lines = [self.runs.text()]
        if self.interference is not None:
            lines.append(self.interference.text())
        if self.unchecked:
            lines.append(
                "WARNING: runs shared the machine and the interference was not measured: each run's "
                f"elapsed time may be longer than one run alone's ({rerun} to rule it out)"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs_at_once": self.runs.to_dict(),
            "interference": None if self.interference is None else self.interference.to_dict(),
            "unchecked": self.unchecked,
        }


@dataclass(frozen=True)
class Threshold:
    """The smallest worker count that meets the deadline, with the evidence: any answer's fields.

    ``workers`` is None when no count qualifies. ``table`` has one row per worker count:
    runs, successes (deadline met), not_reached (runs that never got the target: failed,
    timed out), success_rate with its exact two-sided Clopper-Pearson interval (ci_low,
    ci_high) at ``confidence``, median
    and 95th percentile elapsed time of the runs that reached the target, and the bound.
    ``strong`` says whether the interval's low end at the threshold reaches ``level``;
    ``repeats_needed`` is how many runs at that count would make it so if all further runs
    succeed (the current number when it is already strong). ``conclusive``: strong, and the
    count below the threshold measured with its interval's high end under ``level``.

    ``wl.threshold`` returns a ``SweepVerdict``, ``wl.find_threshold`` a ``SearchResult``; both
    are ``Threshold``s.
    """

    workers: int | None
    table: pd.DataFrame = field(repr=False)
    strong: bool
    repeats_needed: int | None
    level: float
    deadline: float
    confidence: float = CONFIDENCE
    conclusive: bool = False
    #: how many runs ran at once, and the interference measured (``Conditions``)
    conditions: Conditions | None = field(default=None, repr=False)

    def row(self, workers: int | None = None) -> pd.Series | None:
        """The table row of ``workers`` (default: the threshold); None if absent."""
        w = self.workers if workers is None else workers
        rows = self.table[self.table["workers"] == w]
        return None if w is None or rows.empty else rows.iloc[0]

    @property
    def sentence(self) -> str:
        """The answer in one plain sentence."""
        raise NotImplementedError

    def lines(self) -> list[str]:
        """The answer at a glance, a few lines (``str`` and the HTML form); the rest is ``details()``."""
        return [self.sentence]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's and the notebook's text form: the same lines as ``str``, not the field dump."""
        p.text(str(self))

    def _repr_html_(self) -> str:
        """The same lines as ``str``, the first in bold."""
        first, *rest = (html.escape(line) for line in self._html_lines())
        return f"<p><b>{first}</b></p>" + ("\n<p>" + "<br>\n".join(rest) + "</p>" if rest else "")

    def _html_lines(self) -> list[str]:
        return self.lines()

    def details(self) -> str:
        """Everything behind the answer: the conditions in full and the per-count table."""
        c = self.conditions
        out = [self.sentence, *([c.text()] if c is not None else []), "", self.table.to_string(index=False)]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The per-count table (``TABLE_DTYPES``), a copy: for a report, ``to_markdown()`` or
        ``to_frame().to_csv(path)``."""
        return self.table.copy()

    def to_markdown(self) -> str:
        """``to_frame()`` as a Markdown table (missing values as "–")."""
        return markdown(self.to_frame())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the threshold and its evidence (CLI ``--json``)."""
        r = self.row()
        return {
            "workers": self.workers,
            "conclusive": self.conclusive,
            "strong": self.strong,
            "repeats_needed": self.repeats_needed,
            "level": self.level,
            "deadline": self.deadline,
            "confidence": self.confidence,
            "runs": None if r is None else int(r["runs"]),
            "successes": None if r is None else int(r["successes"]),
            "ci_low": None if r is None else float(r["ci_low"]),
            "ci_high": None if r is None else float(r["ci_high"]),
            "sentence": self.sentence,
            "conditions": None if self.conditions is None else self.conditions.to_dict(),
        }


@dataclass(frozen=True)
class SweepVerdict(Threshold):
    """The threshold of a fixed sweep's runs (``wl.threshold``); see ``Threshold`` for the fields.

    ``judged``: every run of the sweep, judged once (``workerlab.analysis.judge``: ``run_id, workers,
    reached, met, elapsed_s, bound_s``), the per-run evidence behind ``table``; ``events``: the
    sweep's event log. ``wl.plot_sweep(verdict)`` draws both. ``made_at``: the deadline the runs
    were made with (their logs record it; None where they do not say); when ``deadline`` differs,
    it was asked for, and the sentence says so.
    """

    judged: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=JUDGED_COLUMNS), repr=False)
    events: pd.DataFrame = field(default_factory=event_log.empty, repr=False)
    made_at: float | None = None

    @property
    def asked(self) -> bool:
        """Judged at another deadline than the runs were made with (``threshold(df, deadline=...)``)."""
        return self.made_at is not None and self.made_at != self.deadline

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"made_at": self.made_at}

    def lines(self) -> list[str]:
        """The sentence, and the runs at once with a warning when runs shared the machine
        (``conditions``); ``details()`` adds the per-count table. ``str`` is the sentence alone when
        every run ran alone; the HTML form always says how many ran at once."""
        c = self.conditions
        return [self.sentence] + ([] if c is None or c.runs.alone else c.text().splitlines())

    _repr_pretty_ = Threshold._repr_pretty_  # IPython takes a class's own __repr__ before a base's

    def _html_lines(self) -> list[str]:
        c = self.conditions
        return self.lines() + ([] if c is None or not c.runs.alone else [c.runs.text()])

    @property
    def sentence(self) -> str:
        """The answer in one plain sentence; "conclusive" only where ``conclusive`` is true."""
        t = self.table
        if t.empty:
            return "no runs: nothing to conclude"
        failed = int(t["not_reached"].sum())
        tail = (
            f" ({failed} run{'s' if failed != 1 else ''} did not reach the target and count as misses)"
            if failed
            else ""
        )
        if self.workers is None:
            return self._none_qualifies() + tail
        r = self.row()
        assert r is not None
        head = (
            f"{self.workers} workers meet {self._at()} in {int(r['successes'])}/{int(r['runs'])} runs "
            f"({ci_label(self.confidence)} {r['ci_low']:.2f}–{r['ci_high']:.2f})"
        )
        return head + self._verdict(int(r["runs"])) + tail

    def _at(self) -> str:
        """The deadline judged at, and when it was asked for, the one the runs were made with."""
        said = f"{self.deadline:g} s"
        return f"{said} (as asked; the runs were made with {self.made_at:g} s)" if self.asked else said

    def _none_qualifies(self) -> str:
        t = self.table
        best = t.sort_values(["success_rate", "workers"], ascending=[False, True]).iloc[0]
        span = f"{t['workers'].min()}–{t['workers'].max()}" if len(t) > 1 else f"{t['workers'].iloc[0]}"
        return (
            f"no worker count tested ({span}) meets {self._at()} in at least {self.level:g} of runs; "
            f"best: {int(best['workers'])} workers in {int(best['successes'])}/{int(best['runs'])} runs "
            f"({ci_label(self.confidence)} {best['ci_low']:.2f}–{best['ci_high']:.2f})"
        )

    def _time_of(self, runs: int) -> str:
        """`` (about 72 runs x 9.1 s = 11 min, one at a time)``: runs x the median run measured."""
        ends = event_log.run_stops(self.events)["t"].dropna() if not self.events.empty else pd.Series([])
        if ends.empty:
            return ""
        each = float(ends.median())
        return f" (about {runs} runs x {each:.2g} s = {runs * each / 60:.2g} min, one at a time)"

    def _verdict(self, runs: int) -> str:
        assert self.workers is not None
        below = self.table[self.table["workers"] < self.workers]
        if self.conclusive:
            verdict = f": conclusive at {self.level:g}"
        elif self.strong:
            shown = "" if below.empty else f" {int(below['workers'].iloc[-1])} workers"
            verdict = (
                f": strong at {self.level:g} (the interval's low end reaches it), not conclusive: "
                f"the count below{shown} is not shown under it"
            )
        elif self.repeats_needed is not None:
            # a fresh sweep, not more repeats: topping these up until they look good voids the confidence
            fresh = repeats_needed(0, 0, self.level, self.confidence)
            verdict = (
                f": not yet conclusive at {self.level:g} — a fresh sweep of {fresh} repeats at that count"
                f"{self._time_of(fresh) if fresh else ''}, every one meeting the deadline, would show it (adding repeats to "
                "these runs would not keep the stated confidence)"
            )
        else:
            verdict = f": a level of {self.level:g} cannot be shown by repeats"
        if not below.empty:
            b = below.iloc[-1]
            verdict += f"; {int(b['workers'])} workers: {int(b['successes'])}/{int(b['runs'])}"
        return verdict


def judge_table(
    table: pd.DataFrame, level: float, confidence: float
) -> tuple[int | None, bool, int | None, bool]:
    """(threshold, strong, repeats needed, conclusive) of a per-count table of measured counts."""
    workers = smallest_qualifying(table, level)
    if workers is None:
        return None, False, None, False
    r = table[table["workers"] == workers].iloc[0]
    strong = bool(r["ci_low"] >= level)
    needed = repeats_needed(int(r["successes"]), int(r["runs"]), level, confidence)
    below = table[table["workers"] == workers - 1]
    conclusive = strong and (workers == 1 or (not below.empty and bool(below["ci_high"].iloc[0] < level)))
    return workers, strong, needed, conclusive


def _deadline(df: pd.DataFrame, deadline: float | None) -> tuple[float, float | None]:
    """(the deadline to judge at, the one the runs were made with or None): ``deadline`` if given,
    else the runs' own; a log that does not say is judged at the challenge's 10 s."""
    made = event_log.run_deadlines(df) if {"event", "worker_id", "detail"} <= set(df.columns) else []
    if len(made) > 1 and deadline is None:
        raise ConfigError.of(
            "deadline",
            f"is needed: the runs were made with different deadlines ({', '.join(f'{d:g} s' for d in made)}); "
            "pass deadline= to judge them all at one",
        )
    made_at = made[0] if len(made) == 1 else None
    if deadline is None:
        return (made_at if made_at is not None else DEADLINE), made_at
    return seconds("deadline", deadline), made_at


def threshold(
    df: pd.DataFrame, deadline: float | None = None, level: float = 0.95, *, confidence: float = CONFIDENCE
) -> SweepVerdict:
    """The smallest worker count of a sweep that meets ``deadline`` in at least ``level`` of runs.

    ``deadline`` (seconds): None judges at the deadline the runs were made with (their logs record
    it: the sweep's, by default 10 intervals of the pace; 10 s for a log that does not say);
    another only when given, and the verdict then says so (``made_at``, the sentence).

    A run succeeds when it reached its target within ``deadline`` (``workerlab.analysis.judge``); a
    run that never reached it (failed, timed out, unknown) is a miss. The threshold is the smallest
    count whose success rate reaches ``level`` *and* every larger count tested does too (a lucky
    small count among failing larger ones is not an answer). The evidence is strong when the
    exact interval's low end at the threshold reaches ``level``, conclusive when the count below
    is measured with its high end under ``level`` too; otherwise ``repeats_needed`` says how many
    runs would make it strong.
    """
    level, confidence = share("level", level), share("confidence", confidence)
    deadline, made_at = _deadline(df, deadline)
    judged = judge_log(df, deadline)
    if judged.empty:
        raise ValueError("the event log is empty: there are no runs to judge")
    table = count_table(judged, confidence)
    workers, strong, needed, conclusive = judge_table(table, level, confidence)
    return SweepVerdict(
        workers=workers,
        table=table,
        strong=strong,
        repeats_needed=needed,
        level=level,
        deadline=deadline,
        confidence=confidence,
        conclusive=conclusive,
        conditions=Conditions(runs_at_once(df)),
        judged=judged,
        events=df,
        made_at=made_at,
    )
