"""After a run: is any of its worker processes still alive, is any of its ports still bound?

Both ask psutil about the pids and ports of a run's event log (it reads the kernel's tables in
``/proc``). Used by :func:`support.groundtruth.check_run`, and so by the tests, the soak and the
benchmarks.
"""

from __future__ import annotations

import time

import pandas as pd
import psutil

from workerlab.engine.ports import bindable

__all__ = ["orphans", "bound_ports"]


def _cmdline(pid: int) -> list[str] | None:
    """argv of a live, non-zombie process; None if there is none with this pid, [] if it is not ours to read."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.cmdline()
    except psutil.NoSuchProcess:  # ZombieProcess included
        return None
    except psutil.AccessDenied:  # pragma: no cover - someone else's process
        return []


def orphans(df: pd.DataFrame) -> list[int]:
    """Worker processes of this run (spawn rows) still alive: pid and command line both match.

    A pid whose process is alive but whose command line is not that worker's (``-port <its
    port>``) was reused by the system for something else: not an orphan.
    """
    spawn = df[(df["event"] == "spawn") & df["pid"].notna()]
    left = []
    for pid, port in zip(spawn["pid"].astype(int), spawn["port"]):
        argv = _cmdline(int(pid))
        if argv is None:
            continue
        if pd.isna(port) or str(int(port)) in argv or not argv:
            left.append(int(pid))
    return sorted(set(left))


def _holders(port: int) -> set[int]:
    """Pids of the processes holding a TCP socket bound to ``port`` (those we may inspect)."""
    return {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.pid is not None and c.laddr and c.laddr.port == port
    }


def bound_ports(df: pd.DataFrame, *, settle: float = 0.05) -> tuple[list[int], list[int]]:
    """(ports of the run still bound by one of its workers or an unknown holder, ports taken by others).

    A port that cannot be bound is tried again after ``settle`` seconds; if it is still taken and the
    holder is a live process that is not one of this run's workers (another run on the machine picked
    the free port), it is reported apart, not as a leak.
    """
    ours = {int(p) for p in df.loc[df["pid"].notna(), "pid"]}
    ports = sorted({int(p) for p in df["port"].dropna()})
    busy = [p for p in ports if not bindable(p)]
    if busy:
        time.sleep(settle)
        busy = [p for p in busy if not bindable(p)]
    leaked: list[int] = []
    taken: list[int] = []
    for port in busy:
        holders = _holders(port)
        (taken if holders and not holders & ours else leaked).append(port)
    return leaked, taken
