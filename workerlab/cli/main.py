"""Command line: ``workerlab run``, ``sweep``, ``threshold`` and ``worker`` (the emulator).

Exit status: 0 when the target was reached, 1 when a run failed (one line on stderr, the
partial event log still written to ``--out``), 2 for bad arguments, 130 on Ctrl-C. A sweep
exits 0 whatever the threshold (runs that fail are part of its answer), 1 only if every run failed.
``threshold`` exits 0 with an answer, conclusive or not; on Ctrl-C it still prints what was
measured (and saves ``--out``), then exits 130. With ``--json`` nothing but one JSON object goes
to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from workerlab.cli import output as cli_format
from workerlab.config import (
    DEADLINE,
    DEFAULT_INTERVAL,
    DEFAULT_MTBF,
    MAX_LINE,
    MAX_LIVE_WORKERS,
    MAX_WORKERS,
    RunOptions,
    parse_workers,
    share,
)
from workerlab.errors import ConfigError

PROG = "workerlab"


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


#: What ``run``, ``sweep`` and ``threshold`` print on Ctrl-C (exit 130).
INTERRUPTED = "interrupted; every worker process was stopped"


def _worker_options(p: argparse.ArgumentParser, *, seed: str, timeout: str) -> None:
    """The worker and emulator options that every subcommand shares (``_run_options`` reads them)."""
    p.add_argument("--worker-bin", metavar="PATH", help="a worker program with the original's CLI")
    p.add_argument(
        "--worker-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="extra argument for every worker (repeat; use --worker-arg=-flag)",
    )
    p.add_argument(
        "--interval", type=float, help=f"emulator: seconds between numbers (default {DEFAULT_INTERVAL:g})"
    )
    p.add_argument(
        "--mtbf", type=float, help=f"emulator: mean seconds to a crash (0 = never; default {DEFAULT_MTBF:g})"
    )
    p.add_argument("--seed", type=int, help=seed)
    p.add_argument("--timeout", type=float, help=timeout)
    p.add_argument(
        "--max-line",
        type=int,
        default=MAX_LINE,
        help=f"longest line a worker may send, bytes (default {MAX_LINE})",
    )
    p.add_argument("--max-workers", type=int, default=MAX_WORKERS, help="raise the 16-worker cap on purpose")


def _target_options(p: argparse.ArgumentParser, *, deadline: str) -> None:
    """How many samples a run collects, and the deadline it is judged by."""
    p.add_argument("--samples", type=int, default=150, help="target number of samples (default 150)")
    p.add_argument("--deadline", type=float, default=DEADLINE, help=f"{deadline} (default {DEADLINE:g})")


def _batch_options(p: argparse.ArgumentParser, *, counts: str, level: str) -> None:
    """The worker counts of many runs, how many run at once, and the statistics of the answer."""
    p.add_argument("--workers", default="1-16", metavar="SPEC", help=f"{counts} (default 1-16)")
    p.add_argument("--level", type=float, default=0.95, help=f"{level} (default 0.95)")
    p.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence of the intervals and the answer (default 0.95)",
    )
    p.add_argument(
        "--parallel",
        type=int,
        metavar="K",
        help="at most K runs at once (default: as many as --max-live-workers allows)",
    )
    p.add_argument(
        "--max-live-workers",
        type=int,
        default=MAX_LIVE_WORKERS,
        help=f"worker processes alive at once over all runs (default {MAX_LIVE_WORKERS})",
    )


def _output_options(p: argparse.ArgumentParser, *, out: str, plot: str | None) -> None:
    """Where the results go: the event log, a figure, JSON or text, a progress bar or not."""
    p.add_argument("--out", metavar="FILE.parquet", help=out)
    if plot is not None:
        p.add_argument("--plot", metavar="FILE.png", help=plot)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="collect samples from many workers and report")
    run.add_argument(
        "--workers", type=int, default=MAX_WORKERS, help=f"worker processes (default {MAX_WORKERS})"
    )
    _target_options(run, deadline="deadline for the report")
    _worker_options(
        run, seed="emulator: seed for reproducible runs", timeout="give up after this many seconds"
    )
    _output_options(run, out="save the event log", plot="save the overview figure")

    sw = sub.add_parser("sweep", help="repeat runs over worker counts and find the deadline threshold")
    sw.add_argument("--repeats", type=int, default=5, help="runs per worker count (default 5)")
    _target_options(sw, deadline="seconds a run may take")
    _batch_options(
        sw,
        counts="worker counts: A-B, A,B,C or a single number",
        level="share of runs that must meet the deadline",
    )
    _worker_options(
        sw,
        seed="emulator: seed for a reproducible sweep (each run derives its own)",
        timeout="give up on a run after this many seconds",
    )
    _output_options(sw, out="save the event log of every run", plot="save the sweep plot")

    th = sub.add_parser(
        "threshold", help="measure until the smallest count meeting the deadline is conclusive"
    )
    th.add_argument("--max-runs", type=int, default=400, help="budget of measured runs (default 400)")
    _target_options(th, deadline="seconds a run may take")
    _batch_options(th, counts="counts allowed", level="share of runs meeting the deadline")
    _worker_options(
        th, seed="emulator: seed for a reproducible search", timeout="give up on a run after this"
    )
    _output_options(th, out="save the event log of every run", plot=None)
    th.add_argument(
        "--details", action="store_true", help="after the answer: plans, power, screens, table, model"
    )

    sub.add_parser(
        "worker", help="the worker emulator: workerlab worker -workerId N -port P ...", add_help=False
    )
    return p


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of every run (``_worker_options``) as the library's keywords, checked here once.

    The public ``collect``, ``sweep`` and ``find_threshold`` take them by these names; they are
    validated as one ``RunOptions`` first, so a bad one exits 2 before anything starts.
    """
    options: dict[str, Any] = dict(
        worker_bin=args.worker_bin,
        worker_args=args.worker_arg,
        interval=args.interval,
        mtbf=args.mtbf,
        seed=args.seed,
        timeout=args.timeout,
        max_workers=args.max_workers,
        max_line=args.max_line,
    )
    RunOptions(**options)
    return options | {"progress": not args.no_progress}


