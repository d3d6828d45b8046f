"""The dashboard's frame: throughput, worker timeline and latencies of one run, drawn in place.

:class:`LiveFigure` makes its figure and every artist once. A frame computes the run's numbers
once (``workerlab.analysis.livestats.snapshot``), sets them on the artists (``set_data``,
``set_offsets``, ``set_verts``, ``set_segments``) and draws. Axis limits move in steps (the
time axis grows by a quarter when the run outlasts it, the latency axis by decades), so most
frames change only the data: the figure's static part (axes, ticks, labels, legends) is then
restored from the pixels saved at the last full draw and only the data artists are drawn on
it (blitting). Pillow encodes the pixels: live frames as JPEG (a fraction of the cost of any
PNG), a finished run's frame as PNG at compression level 1.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from workerlab.analysis.livestats import LiveLog, LiveStats, Snapshot, snapshot
from workerlab.plots.live_panels import LatencyPanel, ThroughputPanel, TimelinePanel
from workerlab.plots.style import DEADLINE_STRETCH

__all__ = ["LiveFigure", "FIG_SIZE", "FIG_DPI"]

#: the frame's size (inches) and resolution: 1040 x 520 px, a few tens of kB as PNG
FIG_SIZE = (13.0, 6.5)
FIG_DPI = 80
#: how the time axis grows when a run outlasts it
_GROW = 1.25


class LiveFigure:
    """The dashboard's figure: made once, redrawn frame after frame with its artists updated.

    ``render(df, deadline=..., live=...)`` draws a frame and returns ``(png, stats)``. The
    artists are attributes of the panels (``throughput``, ``timeline``, ``latency``) and
    stay the same objects from one frame to the next; ``full_draws`` counts the frames that
    had to draw the static part again, ``frames`` all of them.
    """

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = Figure(figsize=FIG_SIZE, dpi=FIG_DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        grid = self.figure.add_gridspec(
            2,
            2,
            width_ratios=[1.0, 1.15],
            height_ratios=[1.25, 1.0],
            left=0.105,
            right=0.855,
            bottom=0.08,
            top=0.95,
            wspace=0.15,
            hspace=0.38,
        )
        self.throughput = ThroughputPanel(self.figure.add_subplot(grid[0, 0]))
        self.latency = LatencyPanel(self.figure.add_subplot(grid[1, 0]))
        self.timeline = TimelinePanel(self.figure.add_subplot(grid[:, 1]))
        self.dynamic: list[Artist] = [*self.throughput.dynamic, *self.timeline.dynamic, *self.latency.dynamic]
        self.frames = 0
        self.full_draws = 0
        self._key: tuple | None = None
        self._xmax: float | None = None
        self._span: tuple[float, float] | None = None
        self._end = -math.inf
        self._background: Any = None

    def _time_axis(self, s: Snapshot, deadline: float | None) -> float:
        """The time axis' end: the deadline if it is near, else the run; kept while it fits."""
        bound = s.bound_s
        need = max(s.end_s, bound if math.isfinite(bound) else 0.0, 1e-3)
        want = need
        if deadline is not None and (not math.isfinite(bound) or deadline <= DEADLINE_STRETCH * need):
            want = max(need, deadline)
        current = self._xmax
        if current is not None and want <= current <= 2.5 * want:
            return current
        return want * (1.03 if want == deadline else _GROW)

    def draw(self, s: Snapshot, *, live: bool) -> None:
        """Set the snapshot ``s`` on the artists and draw (only the data, when the layout held)."""
        self.throughput.update(s)
        self.timeline.update(s)
        span = self.latency.update(s)
        if s.end_s < self._end:  # time went back: another run, whose axes start afresh
            self._xmax = self._span = None
        self._end = s.end_s
        if self._span is not None:  # the latency axis only grows during a run
            span = (min(span[0], self._span[0]), max(span[1], self._span[1]))
        self._span = span
        deadline = s.stats.deadline
        self._xmax = xmax = self._time_axis(s, deadline)
        lanes = tuple(sorted(set(range(1, s.n_workers + 1)) | set(s.sample_worker.tolist())))
        key = (live, xmax, s.stats.target, deadline, s.n_workers, lanes, span)
        if key != self._key or self._background is None:
            self.throughput.layout(
                xmax=xmax, target=s.stats.target, deadline=deadline, live=live, workers=s.n_workers
            )
            self.timeline.layout(xmax=xmax, lanes=lanes, live=live)
            self.latency.layout(span=span, live=live)
            self.canvas.draw()  # everything but the animated (data) artists
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._key = key
            self.full_draws += 1
        else:
            self.canvas.restore_region(self._background)
        renderer = self.canvas.get_renderer()
        for artist in self.dynamic:
            if artist.get_visible():
                artist.draw(renderer)
        self.frames += 1

    def encode(self, fmt: str = "png") -> bytes:
        """The pixels of the last frame: ``"png"`` (RGB, zlib level 1) or ``"jpeg"`` (quality 90).

        Live frames are JPEG: Pillow encodes one in about a tenth of the time of even a level-1
        PNG (``benchmarks/dashboard_frames.py`` measures both), at a similar size; a finished
        run's frame is PNG, crisp for screenshots.
        """
        from PIL import Image

        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        if fmt == "jpeg":
            image.convert("RGB").save(out, format="JPEG", quality=90)
        else:
            image.convert("RGB").save(out, format="PNG", compress_level=1)
        return out.getvalue()

    def render(
        self,
        df: pd.DataFrame,
        *,
        deadline: float | None,
        live: bool = False,
        now: float | None = None,
        target: int | None = None,
        fmt: str = "png",
    ) -> tuple[bytes, LiveStats]:
        """One frame of the event log ``df`` (its first run), encoded, with the run's counters."""
        s = snapshot(df, deadline=deadline, now=now, target=target)
        self.draw(s, live=live)
        return self.encode(fmt), s.stats

    def render_live(
        self, log: LiveLog, records: Sequence[tuple], *, deadline: float | None, now: float
    ) -> tuple[bytes, LiveStats]:
        """A live frame (JPEG): ``records`` new since the last frame folded into ``log``, then drawn."""
        log.feed(records)
        s = log.snapshot(deadline=deadline, now=now)
        self.draw(s, live=True)
        return self.encode("jpeg"), s.stats
