"""A run's report in words: one ``wl.summary`` row → a headline and key/value lines.

The CLI (``workerlab run``), the title of ``wl.plot_run`` and the dashboard's summary all say
the same thing about a run, so they say it with these functions: the same row gives the same
words everywhere. ``row`` is a row of :func:`workerlab.summary` (a ``pandas.Series``) or the
same fields as a mapping (the CLI's JSON record, NA as None).
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from workerlab.config import DEADLINE

if TYPE_CHECKING:
    import pandas as pd

    from workerlab.analysis.livestats import LiveStats

__all__ = [
    "report",
    "Report",
    "headline",
    "details",
    "title",
    "text",
    "html",
    "summary_html",
    "live_details",
    "seconds",
    "Row",
]

#: A ``wl.summary`` row, or the same fields in a mapping.
Row: TypeAlias = "pd.Series | Mapping[str, Any]"


def _na(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array is not a missing value
        return False


def seconds(x: Any) -> str:
    """A duration for people: ``9.09 s``, ``350 ms``, ``1.5 ms``, ``40 µs``; ``n/a`` if unknown."""
    if _na(x) or not math.isfinite(float(x)):
        return "n/a"
    x = float(x)
    if x >= 0.995:
        return f"{x:.2f} s"
    if x >= 0.00995:
        return f"{x * 1e3:.0f} ms"
    if x >= 0.000995:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


def _count(n: Any, noun: str) -> str:
    n = int(n)
    return f"{n} {noun}{'' if n == 1 else 'es' if noun.endswith('sh') else 's'}"


def _target(row: Row) -> int:
    return int(row["samples"] if _na(row["target"]) else row["target"])


def _outcome(row: Row) -> str | None:
    return None if _na(row["outcome"]) else str(row["outcome"])


def _deadline(row: Row, deadline: float | None) -> float:
    """The deadline to report against: ``deadline`` if given, else the row's ``deadline_s`` (what the
    run was judged at), else the challenge's 10 s."""
    if deadline is not None:
        return float(deadline)
    given = row.get("deadline_s")
    return DEADLINE if given is None or _na(given) else float(given)


def headline(row: Row, *, deadline: float | None = None) -> str:
    """One line: samples, workers, time against the deadline (or how the run ended), faults.

    ``deadline``: None reports against the row's own (``deadline_s``), as every function here does."""
    deadline = _deadline(row, deadline)
    took = f"{row['samples']} samples from {_count(row['workers'], 'worker')}"
    outcome = _outcome(row)
    if outcome == "reached":
        met = "met" if row["deadline_met"] else "missed"
        took += f" in {seconds(row['elapsed_s'])} (deadline {deadline:g} s {met})"
    else:
        took += f" — target of {_target(row)} not reached ({outcome or 'outcome unknown'})"
    return " · ".join(
        [
            took,
            f"{row['numbers_processed']} numbers processed",
            _count(row["crashes"], "crash"),
            _count(row["restarts"], "restart"),
            _count(row["stalls"], "stall"),
        ]
    )


def _ahead(efficiency: float, row: Row) -> str:
    """Why a run can beat the bound: it assumes one number a worker per interval from the first request."""
    if efficiency <= 1:
        return ""
    restarts, lead, interval = row["restarts"], row["lead_s"], row["interval_s"]
    quick = not (_na(lead) or _na(interval)) and float(lead) < float(interval)
    if not _na(restarts) and int(restarts) > 0 and quick:
        return ": ahead of the bound, since a restarted worker's first number comes after the lead, not an interval later"
    return ": ahead of the bound, which assumes one number a worker per measured interval"


def details(row: Row, *, deadline: float | None = None) -> list[tuple[str, str]]:
    """The key/value lines of the report, in reading order."""
    deadline = _deadline(row, deadline)
    eff = row["efficiency"]
    efficiency = "n/a" if _na(eff) else f"{float(eff):.3f}" + _ahead(float(eff), row)
    met = row["deadline_met"]
    return [
        ("outcome", _outcome(row) or "unknown (no run-level row)"),
        ("samples kept", f"{row['samples']} of {_target(row)}"),
        ("numbers processed", str(row["numbers_processed"])),
        (
            "total time",
            f"{seconds(row['elapsed_s'])} (bound {seconds(row['bound_s'])}, efficiency {efficiency})",
        ),
        ("measured pace", f"interval {seconds(row['interval_s'])}, lead {seconds(row['lead_s'])}"),
        ("crashes / restarts / stalls", f"{row['crashes']} / {row['restarts']} / {row['stalls']}"),
        (f"deadline {deadline:g} s", "n/a" if _na(met) else "met" if met else "missed"),
    ]


