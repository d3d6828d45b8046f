"""Shared test fixtures: the emulator as a real process on a real loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER_BIN = ROOT / "bin" / "worker"
EMULATOR = ROOT / "workerlab" / "emulator.py"
#: compressed time for every test (the suite must stay fast): 50 numbers a second
FAST = 0.02


def free_port() -> int:
    """A loopback port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_cmd(*args: str) -> list[str]:
    """argv that runs the emulator the way the collector does (no shell, fast start)."""
    return [sys.executable, "-I", "-S", str(EMULATOR), *args]


@pytest.fixture
def spawn():
    """Start emulator processes; every one is killed and reaped at teardown."""
    procs: list[subprocess.Popen] = []

    def _spawn(*args: str, **kw) -> subprocess.Popen:
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("stdout", subprocess.DEVNULL)
        p = subprocess.Popen(emulator_cmd(*args), **kw)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stderr, p.stdout):
            if f:
                f.close()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except ProcessLookupError:  # pragma: no cover
        return False


def run_cell_interrupted(cell) -> None:
    """Run ``cell()`` as a Jupyter kernel would (a task on the kernel's loop) and expect an interrupt.

    The cell's error is retrieved as the kernel does: an unretrieved task error is logged when
    the task is garbage-collected, and on CPython 3.11.7 that logging inside another ast.parse
    (pytest rewriting an import) raises "SystemError: AST constructor recursion depth mismatch".
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(cell())
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(task)
        assert isinstance(task.exception(), KeyboardInterrupt)
    finally:
        loop.close()


def by_gid(ax, gid: str) -> list:
    """The artists of a matplotlib Axes tagged with ``gid``."""
    return [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == gid]


def one(ax, gid: str):
    """The single artist tagged ``gid`` (fails if there is not exactly one)."""
    found = by_gid(ax, gid)
    assert len(found) == 1, f"expected one {gid!r} artist, found {len(found)}"
    return found[0]


__all__ = [
    "ROOT",
    "WORKER_BIN",
    "EMULATOR",
    "FAST",
    "free_port",
    "emulator_cmd",
    "pid_alive",
    "run_cell_interrupted",
    "by_gid",
    "one",
    "os",
]
