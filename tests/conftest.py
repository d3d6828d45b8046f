"""Fixtures and hooks shared by the tests (shared helper functions are in helpers.py)."""

from __future__ import annotations

import os
import subprocess

import matplotlib
import pytest
from helpers import emulator_cmd

from workerlab.engine import ports, procs

# every test draws off-screen: set once here, before any test module imports pyplot
matplotlib.use("Agg")


def _own_ports() -> None:
    """Under pytest-xdist (make test), each pytest process draws worker ports from its own share of
    the range: a process reserves ports for itself only, so two could race for one."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker.startswith("gw") and count:
        r, i, n = ports._RANGE, int(worker[2:]), int(count)
        share = len(r) // n
        ports._RANGE = range(r.start + i * share, r.start + (i + 1) * share)


_own_ports()


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


@pytest.fixture
def spawned(monkeypatch) -> list[list[str]]:
    """The argv of every worker process started while the test runs (``procs.spawn`` is wrapped).

    "Nothing was started" is ``spawned == []``: comparing ``procs.LIVE`` before and after cannot
    tell, since a run stops every process it started before its error reaches the caller.
    """
    calls: list[list[str]] = []
    real = procs.spawn

    def spawn(argv, *args, **kwargs):
        calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(procs, "spawn", spawn)
    return calls


@pytest.fixture(scope="session")
def dask_client():
    """A real Dask scheduler with two worker processes on loopback, one ``workerlab-run`` unit each
    (one run per Dask worker at a time), shared by the tests that need processes: starting one
    costs seconds."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address="127.0.0.1:0",  # loopback only, any free port
            resources={"workerlab-run": 1},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
