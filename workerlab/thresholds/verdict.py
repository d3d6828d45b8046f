"""How many workers meet the deadline, and how sure we can be (``wl.threshold``).

Per worker count: the success rate of meeting the deadline with a Wilson interval, median and
p95 elapsed time, and the bound. The threshold is the smallest count from which every larger
count reaches ``level``; the result says whether the interval's lower end reaches ``level`` too
(strong evidence) or how many all-successful repeats would make it so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from workerlab.config import DEADLINE, share

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["threshold", "Threshold", "wilson_interval", "repeats_needed", "CONFIDENCE"]

#: confidence of the intervals ``threshold`` reports
CONFIDENCE = 0.95


# -- statistics ---------------------------------------------------------------------------


def wilson_interval(successes: int, runs: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a success rate: ``(low, high)``; ``(nan, nan)`` for 0 runs.

    Unlike the normal approximation it stays inside [0, 1] and is informative at 5/5 or 0/5:
    with all ``n`` runs successful the low end is ``n / (n + z²)``. Computed by scipy.stats
    (``binomtest(...).proportion_ci(method="wilson")``), which gives exactly 0 at 0/n and 1 at n/n.
    """
    if runs <= 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(successes), int(runs)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def repeats_needed(successes: int, runs: int, level: float, confidence: float = CONFIDENCE) -> int | None:
    """Total runs after which the interval's low end reaches ``level`` if every further run succeeds.

    ``runs`` itself when it already does; None if ``level`` is out of reach (``level >= 1``).
    """
    if not 0 < level < 1:
        return None

    def enough(more: int) -> bool:
        return wilson_interval(successes + more, runs + more, confidence)[0] >= level

    if enough(0):
        return runs
    hi = 1
    while not enough(hi):  # the low end tends to 1 as successes are added: this ends
        hi *= 2
    lo = hi // 2  # not enough (or 0, known not enough)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return runs + hi


# -- the threshold ------------------------------------------------------------------------

#: column -> dtype of ``Threshold.table``, in column order
TABLE_DTYPES: dict[str, str] = {
    "workers": "int64",
    "runs": "int64",
    "successes": "int64",
    "not_reached": "int64",
    "success_rate": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "median_elapsed_s": "float64",
    "p95_elapsed_s": "float64",
    "median_bound_s": "float64",
}


@dataclass(frozen=True)
class Threshold:
    """The smallest worker count that meets the deadline, with the evidence (see ``threshold``).

    ``workers`` is None when no count qualifies. ``table`` has one row per worker count:
    runs, successes (deadline met), not_reached (runs that never got the target: failed,
    timed out), success_rate with its Wilson interval (ci_low, ci_high), median and 95th
    percentile elapsed time of the runs that reached the target, and the median bound.
    ``strong`` says whether the interval's low end at the threshold reaches ``level``;
    ``repeats_needed`` is how many runs at that count would make it so if all further runs
    succeed (the current number when it is already strong). ``conclusive``: strong, and the
    count below the threshold measured with its interval's high end under ``level``.

    ``wl.find_threshold`` fills the rest: ``runs_used`` (every run started, the pilot's too),
    ``wall_s``, the ``model`` its plan came from, ``events`` (every run's event log, concatenated),
    ``prediction`` (``Model.predict`` per count), ``reason`` (the plan's last word), ``pilot_runs``
    and ``interrupted``; its ``table`` has a row per allowed count with the model's ``p_pred``,
    ``median_pred_s`` and ``bound_s`` beside the measured figures (``runs`` 0 where none ran).
    """

    workers: int | None
    table: pd.DataFrame = field(repr=False)
    strong: bool
    repeats_needed: int | None
    level: float
    deadline: float
    confidence: float = CONFIDENCE
    conclusive: bool = False
    runs_used: int | None = None
    wall_s: float | None = None
    model: Model | None = field(default=None, repr=False)
    events: pd.DataFrame | None = field(default=None, repr=False)
    prediction: pd.DataFrame | None = field(default=None, repr=False)
    reason: str = ""
    pilot_runs: int = 0
    interrupted: bool = False

    @property
    def searched(self) -> bool:
        """True for the result of ``find_threshold`` (measured evidence beside a model)."""
        return self.runs_used is not None

    def row(self, workers: int | None = None) -> pd.Series | None:
        """The table row of ``workers`` (default: the threshold); None if absent."""
        w = self.workers if workers is None else workers
        rows = self.table[self.table["workers"] == w]
        return None if w is None or rows.empty else rows.iloc[0]

    @property
    def sentence(self) -> str:
        """The answer in one plain sentence."""
        if self.searched:
            from workerlab.thresholds.evidence import sentence

            return sentence(self)
        t = self.table
        conf = f"{self.confidence:.0%} CI"
        dl = f"{self.deadline:g} s"
        if t.empty:
            return "no runs: nothing to conclude"
        failed = int(t["not_reached"].sum())
        tail = (
            f" ({failed} run{'s' if failed != 1 else ''} did not reach the target and count as misses)"
            if failed
            else ""
        )
        if self.workers is None:
            best = t.sort_values(["success_rate", "workers"], ascending=[False, True]).iloc[0]
            span = f"{t['workers'].min()}–{t['workers'].max()}" if len(t) > 1 else f"{t['workers'].iloc[0]}"
            return (
                f"no worker count tested ({span}) meets {dl} in at least {self.level:g} of runs; "
                f"best: {int(best['workers'])} workers in {int(best['successes'])}/{int(best['runs'])} runs "
                f"({conf} {best['ci_low']:.2f}–{best['ci_high']:.2f}){tail}"
            )
        r = self.row()
        assert r is not None
        head = (
            f"{self.workers} workers meet {dl} in {int(r['successes'])}/{int(r['runs'])} runs "
            f"({conf} {r['ci_low']:.2f}–{r['ci_high']:.2f})"
        )
        if self.strong:
            verdict = f": conclusive at {self.level:g}"
        elif self.repeats_needed is not None:
            more = self.repeats_needed - int(r["runs"])
            verdict = (
                f": not yet conclusive at {self.level:g} — about {self.repeats_needed} "
                f"successful repeats would be ({more} more)"
            )
        else:
            verdict = f": a level of {self.level:g} cannot be shown by repeats"
        below = t[t["workers"] < self.workers]
        if not below.empty:
            b = below.iloc[-1]
            verdict += f"; {int(b['workers'])} workers: {int(b['successes'])}/{int(b['runs'])}"
        return head + verdict + tail

    def __str__(self) -> str:
        if self.searched:
            from workerlab.thresholds.evidence import text

            return text(self)
        return self.sentence

    def _repr_html_(self) -> str:
        import html

        if self.searched:
            from workerlab.thresholds.evidence import html_text

            return html_text(self)

        table = self.table.to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="–")
        return f"<p><b>{html.escape(self.sentence)}</b></p>{table}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the threshold and its evidence (CLI ``--json``)."""
        r = self.row()
        extra: dict[str, Any] = {}
        if self.searched:
            from workerlab.thresholds.evidence import search_dict

            extra = search_dict(self)
        return extra | {
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
        }


