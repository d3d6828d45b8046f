"""The threshold search's answer in words, a table and JSON: measured evidence beside the model.

``search_table`` and ``search_threshold`` build the ``Threshold`` of ``wl.find_threshold``;
``sentence``, ``text``, ``html_text`` and ``search_dict`` are what its ``str()``,
``_repr_html_`` and ``to_dict`` show: the answer, what it cost, per count the measured
successes with their Wilson interval beside the model's prediction, and the assumptions the
answer rests on (the model's measured interval, lead and MTBF with their observation counts).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workerlab.thresholds.verdict import TABLE_DTYPES, Threshold, threshold

if TYPE_CHECKING:
    from workerlab.thresholds.search import _Search

__all__ = ["search_table", "search_threshold", "sentence", "text", "html_text", "search_dict"]

#: the model's columns beside the measured ones
PRED_COLUMNS = {"p_pred": "p_meet", "median_pred_s": "median_s", "bound_s": "bound_s"}


def search_table(
    rows: list[dict[str, Any]],
    counts: list[int],
    pred: pd.DataFrame | None,
    level: float,
    confidence: float,
) -> pd.DataFrame:
    """One row per allowed count: the measured figures (``runs`` 0 where none ran) and the prediction.

    ``rows``: one dict per counted run (``workers, met, reached, elapsed_s, bound_s``), judged once
    when the run ended: this is rebuilt after every run, on the loop that runs the others, so it
    must stay cheap (summarising every log again each time would delay their lines).
    """
    from workerlab.thresholds.design import wilson_interval

    runs = pd.DataFrame(rows, columns=["workers", "met", "reached", "elapsed_s", "bound_s"])
    out = []
    for w in counts:
        g = runs[runs["workers"] == w]
        n, k = len(g), int(g["met"].sum())
        lo, hi = wilson_interval(k, n, confidence) if n else (math.nan, math.nan)
        el = g.loc[g["reached"].astype(bool), "elapsed_s"].to_numpy(dtype="float64")
        el = el[np.isfinite(el)]
        out.append(
            {
                "workers": w,
                "runs": n,
                "successes": k,
                "not_reached": int((~g["reached"].astype(bool)).sum()),
                "success_rate": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
                "median_elapsed_s": float(np.median(el)) if len(el) else math.nan,
                "p95_elapsed_s": float(np.percentile(el, 95)) if len(el) else math.nan,
            }
        )
    t = pd.DataFrame(out).astype({c: d for c, d in TABLE_DTYPES.items() if c != "median_bound_s"})
    if pred is not None:
        p = pred.rename(columns={v: k for k, v in PRED_COLUMNS.items()})[["workers", *PRED_COLUMNS]]
        return t.merge(p, on="workers", how="left")
    bound = runs.groupby("workers")["bound_s"].median()
    return t.assign(
        p_pred=math.nan, median_pred_s=math.nan, bound_s=t["workers"].map(bound).astype("float64")
    )


def search_threshold(search: _Search, table: pd.DataFrame, wall_s: float) -> Threshold:
    """The ``Threshold`` of a search's state (finished, or stopped part way)."""
    step = search._plan() if search.pred is not None else None
    conclusive = bool(step is not None and step.done and step.conclusive)
    measured = table[table["runs"] > 0]
    plain = None
    if not measured.empty:
        plain = threshold(
            pd.concat(search.counted, ignore_index=True),
            search.deadline,
            search.level,
            confidence=search.confidence,
        )
    workers = step.candidate if conclusive and step is not None else (plain.workers if plain else None)
    row = measured[measured["workers"] == workers]
    strong = bool(not row.empty and row["ci_low"].iloc[0] >= search.level)
    from workerlab.thresholds.verdict import repeats_needed

    needed = (
        repeats_needed(
            int(row["successes"].iloc[0]), int(row["runs"].iloc[0]), search.level, search.confidence
        )
        if not row.empty
        else None
    )
    from workerlab.log import events

    return Threshold(
        workers=workers,
        table=table,
        strong=strong,
        repeats_needed=needed,
        level=search.level,
        deadline=search.deadline,
        confidence=search.confidence,
        conclusive=conclusive,
        runs_used=search.started,
        wall_s=wall_s,
        model=search.model,
        events=events.concat(search.frames) if search.frames else None,
        prediction=search.pred,
        reason="" if step is None else step.reason,
        pilot_runs=search.pilot_runs,
        interrupted=search.stopped,
    )


def _ci(r: pd.Series) -> str:
    return f"{r['ci_low']:.2f}–{r['ci_high']:.2f}"


