"""Notebook 03 as a reader meets it: opened in JupyterLab in a real (headless) Chromium.

Its saved outputs are the story (the search takes minutes at the real pace, so this test runs no
cell): the answer comes first, its first line in bold, then its picture (``wl.plot_search``), and the
checks CI runs stay out of sight (their source collapsed). The expected first line is read from the
saved notebook itself, the text form of the cell that shows ``th``. Screenshots under
``tests/browser/artifacts/``: ``threshold-notebook-answer.png`` (the answer and the picture) and
``threshold-notebook-picture.png``.
"""

from __future__ import annotations

import json

import pytest
from labserver import ARTIFACTS, PAGE_READY, ROOT, Lab, fail_with_state, open_notebook, text, wait_for

NOTEBOOK = ROOT / "notebooks" / "03_threshold.ipynb"
ANSWER_CELL = "th = wl.find_threshold("  # how the cell that shows the answer begins
PICTURE_CELL = "wl.plot_search(th)"

pytestmark = pytest.mark.timeout(600)


def _saved_answer() -> str:
    """The first line of the answer as the notebook saved it (its text form)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(ANSWER_CELL):
            for out in cell["outputs"]:
                plain = "".join(out.get("data", {}).get("text/plain", ""))
                if plain:
                    return plain.splitlines()[0]
            pytest.fail(f"{NOTEBOOK.name}: the answer's cell has no saved output", pytrace=False)
    pytest.fail(f"{NOTEBOOK.name}: no cell begins with {ANSWER_CELL!r}", pytrace=False)


def test_threshold_notebook_shows_the_answer_then_its_picture(chromium: str, lab: Lab, page):
    from playwright.sync_api import Error as PlaywrightError

    first = _saved_answer()
    raw = [
        o
        for c in json.loads(NOTEBOOK.read_text())["cells"]
        for o in c.get("outputs", [])
        if "SearchResult(" in json.dumps(o)
    ]
    assert raw == [], f"a raw result repr is saved in the notebook's outputs: {raw}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _check(lab, page, first)
    except PlaywrightError as exc:  # a locator that timed out, a closed page: say where it stood
        fail_with_state(page, f"{type(exc).__name__}: {exc}")


def _check(lab: Lab, page, first: str) -> None:
    open_notebook(lab, page, NOTEBOOK.name)

    # 1. The answer: its first line, in bold, in the output of the cell that made it.
    answer_cell = page.locator(".jp-CodeCell", has_text=ANSWER_CELL).first
    bold = answer_cell.locator(".jp-OutputArea-output b")
    wait_for(
        page, lambda: bold.count() > 0 and bold.first.is_visible(), PAGE_READY, "the answer's bold first line"
    )
    shown = text(bold.first)
    print(f"answer shown: {shown}")
    assert shown == first, (shown, first)
    lines = text(answer_cell.locator(".jp-OutputArea-output").first)
    assert "SearchResult(" not in lines, lines

    # 2. The picture: a drawn image in the output of the plot_search cell, below the answer.
    picture_cell = page.locator(".jp-CodeCell", has_text=PICTURE_CELL).first
    img = picture_cell.locator(".jp-OutputArea-output img").first
    wait_for(page, img.is_visible, PAGE_READY, "plot_search's picture")
    width, height = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    print(f"picture: {width} x {height} px")
    assert width > 200 and height > 150, (width, height)
    assert bold.first.bounding_box()["y"] < img.bounding_box()["y"], "the picture comes before the answer"

    # 3. No check in sight: the cells CI runs (asserts) have their source collapsed.
    visible_asserts = [
        text(c) for c in page.locator(".jp-CodeCell .jp-InputArea .cm-content").all() if "assert " in text(c)
    ]
    assert visible_asserts == [], visible_asserts

    answer_cell.scroll_into_view_if_needed()
    page.evaluate("el => el.scrollIntoView({block: 'start'})", answer_cell.element_handle())
    page.screenshot(path=str(ARTIFACTS / "threshold-notebook-answer.png"))
    img.screenshot(path=str(ARTIFACTS / "threshold-notebook-picture.png"))
