"""The line parser against arbitrary chunkings (property-based) and known edge cases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workerlab.engine.lines import LineParser

values = st.lists(st.integers(min_value=0, max_value=99), max_size=60)


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def _feed_all(chunks: list[bytes]) -> tuple[list[int], list[bytes], LineParser]:
    parser = LineParser()
    got: list[int] = []
    bad: list[bytes] = []
    for c in chunks:
        v, g = parser.feed(c)
        got += v
        bad += g
    return got, bad, parser


@given(values, st.lists(st.integers(min_value=0), max_size=40), st.booleans())
def test_any_chunking_yields_every_line_once(nums, cuts, crlf):
    end = b"\r\n" if crlf else b"\n"
    data = b"".join(b"rnd=%d" % n + end for n in nums)
    got, bad, parser = _feed_all(_chunk(data, cuts))
    assert got == nums
    assert bad == []
    assert parser.partial == b""


@given(values, st.integers(min_value=1, max_value=6))
def test_a_line_cut_by_a_crash_is_never_counted(nums, keep):
    data = b"".join(b"rnd=%d\n" % n for n in nums) + b"rnd=42\n"[:keep]
    got, bad, parser = _feed_all([data[i : i + 3] for i in range(0, len(data), 3)])
    assert got == nums
    assert bad == []
    assert parser.partial == b"rnd=42\n"[:keep]


def _expected(line: bytes) -> int | None:
    """The protocol, as the oracle: ``rnd=<digits>``, after one ``\\r`` of a ``\\r\\n`` ending is dropped."""
    line = line.removesuffix(b"\r")
    return int(line[4:]) if line.startswith(b"rnd=") and line[4:].isdigit() else None


@given(
    st.lists(
        st.one_of(
            st.integers(0, 99).map(lambda n: b"rnd=%d" % n),
            st.integers(0, 99).map(lambda n: b"rnd=%d\r" % n),
            st.binary(max_size=12).filter(lambda b: b"\n" not in b),
        ),
        max_size=40,
    ),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_garbage_is_reported_never_counted(lines, cuts):
    data = b"".join(line + b"\n" for line in lines)
    got, bad, _ = _feed_all(_chunk(data, cuts))
    assert got == [v for v in map(_expected, lines) if v is not None]
    assert bad == [line.removesuffix(b"\r") for line in lines if _expected(line) is None]


def test_one_carriage_return_before_the_newline_is_the_line_ending():
    """``\\r\\n`` ends a line like ``\\n``; any other ``\\r`` makes it garbage, reported without that ending."""
    got, bad, parser = _feed_all([b"rnd=1\r", b"\nrnd=2\r\r\nrnd=\r3\n\r\nrnd=4\r\n\rrnd=5\n", b"rnd=6\r"])
    assert got == [1, 4]
    assert bad == [b"rnd=2\r", b"rnd=\r3", b"", b"\rrnd=5"]
    assert parser.partial == b"rnd=6\r"  # not a line until its \n arrives


def test_lookalikes_are_garbage():
    got, bad, _ = _feed_all([b"rnd= 5\nrnd=+5\nrnd=1_0\nrnd=\nRND=5\nrnd=5x\n\nrnd=07\n"])
    assert got == [7]
    assert bad == [b"rnd= 5", b"rnd=+5", b"rnd=1_0", b"rnd=", b"RND=5", b"rnd=5x", b""]


def test_an_endless_line_keeps_at_most_max_line_bytes():
    parser = LineParser(max_line=64)
    values, _ = parser.feed(b"rnd=1\nrnd=2\n" + b"x" * 50)
    assert values == [1, 2] and parser.overlong is None and len(parser.partial) == 50
    for _ in range(1000):
        parser.feed(b"x" * 30)
        assert len(parser.partial) <= 64
    assert parser.overlong == b"x" * 40  # its start, for the error row


def test_lines_complete_before_an_overlong_one_in_the_same_read_still_count():
    parser = LineParser(max_line=64)
    values, garbage = parser.feed(b"rnd=1\n" + b"y" * 100 + b"\nrnd=2\nbad\nrnd=3")
    assert values == [1, 2] and garbage == [b"bad"]
    assert parser.overlong == b"y" * 40 and parser.partial == b"rnd=3"


@given(values, st.lists(st.integers(min_value=0), max_size=40))
def test_a_line_at_the_limit_is_not_overlong(nums, cuts):
    line = b"rnd=" + b"0" * 18  # 22 bytes, a valid number
    data = b"".join(b"rnd=%d\n" % n for n in nums) + line + b"\n"
    parser = LineParser(max_line=len(line))
    got: list[int] = []
    for chunk in _chunk(data, cuts):
        got += parser.feed(chunk)[0]
    assert got == [*nums, 0] and parser.overlong is None
