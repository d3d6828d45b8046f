"""A search's evidence in numbers, and the fresh run that would settle what it left open.

The parts of a search's answer (``workerlab.thresholds.result``) that need no ``SearchResult``:
the tidy per-count frame (``evidence_frame``, what ``SearchResult.to_frame`` returns and
``wl.plot_search`` draws), the per-count table in text (``table_lines``), the conditions and the
model in one line each, and the fresh search a result that is not conclusive names (``FreshRun``: the
command with the flags that reproduce the settings, and its time as runs x the typical run time
measured).

Each count's evidence is the runs its exact plan counted (in start order, to the decision) where
it had a plan, else every run measured at it. Its interval is exact for the plan where the plan's
decision carries one (``ci_low``/``ci_high`` in the decision: ``ci_kind`` "plan-exact"); else it
is the two-sided Clopper-Pearson interval of those runs (``ci_kind`` "fixed-sample"), which is
exact for a fixed number of runs but not for a plan that may stop at several looks.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workerlab.analysis.overlap import RunsAtOnce
from workerlab.config import MAX_LINE, MAX_LIVE_WORKERS, MAX_WORKERS, START_TIMEOUT
from workerlab.log import events as event_log
from workerlab.model.interference import Interference
from workerlab.model.model import Model
from workerlab.thresholds.exact import BELOW, MEETS, fresh_runs
from workerlab.thresholds.pilot import PILOT_RUNS
from workerlab.thresholds.settings import SearchSettings
from workerlab.thresholds.stats import cp_interval, repeats_needed

__all__ = [
    "FRAME_DTYPES",
    "evidence_frame",
    "table_lines",
    "typical_run_s",
    "conditions_line",
    "model_line",
    "FreshRun",
    "fresh_run",
    "fresh_command",
    "fresh_runs_for",
    "DEFAULT_MAX_RUNS",
]

#: column -> dtype of ``SearchResult.to_frame()``, in column order
FRAME_DTYPES: dict[str, str] = {
    "workers": "int64",
    "role": "string",  # answer, below, planned, screen, measured; <NA> where nothing ran
    "decision": "string",  # the plan's: meets, below, inconclusive; <NA> without a plan or still open
    "runs": "int64",  # the runs the evidence rests on
    "successes": "int64",
    "success_rate": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "ci_kind": "string",  # plan-exact or fixed-sample
    "measured_runs": "int64",  # every run measured at the count (>= runs: runs started past a decision)
    "median_elapsed_s": "float64",
    "p95_elapsed_s": "float64",
    "p_pred": "float64",
    "median_pred_s": "float64",
    "bound_s": "float64",
    "at_once_mean": "float64",  # runs in flight while this count's runs ran (1: alone)
    "at_once_max": "Int64",
}

#: the run options without a command-line flag, at their defaults
_DEFAULTS = {"stall_after": None, "start_timeout": START_TIMEOUT}
#: ``find_threshold``'s and ``workerlab threshold``'s budget of measured runs
DEFAULT_MAX_RUNS = 400


def _evidence(
    row: pd.Series, d: Mapping[str, Any] | None, confidence: float
) -> tuple[int, int, float, float, str]:
    """(successes, runs, ci_low, ci_high, ci_kind) of one count: its plan's counted runs, or every run."""
    if d is not None and d["runs"] > 0:
        k, n = int(d["successes"]), int(d["runs"])
        if d.get("ci_low") is not None and d.get("ci_high") is not None:
            return k, n, float(d["ci_low"]), float(d["ci_high"]), "plan-exact"
        return k, n, *cp_interval(k, n, confidence), "fixed-sample"
    k, n = int(row["successes"]), int(row["runs"])
    if n == 0:
        return 0, 0, math.nan, math.nan, ""
    return k, n, float(row["ci_low"]), float(row["ci_high"]), "fixed-sample"


