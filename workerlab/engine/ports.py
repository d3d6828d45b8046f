"""Free loopback ports for worker processes.

Ports are drawn below the kernel's ephemeral range, so the source ports of our own
client connections can never take a port a worker is about to bind, and they are
reserved process-wide, so concurrent runs (a sweep, a Dask worker's threads) never
hand out the same port twice. Another process may still race us; the supervisor
treats a worker that cannot bind like any failed start and tries a fresh port.
"""

from __future__ import annotations

import random
import socket
import threading

from workerlab.config import HOST

_lock = threading.Lock()
_reserved: set[int] = set()
_rng = random.Random()


def _candidate_range() -> range:
    """Ports below the ephemeral range (default 32768-60999): 20000..32767 here."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    start = max(1024, low - 12768)
    return range(start, low) if low - start >= 1000 else range(20000, 30000)


_RANGE = _candidate_range()


def bindable(port: int) -> bool:
    """True if a listener could bind ``port`` on loopback now (SO_REUSEADDR, as workers do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def reserve() -> int:
    """Return a port that is free now and not handed to anyone else in this process."""
    with _lock:
        for _ in range(1000):
            port = _rng.choice(_RANGE)
            if port not in _reserved and bindable(port):
                _reserved.add(port)
                return port
    raise RuntimeError(f"no free loopback port found in {_RANGE.start}-{_RANGE.stop - 1}")


def release(port: int) -> None:
    """Give a reserved port back."""
    with _lock:
        _reserved.discard(port)
