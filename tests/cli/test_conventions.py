"""The command line by the conventions: --version, each subcommand's help (description, examples,
units, exit codes), argparse's form for a bad flag with hints in command-line syntax, the deadline
that follows the pace, the search's cost said before it starts, and the sweep's shared-machine warning."""

from __future__ import annotations

import json
import re

import pytest
from helpers import FAST

from workerlab.cli import main as cli
from workerlab.cli import parser
from workerlab.errors import CollectError
from workerlab.thresholds.pilot import PILOT_RUNS
from workerlab.thresholds.settings import floor, least_runs

COMMANDS = ["run", "sweep", "threshold"]


def test_version_prints_the_installed_version_and_exits_0(capsys):
    from importlib import metadata

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"workerlab {metadata.version('workerlab')}\n"


def test_the_top_level_help_lists_the_commands_in_plain_text(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out and "workerlab COMMAND --help" in out
    for name in [*COMMANDS, "worker"]:
        assert re.search(rf"^  {name} +\S", out, re.M), name  # one line each, name then what it does


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommands_help_has_a_description_examples_units_and_exit_codes(capsys, command):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert out.startswith(f"usage: workerlab {command} [options]") and len(description.split()) > 20
    examples = out.split("examples:\n", 1)[1].split("\n\n")[0].splitlines()
    assert len(examples) >= 3 and all(e.startswith(f"  workerlab {command}") for e in examples)
    codes = out.split("exit status:\n", 1)[1]
    assert [line.split()[0] for line in codes.splitlines() if line[:3].strip().isdigit()] == [
        "0",
        "1",
        "2",
        "130",
    ]
    for unit in ("--deadline SECONDS", "--interval SECONDS", "--timeout SECONDS", "--max-line BYTES"):
        assert unit in out
    assert "10 intervals of the pace" in " ".join(out.split())  # the deadline's default, said


def _error(capsys, *argv: str) -> str:
    """The one error line of a refused command line (after argparse's usage line); exit status 2."""
    assert cli.main(list(argv)) == 2
    captured = capsys.readouterr()
    usage, error = captured.err.splitlines()
    assert captured.out == "" and usage == f"usage: workerlab {argv[0]} [options]"
    return error


def test_an_error_names_the_flag_in_argparses_form(capsys, spawned):
    assert (
        _error(capsys, "run", "--workers", "0")
        == "workerlab run: error: argument --workers: must be at least 1, got 0"
    )
    assert _error(capsys, "run", "--samples", "many") == (
        "workerlab run: error: argument --samples: invalid int value: 'many'"  # argparse's own
    )
    assert spawned == []


def test_hints_are_in_command_line_syntax_not_python(capsys, spawned):
    cap = _error(capsys, "run", "--workers", "20")
    assert cap.endswith("raise the cap on purpose with --max-workers 20") and "max_workers=" not in cap
    emulator_only = _error(capsys, "run", "--worker-bin", "/bin/true", "--interval", "0.05")
    assert emulator_only.startswith(
        "workerlab run: error: argument --interval: only exists in the bundled emulator"
    )
    assert (
        emulator_only.endswith("pass --worker-arg=-interval --worker-arg=0.05")
        and "worker_args" not in emulator_only
    )
    budget = _error(capsys, "threshold", "--max-runs", "30")
    least = least_runs(tuple(range(1, 17)), floor(0.95, 0.95), PILOT_RUNS).total
    assert budget.startswith(f"workerlab threshold: error: argument --max-runs: 30 is below {least} runs")
    assert budget.endswith(f"give --max-runs {least} or more") and "max_runs" not in budget
    assert "--worker-arg: -interval must be a number of seconds" in _error(
        capsys, "run", "--worker-arg=-interval", "--worker-arg=soon"
    )
    assert spawned == []


def test_a_missing_worker_binary_is_said_as_such_even_beside_emulator_flags(capsys):
    error = _error(capsys, "run", "--worker-bin", "/no/such/worker", "--interval", "0.05")
    assert error == "workerlab run: error: argument --worker-bin: no such file: '/no/such/worker'"


def test_every_flag_the_library_can_refuse_is_a_flag_of_its_command():
    """The map from the library's argument names to flags finds a flag for each (never a bare message)."""
    _, commands = parser.build()
    for name in (
        "workers",
        "every worker count",
        "samples",
        "deadline",
        "interval",
        "mtbf",
        "seed",
        "timeout",
        "max_workers",
        "max_line",
        "worker_bin",
        "worker_args",
        "-lead in worker_args",
    ):
        assert parser.flag_of(commands["run"], name) is not None or name == "every worker count", name
    for name in ("level", "confidence", "parallel (None or a number of runs)", "max_live_workers", "repeats"):
        assert parser.flag_of(commands["sweep"], name) is not None, name
    assert parser.flag_of(commands["threshold"], "max_runs") == "--max-runs"
    assert parser.flag_of(commands["run"], "max_runs") is None  # not a flag of run: the message stays whole


def test_run_judges_at_10_intervals_of_its_pace(capsys):
    line = "run --workers 4 --samples 20 --interval 0.05 --mtbf 0 --json --no-progress"
    assert cli.main(line.split()) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["deadline_s"] == 0.5 and rec["deadline_met"] == (rec["elapsed_s"] <= 0.5)


def test_threshold_says_on_stderr_what_it_expects_to_cost_before_it_starts(capsys, monkeypatch):
    from workerlab.thresholds import search

    def no_search(*args, **kwargs):
        raise CollectError("stub: the search itself is not run here")

    monkeypatch.setattr(search, "find_threshold", no_search)
    assert cli.main(["threshold", "--interval", str(FAST), "--no-progress"]) == 1
    err = capsys.readouterr().err.splitlines()
    least = least_runs(tuple(range(1, 17)), floor(0.95, 0.95), PILOT_RUNS).total
    said = (
        rf"workerlab threshold: expect at least {least} runs, ~\d+ s at this pace with up to 4 runs at once, "
    )
    assert re.fullmatch(said + r"~\d+ s if the pilot finds they must run alone \(more where .*\)", err[0])
    assert err[1] == "workerlab threshold: error: stub: the search itself is not run here"


def test_sweep_prints_the_warning_that_runs_shared_the_machine(capsys):
    line = (
        f"sweep --workers 2-3 --repeats 2 --samples 30 --interval {FAST} --mtbf 0 --parallel 4 --no-progress"
    )
    assert cli.main(line.split()) == 0
    out = capsys.readouterr().out
    assert "shared the machine" in out and "WARNING: runs shared the machine" in out
    assert "sweep again with --parallel 1 to rule it out" in out and "parallel=1" not in out