def evidence_frame(
    table: pd.DataFrame,
    decisions: Iterable[Mapping[str, Any]],
    *,
    answer: int | None,
    below: int | None,
    screened: Iterable[int],
    per_count: Mapping[int, tuple[float, int]],
    confidence: float,
) -> pd.DataFrame:
    """One row per allowed count (``FRAME_DTYPES``): the evidence, the measured times, the prediction
    and the runs at once. ``table``: the search's table; ``decisions``: its plans; ``answer``/``below``:
    the count the result names and the next smaller allowed one; ``per_count``: ``{workers: (mean,
    max)}`` runs in flight (``RunsAtOnce.per_count``)."""
    plans = {int(d["workers"]): d for d in decisions}
    screens = {int(w) for w in screened}
    rows = []
    for _, r in table.iterrows():
        w = int(r["workers"])
        d = plans.get(w)
        k, n, lo, hi, kind = _evidence(r, d, confidence)
        role = "answer" if w == answer else "below" if w == below else None
        role = role or ("planned" if d else "screen" if w in screens else "measured" if n else None)
        mean, most = per_count.get(w, (math.nan, None))
        rows.append(
            {
                "workers": w,
                "role": role if n or role in ("answer", "below") else None,
                "decision": None if d is None else d["decision"],
                "runs": n,
                "successes": k,
                "success_rate": k / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
                "ci_kind": kind or None,
                "measured_runs": int(r["runs"]),
                **{c: float(r.get(c, math.nan)) for c in ("median_elapsed_s", "p95_elapsed_s")},
                **{c: float(r.get(c, math.nan)) for c in ("p_pred", "median_pred_s", "bound_s")},
                "at_once_mean": mean,
                "at_once_max": most,
            }
        )
    return pd.DataFrame(rows, columns=list(FRAME_DTYPES)).astype(FRAME_DTYPES)


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _span(counts: list[int], dash: str = "–", comma: str = ", ") -> str:
    """``[1, 2, 3, 5]`` -> ``"1–3, 5"`` (for people), or ``"1-3,5"`` with ``"-", ","`` (for ``--workers``)."""
    groups: list[list[int]] = []
    for c in counts:
        if groups and c == groups[-1][-1] + 1:
            groups[-1].append(c)
        else:
            groups.append([c])
    return comma.join(f"{g[0]}" if len(g) == 1 else f"{g[0]}{dash}{g[-1]}" for g in groups)


def table_lines(table: pd.DataFrame, ci: str) -> list[str]:
    """A search's table in text: the rows worth printing (measured, or predicted between 0.01 and
    0.999), then the counts left out; ``ci`` names the interval column."""
    keep = (table["runs"] > 0) | table["p_pred"].between(0.01, 0.999)
    out = [f" workers  runs  met  share  {ci:<10}  median s   p95 s | model p_meet  median s | bound s"]
    for _, r in table[keep].iterrows():
        interval = "    –    " if r["runs"] == 0 else f"{r['ci_low']:.2f}–{r['ci_high']:.2f}"
        out.append(
            f"{int(r['workers']):8d}  {int(r['runs']):4d}  {int(r['successes']):3d}  "
            f"{_fmt(r['success_rate'], '5.2f'):>5}  {interval:<10}  {_fmt(r['median_elapsed_s'], '7.2f'):>8}  "
            f"{_fmt(r['p95_elapsed_s'], '6.2f'):>6} |  {_fmt(r['p_pred'], '11.3f'):>11}  "
            f"{_fmt(r['median_pred_s'], '8.2f'):>8} | {_fmt(r['bound_s'], '7.2f'):>7}"
        )
    left = table.loc[~keep, "workers"].astype(int).tolist()
    if left:
        out.append(f"not measured: {_span(left)} workers (the model: p_meet below 0.01 or above 0.999)")
    return out


def conditions_line(runs: RunsAtOnce | None, interference: Interference | None, counts: Iterable[int]) -> str:
    """The conditions a result holds under, in one line: runs at once (overall, and for ``counts``:
    alone or up to how many) and the interference measured."""
    if runs is None:
        return "conditions: runs at once not recorded"
    per = runs.per_count
    each = ", ".join(
        f"{w} workers " + ("alone" if per[w][1] == 1 else f"up to {per[w][1]} at once")
        for w in counts
        if w in per
    )
    out = f"conditions: runs at once up to {runs.max} (mean {runs.mean:.2g})" + (f": {each}" if each else "")
    if interference is None or not interference.measured:
        shared = "" if runs.alone else " (WARNING: runs shared the machine)"
        return out + "; interference: not measured" + shared
    i = interference
    if math.isfinite(i.shift_s) and math.isfinite(i.shift_high_s):
        ci = f"{i.confidence:.0%} CI {i.shift_low_s * 1e3:+.0f} to {i.shift_high_s * 1e3:+.0f} ms"
        return out + f"; interference: {i.shift_s * 1e3:+.0f} ms side by side ({ci})"
    return out + "; interference: unknown (no count measured both alone and side by side)"


