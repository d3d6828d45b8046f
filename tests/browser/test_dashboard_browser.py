"""The dashboard as a person meets it: JupyterLab in a real (headless) Chromium, driven by Playwright.

nbval proves the kernel side of ``notebooks/02_dashboard.ipynb`` runs; only a browser shows that the
widgets render and work. This test starts JupyterLab on a free loopback port with a random token,
opens the notebook, runs all its cells from the Run menu, sets the worker slider through its readout,
presses Run, records every plot frame the browser shows and what the live counters above it say while
the run goes, waits for the summary with the expected sample count, opens the "compare runs" tab, and
saves screenshots under ``tests/browser/artifacts/`` (gitignored): ``dashboard-live-mid-run.png``
(counters and frame during the run), ``dashboard-plot-mid-run.png``, ``dashboard-compare.png`` (the
overlay of the notebook's runs and this one), ``dashboard-finished.png`` and the whole page. Then it
runs the threshold widget (``wl.threshold_dashboard``) until two runs are measured
(``threshold-live.png``), presses Stop and waits for the verdict (``threshold-verdict.png``).

Not part of ``make test`` (pyproject's addopts ignore this folder): ``make test-browser`` installs
what it needs (Debian's chromium, Playwright from PyPI, the ``lab`` extra) and runs it. The browser is
the system's Chromium (``WORKERLAB_CHROMIUM``, default ``/usr/bin/chromium``): Playwright never
downloads one here. Emulator time is compressed through ``WORKERLAB_INTERVAL`` in the kernel's
environment; every wait is bounded, and nothing asserts a duration.

Isolation: the notebook is copied into a temporary folder that JupyterLab serves (so running it never
writes outputs into the repository's copy), JupyterLab's config, data, settings, workspaces and
runtime folders are temporary too, and every process the server starts carries a marker in its
environment, so that teardown finds and stops the kernel and every worker whatever happened.
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
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_dashboard.ipynb"
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
#: the kernel's emulator pace (s between numbers): a run of a few seconds, so live frames show
INTERVAL = os.environ.get("WORKERLAB_INTERVAL", "0.2")
WORKERS = 8
#: more than the notebook's 150, typed into the samples box: a run of ~6 s at 0.2 s a number, so that
#: many live frames (about 7 a second) show before it ends
SAMPLES = 240
MARKER = "WORKERLAB_BROWSER_TEST"  # env var set on Jupyter, inherited by its kernel and workers

# bounds of the waits (seconds); generous for a loaded CI machine, never asserted as durations
SERVER_START = 90
PAGE_READY = 120
RUN_ALL = 240
RUN = 180

pytestmark = pytest.mark.timeout(900)


# -- processes ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _marked(tag: str) -> list[psutil.Process]:
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


def _workers(tag: str) -> list[str]:
    """Command lines of this test's live worker processes (emulators run with ``-workerId N``)."""
    out = []
    for proc in _marked(tag):
        try:
            cmd = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if "-workerId" in cmd:
            out.append(f"{proc.pid}: {' '.join(cmd)}")
    return out


def _wait_until(predicate, timeout: float, step: float = 0.2):
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


def _settings(folder: Path) -> None:
    """JupyterLab user settings for the test: no autosave, no news or update checks (offline)."""
    plugins = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for rel, values in plugins.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _stop_lab(lab: Lab) -> list[str]:
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
    left = _marked(lab.tag)
    if left:
        lab.notes.append(
            "still running after JupyterLab stopped, killed: "
            + "; ".join(f"{p.pid} {' '.join(_cmd(p))}" for p in left)
        )
        for proc in left:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(left, timeout=10)
    return [f"{p.pid} {' '.join(_cmd(p))}" for p in _marked(lab.tag)]


