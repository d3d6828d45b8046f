"""Who holds a port: the fast look at a worker's own descriptors agrees with psutil's socket table."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from workerlab.engine import listener

SERVER = (
    "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
    "c = socket.socket(); c.bind(('127.0.0.1', 0));"  # bound, not listening: never a listener
    "print(s.getsockname()[1], c.getsockname()[1], flush=True); time.sleep(60)"
)


@pytest.fixture
def server():
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    listening, bound = (int(p) for p in proc.stdout.readline().split())
    yield proc, listening, bound
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_the_fast_look_finds_a_childs_listener_and_only_it(server):
    proc, listening, bound = server
    if listener.listens(proc.pid, listening) is None:
        pytest.skip("this kernel refuses pidfd_getfd: the thorough way is used instead")
    assert listener.listens(proc.pid, listening) is True
    assert listener.listens(proc.pid, bound) is False  # bound but not listening
    assert listener._psutil_listens(psutil.Process(proc.pid), listening)  # the thorough way agrees
    assert not listener._psutil_listens(psutil.Process(proc.pid), bound)


def test_another_process_on_the_port_is_named(server):
    proc, listening, _ = server
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert listener.foreign_detail(proc.pid, listening, 3) is None
        detail = listener.foreign_detail(other.pid, listening, 3)
        assert detail == f"port {listening} is held by another process (pid {proc.pid}), not worker 3"
    finally:
        other.kill()
        other.wait()


def test_a_worker_gone_with_nobody_listening_was_ours(server):
    """It answered, then crashed: its stream's error tells the story, not a foreign-listener row."""
    proc, listening, _ = server
    proc.kill()
    proc.wait()
    assert listener.listens(proc.pid, listening) is False
    assert listener.foreign_detail(proc.pid, listening, 1) is None
