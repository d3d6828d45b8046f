"""Command line: ``workerlab run``, ``workerlab sweep`` and ``workerlab worker`` (the emulator).

Exit status: 0 when the target was reached, 1 when a run failed (one line on stderr, the
partial event log still written to ``--out``), 2 for bad arguments, 130 on Ctrl-C.
With ``--json`` nothing but one JSON object goes to stdout.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

PROG = "workerlab"


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NA/NaN -> null, numpy scalars -> Python."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def summary_record(df: Any, deadline: float) -> dict[str, Any]:
    """The run's summary row as a JSON-ready dict (keys of ``wl.summary`` plus ``deadline_s``)."""
    from .analysis import summary

    row = summary(df, deadline=deadline).iloc[0]
    record = {k: _jsonable(v) for k, v in row.items()}
    record["deadline_s"] = deadline
    return record


def format_summary(rec: dict[str, Any]) -> str:
    """A short human-readable report of one run."""

    def sec(v: Any) -> str:
        return "n/a" if v is None else f"{v:.2f} s"

    eff = rec.get("efficiency")
    met = rec.get("deadline_met")
    return "\n".join([
        f"run {rec['run_id']}: {rec['workers']} workers, target {rec.get('target')} samples "
        f"({rec.get('outcome')})",
        f"  samples kept        {rec['samples']}",
        f"  numbers processed   {rec['numbers_processed']}",
        f"  total time          {sec(rec['elapsed_s'])}  (bound {sec(rec['bound_s'])}, "
        f"efficiency {'n/a' if eff is None else f'{eff:.3f}'})",
        f"  measured pace       interval {sec(rec['interval_s'])}, lead {sec(rec['lead_s'])}",
        f"  crashes / restarts  {rec['crashes']} / {rec['restarts']}, stalls {rec['stalls']}",
        f"  deadline {rec['deadline_s']:g} s       {'met' if met else 'missed'}",
    ])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="collect samples from many workers and report")
    run.add_argument("--workers", type=int, default=16, help="worker processes (default 16)")
    run.add_argument("--samples", type=int, default=150, help="target number of samples (default 150)")
    run.add_argument("--worker-bin", metavar="PATH", help="a worker program with the original's CLI")
    run.add_argument("--worker-arg", metavar="ARG", action="append", default=[],
                     help="extra argument for every worker (repeat; use --worker-arg=-flag)")
    run.add_argument("--interval", type=float, help="emulator: seconds between numbers (default 1)")
    run.add_argument("--mtbf", type=float, help="emulator: mean seconds to a crash (0 = never; default 30)")
    run.add_argument("--seed", type=int, help="emulator: seed for reproducible runs")
    run.add_argument("--timeout", type=float, help="give up after this many seconds")
    run.add_argument("--deadline", type=float, default=10.0, help="deadline for the report (default 10)")
    run.add_argument("--max-workers", type=int, default=16, help="raise the 16-worker cap on purpose")
    run.add_argument("--out", metavar="FILE.parquet", help="save the event log")
    run.add_argument("--plot", metavar="FILE.png", help="save the overview figure")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    sub.add_parser("worker", help="the worker emulator: workerlab worker -workerId N -port P ...",
                   add_help=False)
    return p


def _run(args: argparse.Namespace) -> int:
    from . import collector, config, persist
    from .errors import CollectError

    options = dict(worker_bin=args.worker_bin, worker_args=args.worker_arg, interval=args.interval,
                   mtbf=args.mtbf, seed=args.seed, timeout=args.timeout,
                   max_workers=args.max_workers, progress=not args.no_progress)
    try:
        config.make_config(args.workers, args.samples,
                              **{k: v for k, v in options.items() if k != "progress"})
    except (ValueError, TypeError) as exc:
        return _fail(str(exc), 2)
    error: CollectError | None = None
    try:
        df = collector.collect(args.workers, args.samples, **options)
    except CollectError as exc:
        error, df = exc, exc.events
    except KeyboardInterrupt:
        return _fail("interrupted; every worker process was stopped", 130)
    if args.out and df is not None:
        persist.save(df, args.out)
    if error is not None:
        return _fail(str(error), 1)
    rec = summary_record(df, args.deadline)
    if args.plot:
        from .plots import plot_run

        plot_run(df, deadline=args.deadline).savefig(args.plot, dpi=110)
    if args.json:
        print(json.dumps(rec))
    else:
        print(format_summary(rec))
        for label, path in (("event log", args.out), ("plot", args.plot)):
            if path:
                print(f"  {label:<19} {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workerlab`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:  # Go-flag syntax: hand over before argparse sees it
        from . import emulator

        return emulator.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return _fail(f"unknown command {args.command!r}", 2)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
