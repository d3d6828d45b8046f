"""``plot_overlay``: the throughput curves of several runs on one Axes, each labelled by its settings."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from workerlab.analysis import report
from workerlab.analysis import runs as analysis
from workerlab.config import DEADLINE
from workerlab.log import tidy
from workerlab.plots.style import COLORS, DEADLINE_STRETCH, TIME_LABEL, new_axes

__all__ = ["plot_overlay", "default_label"]


def default_label(row: pd.Series) -> str:
    """What the log alone says of a run's settings: workers and the measured interval."""
    workers = int(row["workers"])
    return f"{workers} worker{'s' if workers != 1 else ''} · interval {report.seconds(row['interval_s'])}"


def _result(row: pd.Series) -> str:
    """How the run ended: its time to the target, or its outcome."""
    outcome = None if pd.isna(row["outcome"]) else str(row["outcome"])
    return report.seconds(row["elapsed_s"]) if outcome == "reached" else (outcome or "running")


def plot_overlay(
    df: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    last: int | None = None,
    deadline: float | None = DEADLINE,
    ax: Axes | None = None,
) -> Axes:
    """Cumulative kept samples of each run of ``df`` (e.g. ``dash.history``), one line per run.

    ``labels`` maps a run_id to its legend text, e.g. the settings the run had (the event log
    does not record the emulator's interval or MTBF); a run without one is labelled by
    :func:`default_label`. Each label ends with how the run ended (``→ 9.05 s``, ``→ timeout``). ``last`` keeps only the last runs (in order of appearance). The
    target and the ``deadline`` are drawn as in ``plot_throughput``; the lines carry
    ``gid="run"`` and, as ``url``, their run_id.
    """
    p, run_ids = tidy.prepare(df)
    if len(run_ids) == 0:
        raise ValueError("the event log is empty: there is no run to overlay")
    ax = new_axes(ax, (7, 4.5))
    summ = analysis.summary(df, deadline=deadline if deadline is not None else math.inf)
    codes, t = p["_run"].to_numpy(), p["t"].to_numpy()
    kept = tidy.kept_mask(p)
    chosen = list(range(len(run_ids)))[-last:] if last else list(range(len(run_ids)))
    labels = labels or {}
    end, goals = 0.0, set()
    for k, r in enumerate(chosen):
        rid = str(run_ids[r])
        kt = np.sort(t[kept & (codes == r)])
        run_end = float(t[codes == r].max())
        end = max(end, run_end)
        row = summ.iloc[r]
        goals.add(int(row["target"]) if not pd.isna(row["target"]) else int(row["samples"]))
        (line,) = ax.step(
            np.concatenate([[0.0], kt, [max(run_end, kt[-1] if len(kt) else 0.0)]]),
            np.concatenate([[0], np.arange(1, len(kt) + 1), [len(kt)]]),
            where="post",
            lw=1.6,
            color=f"C{k % 10}",
            label=f"{labels.get(rid) or default_label(row)} → {_result(row)}",
            gid="run",
            zorder=3,
        )
        line.set_url(rid)
    for g in sorted(goals):
        ax.axhline(g, color=COLORS["target"], lw=0.9, ls=":", gid="target", zorder=1)
    far = deadline is not None and deadline > DEADLINE_STRETCH * end
    if deadline is not None:
        label = f"deadline {deadline:g} s" + (" (off the axis, →)" if far else "")
        ax.axvline(deadline, color=COLORS["deadline"], lw=1.1, ls="--", gid="deadline", label=label, zorder=1)
    right = end if far or deadline is None else max(end, deadline)
    ax.set_xlim(0, right * 1.03 or 1.0)
    ax.set_ylim(0, max(goals, default=1) * 1.06)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("kept samples (cumulative)")
    n = len(chosen)
    ax.set_title("throughput" if n == 1 else f"throughput — the last {n} runs")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return ax
