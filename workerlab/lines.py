"""Turn a worker's byte stream into numbers, line by line (never chunk by chunk).

HTTP chunks and TCP segments say nothing about line boundaries: one chunk may hold
half a line or several lines. ``LineParser`` keeps the unfinished tail between feeds,
so a line is counted exactly when its ``\\n`` arrives, and a partial line cut by a crash
is never counted. Anything that is not ``rnd=<digits>`` is reported as garbage.
"""

from __future__ import annotations

#: longest value we accept: a guard against a runaway line masquerading as a number
_MAX_DIGITS = 18


class LineParser:
    """Incremental parser of ``rnd=<int>\\n`` lines (``\\r\\n`` accepted)."""

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> tuple[list[int], list[bytes]]:
        """Consume ``data``; return the values of the lines it completed and any garbage lines."""
        if self._tail:
            data = self._tail + data
        lines = data.split(b"\n")
        self._tail = lines.pop()
        values: list[int] = []
        garbage: list[bytes] = []
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            digits = line[4:]
            if line[:4] == b"rnd=" and digits.isdigit() and len(digits) <= _MAX_DIGITS:
                values.append(int(digits))
            else:
                garbage.append(line)
        return values, garbage

    @property
    def partial(self) -> bytes:
        """Bytes of a line that has not ended yet (dropped if the stream dies)."""
        return self._tail
