"""Who listens on a worker's port: the process we started (or its process group), or someone else.

Accepting a connection proves that *something* listens on the port; between ``ports.reserve()``
and the worker's bind another program may have taken it. Two ways to ask the kernel:

* fast (``listens``, ~0.2 ms): look at the worker's own socket descriptors. ``pidfd_getfd``
  (Linux 5.6) lends us a copy of each, and ``getsockname``/``SO_ACCEPTCONN`` say whether it is a
  listener on the port. Only our own children can be asked this way (the kernel's ptrace rule).
* thorough (``foreign_detail``, psutil): psutil maps every process's socket descriptors to the
  host's socket table. Reading that table costs the kernel milliseconds on a busy host (every
  TIME_WAIT socket is a line: 10-16 ms here with ~2,800 of them), too much for every start of
  16 workers, so it is used only when the fast way does not find the listener: for a worker's
  children (a wrapper script), to name a foreign holder, or where ``pidfd_getfd`` is refused.
"""

from __future__ import annotations

import ctypes
import os
import socket
from typing import Any

import psutil

_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (unified syscall table)
_syscall: Any
try:
    _syscall = ctypes.CDLL(None, use_errno=True).syscall
except (OSError, AttributeError):  # pragma: no cover - not glibc
    _syscall = None


def listens(pid: int, port: int) -> bool | None:
    """True if process ``pid`` holds a socket listening on ``port``; None if the kernel will not say."""
    if _syscall is None or not hasattr(os, "pidfd_open"):
        return None
    try:
        pidfd = os.pidfd_open(pid)
        names = os.listdir(f"/proc/{pid}/fd")  # its descriptor numbers; nothing is parsed
    except OSError:
        return False  # gone: it holds nothing
    try:
        for name in names:
            fd = _syscall(_SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                if ctypes.get_errno() in (1, 38):  # EPERM (not ours to ask), ENOSYS (old kernel)
                    return None
                continue  # closed meanwhile
            try:
                if _is_listener(fd, port):
                    return True
            finally:
                os.close(fd)
        return False
    finally:
        os.close(pidfd)


def _is_listener(fd: int, port: int) -> bool:
    """True if ``fd`` (ours, a copy of the worker's) is a TCP socket listening on ``port``."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:  # not a socket
        return False
    try:
        if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        return (
            bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)) and sock.getsockname()[1] == port
        )
    except OSError:
        return False
    finally:
        sock.detach()  # the caller closes fd


def _psutil_listens(proc: psutil.Process, port: int) -> bool:
    """True if ``proc`` holds a TCP socket listening on ``port`` (psutil: reads the host's table)."""
    for kind in ("tcp4", "tcp6"):
        try:
            conns = proc.net_connections(kind=kind)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns):
            return True
    return False


def _member_listens(proc: psutil.Process, port: int) -> bool:
    fast = listens(proc.pid, port)
    return fast if fast is not None else _psutil_listens(proc, port)


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
    """True if the process ``pid`` or a member of its process group listens on ``port``."""
    try:
        leader = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    return _member_listens(leader, port) or any(_member_listens(p, port) for p in _group(pid))


def holder(port: int) -> tuple[bool, int | None]:
    """(whether anything listens on ``port`` on this host, its pid if the kernel lets us see it)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # pragma: no cover - not on Linux
        return True, None
    listening = [c for c in conns if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port]
    pids = [c.pid for c in listening if c.pid]
    return bool(listening), (int(pids[0]) if pids else None)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def foreign_detail(pid: int, port: int, worker_id: int) -> str | None:
    """None if the listener on ``port`` is worker ``worker_id`` (process ``pid``); else what holds it.

    A worker that has exited meanwhile, leaving nobody listening, was ours: it answered, then
    crashed (its stream's error says so). Blocking (it may read the host's socket table): run it
    in a thread.
    """
    if owned(pid, port):
        return None
    listening, other = holder(port)
    if not listening and not _alive(pid):
        return None
    who = f"pid {other}" if other is not None else "pid unknown"
    return f"port {port} is held by another process ({who}), not worker {worker_id}"
