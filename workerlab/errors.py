"""Exceptions raised by workerlab. Each message says what went wrong and what to do."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A bad argument, found before anything was spawned; the message says what to pass."""


class CollectError(RuntimeError):
    """A run could not reach its target. ``events`` holds the event log up to the failure."""

    def __init__(self, message: str, events: Any = None) -> None:
        super().__init__(message)
        self.events = events


class WorkerStartError(CollectError):
    """A worker process kept failing before it could serve (bad binary, port never opens, ...)."""


class CollectTimeout(CollectError):
    """The run hit its ``timeout`` before the target; ``events`` has what was collected."""


class CollectStopped(CollectError):
    """The run's ``Stop`` token was set before the target; ``events`` has what was collected."""


class SweepStopped(CollectStopped):
    """A sweep's ``Stop`` token was set before its last run ended; ``events`` has every run that began."""
