"""The command line's parser: each subcommand's description, examples, units and exit codes.

The help follows argparse's conventions (``RawDescriptionHelpFormatter``: descriptions and epilogs
keep their lines); every option names its unit in its metavar or help. Values are checked by the
library's own validators (``workerlab.config``), which ``workerlab.cli.main`` runs before anything
starts and reports in argparse's form, naming the flag (``FLAGS``).
"""

from __future__ import annotations

import argparse
from importlib import metadata

from workerlab.config import (
    DEADLINE_INTERVALS,
    DEFAULT_INTERVAL,
    DEFAULT_MTBF,
    MAX_LINE,
    MAX_LIVE_WORKERS,
    MAX_WORKERS,
)

__all__ = ["PROG", "build", "flag_of"]

PROG = "workerlab"

#: the keyword names of the library (``ConfigError.param``) that a flag of another name sets
FLAGS = {
    "every worker count": "--workers",
    "worker_args": "--worker-arg",
    "parallel (None or a number of runs)": "--parallel",
}

_DEADLINE = (
    f"what a run is judged at, seconds (default: {DEADLINE_INTERVALS:g} intervals of the pace: "
    f"{DEADLINE_INTERVALS * DEFAULT_INTERVAL:g} s at the real {DEFAULT_INTERVAL:g} s pace, 0.5 s with --interval 0.05)"
)

_EXIT_CODES = """\
  0    {ok}
  1    {failed}
  2    bad arguments: the usage and one line naming the flag, on stderr
  130  interrupted (Ctrl-C): every worker process is stopped first"""

#: the commands and what each does, as the top-level help lists them
COMMAND_HELP = {
    "run": "collect samples from many workers once, and report",
    "sweep": "repeat runs over worker counts and judge which meet the deadline",
    "threshold": "measure until the fewest workers meeting the deadline is conclusive",
    "worker": "the worker emulator, with the original's flags: workerlab worker -workerId N -port P",
}

TOP = f"""\
Drive many processes of a flaky worker program that streams numbers over HTTP, and see what
happened: collect samples once, sweep worker counts, or find the fewest workers that meet a
deadline. Every run is logged as an event log (Parquet with --out).

commands:
{chr(10).join(f"  {name:<11}{text}" for name, text in COMMAND_HELP.items())}

Run "{PROG} COMMAND --help" for a command's options, examples and exit codes.

exit status: 0 done, 1 a run failed, 2 bad arguments, 130 interrupted (Ctrl-C)."""

RUN = (
    """\
Start --workers worker processes, collect --samples numbers from their streams (restarting
what crashes or stalls), then report the numbers processed, the time it took against the
bound of a perfect system, the crashes, and whether it met the deadline.""",
    f"""\
examples:
  {PROG} run                                    16 workers, 150 samples, the real 1 s pace
  {PROG} run --interval 0.05 --json             compressed time (deadline 0.5 s); JSON on stdout
  {PROG} run --out run.parquet --plot run.png   keep the event log and a figure
  {PROG} run --worker-bin /path/to/worker       the original worker program

exit status:
"""
    + _EXIT_CODES.format(
        ok="the target was reached",
        failed="it was not (a timeout, a worker that cannot start): one line on stderr; the\n"
        "       partial event log is still saved with --out",
    ),
)

SWEEP = (
    """\
Repeat runs at each worker count of --workers and judge which counts meet the deadline in at
least --level of runs: per count the share with its exact interval, the median and p95 time
and the bound, then the answer in one sentence (and a warning when runs shared the machine).""",
    f"""\
examples:
  {PROG} sweep --workers 12-16 --repeats 5      5 runs at each of 12..16 workers, 10 s
  {PROG} sweep --workers 8,12-16 --interval 0.05 --json --out sweep.parquet
  {PROG} sweep --workers 14-16 --parallel 1     each run alone: slower, no interference

exit status:
"""
    + _EXIT_CODES.format(
        ok="the sweep ran (runs that missed are part of its answer)",
        failed="every run failed (the first one's reason on stderr)",
    ),
)

THRESHOLD = (
    """\
Find the fewest workers that meet the deadline in at least --level of runs, measured until the
answer is conclusive at --confidence: a 6-run pilot, a model of the runs, then exact plans for
the candidate and the count below it. Before it starts it says on stderr what it expects to
cost (runs, minutes); a --max-runs below the least a conclusive search needs is refused.""",
    f"""\
examples:
  {PROG} threshold                              counts 1-16, 10 s, 95% of runs; ~4 min
  {PROG} threshold --interval 0.05 --json       compressed time (deadline 0.5 s)
  {PROG} threshold --workers 12-16 --level 0.9 --out search.parquet

exit status:
"""
    + _EXIT_CODES.format(
        ok="an answer, conclusive or not (the text says which)",
        failed="the pilot could not calibrate a model (every pilot run failed)",
    ).replace("every worker process is stopped first", "what was measured is printed first"),
)


def _worker_options(p: argparse.ArgumentParser, *, seed: str, timeout: str) -> None:
    """The worker and emulator options that every subcommand shares (``main._run_options`` reads them)."""
    g = p.add_argument_group("the worker")
    g.add_argument("--worker-bin", metavar="PATH", help="a worker program with the original's command line")
    g.add_argument(
        "--worker-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="an extra argument for every worker (repeat it; write --worker-arg=-flag)",
    )
    g.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help=f"emulator: seconds between two numbers of a worker (default {DEFAULT_INTERVAL:g})",
    )
    g.add_argument(
        "--mtbf",
        type=float,
        metavar="SECONDS",
        help=f"emulator: mean seconds before a worker crashes, 0 = never (default {DEFAULT_MTBF:g})",
    )
    g.add_argument("--seed", type=int, metavar="N", help=seed)
    g.add_argument("--timeout", type=float, metavar="SECONDS", help=timeout)
    g.add_argument(
        "--max-line",
        type=int,
        default=MAX_LINE,
        metavar="BYTES",
        help=f"the longest line a worker may send (default {MAX_LINE})",
    )
    g.add_argument(
        "--max-workers",
        type=int,
        default=MAX_WORKERS,
        metavar="N",
        help=f"the cap on workers in one run; raise it on purpose (default {MAX_WORKERS})",
    )


