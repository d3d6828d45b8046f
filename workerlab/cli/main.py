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
from workerlab.config import DEADLINE, MAX_LINE, MAX_LIVE_WORKERS, MAX_WORKERS, parse_workers, share
from workerlab.errors import ConfigError

PROG = "workerlab"


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _worker_options(p: argparse.ArgumentParser, *, seed: str, timeout: str) -> None:
    """The worker and emulator options that ``run`` and ``sweep`` share."""
    p.add_argument("--worker-bin", metavar="PATH", help="a worker program with the original's CLI")
    p.add_argument(
        "--worker-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="extra argument for every worker (repeat; use --worker-arg=-flag)",
    )
    p.add_argument("--interval", type=float, help="emulator: seconds between numbers (default 1)")
    p.add_argument("--mtbf", type=float, help="emulator: mean seconds to a crash (0 = never; default 30)")
    p.add_argument("--seed", type=int, help=seed)
    p.add_argument("--timeout", type=float, help=timeout)
    p.add_argument(
        "--max-line",
        type=int,
        default=MAX_LINE,
        help=f"longest line a worker may send, bytes (default {MAX_LINE})",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="collect samples from many workers and report")
    run.add_argument(
        "--workers", type=int, default=MAX_WORKERS, help=f"worker processes (default {MAX_WORKERS})"
    )
    run.add_argument("--samples", type=int, default=150, help="target number of samples (default 150)")
    _worker_options(
        run, seed="emulator: seed for reproducible runs", timeout="give up after this many seconds"
    )
    run.add_argument(
        "--deadline", type=float, default=DEADLINE, help=f"deadline for the report (default {DEADLINE:g})"
    )
    run.add_argument(
        "--max-workers", type=int, default=MAX_WORKERS, help="raise the 16-worker cap on purpose"
    )
    run.add_argument("--out", metavar="FILE.parquet", help="save the event log")
    run.add_argument("--plot", metavar="FILE.png", help="save the overview figure")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    sw = sub.add_parser("sweep", help="repeat runs over worker counts and find the deadline threshold")
    sw.add_argument(
        "--workers",
        default="1-16",
        metavar="SPEC",
        help="worker counts: A-B, A,B,C or a single number (default 1-16)",
    )
    sw.add_argument("--repeats", type=int, default=5, help="runs per worker count (default 5)")
    sw.add_argument("--samples", type=int, default=150, help="target number of samples (default 150)")
    sw.add_argument(
        "--deadline", type=float, default=DEADLINE, help=f"seconds a run may take (default {DEADLINE:g})"
    )
    sw.add_argument(
        "--level", type=float, default=0.95, help="share of runs that must meet the deadline (default 0.95)"
    )
    sw.add_argument(
        "--parallel",
        type=int,
        metavar="K",
        help="at most K runs at once (default: as many as --max-live-workers allows)",
    )
    sw.add_argument(
        "--max-live-workers",
        type=int,
        default=MAX_LIVE_WORKERS,
        help="worker processes alive at once over all runs (default 64)",
    )
    _worker_options(
        sw,
        seed="emulator: seed for a reproducible sweep (each run derives its own)",
        timeout="give up on a run after this many seconds",
    )
    sw.add_argument("--max-workers", type=int, default=MAX_WORKERS, help="raise the 16-worker cap on purpose")
    sw.add_argument("--out", metavar="FILE.parquet", help="save the event log of every run")
    sw.add_argument("--plot", metavar="FILE.png", help="save the sweep plot")
    sw.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")

    th = sub.add_parser(
        "threshold", help="measure until the smallest count meeting the deadline is conclusive"
    )
    th.add_argument("--deadline", type=float, default=DEADLINE, help=f"seconds (default {DEADLINE:g})")
    th.add_argument("--samples", type=int, default=150, help="target number of samples (default 150)")
    th.add_argument(
        "--level", type=float, default=0.95, help="share of runs meeting the deadline (default 0.95)"
    )
    th.add_argument("--confidence", type=float, default=0.95, help="confidence of the answer (default 0.95)")
    th.add_argument("--workers", default="1-16", metavar="SPEC", help="counts allowed (default 1-16)")
    th.add_argument("--max-runs", type=int, default=400, help="budget of measured runs (default 400)")
    th.add_argument("--parallel", type=int, metavar="K", help="at most K runs at once")
    th.add_argument("--max-live-workers", type=int, default=MAX_LIVE_WORKERS, help="(default 64)")
    _worker_options(
        th, seed="emulator: seed for a reproducible search", timeout="give up on a run after this"
    )
    th.add_argument("--max-workers", type=int, default=MAX_WORKERS, help="raise the 16-worker cap on purpose")
    th.add_argument("--out", metavar="FILE.parquet", help="save the event log of every run")
    th.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    th.add_argument("--no-progress", action="store_true", help="no progress bar")

    sub.add_parser(
        "worker", help="the worker emulator: workerlab worker -workerId N -port P ...", add_help=False
    )
    return p


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of one run that every subcommand takes (``_worker_options``), as ``collect``'s."""
    return dict(
        worker_bin=args.worker_bin,
        worker_args=args.worker_arg,
        interval=args.interval,
        mtbf=args.mtbf,
        seed=args.seed,
        timeout=args.timeout,
        max_workers=args.max_workers,
        max_line=args.max_line,
    )


