"""``plot_latency``: the distributions of the latencies that matter, on a log seconds axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from workerlab.analysis import runs as analysis
from workerlab.plots.style import COLORS, KIND_LABELS, LATENCY_FLOOR, STRIP_MAX, new_axes, seconds

__all__ = ["plot_latency"]


def plot_latency(df: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Distributions of the latencies that matter, one row per kind, on a log seconds axis.

    Kinds (see ``analysis.latencies``): gap between consecutive samples of a process, spawn →
    ready, connect → first sample, and crash/stall → next sample of that worker. Each row is a
    box (median, quartiles, 5–95 % whiskers, all values) over a jittered strip of the values
    (sub-sampled to ``STRIP_MAX`` per kind); the tick label gives n and the median. Runs of a
    sweep are pooled.
    """
    lat = analysis.latencies(df)
    n_runs = pd.unique(df["run_id"]).size
    if n_runs == 0:
        raise ValueError("the event log is empty: there are no latencies to plot")
    ax = new_axes(ax, (7, 4.5))
    kinds = list(analysis.LATENCY_KINDS)
    rng = np.random.default_rng(0)
    data, positions, labels = [], [], []
    strip_x, strip_y, strip_c = [], [], []
    palette = ["#4c72b0", "#937860", "#8172b2", COLORS["restart"]]
    for i, kind in enumerate(kinds):
        v = lat.loc[lat["kind"] == kind, "seconds"].to_numpy(dtype="float64")
        v = v[np.isfinite(v)]
        y = len(kinds) - i  # first kind on top
        label = KIND_LABELS[kind]
        if len(v):
            low = int((v <= LATENCY_FLOOR).sum())
            label += f"\nn={len(v)} · median {seconds(float(np.median(v)))}"
            if low:
                label += f" · {low} ≤ {seconds(LATENCY_FLOOR)}"
            v = np.maximum(v, LATENCY_FLOOR)
            data.append(v)
            positions.append(y)
            shown = v if len(v) <= STRIP_MAX else rng.choice(v, STRIP_MAX, replace=False)
            strip_x.append(shown)
            strip_y.append(y + rng.uniform(-0.22, 0.22, len(shown)))
            strip_c += [palette[i]] * len(shown)
        else:
            label += "\nn=0"
        labels.append((y, label))
    if data:
        bp = ax.boxplot(
            data,
            positions=positions,
            orientation="horizontal",
            widths=0.55,
            whis=(5, 95),
            showfliers=False,
            patch_artist=True,
            manage_ticks=False,
            zorder=2,
            medianprops={"color": "black", "lw": 1.6},
        )
        for box, y in zip(bp["boxes"], positions):
            box.set_facecolor(mcolors.to_rgba(palette[len(kinds) - y], 0.25))
            box.set_edgecolor(palette[len(kinds) - y])
            box.set_gid("box")
        xs = np.concatenate(strip_x)
        lo, hi = min(v.min() for v in data), max(v.max() for v in data)
        ax.set_xlim(lo / 2.5, hi * 2.5)  # breathing room on the log axis: no box on the frame
        ax.scatter(
            xs,
            np.concatenate(strip_y),
            s=6 if len(xs) < 3000 else 2,
            c=strip_c,
            alpha=0.45,
            linewidths=0,
            zorder=3,
            gid="strip",
            rasterized=len(xs) > 3000,
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_yticks([y for y, _ in labels], [lab for _, lab in labels], fontsize="small")
    ax.set_ylim(0.4, len(kinds) + 0.6)
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("latencies" if n_runs <= 1 else f"latencies — {n_runs} runs pooled")
    ax.grid(True, axis="x", which="major", alpha=0.3)
    return ax