def sentence(th: Threshold) -> str:
    """The answer in one sentence, with the two counts that decide it."""
    t = th.table
    dl, conf = f"{th.deadline:g} s", f"{th.confidence:.0%}"
    if th.conclusive and th.workers is not None:
        r = th.row()
        assert r is not None
        said = f"{th.workers} workers {int(r['successes'])}/{int(r['runs'])} met (CI {_ci(r)})"
        below = t[t["workers"] < th.workers].tail(1)  # the next smaller count allowed
        if not below.empty and int(below["runs"].iloc[0]) > 0:
            b = below.iloc[0]
            said += f", {int(b['workers'])} workers {int(b['successes'])}/{int(b['runs'])} (CI {_ci(b)})"
        elif not below.empty:
            said += f"; {int(below['workers'].iloc[0])} workers cannot meet it (bound above the deadline)"
        return (
            f"{th.workers} workers meet {dl} in at least {th.level:g} of runs: conclusive at {conf} "
            f"confidence ({said})"
        )
    head = "stopped before a conclusive answer" if th.interrupted else "not conclusive"
    if th.workers is not None:
        r = th.row()
        assert r is not None
        head += (
            f"; so far {th.workers} workers meet {dl} in {int(r['successes'])}/{int(r['runs'])} runs "
            f"(CI {_ci(r)})"
        )
    return head + (f": {th.reason}" if th.reason else "")


def _cost(th: Threshold) -> str:
    measured = int(th.table["runs"].sum())
    other = (th.runs_used or 0) - measured - th.pilot_runs
    parts = [f"{th.pilot_runs} pilot"] if th.pilot_runs else []
    parts.append(f"{measured} measured")
    if other > 0:
        parts.append(f"{other} stopped unfinished")
    return f"{th.runs_used} runs ({', '.join(parts)}) in {th.wall_s or 0:.0f} s wall"


def _shown(th: Threshold) -> tuple[pd.DataFrame, list[int]]:
    """The rows worth printing (measured, or predicted between 0.01 and 1) and the counts left out."""
    t = th.table
    keep = (t["runs"] > 0) | t["p_pred"].between(0.01, 0.999)
    return t[keep], t.loc[~keep, "workers"].astype(int).tolist()


def _span(counts: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1–3, 5"``."""
    groups: list[list[int]] = []
    for c in counts:
        if groups and c == groups[-1][-1] + 1:
            groups[-1].append(c)
        else:
            groups.append([c])
    return ", ".join(f"{g[0]}" if len(g) == 1 else f"{g[0]}–{g[-1]}" for g in groups)


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def text(th: Threshold) -> str:
    """str() of a search's ``Threshold``: answer, cost, evidence beside the model, assumptions."""
    rows, left = _shown(th)
    out = [sentence(th), _cost(th), ""]
    out.append(" workers  runs  met  share  95% CI      median s   p95 s | model p_meet  median s | bound s")
    for _, r in rows.iterrows():
        ci = "    –    " if r["runs"] == 0 else _ci(r)
        out.append(
            f"{int(r['workers']):8d}  {int(r['runs']):4d}  {int(r['successes']):3d}  "
            f"{_fmt(r['success_rate'], '5.2f'):>5}  {ci:<10}  {_fmt(r['median_elapsed_s'], '7.2f'):>8}  "
            f"{_fmt(r['p95_elapsed_s'], '6.2f'):>6} |  {_fmt(r['p_pred'], '11.3f'):>11}  "
            f"{_fmt(r['median_pred_s'], '8.2f'):>8} | {_fmt(r['bound_s'], '7.2f'):>7}"
        )
    if left:
        out.append(f"not measured: {_span(left)} workers (the model: p_meet below 0.01 or above 0.999)")
    if th.model is not None:
        out += ["", "assumptions: the answer holds for a worker and machine like this", repr(th.model)]
    return "\n".join(out)


def html_text(th: Threshold) -> str:
    """_repr_html_ of a search's ``Threshold``."""
    rows, left = _shown(th)
    table = rows.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="–")
    parts = [f"<p><b>{html.escape(sentence(th))}</b></p>", f"<p>{html.escape(_cost(th))}</p>", table]
    if left:
        parts.append(
            f"<p>not measured: {html.escape(_span(left))} workers (the model: p_meet below 0.01 or above 0.999)</p>"
        )
    if th.model is not None:
        parts.append(
            "<p>assumptions: the answer holds for a worker and machine like this</p>"
            f"<pre>{html.escape(repr(th.model))}</pre>"
        )
    return "\n".join(parts)


def search_dict(th: Threshold) -> dict[str, Any]:
    """The search's own JSON keys (``Threshold.to_dict`` adds the threshold's)."""

    def plain(v: Any) -> Any:
        if hasattr(v, "item"):
            v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "runs_used": th.runs_used,
        "pilot_runs": th.pilot_runs,
        "wall_s": th.wall_s,
        "interrupted": th.interrupted,
        "reason": th.reason,
        "model": None if th.model is None else th.model.to_dict(),
        "model_text": None if th.model is None else repr(th.model),
        "table": [{k: plain(v) for k, v in r.items()} for r in th.table.to_dict("records")],
    }