def title(row: Row, *, deadline: float | None = None) -> str:
    """Two lines for a figure's title: the headline, then total time and measured pace."""
    lines = dict(details(row, deadline=deadline))
    second = f"total time {lines['total time']} · measured pace {lines['measured pace']}"
    return f"{headline(row, deadline=deadline)}\n{second}"


def text(row: Row, *, deadline: float | None = None) -> str:
    """The report as plain text (``workerlab run``): ``run <id>: <headline>``, then aligned lines."""
    lines = details(row, deadline=deadline)
    width = max(len(key) for key, _ in lines) + 3
    body = [f"  {key:<{width}}{value}" for key, value in lines]
    return "\n".join([f"run {row['run_id']}: {headline(row, deadline=deadline)}", *body])


def html(row: Row, *, deadline: float | None = None) -> str:
    """The report as HTML (the dashboard): the headline, then a two-column table."""
    esc = _html.escape
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1.5em'>{esc(key)}</th>"
        f"<td style='text-align:left'>{esc(value)}</td></tr>"
        for key, value in details(row, deadline=deadline)
    )
    return (
        f"<div class='workerlab-summary-headline'>{esc(headline(row, deadline=deadline))}</div>"
        f"<table class='workerlab-summary-table'>{cells}</table>"
    )


def summary_html(df: pd.DataFrame, *, deadline: float | None = None) -> str:
    """:func:`html` of the first run of the event log ``df`` (the dashboard's summary)."""
    from workerlab.analysis.runs import summary

    return html(summary(df, deadline=deadline).iloc[0])


@dataclass(frozen=True)
class Report:
    """A log's runs in words (``wl.report``): ``text`` as ``workerlab run`` prints it, ``html`` as
    the dashboard shows it; printed or shown in a notebook as itself."""

    text: str
    html: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


def report(df: pd.DataFrame, *, run_id: str | None = None, deadline: float | None = None) -> Report:
    """The report of each run of the event log ``df`` (or of ``run_id`` only) in words.

    Each run is judged at ``deadline`` if given, else at the deadline it was made with (its log
    records it: 10 intervals of the pace unless one was given), as ``wl.summary`` does.
    """
    from workerlab.analysis.runs import summary
    from workerlab.log.tidy import select_run

    rows = summary(select_run(df, run_id)[0] if run_id is not None else df, deadline=deadline)
    if rows.empty:
        raise ValueError("the event log is empty: there is no run to report")
    records = [r for _, r in rows.iterrows()]
    return Report("\n\n".join(text(r) for r in records), "".join(html(r) for r in records))


def live_details(stats: LiveStats) -> list[tuple[str, str]]:
    """The counters of a run in progress (or just ended): the dashboard's live panel, in order."""
    running = stats.outcome is None
    rate = "n/a" if math.isnan(stats.rate) else f"{stats.rate:.1f} samples/s"
    if stats.outcome == "reached":
        eta = f"reached at {seconds(stats.elapsed_s)}"
    elif not running:
        eta = f"not reached ({stats.outcome})"
    elif math.isnan(stats.eta_s):
        eta = "n/a"
    else:
        eta = f"{seconds(stats.eta_s)} → done at ≈ {seconds(stats.finish_s)}"
    on_track = stats.on_track
    if stats.deadline is None or on_track is None:
        verdict = "n/a"
    elif running:
        late = seconds(stats.finish_s - stats.deadline)
        verdict = "on track" if on_track else f"late by ≈ {late}"
    else:
        verdict = "met" if on_track else "missed"
    deadline = "deadline" if stats.deadline is None else f"deadline {stats.deadline:g} s"
    return [
        ("rate", rate),
        ("samples", f"{stats.samples} of {stats.target}"),
        ("time", seconds(stats.now_s) if stats.now_s > 0 else "0 s"),
        ("time to target", eta),
        (deadline, verdict),
        ("crashes / restarts / stalls", f"{stats.crashes} / {stats.restarts} / {stats.stalls}"),
    ]
