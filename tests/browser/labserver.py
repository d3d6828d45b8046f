"""JupyterLab in a real (headless) Chromium, for the browser tests: the server, its processes, the page.

``serve(notebook, ...)`` starts JupyterLab on a free loopback port with a random token, serving a
copy of one notebook in a temporary folder (so running it never writes outputs into the
repository's copy); JupyterLab's config, data, settings, workspaces and runtime folders are
temporary too, and every process the server starts carries a marker in its environment (``MARKER``),
so that teardown finds and stops the kernel and every worker whatever happened. The fixtures
(``conftest.py``) wrap it; the helpers on the page (``wait_for``, ``fail_with_state``, ...) say where
the page stood when a wait failed, with a screenshot under ``ARTIFACTS``.

The browser is the system's Chromium (``WORKERLAB_CHROMIUM``, default ``/usr/bin/chromium``):
Playwright never downloads one here. Every wait is bounded, and nothing asserts a duration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("WORKERLAB_CHROMIUM", "/usr/bin/chromium")
#: what this closed network needs: no sandbox as root, no GPU, and no background connections
#: (refused here, many at a time, and slow to fail); the profile is a fresh folder per test.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARKER = "WORKERLAB_BROWSER_TEST"  # env var set on Jupyter, inherited by its kernel and workers

# bounds of the waits (seconds); generous for a loaded CI machine, never asserted as durations
SERVER_START = 90
PAGE_READY = 120


# -- processes ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked(tag: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``MARKER=tag``: what this test's server started."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER) == tag and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def worker_processes(tag: str) -> list[str]:
    """Command lines of this test's live worker processes (emulators run with ``-workerId N``)."""
    out = []
    for proc in marked(tag):
        try:
            cmd = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if "-workerId" in cmd:
            out.append(f"{proc.pid}: {' '.join(cmd)}")
    return out


def wait_until(predicate, timeout: float, step: float = 0.2):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value or None
        time.sleep(step)


@dataclass
class Lab:
    """A running JupyterLab: where it listens, its token, its log, and the tag on its processes."""

    proc: subprocess.Popen
    port: int
    token: str
    tag: str
    log: Path
    root: Path
    notes: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, method: str = "GET", timeout: float = 10) -> object:
        req = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])


