"""The statistics every threshold answer shares: the exact interval, the per-count table, the pick.

Every interval of a threshold's table is the two-sided Clopper-Pearson interval at the
threshold's confidence (``workerlab.thresholds.exact.cp_interval``): exact, so it never covers
less than it says. The Wilson interval is kept for callers that compare with it.

The bottom of ``workerlab.thresholds``: the sweep's verdict (``verdict``), the search's plan
(``design``) and its evidence (``evidence``) all build on this module and on nothing of each other's
below it, so the folder has no import cycle.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from workerlab.thresholds.exact import cp_interval

__all__ = [
    "CONFIDENCE",
    "TABLE_DTYPES",
    "wilson_interval",
    "repeats_needed",
    "count_table",
    "smallest_qualifying",
    "ci_label",
]

#: default confidence of the intervals a threshold reports
CONFIDENCE = 0.95

#: column -> dtype of a threshold's per-count table, in column order
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


@functools.lru_cache(maxsize=65536)  # asked for again and again between a search's batches
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
    """Total runs after which the exact interval's low end reaches ``level`` if every further run
    succeeds (72 from none at 0.95 and 95 %: 0.95^72 < 0.025).

    ``runs`` itself when it already does; None if ``level`` is out of reach (``level >= 1``). This
    describes runs already made; it is not a plan (a plan is fixed before its first run).
    """
    if not 0 < level < 1:
        return None

    def enough(more: int) -> bool:
        return cp_interval(successes + more, runs + more, confidence)[0] >= level

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


def count_table(judged: pd.DataFrame, confidence: float, counts: Iterable[int] | None = None) -> pd.DataFrame:
    """One row per worker count (``TABLE_DTYPES``) from judged runs (``workerlab.analysis.judge``).

    ``counts``: the rows to show, ``runs`` 0 (and NaN figures) where none ran; default: the counts
    that ran. Cheap enough to rebuild after every run of a search.
    """
    rows = []
    shown = sorted({int(w) for w in judged["workers"]}) if counts is None else list(counts)
    for w in shown:
        g = judged[judged["workers"] == w]
        n, k = len(g), int(g["met"].sum())
        lo, hi = cp_interval(k, n, confidence) if n else (math.nan, math.nan)
        reached = g["reached"].to_numpy(dtype=bool)
        el = g["elapsed_s"].to_numpy(dtype="float64")[reached]
        el = el[np.isfinite(el)]
        rows.append(
            {
                "workers": w,
                "runs": n,
                "successes": k,
                "not_reached": int((~reached).sum()),
                "success_rate": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
                "median_elapsed_s": float(np.median(el)) if len(el) else math.nan,
                "p95_elapsed_s": float(np.percentile(el, 95)) if len(el) else math.nan,
                "median_bound_s": float(g["bound_s"].median()) if n else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_DTYPES)).astype(TABLE_DTYPES)


def smallest_qualifying(table: pd.DataFrame, level: float) -> int | None:
    """The smallest count of ``table`` whose success rate reaches ``level``, every larger count's too."""
    ok = (table["success_rate"] >= level).to_numpy()
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok)))
    found = table["workers"].to_numpy()[tail_ok]
    return int(found[0]) if len(found) else None


def ci_label(confidence: float) -> str:
    """The interval's name in tables and sentences: ``"95% CI"``, ``"80% CI"``, ``"99.5% CI"``."""
    return f"{confidence * 100:.4g}% CI"
