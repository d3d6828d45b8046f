"""Who listens on a worker's port: the process we started (or its process group), or someone else.

Accepting a connection proves that *something* listens on the port; between ``ports.reserve()``
and the worker's bind another program may have taken it. This module asks the kernel (through
psutil, which maps each process's socket descriptors to ``/proc/net/tcp*`` entries: well kept, and
no hand-written parsing of ``/proc`` here) which process holds the listening socket. A worker is
its process group: workers get their own session, so a child that listens for the worker counts.
"""

from __future__ import annotations

import os

import psutil


def _listens(proc: psutil.Process, port: int) -> bool:
    """True if ``proc`` holds a TCP socket listening on ``port`` (IPv4 first, then IPv6)."""
    for kind in ("tcp4", "tcp6"):
        try:
            conns = proc.net_connections(kind=kind)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns):
            return True
    return False


def _group(pid: int) -> list[psutil.Process]:
    """The other live processes of the group led by ``pid`` (the worker's children that stayed in it)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []
    members = []
    for child in children:
        try:
            if os.getpgid(child.pid) == pid:
                members.append(child)
        except OSError:
            continue
    return members


def owned(pid: int, port: int) -> bool:
    """True if the process ``pid`` or a member of its process group listens on ``port``.

    The worker itself is asked first: that is the common case and costs one lookup.
    """
    try:
        leader = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    return _listens(leader, port) or any(_listens(p, port) for p in _group(pid))


def holder(port: int) -> int | None:
    """The pid of a process listening on ``port`` on this host, if the kernel lets us see it."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def foreign_detail(pid: int, port: int, worker_id: int) -> str | None:
    """None if the listener on ``port`` is worker ``worker_id`` (process ``pid``); else what holds it.

    Blocking (it reads the kernel's socket tables): run it in a thread.
    """
    if owned(pid, port):
        return None
    other = holder(port)
    who = f"pid {other}" if other is not None else "pid unknown"
    return f"port {port} is held by another process ({who}), not worker {worker_id}"
