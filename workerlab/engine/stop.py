"""One way to stop: a ``Stop`` token that a run, a sweep and a search watch, and anyone may set.

A button in a widget, the blocking wrappers on Ctrl-C or a kernel interrupt, and the caller's own
code all stop work the same way: ``stop.set()``. Whatever was given the token ends in its own
task group, so every task it started and every worker process it owns is stopped before it
returns; it then hands back what it has (a partial event log, the runs measured so far) and
records in the log that it was stopped. Cancelling the task instead still works and still
stops every worker, but gives no result: the token is for stopping, cancellation for abandoning.
"""

from __future__ import annotations

import asyncio

from workerlab.errors import ConfigError

__all__ = ["Stop", "checked"]


class Stop:
    """A request to stop, set once, seen by every task that watches it (set from the loop's thread)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason = ""

    def set(self, reason: str = "stopped") -> None:
        """Ask everything that watches this token to stop; the first reason is kept."""
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        """Return once the token is set."""
        await self._event.wait()

    def __repr__(self) -> str:
        return f"Stop({'set: ' + self.reason if self.is_set() else 'not set'})"


def checked(stop: object) -> Stop | None:
    """``stop`` if it is a ``Stop`` (or None), else a ``ConfigError``: every long call takes this one token.

    An ``asyncio.Event`` has ``set``/``wait`` too but no reason, and a call that also accepted it
    would have two ways to stop; it is refused before anything starts.
    """
    if stop is None or isinstance(stop, Stop):
        return stop
    raise ConfigError(f"stop must be a wl.Stop (stop = wl.Stop(); later stop.set()), got {stop!r}")
