"""The dashboard's settings: the input widgets, what they mean for a run, and the deadline.

The deadline is what a run is judged at: the line on the throughput plot, the time left in the
live counters and "met / missed" in the summary are measured against it, and the run's log
records it. Until it is typed in (or preset), it follows the pace by the rule every call shares
(``config.paced_deadline``): ``DEADLINE_INTERVALS`` intervals of the emulator's interval (10 x 1 s
= the challenge's 10 s; interval 0.2 s -> a 2 s deadline), or of the original worker's 1 s pace
when a worker binary is set (its ``-interval`` worker argument, if given).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from workerlab.config import (
    DEADLINE_INTERVALS,
    DEFAULT_INTERVAL,
    MAX_WORKERS,
    flag_value,
    make_config,
    paced_deadline,
)
from workerlab.errors import ConfigError

__all__ = ["Settings", "preset", "DEADLINE_INTERVALS", "message", "MUTED", "OK", "ERROR", "WARN"]

OK, ERROR, WARN, MUTED = "#1b7f3b", "#b00020", "#a15c00", "#555555"


def message(text: str, color: str) -> str:
    """An HTML line of ``text`` in ``color`` (status lines)."""
    return f"<div style='color:{color};white-space:pre-wrap;line-height:1.35'>{html.escape(text)}</div>"


def preset(widget: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A widget's settings: ``defaults`` with what its caller ``given``, checked before anything shows.

    An unknown name is a ``TypeError``; what the widgets cannot change (worker arguments, timeout,
    seed, and the worker count and samples as given) is checked by the run's own validator
    (``ConfigError``).
    """
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(
            f"{widget}() got unknown settings {unknown}; it accepts worker_bin and {sorted(defaults)}"
        )
    d = {**defaults, **given}
    make_config(
        d.get("workers", 1), d["samples"], worker_args=d["worker_args"], timeout=d["timeout"], seed=d["seed"]
    )
    return d


def _look(width: str) -> dict[str, Any]:
    """Style and layout of a labelled input ``width`` wide."""
    return {"style": {"description_width": "initial"}, "layout": widgets.Layout(width=width)}


class Settings:
    """The input widgets of a dashboard (``d``: its validated defaults) and what they ask for."""

    def __init__(self, d: dict[str, Any], worker_bin: str | None) -> None:
        self.seed: int | None = d["seed"]
        self.timeout: float | None = d["timeout"]
        self.worker_args: tuple[str, ...] = tuple(d["worker_args"])
        self.workers = widgets.IntSlider(
            value=d["workers"],
            min=1,
            max=MAX_WORKERS,
            description="workers",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.samples = widgets.IntText(value=d["samples"], description="samples", **_look("11em"))
        self.mtbf = widgets.FloatText(
            value=d["mtbf"],
            description="emulator MTBF (s)",
            tooltip="mean seconds before an emulated worker crashes; 0 = never",
            **_look("15em"),
        )
        self.interval = widgets.FloatText(
            value=d["interval"],
            description="interval (s)",
            tooltip="emulator: seconds between two numbers of a worker",
            **_look("12em"),
        )
        self.worker_bin = widgets.Text(
            value=str(worker_bin or ""),
            description="worker binary",
            placeholder="empty: the bundled emulator; or the path to the original worker",
            **_look("42em"),
        )
        self.auto_deadline = d["deadline"] is None  # follows the pace until set
        self.deadline = widgets.FloatText(
            value=self.paced_deadline() if self.auto_deadline else float(d["deadline"]),
            description="deadline (s)",
            tooltip=f"the run's deadline; until you set it, {DEADLINE_INTERVALS:g} intervals of the pace",
            **_look("12em"),
        )
        self._following = False
        self.deadline.observe(self._deadline_typed, names="value")
        self.interval.observe(lambda _: self._follow_pace(), names="value")
        self.worker_bin.observe(lambda _: self._follow_pace(), names="value")

    @property
    def emulator(self) -> bool:
        return not self.worker_bin.value.strip()

    def paced_deadline(self) -> float:
        """``DEADLINE_INTERVALS`` intervals of the chosen pace (the original's 1 s for a binary)."""
        if self.emulator:
            return paced_deadline(float(self.interval.value))
        return paced_deadline(float(flag_value(self.worker_args, "interval") or DEFAULT_INTERVAL))

    def _follow_pace(self) -> None:
        if self.auto_deadline:
            self._following = True
            try:
                self.deadline.value = self.paced_deadline()
            finally:
                self._following = False

    def _deadline_typed(self, _: Any) -> None:
        if not self._following:
            self.auto_deadline = False

    def deadline_s(self) -> float:
        """The deadline in seconds, checked."""
        value = float(self.deadline.value)
        if not value > 0:
            raise ConfigError(f"deadline must be > 0 seconds, e.g. {self.paced_deadline():g}; got {value:g}")
        return value

    def collect_kwargs(self) -> dict[str, Any]:
        """The ``collect_async`` arguments the widgets describe right now.

        With a worker binary set, the emulator-only options (interval, MTBF, seed) are left out:
        the original would reject them (``config.make_config``'s rule).
        """
        kwargs: dict[str, Any] = {
            "workers": self.workers.value,
            "samples": self.samples.value,
            "timeout": self.timeout,
            "worker_args": self.worker_args,
        }
        binary = self.worker_bin.value.strip()
        if binary:
            kwargs["worker_bin"] = binary
        else:
            kwargs.update(interval=self.interval.value, mtbf=self.mtbf.value, seed=self.seed)
        return kwargs

    def describe(self) -> str:
        """The settings in one line (the text stand-in of the widget)."""
        binary = self.worker_bin.value.strip()
        emulator = f"bundled emulator, interval {self.interval.value:g} s, MTBF {self.mtbf.value:g} s"
        where = f"worker binary {binary}" if binary else emulator
        return (
            f"workerlab dashboard: {self.workers.value} workers, {self.samples.value} samples, "
            f"{where}, deadline {self.deadline.value:g} s."
        )

    def set_running(self, running: bool) -> None:
        """Grey out what a run in progress must not change (and the emulator's options for a binary)."""
        self.workers.disabled = self.samples.disabled = self.worker_bin.disabled = running
        self.deadline.disabled = running
        self.mtbf.disabled = self.interval.disabled = running or not self.emulator

    def rows(self) -> list[widgets.Widget]:
        """The settings laid out: counts, emulator options, deadline, binary."""
        emulator = widgets.HTML(message("emulator only:", MUTED), layout=widgets.Layout(width="7em"))
        return [
            widgets.HBox([self.workers, self.samples, self.deadline]),
            widgets.HBox([emulator, self.mtbf, self.interval]),
            self.worker_bin,
        ]
