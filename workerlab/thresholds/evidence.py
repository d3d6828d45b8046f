"""A search's answer (``SearchResult``): measured evidence beside the model, in words, a table and JSON.

``search_table`` builds its table; ``SearchResult`` is what ``wl.find_threshold`` returns: the
answer, what it cost, per count the measured successes with their Wilson interval beside the
model's prediction, and the assumptions the answer rests on (the model's measured interval, lead
and MTBF with their observation counts).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workerlab.thresholds.stats import ci_label, count_table
from workerlab.thresholds.verdict import Threshold

if TYPE_CHECKING:
    from workerlab.model.model import Model

__all__ = ["SearchResult", "search_table"]

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


@dataclass(frozen=True)
class SearchResult(Threshold):
    """The answer of ``wl.find_threshold``: a ``Threshold`` with the search's own evidence.

    ``runs_used`` (every run started, the pilot's too), ``wall_s``, the ``model`` its plan came
    from, ``events`` (every run's event log, concatenated), ``prediction`` (``Model.predict`` per
    count), ``reason`` (the plan's last word), ``pilot_runs`` and ``interrupted``; its ``table``
    has a row per allowed count with the model's ``p_pred``, ``median_pred_s`` and ``bound_s``
    beside the measured figures (``runs`` 0 where none ran).
    """

    runs_used: int = 0
    wall_s: float = 0.0
    model: Model | None = field(default=None, repr=False)
    events: pd.DataFrame | None = field(default=None, repr=False)
    prediction: pd.DataFrame | None = field(default=None, repr=False)
    reason: str = ""
    pilot_runs: int = 0
    interrupted: bool = False

    @property
    def sentence(self) -> str:
        return sentence(self)

    def __str__(self) -> str:
        return text(self)

    def _repr_html_(self) -> str:
        return html_text(self)

    def to_dict(self) -> dict[str, Any]:
        return search_dict(self) | super().to_dict()


def _ci(r: pd.Series) -> str:
    return f"{r['ci_low']:.2f}–{r['ci_high']:.2f}"


def sentence(th: SearchResult) -> str:
    """The answer in one sentence, with the two counts that decide it."""
    t = th.table
    dl, conf = f"{th.deadline:g} s", f"{th.confidence * 100:.4g}%"
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


def _cost(th: SearchResult) -> str:
    measured = int(th.table["runs"].sum())
    other = (th.runs_used or 0) - measured - th.pilot_runs
    parts = [f"{th.pilot_runs} pilot"] if th.pilot_runs else []
    parts.append(f"{measured} measured")
    if other > 0:
        parts.append(f"{other} stopped unfinished")
    return f"{th.runs_used} runs ({', '.join(parts)}) in {th.wall_s or 0:.0f} s wall"


def _shown(th: SearchResult) -> tuple[pd.DataFrame, list[int]]:
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


def text(th: SearchResult) -> str:
    """str() of a search's ``Threshold``: answer, cost, evidence beside the model, assumptions."""
    rows, left = _shown(th)
    out = [sentence(th), _cost(th), *([th.conditions.text()] if th.conditions else []), ""]
    out.append(
        f" workers  runs  met  share  {ci_label(th.confidence):<10}  median s   p95 s | model p_meet  median s | bound s"
    )
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


def html_text(th: SearchResult) -> str:
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


def search_dict(th: SearchResult) -> dict[str, Any]:
    """The search's own JSON keys (``SearchResult.to_dict`` adds the threshold's)."""

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
