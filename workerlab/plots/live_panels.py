"""The panels of the dashboard's frame: each makes its artists once, then sets their data.

``plots.live.LiveFigure`` holds one of each. A panel's ``update(snapshot)`` only sets data on its
artists (which are ``animated``: drawn by the figure on top of its saved static part);
``layout(...)`` changes what is static (limits, ticks, titles, legends) and is called only when
the figure is about to draw everything again. ``dynamic`` lists the data artists.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workerlab.analysis import runs as analysis
from workerlab.analysis.livestats import Snapshot
from workerlab.plots.style import (
    COLORS,
    KIND_LABELS,
    LATENCY_FLOOR,
    MARKERS,
    STRIP_MAX,
    TIME_LABEL,
    legend_outside,
    mark,
    seconds,
)

__all__ = ["ThroughputPanel", "TimelinePanel", "LatencyPanel"]

_HALF = 0.3  # half the height of a timeline lane
_PALETTE = ["#4c72b0", "#937860", "#8172b2", COLORS["restart"]]


def _xy(x: Any, y: Any) -> np.ndarray:
    return np.column_stack([np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")]).reshape(-1, 2)


def _proxy(kind: str) -> Line2D:
    """A legend entry for the markers of one kind of event (as ``style.mark`` draws them)."""
    return Line2D(
        [],
        [],
        marker=MARKERS[kind],
        color=COLORS[kind],
        markeredgecolor="white",
        ls="",
        markersize=8,
        label=kind,
    )


def _animated(*artists: Artist) -> list[Artist]:
    for a in artists:
        a.set_animated(True)
    return list(artists)


class ThroughputPanel:
    """Cumulative kept samples against the ideal, the target and the deadline."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        (self.observed,) = ax.plot([], [], drawstyle="steps-post", color=COLORS["observed"], lw=1.8)
        (self.ideal,) = ax.plot([], [], drawstyle="steps-post", ls=(0, (4, 2)), lw=1.2, color=COLORS["ideal"])
        self.observed.set(gid="observed", zorder=3)
        self.ideal.set(gid="ideal", zorder=2)
        self.marks = {
            k: mark(ax, [], [], k, size=42 if k == "crash" else 26, zorder=5) for k in ("crash", "stall")
        }
        self.target = ax.axhline(1, color=COLORS["target"], lw=0.9, ls=":", gid="target", zorder=1)
        self.deadline = ax.axvline(0, color=COLORS["deadline"], lw=1.1, ls="--", gid="deadline", zorder=1)
        self.dynamic = _animated(self.observed, self.ideal, *self.marks.values())
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel("kept samples (cumulative)")
        ax.grid(True, alpha=0.25)

    def update(self, s: Snapshot) -> None:
        kt, n = s.kept_t, len(s.kept_t)
        self.observed.set_data(
            np.concatenate([[0.0], kt, [max(s.end_s, kt[-1] if n else 0.0)]]), [0, *range(1, n + 1), n]
        )
        for kind, artist in self.marks.items():
            ft = s.faults[kind][0]
            artist.set_offsets(_xy(ft, np.searchsorted(kt, ft, side="right")))
        lead, interval = s.lead_s, s.interval_s
        target = s.stats.target
        if math.isfinite(lead) and (math.isfinite(interval) or target <= s.n_workers):
            it, icum = analysis.ideal_curve(
                s.n_workers, target, lead, interval if math.isfinite(interval) else 0
            )
            self.ideal.set_data(it, icum)
        else:
            self.ideal.set_data([], [])

    def layout(self, *, xmax: float, target: int, deadline: float | None, live: bool, workers: int) -> None:
        ax = self.ax
        ax.set_xlim(0, xmax)
        ax.set_ylim(0, target * 1.06)
        self.target.set_ydata([target, target])
        far = deadline is not None and deadline > xmax
        self.deadline.set_visible(deadline is not None)
        if deadline is not None:
            self.deadline.set_xdata([deadline, deadline])
        ax.set_title("throughput — live" if live else "throughput")
        handles: list[Artist] = [
            Line2D([], [], color=COLORS["observed"], lw=1.8, label=f"observed ({workers} workers)"),
            Line2D([], [], color=COLORS["ideal"], lw=1.2, ls=(0, (4, 2)), label="ideal (perfect system)"),
            Line2D([], [], color=COLORS["target"], lw=0.9, ls=":", label=f"target {target}"),
        ]
        if deadline is not None:
            label = f"deadline {deadline:g} s" + (" (off the axis, →)" if far else "")
            handles.append(Line2D([], [], color=COLORS["deadline"], lw=1.1, ls="--", label=label))
        handles += [_proxy(kind) for kind in self.marks]
        ax.legend(handles=handles, loc="lower right", fontsize="small", framealpha=0.9)


