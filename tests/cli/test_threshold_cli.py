"""``workerlab threshold`` as a user runs it: the search on the command line, in a subprocess.

The search is ``helpers.SEARCH`` (6 workers, 2 measured as the count below). Apart from
tests/thresholds/test_search.py so that ``make test``'s two pytest processes share the searches.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import CLI, FAST, ROOT, interrupt_cli, start_cli, wait_gone
from helpers import SEARCH_ARGS as ARGS

import workerlab as wl


@pytest.mark.slow
def test_cli_json_has_the_answer_and_its_evidence(tmp_path):
    out = tmp_path / "log.parquet"
    proc = subprocess.run(
        [*CLI, "threshold", *ARGS, "--level", "0.8", "--json", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert {"workers", "conclusive", "runs_used", "wall_s", "model", "table", "power", "decisions"} <= set(
        rep
    )
    assert rep["below_examined"] is True and 0 < rep["power"]["at_predicted"] <= 1
    assert [d["decision"] for d in rep["decisions"]] == ["below", "meets"]
    assert rep["workers"] == 6 and rep["conclusive"] is True
    assert rep["model"]["interval"] == pytest.approx(FAST, rel=0.05)
    assert {r["workers"] for r in rep["table"]} == {2, 6}
    assert wl.load(out)["run_id"].nunique() == rep["runs_used"]
    assert rep["answer"][0] == rep["sentence"] and len(rep["answer"]) <= 8 and rep["fresh_run"] is None


@pytest.mark.slow
def test_cli_prints_the_short_answer_then_the_details_when_asked():
    """One search, with --details: the short answer first (at most 8 lines), then the details; without
    the flag the CLI prints the short answer alone (the same code path, minus the second print)."""
    full = subprocess.run(
        [*CLI, "threshold", *ARGS, "--level", "0.8", "--no-progress", "--details"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert full.returncode == 0, full.stderr
    answer, details = full.stdout.split("\n\n", 1)
    lines = answer.splitlines()
    assert (
        lines[0] == "6 workers meet 0.744 s in >= 80% of runs (conclusive, 95% confidence)"
        and len(lines) <= 8
    )
    assert "plans (each fixed before" in details and "Model (" in details


@pytest.mark.slow
def test_cli_refuses_a_bad_level():
    proc = subprocess.run(
        [*CLI, "threshold", *ARGS, "--level", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "level" in proc.stderr and proc.stdout == ""


@pytest.mark.slow
def test_ctrl_c_on_the_cli_prints_what_was_measured_and_stops_every_worker():
    # 100,000 samples: no run ends by itself, so the search is still in its pilot when interrupted
    # (in its first half, which runs one at a time: the first pilot run's 6 workers)
    args = [*ARGS[:2], "--samples", "100000", *ARGS[4:], "--json", "--no-progress"]
    proc, kids = start_cli("threshold", *args, workers=6)
    out, err = interrupt_cli(proc, 60)
    assert proc.returncode == 130 and "interrupted" in err
    rep = json.loads(out)
    assert rep["interrupted"] is True and rep["conclusive"] is False and rep["runs_used"] >= 1
    assert wait_gone(kids) == []