def _target_options(g: argparse._ArgumentGroup) -> None:
    """How many samples a run collects, and the deadline it is judged at."""
    g.add_argument(
        "--samples", type=int, default=150, metavar="N", help="numbers a run collects (default 150)"
    )
    g.add_argument("--deadline", type=float, metavar="SECONDS", help=_DEADLINE)


def _batch_options(g: argparse._ArgumentGroup, *, counts: str) -> None:
    """The worker counts of many runs, how many run at once, and the statistics of the answer."""
    g.add_argument("--workers", default=f"1-{MAX_WORKERS}", metavar="SPEC", help=f"{counts} (default 1-16)")
    g.add_argument(
        "--level",
        type=float,
        default=0.95,
        metavar="SHARE",
        help="the share of runs that must meet the deadline, between 0 and 1 (default 0.95)",
    )
    g.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        metavar="SHARE",
        help="the confidence of the intervals and the answer, between 0 and 1 (default 0.95)",
    )
    g.add_argument(
        "--parallel",
        type=int,
        metavar="RUNS",
        help="at most this many runs at once (default: as many as --max-live-workers allows)",
    )
    g.add_argument(
        "--max-live-workers",
        type=int,
        default=MAX_LIVE_WORKERS,
        metavar="N",
        help=f"worker processes alive at once over all runs (default {MAX_LIVE_WORKERS})",
    )


def _output_options(p: argparse.ArgumentParser, *, out: str, plot: str | None) -> argparse._ArgumentGroup:
    """Where the results go: the event log, a figure, JSON or text, a progress bar or not."""
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="FILE.parquet", help=out)
    if plot is not None:
        g.add_argument("--plot", metavar="FILE.png", help=plot)
    g.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return g


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's raw-description formatter, with room for the longest subcommand's name."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30)


def _command(
    sub: argparse._SubParsersAction, name: str, summary: str, text: tuple[str, str]
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=text[0],
        epilog=text[1],
        usage="%(prog)s [options]",
        formatter_class=_formatter,
    )


def build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``workerlab`` parser and its subcommands' parsers by name (their ``error`` reports a bad flag)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        usage="%(prog)s [-h] [--version] COMMAND [options]",
        description=TOP.split("\n\n", 2)[0] + "\n\n" + TOP.split("\n\n", 2)[1],
        epilog=TOP.split("\n\n", 2)[2],
        formatter_class=_formatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    # the commands are listed in the description (argparse's own list misaligns a long name)
    sub = p.add_subparsers(
        prog=PROG, dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS
    )

    run = _command(sub, "run", COMMAND_HELP["run"], RUN)
    g = run.add_argument_group("the run")
    g.add_argument(
        "--workers",
        type=int,
        default=MAX_WORKERS,
        metavar="N",
        help=f"worker processes (default {MAX_WORKERS})",
    )
    _target_options(g)
    _worker_options(
        run, seed="emulator: a seed for a reproducible run", timeout="give up after this many seconds"
    )
    _output_options(run, out="save the event log", plot="save the run's figure")

    sw = _command(sub, "sweep", COMMAND_HELP["sweep"], SWEEP)
    g = sw.add_argument_group("the sweep")
    _batch_options(g, counts="worker counts: A-B, A,B,C, a single number, or a mix (8,12-16)")
    g.add_argument(
        "--repeats", type=int, default=5, metavar="N", help="runs at each worker count (default 5)"
    )
    _target_options(g)
    _worker_options(
        sw,
        seed="emulator: a seed for a reproducible sweep (each run derives its own)",
        timeout="give up on a run after this many seconds",
    )
    _output_options(sw, out="save the event log of every run", plot="save the sweep's figure")

    th = _command(sub, "threshold", COMMAND_HELP["threshold"], THRESHOLD)
    g = th.add_argument_group("the search")
    _batch_options(g, counts="the worker counts allowed: A-B, A,B,C or a mix")
    g.add_argument(
        "--max-runs",
        type=int,
        default=400,
        metavar="RUNS",
        help="the budget of runs, the pilot's included; checked before any worker starts (default 400)",
    )
    _target_options(g)
    _worker_options(
        th,
        seed="emulator: a seed for a reproducible search",
        timeout="give up on a run after this many seconds",
    )
    out = _output_options(th, out="save the event log of every run", plot=None)
    out.add_argument(
        "--details", action="store_true", help="after the answer: plans, power, screens, table, model"
    )

    sub.add_parser("worker", help=COMMAND_HELP["worker"], add_help=False)
    return p, {"run": run, "sweep": sw, "threshold": th}


def version() -> str:
    """The installed package's version (pyproject.toml's), as ``pip show workerlab`` says it."""
    try:
        return metadata.version(PROG)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def flag_of(parser: argparse.ArgumentParser, param: str | None) -> str | None:
    """The flag of ``parser`` that sets the library's argument ``param`` (None: no such flag)."""
    if param is None:
        return None
    if param.endswith(" in worker_args"):
        param = "worker_args"
    flag = FLAGS.get(param, "--" + param.replace("_", "-"))
    return flag if flag in parser._option_string_actions else None