class TimelinePanel:
    """A lane per worker slot: process lifetimes, sample ticks, faults, the moment of the target."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.bars = PolyCollection([], edgecolors="#7f7f7f", linewidths=0.4, zorder=1, gid="lifetimes")
        self.ticks = LineCollection([], linewidths=0.8, zorder=2, gid="samples")
        ax.add_collection(self.bars)
        ax.add_collection(self.ticks)
        self.marks = {
            k: mark(ax, [], [], k, size=46 * (1 if k == "crash" else 0.8), zorder=4)
            for k in ("crash", "stall", "restart", "error")
        }
        self.reached = ax.axvline(0, color=COLORS["reached"], lw=1.3, zorder=5, gid="reached", visible=False)
        self.dynamic = _animated(self.bars, self.ticks, *self.marks.values(), self.reached)
        self._fill = {
            "stop": COLORS["life_stop"],
            "crash": COLORS["life_crash"],
            "stall": COLORS["life_stall"],
        }
        self._tick_colors = (mcolor(COLORS["kept"]), mcolor(COLORS["unkept"]))
        ax.set_ylabel("worker id")
        ax.set_xlabel(TIME_LABEL)
        ax.grid(True, axis="x", alpha=0.25)
        handles: list[Artist] = [
            Patch(facecolor=color, edgecolor="#7f7f7f", label=f"process ({how})")
            for color, how in (
                (COLORS["life_stop"], "stopped"),
                (COLORS["life_crash"], "crashed"),
                (COLORS["life_stall"], "stalled"),
                (COLORS["life_open"], "running"),
            )
        ]
        handles += [
            Line2D([], [], color=COLORS["kept"], marker="|", ls="", markersize=9, label="sample (kept)"),
            Line2D(
                [], [], color=COLORS["unkept"], marker="|", ls="", markersize=9, label="sample (after target)"
            ),
        ]
        handles += [_proxy(kind) for kind in self.marks]
        handles.append(Line2D([], [], color=COLORS["reached"], lw=1.3, label="target reached"))
        legend_outside(ax, handles, 1.005)

    def update(self, s: Snapshot) -> None:
        start = s.proc_start
        end = np.where(np.isnan(s.proc_end), s.end_s, s.proc_end)
        w = s.proc_worker.astype("float64")
        verts = np.empty((len(start), 4, 2))
        verts[:, :, 0] = np.column_stack([start, end, end, start])
        verts[:, :, 1] = np.column_stack([w - _HALF, w - _HALF, w + _HALF, w + _HALF])
        self.bars.set_verts(list(verts))
        self.bars.set_facecolor([self._fill.get(k, COLORS["life_open"]) for k in s.proc_end_event.tolist()])
        seg = np.empty((len(s.sample_t), 2, 2))
        seg[:, :, 0] = s.sample_t[:, None]
        sw = s.sample_worker.astype("float64")
        seg[:, 0, 1], seg[:, 1, 1] = sw - _HALF * 0.8, sw + _HALF * 0.8
        self.ticks.set_segments(list(seg))
        kept, unkept = self._tick_colors
        self.ticks.set_color([kept if k else unkept for k in s.sample_kept.tolist()])
        for kind, artist in self.marks.items():
            t, wid = s.faults[kind]
            artist.set_offsets(_xy(t, wid - (_HALF + 0.05 if kind == "restart" else 0)))
        reached = s.stats.outcome == "reached" or (s.stats.samples >= s.stats.target and len(s.kept_t) > 0)
        self.reached.set_visible(reached)
        if reached:
            x = float(s.kept_t[-1])
            self.reached.set_xdata([x, x])

    def layout(self, *, xmax: float, lanes: tuple[int, ...], live: bool) -> None:
        ax = self.ax
        ax.set_xlim(0, xmax)
        ax.set_ylim(max(lanes) + 0.65, min(lanes) - 0.65)
        ax.set_yticks(lanes, [str(w) for w in lanes], fontsize="small" if len(lanes) > 8 else "medium")
        ax.set_title("worker timeline — live" if live else "worker timeline")


class LatencyPanel:
    """Per latency kind: a box (quartiles, 5–95 % whiskers, median) over a strip of the values."""

    KINDS = analysis.LATENCY_KINDS

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.rows = {kind: len(self.KINDS) - i for i, kind in enumerate(self.KINDS)}  # first kind on top
        self.strip = ax.scatter([], [], s=6, alpha=0.45, linewidths=0, zorder=3, gid="strip")
        self.boxes = PolyCollection([], linewidths=1.0, zorder=2, gid="box")
        self.lines = LineCollection([], colors="black", linewidths=1.0, zorder=4, gid="median")
        ax.add_collection(self.boxes)
        ax.add_collection(self.lines)
        self.labels = {
            kind: ax.text(
                0.995,
                y + 0.48,
                "",
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="top",
                fontsize="x-small",
            )
            for kind, y in self.rows.items()
        }
        self.dynamic = _animated(self.boxes, self.strip, self.lines, *self.labels.values())
        self._jitter = np.random.default_rng(0).uniform(-0.22, 0.22, STRIP_MAX)  # a point stays put
        ax.set_xscale("log")
        ax.set_yticks(list(self.rows.values()), [KIND_LABELS[k] for k in self.KINDS], fontsize="x-small")
        ax.set_ylim(0.4, len(self.KINDS) + 0.6)
        ax.set_xlabel("seconds (log scale)")
        ax.grid(True, axis="x", which="major", alpha=0.3)

    def update(self, s: Snapshot) -> tuple[float, float]:
        """Set the data; returns the decades the axis must span."""
        offsets: list[np.ndarray] = []
        colors: list[str] = []
        boxes: list[tuple[list[tuple[float, float]], str]] = []
        lines: list[list[tuple[float, float]]] = []
        lo, hi = math.inf, -math.inf
        for i, kind in enumerate(self.KINDS):
            v = s.latencies.get(kind, np.empty(0))
            v = np.maximum(v[np.isfinite(v)], LATENCY_FLOOR)
            y = self.rows[kind]
            if not len(v):
                self.labels[kind].set_text("n=0")
                continue
            p5, q1, med, q3, p95 = np.percentile(v, [5, 25, 50, 75, 95])
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
            shown = v if len(v) <= STRIP_MAX else v[np.linspace(0, len(v) - 1, STRIP_MAX).astype(int)]
            offsets.append(_xy(shown, y + self._jitter[: len(shown)]))
            colors += [_PALETTE[i]] * len(shown)
            boxes.append(([(q1, y - 0.27), (q3, y - 0.27), (q3, y + 0.27), (q1, y + 0.27)], _PALETTE[i]))
            lines += [[(med, y - 0.27), (med, y + 0.27)], [(p5, y), (q1, y)], [(q3, y), (p95, y)]]
            self.labels[kind].set_text(f"n={len(v)} · median {seconds(float(med))}")
        self.strip.set_offsets(np.concatenate(offsets) if offsets else np.empty((0, 2)))
        self.strip.set_facecolor(colors or ["none"])
        self.boxes.set_verts([b for b, _ in boxes])
        self.boxes.set_facecolor([mcolor(c, 0.25) for _, c in boxes])
        self.boxes.set_edgecolor([c for _, c in boxes])
        self.lines.set_segments(lines)
        if not math.isfinite(lo):
            return (1e-3, 10.0)
        return (10 ** math.floor(math.log10(lo / 2)), 10 ** math.ceil(math.log10(hi * 2)))

    def layout(self, *, span: tuple[float, float], live: bool) -> None:
        self.ax.set_xlim(*span)
        self.ax.set_title("latencies — live" if live else "latencies")


def mcolor(color: str, alpha: float | None = None) -> tuple[float, float, float, float]:
    from matplotlib import colors

    return colors.to_rgba(color, alpha)
