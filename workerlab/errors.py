"""Exceptions raised by workerlab. Each message says what went wrong and what to do."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A bad argument, found before anything was spawned; the message says what to pass.

    ``param``: the argument at fault, by its keyword name (``"max_runs"``), where one is;
    ``problem``: the message without that name (``"must be at least 1, got 0"``); ``cli``: the
    problem said for a command line, where its hint differs (flags, not keywords). The command line
    reports ``argument --max-runs: <cli or problem>``, the way argparse reports its own errors.
    """

    def __init__(
        self, message: str, *, param: str | None = None, problem: str | None = None, cli: str | None = None
    ) -> None:
        super().__init__(message)
        self.param = param
        self.problem = problem if problem is not None else message
        self.cli = cli if cli is not None else self.problem

    @classmethod
    def of(cls, param: str, problem: str, *, cli: str | None = None) -> ConfigError:
        """The error of argument ``param``: the message is ``"<param> <problem>"``."""
        return cls(f"{param} {problem}", param=param, problem=problem, cli=cli)


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
