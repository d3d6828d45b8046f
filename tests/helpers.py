"""Helpers shared by the test modules: paths, compressed time, processes, runs and plots.

Test modules import these from here (``from helpers import FAST``), never from ``conftest`` (which
holds only fixtures and hooks) or from another test module.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import psutil
import pytest
from support import groundtruth

ROOT = Path(__file__).resolve().parent.parent
WORKER_BIN = ROOT / "bin" / "worker"
EMULATOR = ROOT / "workerlab" / "worker" / "emulator.py"
#: compressed time for every test (the suite must stay fast): 50 numbers a second
FAST = 0.02
#: ``python -m workerlab``: the command line as a user runs it
CLI = [sys.executable, "-m", "workerlab"]

#: a threshold search whose answer is certain without asserting on time: 75 samples at the FAST
#: pace, no crashes. Two workers need 37 intervals (0.74 s), within the 0.744 s deadline, so the
#: search must measure them, but a worker's start-up alone (spawn to ready, ~20 ms) makes them miss
#: it every time; six workers need 12 intervals (0.24 s) and have 0.5 s of slack (the candidate's
#: plan at level 0.8 meets only if none of its 17 runs fails). So the search must find 6, measure 2
#: as the count below (the counts allowed are 2 and 6; the count below is always measured), and be
#: conclusive at level 0.8.
SEARCH: dict[str, Any] = dict(
    deadline=0.744, samples=75, level=0.8, workers=[2, 6], interval=FAST, mtbf=0, progress=False
)
#: the same search's flags on the command line (``workerlab threshold``), level apart
SEARCH_ARGS = [
    "--workers",
    "2,6",
    "--samples",
    "75",
    "--interval",
    str(FAST),
    "--mtbf",
    "0",
    "--deadline",
    "0.744",
]

T = TypeVar("T")


# -- waiting ----------------------------------------------------------------------------------------
# Every polling loop in the tests goes through these: each wait has its own deadline, and when it runs
# out the test fails naming what it waited for (not pytest-timeout's stack dump two minutes later).


def wait_for(cond: Callable[[], T], timeout: float, what: str, step: float = 0.05) -> T:
    """``cond()``'s first truthy value, polled every ``step`` s; fails after ``timeout`` s naming ``what``.

    ``cond`` is called once more at the deadline, so a slow machine that got there just in time passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}: never came")
        time.sleep(step)


async def wait_for_async(cond: Callable[[], T], timeout: float, what: str, step: float = 0.02) -> T:
    """:func:`wait_for` inside a running event loop: the loop keeps running between the polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}: never came")
        await asyncio.sleep(step)


# -- processes and ports ------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_cmd(*args: str) -> list[str]:
    """argv that runs the emulator the way the collector does (no shell, fast start)."""
    return [sys.executable, "-I", "-S", str(EMULATOR), *args]


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except ProcessLookupError:  # pragma: no cover
        return False


def wait_gone(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """The pids still alive after waiting up to ``timeout`` s for them to go (a kill takes a moment).

    Callers assert ``wait_gone(pids) == []``: on failure the pids left are the message.
    """
    alive = [p for p in pids if pid_alive(p)]
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def start_cli(*args: str, workers: int) -> tuple[subprocess.Popen[str], list[int]]:
    """``workerlab *args`` in its own process, returned once ``workers`` worker processes exist.

    Returns the process and the pids of its descendants at that moment.
    """
    proc = subprocess.Popen(
        [*CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def kids() -> list[int] | None:
        found = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        return found if len(found) >= workers else None

    try:  # the interpreter imports the package, then spawns
        return proc, wait_for(kids, 30, f"`workerlab {' '.join(args)}` to start {workers} workers", 0.1)
    except AssertionError:
        proc.kill()
        proc.communicate()
        raise


def interrupt_cli(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Ctrl-C to a command ``start_cli`` started: its stdout and stderr once it exits (killed and
    reaped if it outlives ``timeout``, then the wait's ``TimeoutExpired`` fails the test)."""
    try:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def script(tmp_path: Path, name: str, text: str) -> Path:
    """An executable file ``name`` in ``tmp_path`` holding ``text`` (a fake worker binary)."""
    path = tmp_path / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def emulator_wrapper(tmp_path: Path, body: str, name: str = "worker") -> str:
    """A worker binary: the shell ``body`` (which sees the worker's args as "$*"), then the emulator.

    E.g. ``'case " $* " in *" -workerId 3 "*) exit 3;; esac'``: worker 3 fails, the others are emulators.
    """
    text = f'#!/bin/sh\n{body}\nexec {sys.executable} -I -S {EMULATOR} "$@"\n'
    return str(script(tmp_path, name, text))


# -- runs -----------------------------------------------------------------------------------------


def assert_clean(df: pd.DataFrame) -> None:
    """No worker process of this run is alive, and no port it used is still bound."""
    assert (df.event == "spawn").any(), "the run spawned nothing"
    report = groundtruth.check_run(df)
    assert report.ok, report.problems


def run_row(df: pd.DataFrame) -> pd.Series:
    """The run-level ``stop`` row of a one-run log (worker_id 0)."""
    rows = df[(df.event == "stop") & (df.worker_id == 0)]
    assert len(rows) == 1
    return rows.iloc[0]


def ready_workers(records: Iterable[tuple[Any, ...]]) -> set[int]:
    """The worker ids that have a ``ready`` record among a run's raw records."""
    return {r[1] for r in list(records) if r[0] == "ready"}


def run_cell_interrupted(cell: Callable[[], Any]) -> None:
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


# -- plots ----------------------------------------------------------------------------------------


def by_gid(ax: Any, gid: str) -> list[Any]:
    """The artists of a matplotlib Axes tagged with ``gid``."""
    return [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == gid]


def one(ax: Any, gid: str) -> Any:
    """The single artist tagged ``gid`` (fails if there is not exactly one)."""
    found = by_gid(ax, gid)
    assert len(found) == 1, f"expected one {gid!r} artist, found {len(found)}"
    return found[0]
