"""The statistics every threshold answer shares: exact intervals, the per-count table, the pick.

Every interval of a threshold's table is the two-sided Clopper-Pearson interval at the
threshold's confidence (``cp_interval``): exact for a fixed number of runs, so it never covers
less than it says there.

A per-count frame in Markdown for reports: ``markdown``.

The bottom of ``workerlab.thresholds``: it imports nothing of the folder. The exact plans
(``exact``), the sweep's verdict (``verdict``), the search's decisions (``decider``) and its
result (``result``) build on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "TABLE_DTYPES",
    "cp_lower",
    "cp_upper",
    "cp_interval",
    "search_table",
    "monotonicity_violations",
    "repeats_needed",
    "count_table",
    "smallest_qualifying",
    "ci_label",
    "markdown",
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


def cp_lower(successes: int, runs: int, conf: float) -> float:
    """One-sided Clopper-Pearson lower bound of ``p`` at confidence ``conf`` (0 at 0 successes).

    ``cp_lower(k, n, c) >= L`` exactly when ``P(X >= k | n, L) <= 1 - c``."""
    if successes <= 0:
        return 0.0
    return float(stats.beta.ppf(1 - conf, successes, runs - successes + 1))


def cp_upper(successes: int, runs: int, conf: float) -> float:
    """One-sided Clopper-Pearson upper bound of ``p`` at confidence ``conf`` (1 at ``runs`` successes).

    ``cp_upper(k, n, c) < L`` exactly when ``P(X <= k | n, L) < 1 - c``."""
    if successes >= runs:
        return 1.0
    return float(stats.beta.ppf(conf, successes + 1, runs - successes))


def cp_interval(successes: int, runs: int, confidence: float) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at ``confidence``, (1 - confidence) / 2 in each tail."""
    if runs <= 0:
        return math.nan, math.nan
    conf = 1 - (1 - confidence) / 2
    return cp_lower(successes, runs, conf), cp_upper(successes, runs, conf)


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


#: the model's columns beside the measured ones
PRED_COLUMNS = {"p_pred": "p_meet", "median_pred_s": "median_s", "bound_s": "bound_s"}


def search_table(
    judged: pd.DataFrame, counts: Iterable[int], pred: pd.DataFrame | None, confidence: float
) -> pd.DataFrame:
    """One row per allowed count: the measured figures (``runs`` 0 where none ran) and the prediction.

    ``judged``: the counted runs as ``workerlab.analysis.judge`` judged them when each ended (this
    is rebuilt after every run, on the loop that runs the others, so it must stay cheap).
    """
    t = count_table(judged, confidence, counts)
    bound = t.pop("median_bound_s")
    if pred is not None:
        p = pred.rename(columns={v: k for k, v in PRED_COLUMNS.items()})[["workers", *PRED_COLUMNS]]
        return t.merge(p, on="workers", how="left")
    return t.assign(p_pred=math.nan, median_pred_s=math.nan, bound_s=bound)


def monotonicity_violations(table: pd.DataFrame) -> list[tuple[int, int]]:
    """(smaller, larger) pairs of measured counts where the larger one is clearly worse: the high
    end of its exact interval is under the low end of the smaller one's."""
    t = table[table["runs"] > 0].sort_values("workers")
    w, lo, hi = t["workers"].tolist(), t["ci_low"].tolist(), t["ci_high"].tolist()
    return [(int(w[i]), int(w[j])) for i in range(len(w)) for j in range(i + 1, len(w)) if hi[j] < lo[i]]


def smallest_qualifying(table: pd.DataFrame, level: float) -> int | None:
    """The smallest count of ``table`` whose success rate reaches ``level``, every larger count's too."""
    ok = (table["success_rate"] >= level).to_numpy()
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok)))
    found = table["workers"].to_numpy()[tail_ok]
    return int(found[0]) if len(found) else None


def ci_label(confidence: float) -> str:
    """The interval's name in tables and sentences: ``"95% CI"``, ``"80% CI"``, ``"99.5% CI"``."""
    return f"{confidence * 100:.4g}% CI"


def _cell(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float | np.floating):
        return f"{v:.4g}"
    return str(v)


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub Markdown table (missing values as "–"); no extra dependency."""
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "if" else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