def _run(args: argparse.Namespace) -> int:
    from workerlab.engine import collector
    from workerlab.errors import CollectError
    from workerlab.log import persist

    options = dict(_run_options(args), progress=not args.no_progress)
    error: CollectError | None = None
    try:
        df = collector.collect(args.workers, args.samples, **options)
    except ConfigError as exc:  # raised before anything started
        return _fail(str(exc), 2)
    except CollectError as exc:
        error, df = exc, exc.events
    except KeyboardInterrupt:
        return _fail("interrupted; every worker process was stopped", 130)
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
        for label, path in (("event log", args.out), ("plot", args.plot)):
            if path:
                print(f"  {label:<19} {path}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import time
    import warnings

    from workerlab.batch.sweep import sweep
    from workerlab.log import events, persist

    try:
        counts = parse_workers(args.workers)
        share("--level", args.level)
        options = _run_options(args)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # reported below, in one line
            df = sweep(
                counts,
                args.repeats,
                args.samples,
                deadline=args.deadline,
                parallel=args.parallel,
                progress=not args.no_progress,
                max_live_workers=args.max_live_workers,
                **options,
            )
    except ConfigError as exc:  # raised before anything started
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail("interrupted; every worker process was stopped", 130)
    wall = time.monotonic() - start
    if args.out:
        persist.save(df, args.out)
    rep = cli_format.sweep_report(df, args.deadline, args.level)
    rep["wall_s"] = wall
    if args.plot:
        from matplotlib.figure import Figure

        from workerlab.plots import plot_sweep

        fig = Figure(figsize=(10, 5), layout="constrained")
        plot_sweep(df, ax=fig.add_subplot(), deadline=args.deadline, level=args.level)
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
        for label, path in (("event log", args.out), ("plot", args.plot)):
            if path:
                print(f"  {label:<10} {path}")
    return 0


def _threshold(args: argparse.Namespace) -> int:
    from workerlab.errors import CollectError
    from workerlab.log import persist
    from workerlab.thresholds.search import find_threshold

    try:
        th = find_threshold(
            args.deadline,
            args.samples,
            args.level,
            args.confidence,
            parse_workers(args.workers),
            max_runs=args.max_runs,
            parallel=args.parallel,
            max_live_workers=args.max_live_workers,
            progress=not args.no_progress,
            **_run_options(args),
        )
    except ConfigError as exc:  # raised before anything started
        return _fail(str(exc), 2)
    except CollectError as exc:  # the pilot could not calibrate a model
        return _fail(str(exc), 1)
    if args.out and th.events is not None:
        persist.save(th.events, args.out)
    print(json.dumps(th.to_dict(), default=cli_format.jsonable) if args.json else th)
    if th.interrupted:
        return _fail("interrupted; every worker process was stopped (above: what was measured)", 130)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workerlab`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:  # Go-flag syntax: hand over before argparse sees it
        from workerlab.worker import emulator

        return emulator.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "threshold":
        return _threshold(args)
    return _fail(f"unknown command {args.command!r}", 2)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