def _cmd(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ["?"]


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def chromium() -> str:
    """The system Chromium, or a failure that says how to get it (a skip would hide it in CI)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"No Chromium at {CHROMIUM}: the browser test drives the system's Chromium "
            "(Playwright cannot download one here). Run `make test-browser`, which installs "
            "Debian's chromium package (`apt-get install chromium`), or set WORKERLAB_CHROMIUM "
            "to a Chromium executable.",
            pytrace=False,
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"Playwright is not installed ({exc}): run `make test-browser`, or "
            "`pip install -e '.[browser]'` (never `playwright install`: the browser is the "
            "system's Chromium).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def lab(tmp_path: Path):
    """JupyterLab serving a copy of the dashboard notebook; stopped with all it started, always."""
    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK.relative_to(ROOT)} is missing: nothing to open in JupyterLab", pytrace=False)
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.fail(
            f"{jupyter} is missing: the `lab` extra is not installed (run `make test-browser`)", pytrace=False
        )
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy2(NOTEBOOK, root / NOTEBOOK.name)
    home = tmp_path / "jupyter"
    _settings(home / "settings")
    tag = secrets.token_hex(8)
    env = {
        **os.environ,
        MARKER: tag,
        "WORKERLAB_INTERVAL": INTERVAL,
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
    port, token = _free_port(), secrets.token_hex(24)
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

        if not _wait_until(up, SERVER_START, step=0.5):
            pytest.fail(
                f"JupyterLab did not answer on {server.base} within {SERVER_START} s:\n{server.log_tail()}",
                pytrace=False,
            )
        yield server
    finally:
        left = _stop_lab(server)
        for note in server.notes:
            print(f"[teardown] {note}")
        print(f"[teardown] JupyterLab stopped; processes of the test left: {len(left)}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # the server's log, for a failure in CI
            shutil.copyfile(log, ARTIFACTS / "jupyterlab.log")
        if left:
            pytest.fail("processes started by the test survived SIGKILL: " + "; ".join(left), pytrace=False)


@pytest.fixture
def page(chromium: str, tmp_path: Path):
    """A page of a headless Chromium with a fresh profile; closed afterwards, whatever happened."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1700},
            timeout=60_000,
        )
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            pg.set_default_timeout(30_000)
            pg.on(
                "console",
                lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
            )
            pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            pg.console_log = console  # type: ignore[attr-defined]
            yield pg
        finally:
            context.close()
    if console:
        print("browser console (errors and warnings):\n  " + "\n  ".join(console[:40]))


# -- helpers on the page -----------------------------------------------------------------------
#: JavaScript: record every frame the plot <img> shows (pixel hash, and whether the run was still on)
RECORD_FRAMES = """
(root) => {
  window.__wlFrames = [];
  const dash = document.querySelectorAll(root)[0];
  dash.addEventListener('load', (ev) => {
    const img = ev.target;
    if (!(img instanceof HTMLImageElement) || !img.classList.contains('workerlab-plot')) return;
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < px.length; i++) { h ^= px[i]; h = Math.imul(h, 16777619); }
    const summary = dash.querySelector('.workerlab-summary');
    const status = dash.querySelector('.workerlab-status');
    window.__wlFrames.push({
      hash: (h >>> 0).toString(16), width: c.width, height: c.height,
      summaryEmpty: !summary || summary.textContent.trim() === '',
      status: status ? status.textContent.trim() : '',
    });
  }, true);
}
"""


def _text(locator) -> str:
    return " ".join((locator.text_content() or "").split())


def _wait_for(page, predicate, timeout: float, what: str, step: float = 0.25) -> object:
    """Poll ``predicate()`` until truthy; on timeout fail with ``what`` and the page's state."""
    value = _wait_until(predicate, timeout, step)
    if not value:
        _fail_with_state(page, f"timed out after {timeout:g} s waiting for {what}")
    return value


def _fail_with_state(page, message: str) -> None:
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
    state = _text(dashes.first) if dashes.count() else "(no dashboard on the page)"
    errors = [
        _text(e)
        for e in page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all()
    ]
    console = getattr(page, "console_log", [])
    pytest.fail(
        f"{message}\n  dashboard: {state[:600]}\n  cell errors: {errors[:3]}\n"
        f"  browser console: {console[-10:]}\n  screenshot: {shot}",
        pytrace=False,
    )


def _all_cells_ran(page) -> bool:
    """Every code cell shows an execution count ``[n]:`` (not ``[ ]:`` nor ``[*]:``)."""
    prompts = [_text(p) for p in page.locator(".jp-CodeCell .jp-InputArea-prompt").all()]
    return bool(prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)


def _set_readout(page, locator, value: int) -> None:
    """Type ``value`` into an ipywidgets slider's editable readout, as a person would."""
    readout = locator.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


# -- the test --------------------------------------------------------------------------------
def test_dashboard_runs_in_jupyterlab_in_a_real_browser(chromium: str, lab: Lab, page):
    from playwright.sync_api import Error as PlaywrightError

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.html"), *ARTIFACTS.glob("*.log")]:
        old.unlink()
    try:
        _drive(lab, page)
    except PlaywrightError as exc:  # a locator that timed out, a closed page: say where it stood
        _fail_with_state(page, f"{type(exc).__name__}: {exc}")


