"""Turn a worker's byte stream into numbers, line by line (never chunk by chunk).

HTTP chunks and TCP segments say nothing about line boundaries: one chunk may hold
half a line or several lines. ``LineParser`` keeps the unfinished tail between feeds,
so a line is counted exactly when its ``\\n`` arrives, and a partial line cut by a crash
is never counted. Anything that is not ``rnd=<digits>`` is reported as garbage.

A line may be at most ``max_line`` bytes (a valid one is a few bytes): the parser never
keeps more than that of an unfinished line, so a worker that streams one endless line
costs bounded memory. The first line over the limit is kept in ``overlong`` (its start)
and the caller is expected to drop the stream.
"""

from __future__ import annotations

from workerlab.config import MAX_LINE

#: longest value we accept: a guard against a runaway line masquerading as a number
_MAX_DIGITS = 18
#: how much of an over-long line is kept to show in the error
SHOWN = 40


class LineParser:
    """Incremental parser of ``rnd=<int>\\n`` lines (``\\r\\n`` accepted), lines at most ``max_line`` bytes."""

    __slots__ = ("_tail", "max_line", "overlong")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._tail = b""
        self.max_line = max_line
        #: the start of the first line longer than ``max_line``, once one was seen (then stop feeding)
        self.overlong: bytes | None = None

    def feed(self, data: bytes) -> tuple[list[int], list[bytes]]:
        """Consume ``data``; return the values of the lines it completed and any garbage lines.

        Every complete line in ``data`` is parsed, also after an over-long one (they arrived before
        the caller could decide anything); an over-long line itself is neither value nor garbage.
        """
        if self._tail:
            data = self._tail + data  # the tail is at most max_line bytes: no quadratic copying
        lines = data.split(b"\n")
        tail = lines.pop()
        limit = self.max_line
        values: list[int] = []
        garbage: list[bytes] = []
        for line in lines:
            if len(line) > limit:
                self._overlong(line)
                continue
            if line[-1:] == b"\r":
                line = line[:-1]
            digits = line[4:]
            if line[:4] == b"rnd=" and digits.isdigit() and len(digits) <= _MAX_DIGITS:
                values.append(int(digits))
            else:
                garbage.append(line)
        if len(tail) > limit:
            self._overlong(tail)
            tail = b""
        self._tail = tail
        return values, garbage

    def _overlong(self, line: bytes) -> None:
        if self.overlong is None:
            self.overlong = line[:SHOWN]

    @property
    def partial(self) -> bytes:
        """Bytes of a line that has not ended yet (dropped if the stream dies)."""
        return self._tail
