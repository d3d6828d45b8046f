"""Hostile workers: the collector's memory during a flood, and how soon a hopeless run ends.

    python benchmarks/hostile.py [--quick] [--no-write]          (also in make bench)

One row per hostile mode of tests/hostile_worker.py (docs/hostile-workers.md), every worker of the run
hostile unless the row says otherwise (2 workers, interval 0.02 s, start_timeout 1 s, a target no run
can reach). Each row runs in a fresh collecting process while this one samples its RSS with psutil every
50 ms:

* **peak RSS growth**: peak RSS during the run minus RSS just before ``wl.collect`` (after the imports).
  Goal: at most 50 MB during a 60 s flood (``--quick``: 10 s) from any hostile worker. A
  collector that grows past 1 GB is killed (the machine is shared); its figure is then a lower bound.
* **time to the error**: from the last attempt (the last ``spawn`` row) to the end of the run (the
  run-level ``stop`` row). Goal: at most ``start_timeout`` + 1 s, with a one-line error naming the
  cause, never the run's timeout.

Two rows are floods the run survives by design, so they last the whole timeout (60 s, ``--quick`` 10 s)
and only their memory counts: one endless-line worker of two (cut at 4 KiB, restarted, again and again)
and garbage lines flat out (never a number, but never a reason to stop reading either). Every other row
has every worker fail the same way. Writes benchmarks/results/hostile.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hostile_worker  # noqa: E402
from common import ROOT, Bench  # noqa: E402

START_TIMEOUT = 1.0
RSS_GOAL_MB = 50.0
#: a collecting process that grows past this is killed (the machine is shared): the figure is then a floor
RSS_CAP_MB = 1024.0
#: row -> (worker arguments, kind). "flood": a flood the run must survive, at bounded memory, until its
#: timeout (the figure is the RSS growth); "fails": every worker fails the same way, and the run must end
#: early naming the cause (both figures)
ROWS = {
    "endless line, 1 of 2 workers": (["-mode", "endless", "-lines", "2", "-only", "1"], "flood"),
    "garbage lines flat out": (["-mode", "garbage", "-every", "0"], "flood"),
    "endless line": (["-mode", "endless", "-lines", "0"], "fails"),
    "4 GiB chunk of junk": (["-mode", "bigchunk"], "fails"),
    "429 on every request": (["-mode", "429"], "fails"),
    "500 on every request": (["-mode", "500"], "fails"),
    "headers never sent": (["-mode", "noheaders"], "fails"),
    "200 then silence": (["-mode", "silent200"], "fails"),
    "reset before any line": (["-mode", "rst", "-lines", "0", "-then", "exit"], "fails"),
    "never listens": (["-mode", "nolisten"], "fails"),
    "exits at once": (["-mode", "exit"], "fails"),
}

CHILD = r"""
import json, os, sys, time
import psutil
import workerlab as wl
import workerlab.engine.collector, workerlab.log.events, pandas, aiohttp  # everything a run loads
from workerlab.errors import CollectError, CollectTimeout
bin_, timeout, start_timeout, args = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
baseline = psutil.Process().memory_info().rss
print(json.dumps({"baseline": baseline}), flush=True)
t = time.monotonic()
out = {"outcome": "reached", "message": ""}
try:
    df = wl.collect(2, 10**9, worker_bin=bin_, worker_args=["-interval", "0.02", *args], timeout=timeout,
                    start_timeout=start_timeout, progress=False)
except CollectError as err:
    df = err.events
    out = {"outcome": "timeout" if isinstance(err, CollectTimeout) else "failed", "message": str(err),
           "error": type(err).__name__}
spawns = df.loc[df.event == "spawn", "t"]
end = df.loc[(df.event == "stop") & (df.worker_id == 0), "t"]
out.update(seconds=time.monotonic() - t, attempts=int(len(spawns)),
           to_error_s=float(end.iloc[-1] - spawns.iloc[-1]) if len(spawns) and len(end) else None,
           samples=int((df.event == "sample").sum()), errors=int((df.event == "error").sum()), rows=len(df))
print(json.dumps(out), flush=True)
"""


def measure(worker_bin: str, args: list[str], timeout: float) -> dict:
    """One run in a fresh process; its RSS sampled every 50 ms from here."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, worker_bin, str(timeout), str(START_TIMEOUT), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    baseline = json.loads(proc.stdout.readline())["baseline"]
    watched = psutil.Process(proc.pid)
    peak, started = baseline, time.monotonic()
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        if peak - baseline > RSS_CAP_MB * 2**20:
            for child in watched.children(recursive=True):  # its workers: they die with it anyway
                child.kill()
            proc.kill()
            proc.communicate()
            return dict(
                outcome="killed",
                message=f"collector killed by the benchmark above {RSS_CAP_MB:g} MB of growth",
                seconds=time.monotonic() - started,
                to_error_s=None,
                attempts=None,
                baseline_mb=baseline / 2**20,
                peak_mb=peak / 2**20,
                growth_mb=(peak - baseline) / 2**20,
            )
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"collecting process failed: {err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(baseline_mb=baseline / 2**20, peak_mb=peak / 2**20, growth_mb=(peak - baseline) / 2**20)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s floods instead of 60 s")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write benchmarks/results/hostile.json"
    )
    parser.add_argument("rows", nargs="*", help=f"only these rows (default all): {', '.join(ROWS)}")
    opts = parser.parse_args(argv)
    flood = 10.0 if opts.quick else 60.0
    bench = Bench(
        "hostile",
        f"Hostile workers: collector memory during a {flood:g} s flood, time from the last attempt to the error",
        "Every worker of the run hostile (tests/hostile_worker.py, 2 workers, interval 0.02 s, start_timeout "
        f"{START_TIMEOUT:g} s, an unreachable target, timeout {flood:g} s). Peak RSS of the collecting "
        "process (psutil, every 50 ms) minus its RSS after the imports; time from the last spawn row to the "
        "run-level stop row, against start_timeout + 1 s.",
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="workerlab-hostile-") as tmp:
        worker_bin = hostile_worker.command(tmp)
        for name, (args, kind) in ROWS.items():
            if opts.rows and name not in opts.rows:
                continue
            r = measure(worker_bin, args, flood)
            results[name] = r
            print(
                f"  {name:<24} growth {r['growth_mb']:7.1f} MB  {r['outcome']:<8} after {r['seconds']:5.1f} s, "
                f"last attempt -> error {r['to_error_s'] if r['to_error_s'] is None else round(r['to_error_s'], 2)} s"
                f"  ({r['attempts']} attempts): {r['message'][:100]}",
                flush=True,
            )
            bench.add(
                f"{name}: collector RSS growth",
                r["growth_mb"],
                "MB",
                f"<= {RSS_GOAL_MB:g} MB",
                r["growth_mb"] <= RSS_GOAL_MB,
                note=f"{r['outcome']} after {r['seconds']:.1f} s" + (" (flood)" if kind == "flood" else ""),
            )
            if kind == "flood":  # the run goes on by design: no error to time
                continue
            in_time = r["outcome"] == "failed" and (r["to_error_s"] or 0) <= START_TIMEOUT + 1
            bench.add(
                f"{name}: last attempt -> error",
                r["to_error_s"],
                "s",
                f"<= {START_TIMEOUT + 1:g} s, not the timeout",
                in_time,
                note=r["message"][:160],
            )
    bench.results = {"flood_s": flood, "start_timeout_s": START_TIMEOUT, "rows": results}
    if opts.no_write:
        bench.print_table()
        return 0 if bench.ok else 1
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
