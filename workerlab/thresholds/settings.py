"""A threshold search's settings, checked once at the boundary (``find_threshold``) before anything starts."""

from __future__ import annotations

from dataclasses import dataclass

from workerlab.batch.spec import BatchSettings
from workerlab.config import share
from workerlab.errors import ConfigError
from workerlab.model.model import Model

__all__ = ["SearchSettings"]


@dataclass(frozen=True)
class SearchSettings:
    """A search's own settings, validated (``check``); the batch's (counts, samples, deadline,
    runs at once, run options) are in ``batch``."""

    batch: BatchSettings
    level: float
    confidence: float
    max_runs: int
    model: Model | None

    @classmethod
    def check(
        cls, batch: BatchSettings, *, level: float, confidence: float, model: Model | None, max_runs: int
    ) -> SearchSettings:
        """Check a search's own arguments beside its checked ``batch`` settings; ``ConfigError``
        before anything is spawned."""
        level, confidence = share("level", level), share("confidence", confidence)
        if model is not None and not isinstance(model, Model):
            raise ConfigError(f"model must be a wl.Model (e.g. wl.calibrate(logs)), got {model!r}")
        if not (isinstance(max_runs, int) and max_runs >= 1):
            raise ConfigError(f"max_runs must be a whole number >= 1, got {max_runs!r}")
        return cls(batch, level, confidence, max_runs, model)

    @property
    def seed(self) -> int:
        """The search's seed (0 when the runs have none): the prediction's and the interleaving's."""
        return self.batch.options.seed or 0
