"""Command line: ``workerlab run``, ``sweep``, ``threshold`` and ``worker`` (the emulator).

Exit status: 0 when the target was reached, 1 when a run failed (one line on stderr, the
partial event log still written to ``--out``), 2 for bad arguments, 130 on Ctrl-C. A sweep
exits 0 whatever the threshold (runs that fail are part of its answer), 1 only if every run failed.
``threshold`` exits 0 with an answer, conclusive or not; on Ctrl-C it still prints what was
measured (and saves ``--out``), then exits 130. With ``--json`` nothing but one JSON object goes
to stdout.

Every argument is checked by the library's own validators before anything starts
(``RunOptions``, ``BatchSettings.check``, ``workerlab.thresholds.search.check``); a bad one is
reported as argparse reports its own errors, naming the flag (``workerlab run: error: argument
--workers: must be at least 1, got 0``), with hints in command-line syntax. The parser, its help
and the flags are in ``workerlab.cli.parser``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from workerlab.cli import output as cli_format
from workerlab.cli.parser import PROG, build, flag_of
from workerlab.config import RunOptions, parse_workers, share
from workerlab.errors import ConfigError

#: What ``run``, ``sweep`` and ``threshold`` print on Ctrl-C (exit 130).
INTERRUPTED = "interrupted; every worker process was stopped"


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr, ``workerlab <command>: error: <message>``; the exit status ``code``."""
    print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
    return code


def _bad_argument(parser: argparse.ArgumentParser, exc: ConfigError) -> int:
    """A ``ConfigError`` as argparse reports a bad argument (usage, then the flag and the problem): 2."""
    flag = flag_of(parser, exc.param)
    problem = exc.cli if flag is not None else str(exc)
    if exc.param is not None and exc.param.endswith(" in worker_args"):
        problem = f"{exc.param.split()[0]} {problem}"
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: " + (f"argument {flag}: {problem}" if flag else problem), file=sys.stderr)
    return 2


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of every run (``parser._worker_options``) as the library's keywords, checked here once.

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
    share("level", args.level)
    share("confidence", args.confidence)
    return _run_options(args) | {"parallel": args.parallel, "max_live_workers": args.max_live_workers}


def _run(args: argparse.Namespace) -> int:
    from workerlab.engine import collector
    from workerlab.errors import CollectError
    from workerlab.log import persist

    options = _run_options(args)
    RunOptions.resolve(None, options).config(args.workers, args.samples, deadline=args.deadline)
    error: CollectError | None = None
    try:
        df = collector.collect(args.workers, args.samples, deadline=args.deadline, **options)
    except CollectError as exc:
        error, df = exc, exc.events
    if args.out and df is not None:
        persist.save(df, args.out)
    if error is not None:
        kept = f"the partial event log is in {args.out}" if args.out else "pass --out FILE.parquet to keep it"
        return _fail(args, f"{cli_format.failure(error, df)} ({kept})", 1)
    rec = cli_format.summary_record(df)  # judged at the deadline the run was made with
    if args.plot:
        from workerlab.plots import plot_run

        plot_run(df).savefig(args.plot, dpi=110)
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

    from workerlab.batch.spec import BatchSettings
    from workerlab.batch.sweep import sweep
    from workerlab.log import events, persist
    from workerlab.thresholds.verdict import threshold

    counts = parse_workers(args.workers)
    options = _batch_run_options(args)
    BatchSettings.check(
        counts,
        repeats=args.repeats,
        samples=args.samples,
        deadline=args.deadline,
        parallel=args.parallel,
        max_live_workers=args.max_live_workers,
        options=RunOptions.resolve(None, options),
    )
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below, in one line
        df = sweep(counts, args.repeats, args.samples, deadline=args.deadline, **options)
    wall = time.monotonic() - start
    if args.out:
        persist.save(df, args.out)
    # judged once, here, at the deadline the runs were made with
    verdict = threshold(df, level=args.level, confidence=args.confidence)
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
        return _fail(args, f"every run failed; the first: {first}", 1)
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
    from workerlab.thresholds import search

    counts = parse_workers(args.workers)
    options = _batch_run_options(args)
    settings = search.check(
        counts,
        samples=args.samples,
        deadline=args.deadline,
        level=args.level,
        confidence=args.confidence,
        model=None,
        max_runs=args.max_runs,
        parallel=args.parallel,
        max_live_workers=args.max_live_workers,
        options=RunOptions.resolve(None, options),
    )
    print(f"{PROG} threshold: {search.expected_cost(settings).text()}", file=sys.stderr)
    try:
        th = search.find_threshold(
            counts,
            samples=args.samples,
            deadline=settings.batch.deadline,
            level=args.level,
            confidence=args.confidence,
            max_runs=args.max_runs,
            **options,
        )
    except CollectError as exc:  # the pilot could not calibrate a model
        return _fail(args, str(exc), 1)
    if args.out and th.events is not None:
        persist.save(th.events, args.out)
    print(json.dumps(th.to_dict(), default=cli_format.jsonable) if args.json else th)
    if args.details and not args.json:
        print(f"\n{th.details()}")
    if th.interrupted:
        return _fail(args, f"{INTERRUPTED} (above: what was measured)", 130)
    return 0


COMMANDS = {"run": _run, "sweep": _sweep, "threshold": _threshold}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workerlab`` command: its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:  # Go-flag syntax: hand over before argparse sees it
        from workerlab.worker import emulator

        return emulator.main(argv[1:])
    parser, commands = build()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help and --version (0), a bad argument (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:  # raised before anything started
        return _bad_argument(commands[args.command], exc)
    except KeyboardInterrupt:
        return _fail(args, INTERRUPTED, 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
