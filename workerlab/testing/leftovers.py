"""After a run: is any of its worker processes still alive, is any of its ports still bound?

Both read the kernel's tables in ``/proc`` for the pids and ports of a run's event log. Used by
:func:`workerlab.testing.groundtruth.check_run`, and so by the tests, the soak and the benchmarks.
"""

from __future__ import annotations

import os
import time

import pandas as pd

from workerlab.engine.ports import bindable

__all__ = ["orphans", "bound_ports"]


def _cmdline(pid: int) -> list[str] | None:
    """argv of a live, non-zombie process; None if there is none with this pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except PermissionError:  # pragma: no cover - someone else's process: not ours
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


def _listen_inodes(port: int) -> set[str]:
    """Socket inodes of IPv4/IPv6 TCP sockets bound to ``port`` (from /proc/net)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return inodes


def _holders(port: int) -> set[int]:
    """Pids of the processes holding a socket on ``port`` (those we may inspect)."""
    inodes = {f"socket:[{i}]" for i in _listen_inodes(port)}
    found: set[int] = set()
    if not inodes:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                if os.readlink(fd.path) in inodes:
                    found.add(int(entry.name))
                    break
        except OSError:
            continue
    return found


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