def _batch_run_options(args: argparse.Namespace) -> dict[str, Any]:
    """``_run_options`` and how many runs and workers may be alive at once (``sweep``, ``threshold``)."""
    share("--level", args.level)
    share("--confidence", args.confidence)
    return _run_options(args) | {"parallel": args.parallel, "max_live_workers": args.max_live_workers}


def _run(args: argparse.Namespace) -> int:
    from workerlab.engine import collector
    from workerlab.errors import CollectError
    from workerlab.log import persist

    error: CollectError | None = None
    try:
        df = collector.collect(args.workers, args.samples, **_run_options(args))
    except CollectError as exc:
        error, df = exc, exc.events
    if args.out and df is not None:
        persist.save(df, args.out)
    if error is not None:
        kept = f"the partial event log is in {args.out}" if args.out else "pass --out FILE.parquet to keep it"
        return _fail(f"{cli_format.failure(error, df)} ({kept})", 1)
    rec = cli_format.summary_record(df, args.deadline)
    if args.plot:
        from workerlab.plots import plot_run

        plot_run(df, deadline=args.deadline).savefig(args.plot, dpi=110)
    if args.json:
        print(json.dumps(rec))
    else:
        print(cli_format.format_summary(rec))
        _print_paths(args, width=19)
    return 0


def _print_paths(args: argparse.Namespace, *, width: int) -> None:
    """Where the event log and the plot were saved, if they were."""
    for label, path in (("event log", args.out), ("plot", args.plot)):
        if path:
            print(f"  {label:<{width}} {path}")


def _sweep(args: argparse.Namespace) -> int:
    import time
    import warnings

    from workerlab.batch.sweep import sweep
    from workerlab.log import events, persist
    from workerlab.thresholds.verdict import threshold

    counts = parse_workers(args.workers)
    options = _batch_run_options(args)
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below, in one line
        df = sweep(counts, args.repeats, args.samples, deadline=args.deadline, **options)
    wall = time.monotonic() - start
    if args.out:
        persist.save(df, args.out)
    verdict = threshold(df, args.deadline, args.level, confidence=args.confidence)  # judged once, here
    rep = cli_format.sweep_report(verdict)
    rep["wall_s"] = wall
    if args.plot:
        from matplotlib.figure import Figure

        from workerlab.plots import plot_sweep

        fig = Figure(figsize=(10, 5), layout="constrained")
        plot_sweep(verdict, ax=fig.add_subplot())
        fig.savefig(args.plot, dpi=110)
    if rep["failed_runs"] == rep["runs"]:
        first = events.run_stops(df)["message"].fillna("(no message)").iloc[0]
        return _fail(f"every run failed; the first: {first}", 1)
    if args.json:
        print(json.dumps(rep))
    else:
        print(cli_format.format_sweep(rep))
        if rep["not_reached_runs"]:
            print(
                f"  {rep['not_reached_runs']} run(s) did not reach the target; see their stop rows"
                + (f" in {args.out}" if args.out else " (save them with --out)")
            )
        _print_paths(args, width=10)
    return 0


def _threshold(args: argparse.Namespace) -> int:
    from workerlab.errors import CollectError
    from workerlab.log import persist
    from workerlab.thresholds.search import find_threshold

    counts = parse_workers(args.workers)
    options = _batch_run_options(args)
    try:
        th = find_threshold(
            counts,
            samples=args.samples,
            deadline=args.deadline,
            level=args.level,
            confidence=args.confidence,
            max_runs=args.max_runs,
            **options,
        )
    except CollectError as exc:  # the pilot could not calibrate a model
        return _fail(str(exc), 1)
    if args.out and th.events is not None:
        persist.save(th.events, args.out)
    print(json.dumps(th.to_dict(), default=cli_format.jsonable) if args.json else th)
    if args.details and not args.json:
        print(f"\n{th.details()}")
    if th.interrupted:
        return _fail(f"{INTERRUPTED} (above: what was measured)", 130)
    return 0


COMMANDS = {"run": _run, "sweep": _sweep, "threshold": _threshold}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workerlab`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:  # Go-flag syntax: hand over before argparse sees it
        from workerlab.worker import emulator

        return emulator.main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:  # raised before anything started
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail(INTERRUPTED, 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