def settings(folder: Path) -> None:
    """JupyterLab user settings for the test: no autosave, no news or update checks (offline), and
    every cell of a notebook rendered (no windowing: a cell's output below the fold is in the page)."""
    plugins = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for rel, values in plugins.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def stop_lab(lab: Lab) -> list[str]:
    """Stop the kernel(s), the server's process group, then anything left that carries the tag.

    Graceful first (the kernel's shutdown lets the collector stop its workers), then SIGTERM to the
    server's group, then SIGKILL. Returns what could not be stopped (empty when all is gone).
    """
    if lab.proc.poll() is None:
        try:
            for kernel in lab.api("/api/kernels") or []:  # type: ignore[union-attr]
                try:
                    lab.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=20)
                except (OSError, urllib.error.URLError) as exc:
                    lab.notes.append(f"kernel {kernel['id']} shutdown: {exc}")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            lab.notes.append(f"listing kernels: {exc}")
        try:
            os.killpg(lab.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            lab.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.notes.append("JupyterLab ignored SIGTERM for 15 s: killed")
    try:
        os.killpg(lab.proc.pid, signal.SIGKILL)  # whatever of its group is left
    except (ProcessLookupError, PermissionError):
        pass
    try:
        lab.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    # The kernel and the workers run in sessions of their own: found by the tag, not the group.
    left = marked(lab.tag)
    if left:
        lab.notes.append(
            "still running after JupyterLab stopped, killed: "
            + "; ".join(f"{p.pid} {' '.join(cmdline(p))}" for p in left)
        )
        for proc in left:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(left, timeout=10)
    return [f"{p.pid} {' '.join(cmdline(p))}" for p in marked(lab.tag)]


def cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ["?"]


@contextlib.contextmanager
def serve(notebook: Path, tmp_path: Path, interval: str) -> Iterator[Lab]:
    """JupyterLab serving a copy of ``notebook``, its kernel's emulator at ``interval`` s a number
    (``WORKERLAB_INTERVAL``); stopped with all it started, always."""
    if not notebook.exists():
        pytest.fail(f"{notebook.relative_to(ROOT)} is missing: nothing to open in JupyterLab", pytrace=False)
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.fail(
            f"{jupyter} is missing: the `lab` extra is not installed (run `make test-browser`)", pytrace=False
        )
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy2(notebook, root / notebook.name)
    home = tmp_path / "jupyter"
    settings(home / "settings")
    tag = secrets.token_hex(8)
    env = {
        **os.environ,
        MARKER: tag,
        "WORKERLAB_INTERVAL": interval,
        "WORKERLAB_QUICK": "1",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),  # no user kernelspec can replace the venv's python3
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("JUPYTER_TOKEN", None)
    port, token = free_port(), secrets.token_hex(24)
    log = tmp_path / "jupyterlab.log"
    cmd = [
        str(jupyter),
        "lab",
        "--no-browser",
        f"--ServerApp.token={token}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(proc=proc, port=port, token=token, tag=tag, log=log, root=root)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with status {proc.returncode} while starting:\n{server.log_tail()}",
                    pytrace=False,
                )
            try:
                return bool(server.api("/api/status", timeout=2))
            except (OSError, urllib.error.URLError, ValueError):
                return False

        if not wait_until(up, SERVER_START, step=0.5):
            pytest.fail(
                f"JupyterLab did not answer on {server.base} within {SERVER_START} s:\n{server.log_tail()}",
                pytrace=False,
            )
        yield server
    finally:
        left = stop_lab(server)
        for note in server.notes:
            print(f"[teardown] {note}")
        print(f"[teardown] JupyterLab stopped; processes of the test left: {len(left)}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # the server's log, for a failure in CI
            shutil.copyfile(log, ARTIFACTS / f"jupyterlab-{notebook.stem}.log")
        if left:
            pytest.fail("processes started by the test survived SIGKILL: " + "; ".join(left), pytrace=False)


# -- helpers on the page -----------------------------------------------------------------------
def text(locator) -> str:
    return " ".join((locator.text_content() or "").split())


def wait_for(page, predicate, timeout: float, what: str, step: float = 0.25) -> object:
    """Poll ``predicate()`` until truthy; on timeout fail with ``what`` and the page's state."""
    value = wait_until(predicate, timeout, step)
    if not value:
        fail_with_state(page, f"timed out after {timeout:g} s waiting for {what}")
    return value


def fail_with_state(page, message: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "failure.png"
    try:
        (ARTIFACTS / "failure.html").write_text(page.content())
    except Exception:  # noqa: BLE001
        pass
    try:
        page.screenshot(path=str(shot))
    except Exception as exc:  # noqa: BLE001 - the message matters more than the picture
        shot = f"(no screenshot: {exc})"
    dashes = page.locator(".workerlab-dashboard")
    state = text(dashes.first) if dashes.count() else "(no dashboard on the page)"
    errors = [
        text(e)
        for e in page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all()
    ]
    console = getattr(page, "console_log", [])
    pytest.fail(
        f"{message}\n  dashboard: {state[:600]}\n  cell errors: {errors[:3]}\n"
        f"  browser console: {console[-10:]}\n  screenshot: {shot}",
        pytrace=False,
    )


def all_cells_ran(page) -> bool:
    """Every code cell shows an execution count ``[n]:`` (not ``[ ]:`` nor ``[*]:``)."""
    prompts = [text(p) for p in page.locator(".jp-CodeCell .jp-InputArea-prompt").all()]
    return bool(prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)


def open_notebook(lab: Lab, page, name: str) -> None:
    """Open the served notebook ``name`` and wait until its cells show and its kernel is idle."""
    page.goto(f"{lab.base}/lab/tree/{name}?token={lab.token}", timeout=PAGE_READY * 1000)
    wait_for(
        page,
        lambda: page.locator(".jp-NotebookPanel .jp-CodeCell").count() > 0,
        PAGE_READY,
        "the notebook's cells to render",
    )
    # The status bar names the kernel once it is connected ("Python 3 (ipykernel) | Idle"); the
    # toolbar's execution indicator says idle earlier, while there is no kernel yet, and Run All
    # then does nothing.
    kernel_idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle$"))
    wait_for(
        page,
        lambda: kernel_idle.count() or page.locator(".jp-Dialog").count(),
        PAGE_READY,
        "the kernel to be connected and idle (status bar: 'Python 3 (ipykernel) | Idle')",
    )
    if page.locator(".jp-Dialog").count():
        fail_with_state(page, f"JupyterLab showed a dialog: {text(page.locator('.jp-Dialog'))}")
