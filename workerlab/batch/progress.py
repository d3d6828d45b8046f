"""One progress bar over a batch's runs (tqdm.auto: a widget in Jupyter), or nothing."""

from __future__ import annotations

from typing import Any

from workerlab.analysis.judge import Judgement


class Progress:
    """Runs started, running, done; of those done, how many met the deadline and how many failed."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.running = self.met = self.failed = 0
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="runs", unit="run", leave=True)
            self._post()

    def _post(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix(
                {"running": self.running, "met": self.met, "failed": self.failed}, refresh=False
            )

    def started(self) -> None:
        self.running += 1
        self._post()
        if self.bar is not None:
            self.bar.refresh()

    def done(self, judged: Judgement | None) -> None:
        """A run ended: judged, or (None) cut off by a stop."""
        self.running -= 1
        if judged is not None:
            self.met += judged.met
            self.failed += not judged.reached
            if self.bar is not None:
                self.bar.update(1)
        self._post()

    def set_total(self, total: int) -> None:
        """The total follows an adaptive plan, which grows and shrinks with the evidence (also in Jupyter)."""
        bar = self.bar
        if bar is None or bar.total == total:
            return
        bar.total = total
        widget = getattr(bar, "container", None)  # tqdm.notebook: the widget keeps its own maximum
        if widget is not None:
            widget.children[1].max = total
        bar.refresh()

    def describe(self, text: str) -> None:
        """Say ``text`` in place of the bar's description ("runs"): e.g. what the batch is expected to cost."""
        if self.bar is not None:
            self.bar.set_description_str(text, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