def _drive(lab: Lab, page) -> None:
    started = time.monotonic()

    # 1. Open the notebook; JupyterLab starts its kernel (python3 from this venv).
    page.goto(f"{lab.base}/lab/tree/{NOTEBOOK.name}?token={lab.token}", timeout=PAGE_READY * 1000)
    _wait_for(
        page,
        lambda: page.locator(".jp-NotebookPanel .jp-CodeCell").count() > 0,
        PAGE_READY,
        "the notebook's cells to render",
    )
    # The status bar names the kernel once it is connected ("Python 3 (ipykernel) | Idle"); the
    # toolbar's execution indicator says idle earlier, while there is no kernel yet, and Run All
    # then does nothing.
    kernel_idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle$"))
    _wait_for(
        page,
        lambda: kernel_idle.count() or page.locator(".jp-Dialog").count(),
        PAGE_READY,
        "the kernel to be connected and idle (status bar: 'Python 3 (ipykernel) | Idle')",
    )
    if page.locator(".jp-Dialog").count():
        _fail_with_state(page, f"JupyterLab showed a dialog: {_text(page.locator('.jp-Dialog'))}")

    # 2. Run > Run All Cells. The notebook's own `await dash.run()` runs the dashboard once.
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()
    _wait_for(page, lambda: _all_cells_ran(page), RUN_ALL, "Run All Cells to finish every cell")
    dash = page.locator(".workerlab-dashboard").first
    dash.wait_for(state="visible", timeout=30_000)
    if "Error displaying widget" in _text(page.locator(".jp-Notebook")):
        _fail_with_state(page, "a widget failed to render ('Error displaying widget')")
    run_button = dash.locator("button.workerlab-run")
    _wait_for(page, run_button.is_enabled, 60, "the Run button to be enabled after Run All")
    print(
        f"notebook ran all cells in {time.monotonic() - started:.1f} s; "
        f"status: {_text(dash.locator('.workerlab-status'))}"
    )

    # 3. Settings through the real widgets: the slider's readout, and the samples box.
    workers = dash.locator(".workerlab-workers")
    _set_readout(page, workers, WORKERS)
    _wait_for(
        page,
        lambda: _text(workers.locator(".widget-readout")) == str(WORKERS),
        10,
        f"the worker slider's readout to show {WORKERS}",
    )
    samples = dash.locator(".workerlab-samples input")
    samples.fill(str(SAMPLES))
    samples.press("Enter")

    # 4. Run, recording every plot frame the browser shows.
    page.evaluate(RECORD_FRAMES, ".workerlab-dashboard")
    summary, status = dash.locator(".workerlab-summary"), dash.locator(".workerlab-status")
    run_button.click()
    _wait_for(
        page,
        lambda: not run_button.is_enabled() or "running" in _text(status),
        30,
        "the run to start (Run disabled)",
    )
    plot = dash.locator("img.workerlab-plot")
    live_panel, live_view = dash.locator(".workerlab-live"), dash.locator(".workerlab-live-view")
    live_counters: list[str] = []  # what the counters above the plot said while the run went
    mid_run = None
    expected = re.compile(rf"\b{SAMPLES} samples from {WORKERS} workers\b")
    seen_workers: set[str] = set()
    last_scan = -1.0

    def finished() -> bool:
        nonlocal mid_run, last_scan
        if time.monotonic() - last_scan >= 1.0:  # the tag reaches the workers (teardown relies on it)
            seen_workers.update(_workers(lab.tag))
            last_scan = time.monotonic()
        if _text(summary) == "" and "running" in _text(status):
            counters = _text(live_panel)
            if "samples/s" in counters:
                live_counters.append(counters)
            try:
                frames = page.evaluate("window.__wlFrames.length")
                if mid_run is None and frames >= 2 and plot.is_visible() and "samples/s" in counters:
                    mid_run = plot.screenshot(path=str(ARTIFACTS / "dashboard-plot-mid-run.png"))
                    live_view.screenshot(path=str(ARTIFACTS / "dashboard-live-mid-run.png"))
            except Exception:  # noqa: BLE001 - the picture is a bonus; the frame record decides
                pass
        return bool(expected.search(_text(summary))) and run_button.is_enabled()

    _wait_for(page, finished, RUN, f"the summary of {SAMPLES} samples from {WORKERS} workers")
    headline = _text(dash.locator(".workerlab-summary-headline"))
    final_status = _text(status)
    print(f"summary: {headline}\nstatus: {final_status}")
    assert final_status.startswith(f"Done: {SAMPLES} samples"), final_status

    # 5. The plot changed while the run went: at least two different live frames were shown.
    # The last frame before the summary may be the final one (drawn once the collector returned,
    # just before the summary is set): only the frames before it are surely live.
    frames = page.evaluate("window.__wlFrames")
    before_summary = [f for f in frames if f["summaryEmpty"]]
    live = before_summary[:-1]
    print(
        f"plot frames shown: {len(frames)} ({len(before_summary)} before the summary); "
        f"distinct live images: {len({f['hash'] for f in live})}"
    )
    assert len({f["hash"] for f in live}) >= 2, (
        f"the plot did not update at least twice during the run: frames seen {frames}"
    )
    assert all(f["width"] > 0 and f["height"] > 0 for f in frames)

    # 5b. The counters above the plot were live too: rate, time to target against the deadline, faults.
    print(f"live counters seen: {len(live_counters)}; first: {live_counters[:1]}; last: {live_counters[-1:]}")
    assert len(set(live_counters)) >= 2, f"the live counters did not change during the run: {live_counters}"
    for label in ("rate", "time to target", "deadline", "crashes / restarts / stalls"):
        assert label in live_counters[-1], (label, live_counters[-1])
    assert re.search(r"\d+ of " + str(SAMPLES), live_counters[-1]), live_counters[-1]

    # 6. The run's workers are gone now that it has finished (the collector stops them).
    assert seen_workers, (
        "no worker process of this test was seen during the run: the "
        f"{MARKER} tag did not reach them, so the checks for leftovers are blind"
    )
    if not _wait_until(lambda: not _workers(lab.tag), 15):
        pytest.fail(f"workers still running 15 s after the run finished: {_workers(lab.tag)}", pytrace=False)

    # 7. The compare tab overlays the runs of this dashboard: the notebook's and this one.
    dash.locator(".lm-TabBar-tab, .p-TabBar-tab", has_text="compare runs").first.click()
    compare = dash.locator("img.workerlab-compare-plot")
    _wait_for(page, compare.is_visible, 30, "the compare tab's overlay to show")
    note = _text(dash.locator(".workerlab-compare"))
    print(f"compare tab: {note}")
    runs = re.search(r"The last (\d+) of (\d+) runs", note)
    assert runs and int(runs.group(1)) >= 2, note
    compare.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"))
    dash.locator(".lm-TabBar-tab, .p-TabBar-tab", has_text="live").first.click()

    # 8. A picture of the finished dashboard, for people (gitignored).
    dash.scroll_into_view_if_needed()
    page.evaluate("el => el.scrollIntoView({block: 'start'})", dash.element_handle())
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-dashboard-finished.png"))
    dash.screenshot(path=str(ARTIFACTS / "dashboard-finished.png"))

    # 9. The threshold search in its widget: Run, a live picture of the evidence once runs are
    # measured, then Stop, which must end with a verdict on what was measured and no worker left.
    _threshold_search(lab, page)
    print(f"screenshots in {ARTIFACTS.relative_to(ROOT)}/; test body took {time.monotonic() - started:.1f} s")