def model_line(model: Model | None) -> str:
    """What the answer holds for, in one line: this machine and worker as the model measured them."""
    said = "this machine and worker as measured"
    if model is None:
        return f"holds for: {said} (no model: stopped before one was made)"
    crash = (
        "never crashes"
        if model.mtbf == 0
        else f"MTBF {'>= ' if model.mtbf_is_bound else ''}{model.mtbf:.3g} s"
    )
    src = f"model from {model.runs} runs" if model.runs else "a given model"
    return f"holds for: {said} (interval {model.interval:.3g} s, lead {model.lead:.2f} s, {crash}; {src})"


def typical_run_s(events: pd.DataFrame | None, table: pd.DataFrame, deadline: float) -> float:
    """A typical run's duration (s): the median end of the runs in ``events`` (their run-level rows),
    else the median of the table's median elapsed times, else ``deadline``."""
    if events is not None and not events.empty:
        ends = event_log.run_stops(events)["t"].to_numpy(dtype="float64")
        ends = ends[np.isfinite(ends)]
        if ends.size:
            return float(np.median(ends))
    med = table["median_elapsed_s"].to_numpy(dtype="float64")
    med = med[np.isfinite(med)]
    return float(np.median(med)) if med.size else float(deadline)


def fresh_runs_for(rate: float, level: float, confidence: float) -> int | None:
    """Runs of a fresh plan with an 80% chance to decide one count whose true rate is ``rate``
    (clipped to 0.001-0.999); ``rate`` NaN (nothing known): the fewest any plan needs to show
    ``level`` (72 at 0.95 and 95%); None where no plan of reasonable size decides."""
    if math.isnan(rate):
        return repeats_needed(0, 0, level, confidence)
    return fresh_runs(min(max(rate, 0.001), 0.999), level, confidence)


@dataclass(frozen=True)
class FreshRun:
    """A fresh search that would decide what a result left open: ``command`` (``workerlab
    threshold ...``), about ``runs`` runs (None: no plan of reasonable size decides) of about
    ``run_s`` seconds each."""

    command: str
    runs: int | None
    run_s: float

    @property
    def seconds(self) -> float | None:
        """Its time one run at a time: runs x the typical run time."""
        return None if self.runs is None else self.runs * self.run_s

    def estimate(self) -> str:
        """``about 81 runs x 9.1 s = 12 min, one at a time``."""
        if self.runs is None:
            return "no fresh plan of reasonable size decides at the rate measured (it sits at the level)"
        s = self.runs * self.run_s
        took = f"{s / 60:.2g} min" if s >= 120 else f"{s:.2g} s"
        return f"about {self.runs} runs x {self.run_s:.2g} s = {took}, one at a time"

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "runs": self.runs, "run_s": self.run_s, "seconds": self.seconds}


def _fresh_counts(
    allowed: list[int], open_: list[int], stopped: bool, planned: bool
) -> tuple[list[int], int | None, list[int]]:
    """(counts allowed, count below, counts to decide) of a fresh search: the counts left open, the
    allowed ones between them, the next smaller allowed (their count below; one less where none was
    allowed) and the next larger allowed; stopped before any plan: every count allowed; every count
    shown below: the largest and the next four."""
    if open_:
        smaller, larger = [c for c in allowed if c < open_[0]], [c for c in allowed if c > open_[-1]]
        below = smaller[-1] if smaller else (open_[0] - 1 if open_[0] > 1 else None)
        between = [c for c in allowed if open_[0] <= c <= open_[-1]]
        counts = {*open_, *between, *([below] if below else []), *larger[:1]}
        return sorted(counts), below, open_
    if stopped or not planned:
        return allowed, None, []
    return list(range(allowed[-1], allowed[-1] + 5)), allowed[-1], []


