"""The ``workerlab`` command: JSON output, exit codes, Ctrl-C and a killed collector."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest
from helpers import CLI, FAST, ROOT, interrupt_cli, start_cli, wait_gone

import workerlab as wl
from workerlab.cli import main as cli

#: a run and a sweep that would go on for hours, unless stopped
ENDLESS_RUN = f"run --workers 3 --samples 1000000 --interval {FAST} --mtbf 0 --no-progress"
ENDLESS_SWEEP = f"sweep --workers 2-3 --repeats 2 --samples 1000000 --interval {FAST} --mtbf 0 --no-progress"


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, **kw)


def test_json_is_the_only_stdout_and_has_the_summary_keys(tmp_path):
    out = tmp_path / "run.parquet"
    res = run_cli(*f"run --workers 4 --samples 40 --interval {FAST} --mtbf 0 --json --out".split(), str(out))
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)  # exactly one JSON object, nothing else
    df = wl.load(out)
    assert set(rec) == set(wl.summary(df).columns)
    # no --deadline: 10 intervals of the pace, and the saved log remembers it
    assert rec["samples"] == 40 and rec["workers"] == 4 and rec["deadline_s"] == pytest.approx(10 * FAST)
    assert wl.summary(df)["deadline_s"].tolist() == [rec["deadline_s"]]
    assert rec["run_id"] == df.run_id.iloc[0]
    assert rec["numbers_processed"] == int((df.event == "sample").sum())


@pytest.mark.slow
def test_human_summary_and_plot(tmp_path):
    png = tmp_path / "run.png"
    res = run_cli(*f"run --workers 2 --samples 20 --interval {FAST} --no-progress --plot".split(), str(png))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("run ") and "20 samples from 2 workers in " in res.stdout.splitlines()[0]
    assert re.search(r"^  samples kept +20 of 20$", res.stdout, re.M) and "numbers processed" in res.stdout
    assert png.stat().st_size > 10_000
    assert res.stderr == ""  # --no-progress: no bar


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "17"], "argument --workers: 17 workers is more than the cap of 16"),
        (["--samples", "0"], "argument --samples: must be at least 1, got 0"),
        (["--worker-bin", "/no/such/worker"], "argument --worker-bin: no such file: '/no/such/worker'"),
    ],
)
def test_bad_arguments_exit_2_as_argparse_says_them(args, message):
    res = run_cli("run", *args)
    assert res.returncode == 2
    assert res.stdout == ""
    usage, error = res.stderr.splitlines()
    assert usage == "usage: workerlab run [options]" and error.startswith(f"workerlab run: error: {message}")


@pytest.mark.slow
def test_timeout_exits_1_and_still_saves(tmp_path):
    out = tmp_path / "partial.parquet"
    res = run_cli(
        *f"run --workers 2 --samples 100000 --interval {FAST} --timeout 0.5 --no-progress --out".split(),
        str(out),
    )
    assert res.returncode == 1
    assert "timed out" in res.stderr
    assert (wl.load(out).event == "sample").sum() > 0


@pytest.mark.slow
@pytest.mark.parametrize("command, workers", [(ENDLESS_RUN, 3), (ENDLESS_SWEEP, 2 + 2 + 3 + 3)])
def test_ctrl_c_stops_every_worker(command, workers):
    proc, kids = start_cli(*command.split(), workers=workers)
    out, err = interrupt_cli(proc, 30)
    assert proc.returncode == 130 and "interrupted" in err and out == ""
    assert wait_gone(kids) == []


@pytest.mark.slow
def test_killed_collector_takes_its_workers_along():
    proc, kids = start_cli(*ENDLESS_RUN.split(), workers=3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert wait_gone(kids) == []  # parent-death signal


def test_worker_subcommand_is_the_emulator():
    res = run_cli("worker", "-workerId", "1")  # no -port: Go-style usage error
    assert res.returncode == 2
    assert "port" in res.stderr


# -- workerlab sweep ---------------------------------------------------------------------------


def test_cli_sweep_json(capsys, tmp_path):
    out = tmp_path / "sweep.parquet"
    line = f"sweep --workers 2-3 --repeats 2 --samples 30 --interval {FAST} --mtbf 0 --deadline 30"
    code = cli.main([*line.split(), "--json", "--no-progress", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rep = json.loads(captured.out)  # exactly one JSON object
    assert [r["workers"] for r in rep["rows"]] == [2, 3]
    assert all(r["runs"] == 2 and r["successes"] == 2 for r in rep["rows"])
    th = rep["threshold"]
    assert (th["workers"], th["strong"], th["repeats_needed"], th["level"], th["deadline"]) == (
        2,
        False,
        72,
        0.95,
        30,
    )
    df = wl.load(out)
    stops = df[(df.event == "stop") & (df.worker_id == 0)]  # one run-level row per run: its duration
    assert rep["runs"] == df.run_id.nunique() == len(stops) == 4
    assert rep["run_time_sum_s"] == pytest.approx(stops.t.sum())
    assert rep["elapsed_sum_s"] == pytest.approx(wl.summary(df).elapsed_s.sum())
    assert rep["wall_s"] >= stops.t.max()  # every run began and ended within the sweep


def test_cli_sweep_human_output_says_when_no_count_qualifies(capsys):
    line = f"sweep --workers 2 --repeats 1 --samples 30 --interval {FAST} --mtbf 0 --deadline 0.001"
    code = cli.main([*line.split(), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "workers  runs  met" in out and "no worker count tested (2) meets 0.001 s" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "5-2"], "argument --workers: 5-2 is an empty range"),
        (["--workers", "17"], "argument --workers: 17 workers is more than the cap of 16"),
        (["--workers", "0"], "argument --workers: must be at least 1, got 0"),
        (["--level", "1.5"], "argument --level: must be between 0 and 1"),
        (["--deadline", "0"], "argument --deadline: must be > 0 seconds"),
        (["--workers", "8", "--max-live-workers", "4"], "argument --max-live-workers: a run of 8 workers"),
        (["--confidence", "1"], "argument --confidence: must be between 0 and 1"),
        (["--repeats", "0"], "argument --repeats: must be at least 1, got 0"),
        (["--parallel", "0"], "argument --parallel: must be at least 1, got 0"),
    ],
)
def test_cli_sweep_bad_arguments_exit_2_naming_the_flag(capsys, spawned, args, message):
    assert cli.main(["sweep", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and spawned == []  # refused before anything started
    usage, error = captured.err.splitlines()
    assert usage == "usage: workerlab sweep [options]" and error.startswith(
        f"workerlab sweep: error: {message}"
    )


@pytest.mark.parametrize("command", ["run", "sweep", "threshold"])
def test_every_subcommand_passes_the_run_options_on(capsys, command):
    """--max-line (like every worker option) reaches the validator from each subcommand."""
    assert cli.main([command, "--max-line", "10", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err.splitlines()[-1]
        == f"workerlab {command}: error: argument --max-line: must be at least 64, got 10"
    )


def test_sweep_table_labels_its_intervals_with_their_confidence():
    from logbuilder import perfect_run, sweep

    from workerlab.cli import output
    from workerlab.thresholds.verdict import threshold

    df = sweep(*(perfect_run(w, 8, run_id=f"w{w}-r{r}") for w in (2, 4) for r in range(3)))
    default = output.format_sweep(output.sweep_report(threshold(df, 3.0, 0.9))).splitlines()
    assert default[0] == " workers  runs  met  not reached  share   95% CI        median s  p95 s  bound s"
    rep = output.sweep_report(threshold(df, 3.0, 0.9, confidence=0.8))
    lines = output.format_sweep(rep).splitlines()
    assert lines[0] == default[0].replace("95% CI", "80% CI") and "95%" not in "\n".join(lines)
    assert rep["threshold"]["confidence"] == 0.8
    from workerlab.thresholds.stats import cp_interval

    lo = {r["workers"]: r["ci_low"] for r in rep["rows"]}
    assert lo[4] == pytest.approx(cp_interval(3, 3, 0.8)[0]) and lo[4] > cp_interval(3, 3, 0.95)[0]
    assert f"{lo[4]:.2f}–1.00" in lines[2]  # the row shows the interval at that confidence


def test_cli_sweep_judges_once_for_its_table_and_its_plot(capsys, monkeypatch, tmp_path):
    from workerlab.thresholds import verdict

    calls = []
    real = verdict.threshold

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(verdict, "threshold", counted)
    png = tmp_path / "sweep.png"
    line = f"sweep --workers 2 --repeats 1 --samples 20 --interval {FAST} --mtbf 0 --deadline 5"
    assert cli.main([*line.split(), "--plot", str(png), "--no-progress"]) == 0
    assert len(calls) == 1  # the printed table and the plot share one verdict
    assert png.read_bytes().startswith(b"\x89PNG") and "2 workers meet 5 s" in capsys.readouterr().out


def test_cli_sweep_takes_the_confidence_of_its_intervals(capsys):
    line = f"sweep --workers 2 --repeats 1 --samples 20 --interval {FAST} --mtbf 0 --confidence 0.9"
    assert cli.main([*line.split(), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" workers  runs  met  not reached  share   90% CI  ") and "(90% CI" in out
