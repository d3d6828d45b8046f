"""The run as its two sides see it: what a stream writes into it, what an owner reads of it.

``collector.Run`` provides both. They live below the collector so that ``streaming`` (which
records) and the widgets (which read) need not import the collector that uses them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from workerlab.config import Config

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Record", "Recorder", "RunStatus"]

#: one raw event as the collector appends it, in ``log.events.RECORD_FIELDS`` order
Record = tuple[Any, ...]


class Recorder(Protocol):
    """What a stream needs of its run (``collector.Run`` subclasses it): where to record, what was asked.

    ``records`` takes raw tuples in ``log.events.RECORD_FIELDS`` order, ``t`` in seconds since ``t0``
    (``time.monotonic()`` at the run's start); ``counted`` is told of every batch of samples.
    ``record`` and ``now`` are written here once, for the run that subclasses this protocol.
    """

    config: Config
    records: list[Record]
    t0: float
    crashes: int

    def record(
        self,
        event: str,
        worker_id: int,
        pid: int | None = None,
        port: int | None = None,
        value: int | None = None,
        detail: str | None = None,
        at: float | None = None,
    ) -> None:
        """Append one raw event; ``at`` is when it happened (run time) if that was before now."""
        self.records.append((event, worker_id, pid, port, value, self.now() if at is None else at, detail))

    def counted(self, n: int, t: float) -> None: ...

    def now(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.t0


class RunStatus(Protocol):
    """What ``on_update`` may read of a run in progress (read-only; ``Run`` provides it)."""

    @property
    def config(self) -> Config: ...
    @property
    def records(self) -> list[Record]: ...
    @property
    def count(self) -> int: ...
    @property
    def crashes(self) -> int: ...
    @property
    def elapsed(self) -> float | None: ...
    @property
    def finished(self) -> bool: ...
    @property
    def started(self) -> bool: ...
    def now(self) -> float: ...
    def frame(self, records: list[Record] | None = None) -> pd.DataFrame: ...