def fresh_run(
    frame: pd.DataFrame,
    decisions: Iterable[Mapping[str, Any]],
    *,
    answer: int | None,
    stopped: bool,
    settings: SearchSettings | None,
    events: pd.DataFrame | None,
    deadline: float,
    level: float,
    confidence: float,
) -> FreshRun:
    """The fresh search that would decide what a result left open (``frame``: its ``to_frame()``):
    its counts (``_fresh_counts``; the open ones are the plans without a decision of "meets" or
    "below", and the ``answer`` so far) and its runs: the pilot's, plus per count a fresh plan's at
    the rate measured there (predicted where nothing was; the count below at 0 when unknown)."""
    decisions = list(decisions)
    f = frame.set_index("workers")
    open_ = sorted(
        {int(d["workers"]) for d in decisions if d["decision"] not in (MEETS, BELOW)}
        | ({answer} if answer is not None else set())
    )
    counts, below, focus = _fresh_counts([int(w) for w in f.index], open_, stopped, bool(decisions))
    known = np.where(f["runs"] > 0, f["success_rate"], f["p_pred"]).astype("float64")
    rates = dict(zip((int(w) for w in f.index), known.tolist()))

    def rate(w: int, unknown: float) -> float:
        r = rates.get(w, math.nan)
        return unknown if math.isnan(r) else float(r)

    # a count to decide not known (nothing planned yet): the fewest runs any plan needs
    each = [fresh_runs_for(rate(w, math.nan), level, confidence) for w in focus] or [
        fresh_runs_for(math.nan, level, confidence)
    ]
    each += (
        [fresh_runs_for(rate(below, 0.0), level, confidence)]
        if below is not None and below not in focus
        else []
    )
    runs = None if None in each else PILOT_RUNS + sum(n or 0 for n in each)
    command = fresh_command(
        settings, counts, deadline=deadline, level=level, confidence=confidence, runs=runs
    )
    return FreshRun(command, runs, typical_run_s(events, frame, deadline))


def fresh_command(
    settings: SearchSettings | None,
    counts: list[int],
    *,
    deadline: float,
    level: float,
    confidence: float,
    runs: int | None,
) -> str:
    """``workerlab threshold --workers A-B ...`` for ``counts``, with the flags that reproduce
    ``settings`` (None: the question's own, and a note) but not its seed (a fresh search draws new
    runs), ``--max-workers`` where the counts pass the cap, and ``--max-runs`` raised to twice
    ``runs`` where the budget would not hold them."""
    hi = max(counts)
    flags = [f"--workers {_span(counts, '-', ',')}"]
    if settings is not None and settings.batch.samples != 150:
        flags.append(f"--samples {settings.batch.samples}")
    flags.append(f"--deadline {deadline:g}")
    flags += [f"--level {level:g}"] if level != 0.95 else []
    flags += [f"--confidence {confidence:g}"] if confidence != 0.95 else []
    cap = max(hi, MAX_WORKERS if settings is None else settings.batch.options.max_workers)
    flags += [f"--max-workers {cap}"] if cap != MAX_WORKERS else []
    if settings is None:
        return " ".join(["workerlab threshold", *flags, "(plus the run options you used)"])
    budget = settings.max_runs if runs is None or settings.max_runs >= runs else 2 * runs
    flags += [f"--max-runs {budget}"] if budget != DEFAULT_MAX_RUNS else []
    return " ".join(["workerlab threshold", *flags, *_option_flags(settings)])


def _option_flags(settings: SearchSettings) -> list[str]:
    """The run options and runs at once that differ from the command line's defaults, as its flags;
    the options it has no flag for, in a note."""
    b, o = settings.batch, settings.batch.options
    flags = [f"--worker-bin {shlex.quote(str(o.worker_bin))}"] if o.worker_bin is not None else []
    flags += [shlex.quote(f"--worker-arg={a}") for a in o.worker_args]
    numbers = (("interval", o.interval), ("mtbf", o.mtbf), ("timeout", o.timeout))
    flags += [f"--{k} {v:g}" for k, v in numbers if v is not None]
    flags += [f"--max-line {o.max_line}"] if o.max_line != MAX_LINE else []
    flags += [f"--parallel {b.parallel}"] if b.parallel is not None else []
    flags += [f"--max-live-workers {b.capacity}"] if b.capacity != MAX_LIVE_WORKERS else []
    unflagged = [f"{k}={getattr(o, k)!r}" for k, v in _DEFAULTS.items() if getattr(o, k) != v]
    return flags + (
        [f"(and {', '.join(unflagged)}: no flag, wl.find_threshold takes them)"] if unflagged else []
    )