def threshold(
    df: pd.DataFrame, deadline: float = DEADLINE, level: float = 0.95, *, confidence: float = CONFIDENCE
) -> Threshold:
    """The smallest worker count of a sweep that meets ``deadline`` in at least ``level`` of runs.

    A run succeeds when it reached its target within ``deadline`` (``summary``'s
    ``deadline_met``); a run that never reached it (failed, timed out, unknown) is a miss. The
    threshold is the smallest count whose success rate reaches ``level`` *and* every larger
    count tested does too (a lucky small count among failing larger ones is not an answer).
    The evidence is strong when the Wilson interval's low end at the threshold reaches
    ``level``; otherwise ``repeats_needed`` says how many runs would make it so.
    """
    from workerlab.analysis.runs import summary

    level, confidence = share("level", level), share("confidence", confidence)
    s = summary(df, deadline=deadline)
    if s.empty:
        raise ValueError("the event log is empty: there are no runs to judge")
    s = s.assign(
        met=s["deadline_met"].fillna(False).astype(bool),
        reached=(s["outcome"] == "reached").fillna(False).astype(bool),
    )
    rows = []
    for w, g in s.groupby("workers", sort=True):
        n, k = len(g), int(g["met"].sum())
        lo, hi = wilson_interval(k, n, confidence)
        el = g.loc[g["reached"], "elapsed_s"].to_numpy(dtype="float64")
        el = el[np.isfinite(el)]
        rows.append(
            {
                "workers": int(cast(int, w)),
                "runs": n,
                "successes": k,
                "not_reached": int((~g["reached"]).sum()),
                "success_rate": k / n,
                "ci_low": lo,
                "ci_high": hi,
                "median_elapsed_s": float(np.median(el)) if len(el) else math.nan,
                "p95_elapsed_s": float(np.percentile(el, 95)) if len(el) else math.nan,
                "median_bound_s": float(g["bound_s"].median()),
            }
        )
    table = pd.DataFrame(rows).astype(TABLE_DTYPES)
    ok = (table["success_rate"] >= level).to_numpy()
    # smallest count from which on every count qualifies
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok)))
    found = table["workers"].to_numpy()[tail_ok]
    workers = int(found[0]) if len(found) else None
    strong = conclusive = False
    needed = None
    if workers is not None:
        r = table[table["workers"] == workers].iloc[0]
        strong = bool(r["ci_low"] >= level)
        needed = repeats_needed(int(r["successes"]), int(r["runs"]), level, confidence)
        below = table[table["workers"] == workers - 1]
        conclusive = strong and (workers == 1 or (not below.empty and bool(below["ci_high"].iloc[0] < level)))
    return Threshold(
        workers=workers,
        table=table,
        strong=strong,
        repeats_needed=needed,
        level=level,
        deadline=deadline,
        confidence=confidence,
        conclusive=conclusive,
    )