def _threshold_search(lab: Lab, page) -> None:
    search = page.locator(".workerlab-threshold").first
    search.scroll_into_view_if_needed()
    run_button, stop_button = (
        search.locator("button.workerlab-threshold-run"),
        search.locator("button.workerlab-threshold-stop"),
    )
    status, plot = (
        search.locator(".workerlab-threshold-status"),
        search.locator("img.workerlab-threshold-plot"),
    )
    _wait_for(page, run_button.is_enabled, 30, "the threshold widget's Run button")
    run_button.click()
    measured = re.compile(r"measuring: (\d+) runs measured")

    def evidence() -> bool:
        m = measured.search(_text(status))
        return bool(m and int(m.group(1)) >= 2 and plot.is_visible())

    _wait_for(page, evidence, RUN, "the search to measure two runs and draw them")
    live_status = _text(status)
    search.screenshot(path=str(ARTIFACTS / "threshold-live.png"))
    stop_button.click()
    _wait_for(
        page,
        lambda: run_button.is_enabled() and _text(search.locator(".workerlab-threshold-verdict")),
        RUN,
        "the search to stop and show its verdict",
    )
    final = _text(status)
    print(f"threshold search: live '{live_status}'; final '{final}'")
    assert final.startswith(("Stopped: ", "Done: ")), final
    search.screenshot(path=str(ARTIFACTS / "threshold-verdict.png"))
    if not _wait_until(lambda: not _workers(lab.tag), 15):
        pytest.fail(
            f"workers still running 15 s after the search stopped: {_workers(lab.tag)}", pytrace=False
        )
