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

Isolation (``labserver.serve``, shared with the test of notebook 03): the notebook is copied into a
temporary folder that JupyterLab serves (so running it never writes outputs into the repository's
copy), JupyterLab's config, data, settings, workspaces and runtime folders are temporary too, and
every process the server starts carries a marker in its environment, so that teardown finds and
stops the kernel and every worker whatever happened.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from labserver import (
    ARTIFACTS,
    MARKER,
    ROOT,
    Lab,
    all_cells_ran,
    fail_with_state,
    open_notebook,
    text,
    wait_for,
    wait_until,
    worker_processes,
)

NOTEBOOK = ROOT / "notebooks" / "02_dashboard.ipynb"
#: the kernel's emulator pace (s between numbers): a run of a few seconds, so live frames show
INTERVAL = os.environ.get("WORKERLAB_INTERVAL", "0.2")
WORKERS = 8
#: more than the notebook's 150, typed into the samples box: a run of ~6 s at 0.2 s a number, so that
#: many live frames (about 7 a second) show before it ends
SAMPLES = 240
#: the threshold search's deadline, in intervals of the pace: counts from 10 workers up can meet it
SEARCH_INTERVALS = 15

# bounds of the waits (seconds); generous for a loaded CI machine, never asserted as durations
RUN_ALL = 240
RUN = 180

pytestmark = pytest.mark.timeout(900)


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
        fail_with_state(page, f"{type(exc).__name__}: {exc}")


def _drive(lab: Lab, page) -> None:
    started = time.monotonic()

    # 1. Open the notebook; JupyterLab starts its kernel (python3 from this venv).
    open_notebook(lab, page, NOTEBOOK.name)

    # 2. Run > Run All Cells. The notebook's own `await dash.run()` runs the dashboard once.
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()
    wait_for(page, lambda: all_cells_ran(page), RUN_ALL, "Run All Cells to finish every cell")
    dash = page.locator(".workerlab-dashboard").first
    dash.wait_for(state="visible", timeout=30_000)
    if "Error displaying widget" in text(page.locator(".jp-Notebook")):
        fail_with_state(page, "a widget failed to render ('Error displaying widget')")
    run_button = dash.locator("button.workerlab-run")
    wait_for(page, run_button.is_enabled, 60, "the Run button to be enabled after Run All")
    print(
        f"notebook ran all cells in {time.monotonic() - started:.1f} s; "
        f"status: {text(dash.locator('.workerlab-status'))}"
    )

    # 3. Settings through the real widgets: the slider's readout, and the samples box.
    workers = dash.locator(".workerlab-workers")
    _set_readout(page, workers, WORKERS)
    wait_for(
        page,
        lambda: text(workers.locator(".widget-readout")) == str(WORKERS),
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
    wait_for(
        page,
        lambda: not run_button.is_enabled() or "running" in text(status),
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
            seen_workers.update(worker_processes(lab.tag))
            last_scan = time.monotonic()
        if text(summary) == "" and "running" in text(status):
            counters = text(live_panel)
            if "samples/s" in counters:
                live_counters.append(counters)
            try:
                frames = page.evaluate("window.__wlFrames.length")
                if mid_run is None and frames >= 2 and plot.is_visible() and "samples/s" in counters:
                    mid_run = plot.screenshot(path=str(ARTIFACTS / "dashboard-plot-mid-run.png"))
                    live_view.screenshot(path=str(ARTIFACTS / "dashboard-live-mid-run.png"))
            except Exception:  # noqa: BLE001 - the picture is a bonus; the frame record decides
                pass
        return bool(expected.search(text(summary))) and run_button.is_enabled()

    wait_for(page, finished, RUN, f"the summary of {SAMPLES} samples from {WORKERS} workers")
    headline = text(dash.locator(".workerlab-summary-headline"))
    final_status = text(status)
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
    if not wait_until(lambda: not worker_processes(lab.tag), 15):
        pytest.fail(
            f"workers still running 15 s after the run finished: {worker_processes(lab.tag)}", pytrace=False
        )

    # 7. The compare tab overlays the runs of this dashboard: the notebook's and this one.
    dash.locator(".lm-TabBar-tab, .p-TabBar-tab", has_text="compare runs").first.click()
    compare = dash.locator("img.workerlab-compare-plot")
    wait_for(page, compare.is_visible, 30, "the compare tab's overlay to show")
    note = text(dash.locator(".workerlab-compare"))
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
    wait_for(page, run_button.is_enabled, 30, "the threshold widget's Run button")
    # A deadline of SEARCH_INTERVALS intervals, typed in as a person would: at the paced 10, start-up
    # (which does not shrink with the pace) can leave no count the model expects to meet, and the
    # search then ends at once with nothing to measure.
    deadline = search.locator(".widget-text", has_text="deadline").locator("input")
    deadline.fill(f"{SEARCH_INTERVALS * float(INTERVAL):g}")
    deadline.press("Enter")
    run_button.click()
    measured = re.compile(r"measuring: (\d+) runs measured")

    def evidence() -> bool:
        m = measured.search(text(status))
        return bool(m and int(m.group(1)) >= 2 and plot.is_visible())

    wait_for(page, evidence, RUN, "the search to measure two runs and draw them")
    live_status = text(status)
    search.screenshot(path=str(ARTIFACTS / "threshold-live.png"))
    stop_button.click()
    wait_for(
        page,
        lambda: run_button.is_enabled() and text(search.locator(".workerlab-threshold-verdict")),
        RUN,
        "the search to stop and show its verdict",
    )
    final = text(status)
    print(f"threshold search: live '{live_status}'; final '{final}'")
    assert final.startswith(("Stopped: ", "Done: ")), final
    search.screenshot(path=str(ARTIFACTS / "threshold-verdict.png"))
    if not wait_until(lambda: not worker_processes(lab.tag), 15):
        pytest.fail(
            f"workers still running 15 s after the search stopped: {worker_processes(lab.tag)}", pytrace=False
        )
