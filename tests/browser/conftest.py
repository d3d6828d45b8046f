"""The browser tests' fixtures: the system's Chromium, a page of it, and JupyterLab serving the
notebook that the test module names (its ``NOTEBOOK``; its kernel's pace its ``INTERVAL``, else
``WORKERLAB_INTERVAL``, else 0.2 s). The machinery is in ``labserver.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from labserver import CHROMIUM, CHROMIUM_FLAGS, serve


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
def lab(request: pytest.FixtureRequest, tmp_path: Path):
    """JupyterLab serving a copy of the test module's ``NOTEBOOK``; stopped with all it started, always."""
    interval = getattr(request.module, "INTERVAL", os.environ.get("WORKERLAB_INTERVAL", "0.2"))
    with serve(request.module.NOTEBOOK, tmp_path, interval) as server:
        yield server


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
