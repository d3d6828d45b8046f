"""The dashboard's memory of its runs, and the view that compares them.

Every run a dashboard makes (finished, stopped or failed part way, as long as it logged
something) is kept with the settings it had. ``History.log`` is one event log of all of them
(``workerlab.log.events.concat``: each keeps its own run_id); the compare view overlays the
throughput of the last ones (``plots.plot_overlay``), each labelled by its settings.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from workerlab.log import events
from workerlab.ui import render

__all__ = ["History", "ComparePanel", "settings_label"]

#: how many runs the compare view overlays by default
COMPARE_LAST = 5


def settings_label(settings: dict[str, Any]) -> str:
    """A run's settings in a legend: workers, pace, MTBF (or the binary), deadline."""
    workers = settings["workers"]
    text = f"{workers} worker{'s' if workers != 1 else ''}"
    if settings.get("worker_bin"):
        text += f" · {settings['worker_bin']}"
    else:
        text += f" · interval {settings['interval']:g} s · MTBF {settings['mtbf']:g} s"
    return text + f" · {settings['samples']} samples"


class History:
    """The runs of one dashboard, oldest first: event logs and the settings each had."""

    def __init__(self) -> None:
        self.logs: list[pd.DataFrame] = []
        self.settings: list[dict[str, Any]] = []

    def add(self, log: pd.DataFrame | None, kwargs: dict[str, Any], *, deadline: float) -> None:
        """Keep a run with its ``collect`` arguments (one that logged nothing is not a run to compare)."""
        if log is None or len(log) == 0:
            return
        self.logs.append(log)
        settings = {k: kwargs.get(k) for k in ("workers", "samples", "interval", "mtbf", "worker_bin")}
        self.settings.append({"run_id": str(log["run_id"].iloc[0]), **settings, "deadline": deadline})

    def __len__(self) -> int:
        return len(self.logs)

    @property
    def log(self) -> pd.DataFrame:
        """Every run as one event log (distinct run_ids, oldest first)."""
        return events.concat(self.logs) if self.logs else events.empty()

    def table(self) -> pd.DataFrame:
        """One row per run: run_id and the settings it had."""
        return pd.DataFrame(self.settings)

    def labels(self) -> dict[str, str]:
        """run_id -> legend text of its settings."""
        return {s["run_id"]: settings_label(s) for s in self.settings}


class ComparePanel(widgets.VBox):
    """The overlay of the last runs' throughput (an image), redrawn after every run."""

    def __init__(self, *, last: int = COMPARE_LAST, max_width: str) -> None:
        self.last = last
        self.note = widgets.HTML("<i>Runs appear here once they have finished.</i>")
        self.plot = widgets.Image(
            format="png", layout=widgets.Layout(display="none", width="100%", max_width=max_width)
        )
        super().__init__([self.note, self.plot])
        self.add_class("workerlab-compare")
        self.plot.add_class("workerlab-compare-plot")

    async def refresh(self, history: History, *, deadline: float | None) -> None:
        """Draw the last runs of ``history`` (in the rendering thread) and show them."""
        if not len(history):
            return
        log, labels, last = history.log, history.labels(), self.last
        self.plot.value = await render.call(
            lambda: _overlay_png(log, labels=labels, last=last, deadline=deadline)
        )
        self.plot.layout.display = None
        shown = min(last, len(history))
        self.note.value = (
            f"The last {shown} of {len(history)} runs of this dashboard (<code>dash.history</code>)."
        )


def _overlay_png(log: pd.DataFrame, *, labels: dict[str, str], last: int, deadline: float | None) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from workerlab.plots import plot_overlay

    fig = Figure(figsize=(13.0, 5.0), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    plot_overlay(log, labels=labels, last=last, deadline=deadline, ax=fig.add_subplot())
    out = io.BytesIO()
    fig.savefig(out, format="png", pil_kwargs={"compress_level": 1})
    return out.getvalue()
