"""Correctness soak: many short runs with random faults, each checked against the workers' ground truth.

    python benchmarks/soak.py [--runs 200] [--seed N] [--no-write] [--no-hostile]
                                                                        (make soak; also in make bench)

Every run draws, from one seeded generator (the seed is printed, so a failure can be replayed), a worker
count, a target, a compressed interval and a mix of faults:
  crash       -mtbf S        processes die abruptly (exponential lifetime, mean S seconds)
  stall       -hangAfter K   each stream goes silent after K lines, K a quarter to a half of the
                             numbers a worker must send (stall_after 0.4 s catches it)
  split       -split         lines split across chunks and coalesced
  slow_start  -startDelay S  the process sleeps before it listens
  lead        -lead S        the first line of each stream comes late
  rst         -crashMode rst a crash resets the connection instead of closing it (with crash only)
  hostile     tests/hostile_worker.py for some workers of the run (off: --no-hostile; HOSTILE_MODES): garbage,
              slow bytes, resets after a few lines, seeded random byte streams, lines inside a 4 GiB
              chunk, an endless line after a few lines; the other workers are emulators as above
Each worker appends what it fully wrote to a fresh ``-sentLog`` file, and after the run
``support.groundtruth.check_run`` (tests/support/) compares it with the event log: every written line exactly once, with
its pid and worker and value, nothing invented; lines still in flight when we stopped a process on purpose
(received a prefix of sent) are counted apart; no worker process left (by pid); no port left bound.
The in-flight allowance is the tightened one: only lines written after the collector decided to stop
reading a process (groundtruth.decision_times), read on one clock thanks to the t0 in the run's log.
The run itself must reach its target and return promptly (a run still going 10 s after its target is
"hung": counted, then cancelled until it ends). Exit status 1 if any fault counter is non-zero.
Writes benchmarks/results/soak.json (unless --no-write).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hostile_worker  # noqa: E402
from common import Bench  # noqa: E402
from support import groundtruth  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab.engine import procs  # noqa: E402
from workerlab.errors import CollectError  # noqa: E402

RUNS = 200
#: stall detection for every soak run: well above any interval + lead + split pause used here, so a
#: slow moment on a loaded machine is not taken for a stall (a false stall kills a healthy worker)
STALL_AFTER = 0.4
#: a run that has not reached its target by then has failed
RUN_TIMEOUT = 60.0
#: a run that has not returned this long after reaching its target is hung
HANG_AFTER = 10.0
FAULT_KINDS = ("crash", "stall", "split", "slow_start", "lead", "rst")
#: hostile modes a run can survive: each process still delivers valid lines (the run goes on
#: with the other workers; an endless line is cut at the collector's max_line and the process restarted)
HOSTILE_MODES: dict[str, list[str]] = {
    "garbage": ["-mode", "garbage"],
    "slow": ["-mode", "slow", "-byteEvery", "0.03"],
    "rst": ["-mode", "rst", "-lines", "3"],
    "random": ["-mode", "random"],
    "bigchunk": ["-mode", "bigchunk", "-payload", "lines"],
    "endless": ["-mode", "endless", "-lines", "3"],
}
HOSTILE = True


def plan(rng: random.Random, index: int, *, hostile: bool = False) -> dict:
    """The settings of run ``index``: workers, target, interval, faults and their emulator flags.

    ``hostile``: some runs also get a hostile mode for a quarter of their workers (at least one, never
    all): ``hostile`` is then ``{"mode": name, "workers": [ids]}`` and the run uses the hostile worker.
    """
    workers = rng.choice([1, 2, 3, 4, 6, 8, 12, 16])
    interval = rng.choice([0.01, 0.02, 0.02, 0.03])
    rounds = rng.randint(5, 40)  # numbers each worker must send: keeps every run short
    faults: list[str] = []
    args: list[str] = []
    mtbf = 0.0
    if rng.random() < 0.5:
        faults.append("crash")
        mtbf = round(rng.uniform(0.5, 2.0), 3)
    if rng.random() < 0.3:
        faults.append("stall")
        # every stream stalls once or more before the target: after a quarter to a half of its numbers
        args += ["-hangAfter", str(rng.randint(max(2, rounds // 4), max(2, rounds // 2)))]
    if rng.random() < 0.4:
        faults.append("split")
        args.append("-split")
    if rng.random() < 0.3:
        faults.append("slow_start")
        args += ["-startDelay", f"{rng.uniform(0.02, 0.1):.3f}"]
        if mtbf:  # a process must usually live long enough to send a first number
            mtbf = max(mtbf, 1.0)
    if rng.random() < 0.3:
        faults.append("lead")
        args += ["-lead", f"{rng.uniform(0.005, 0.05):.3f}"]
    if mtbf and rng.random() < 0.5:
        faults.append("rst")
        args += ["-crashMode", "rst"]
    samples = max(1, workers * rounds - rng.randint(0, workers - 1))
    bad = None
    if hostile and workers > 1 and rng.random() < 0.6:
        mode = rng.choice(sorted(HOSTILE_MODES))
        bad = {"mode": mode, "workers": sorted(rng.sample(range(1, workers + 1), max(1, workers // 4)))}
        faults.append("hostile")
    return {
        "index": index,
        "workers": workers,
        "samples": samples,
        "interval": interval,
        "mtbf": mtbf,
        "faults": faults,
        "worker_args": args,
        "seed": rng.randrange(1, 10**6),
        "hostile": bad,
    }


def _options(spec: dict, sent_log: Path, tmp: Path) -> dict:
    """Keyword arguments of collect_async: the emulator, or the hostile worker for a hostile run."""
    args = [*spec["worker_args"], "-sentLog", str(sent_log)]
    bad = spec.get("hostile")
    if not bad:
        return dict(interval=spec["interval"], mtbf=spec["mtbf"], seed=spec["seed"], worker_args=args)
    only = ",".join(map(str, bad["workers"]))
    return dict(
        worker_bin=hostile_worker.command(tmp),  # emulator-only options go through worker_args
        worker_args=[*args, "-interval", str(spec["interval"]), "-mtbf", str(spec["mtbf"]), "-only", only]
        + HOSTILE_MODES[bad["mode"]],
    )


async def _guarded(spec: dict, sent_log: Path, options: dict | None = None) -> tuple[object, str, bool]:
    """Run one collection under a watchdog: (the Run, outcome, hung).

    A run must return promptly once its target is reached. If it has not returned HANG_AFTER seconds
    later (or RUN_TIMEOUT + HANG_AFTER after it started), it is hung: that is recorded as a failure and
    the run is cancelled again and again until it ends, so that the soak can go on and check it.
    """
    holder: dict = {}
    task = asyncio.ensure_future(
        wl.collect_async(
            spec["workers"],
            spec["samples"],
            stall_after=STALL_AFTER,
            timeout=RUN_TIMEOUT,
            progress=False,
            on_update=lambda run: holder.setdefault("run", run),
            **(options or _options(spec, sent_log, sent_log.parent)),
        )
    )
    started, reached_at, hung = time.monotonic(), None, False
    while not task.done():
        await asyncio.wait({task}, timeout=0.05)
        run = holder.get("run")
        now = time.monotonic()
        if reached_at is None and run is not None and run.elapsed is not None:
            reached_at = now
        if not task.done() and (
            (reached_at is not None and now - reached_at > HANG_AFTER)
            or now - started > RUN_TIMEOUT + HANG_AFTER
        ):
            hung = True
            for _ in range(200):
                task.cancel()
                await asyncio.wait({task}, timeout=0.05)
                if task.done():
                    break
            else:
                procs.kill_all(run.pids if run is not None else None)
                raise RuntimeError(f"run {spec['index']} could not be stopped even by cancelling it")
    outcome = "reached"
    try:
        task.result()
    except asyncio.CancelledError:
        outcome = "hung after reaching its target" if reached_at is not None else "hung"
    except CollectError as err:
        outcome = f"{type(err).__name__}: {err}"
    return holder.get("run"), outcome, hung


def run_one(spec: dict, tmp: Path) -> tuple[groundtruth.Report, dict]:
    """One run and its checks: (ground-truth report, counts of this run)."""
    sent_log = tmp / f"sent-{spec['index']}.log"
    run, outcome, hung = asyncio.run(_guarded(spec, sent_log, _options(spec, sent_log, tmp)))
    if run is None:  # it failed before its first progress tick: nothing of it to check
        raise RuntimeError(f"run {spec['index']} ended before reporting progress: {outcome}")
    df = run.frame()
    if groundtruth.run_t0(df) is None:  # the tightened in-flight rule needs it: never check without it
        raise RuntimeError(f"run {spec['index']}: no t0 in the run-level stop row of its log")
    report = groundtruth.check_run(df, sent_log)
    sent_log.unlink(missing_ok=True)
    ev = df["event"].astype(str)
    kept = int(df["kept"].fillna(False).astype(bool).sum())
    counts = {
        "crashes": int((ev == "crash").sum()),
        "stalls": int((ev == "stall").sum()),
        "restarts": int((ev == "restart").sum()),
        "errors": int((ev == "error").sum()),
        "kept": kept,
        "outcome": outcome,
        "hung": hung,
        "reached": kept == spec["samples"] and outcome in ("reached", "hung after reaching its target"),
        "seconds": float(df["t"].max()) if len(df) else 0.0,
    }
    return report, counts


def soak(
    runs: int = RUNS,
    seed: int | None = None,
    *,
    verbose: bool = True,
    hostile: bool = HOSTILE,
) -> dict:
    """Run the soak; return the totals (see ``main`` for what is printed and written)."""
    if seed is None:
        seed = int(time.time() * 1000) % 10**9
    rng = random.Random(seed)
    if verbose:
        print(
            f"soak: {runs} runs, seed {seed} (replay: python benchmarks/soak.py --runs {runs} --seed {seed})",
            flush=True,
        )
    total = groundtruth.Report()
    runs_with: Counter = Counter()
    events: Counter = Counter()
    failed_runs: list[dict] = []
    not_reached = hung = 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="workerlab-soak-") as tmp:
        for i in range(runs):
            spec = plan(rng, i, hostile=hostile)
            report, counts = run_one(spec, Path(tmp))
            total = total + report
            runs_with.update(spec["faults"])
            if spec["hostile"]:
                runs_with.update(["hostile " + spec["hostile"]["mode"]])
            events.update({k: counts[k] for k in ("crashes", "stalls", "restarts", "errors")})
            if not counts["reached"]:
                not_reached += 1
            hung += counts["hung"]
            bad = not report.ok or not counts["reached"] or counts["hung"]
            if bad:
                failed_runs.append(
                    {"spec": spec, "counts": counts, "report": report.counts(), "problems": report.problems}
                )
            if verbose:
                flags = ",".join(spec["faults"]) or "-"
                if spec["hostile"]:
                    flags = flags.replace("hostile", "hostile:" + spec["hostile"]["mode"])
                print(
                    f"  {i + 1:>4} w={spec['workers']:<2} n={spec['samples']:<4} iv={spec['interval']:<5g} "
                    f"{flags:<32} crash={counts['crashes']:<3} stall={counts['stalls']:<3} "
                    f"lines={report.lines_sent:<5} in-flight={report.in_flight:<2} "
                    f"{'ok' if not bad else 'FAIL ' + '; '.join(report.problems[:2]) + ' ' + counts['outcome']}",
                    flush=True,
                )
    return {
        "seed": seed,
        "runs": runs,
        "seconds": round(time.monotonic() - t0, 1),
        "runs_with_fault": {k: v for k, v in runs_with.items()},
        "hostile": hostile,
        "fault_events": dict(events),
        "report": total,
        "not_reached": not_reached,
        "hung": hung,
        "failed_runs": failed_runs,
    }


def ok(totals: dict) -> bool:
    return totals["report"].ok and totals["not_reached"] == 0 and totals["hung"] == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/soak.json")
    parser.add_argument("--quiet", action="store_true", help="totals only, no line per run")
    parser.add_argument(
        "--hostile",
        action=argparse.BooleanOptionalAction,
        default=HOSTILE,
        help="mix hostile workers in (HOSTILE_MODES; on by default)",
    )
    opts = parser.parse_args(argv)
    bench = Bench(
        "soak",
        f"Soak: {opts.runs} runs with random faults against the sent log",
        "Short runs at compressed time (interval 0.01-0.03 s), 1-16 workers, faults mixed at random "
        "(seeded): crashes (-mtbf, some resetting: -crashMode rst), stalls (-hangAfter, stall_after 0.4 s), "
        "split writes (-split), slow starts (-startDelay), leads (-lead)"
        + (", hostile workers (tests/hostile_worker.py) for some workers" if opts.hostile else "")
        + ". After each run: every line the emulator wrote "
        "(-sentLog) is in the event log exactly once with its pid, worker and value; lines in flight "
        "(written after the collector decided to stop reading a process, on the log's t0 clock: the "
        "tightened rule) are counted apart; no worker pid alive; no port bound.",
    )
    totals = soak(opts.runs, opts.seed, verbose=not opts.quiet, hostile=opts.hostile)
    r: groundtruth.Report = totals["report"]
    c = r.counts()
    print(f"soak totals (seed {totals['seed']}, {totals['seconds']:g} s):")
    print(
        f"  runs {totals['runs']}, not reaching the target {totals['not_reached']}, "
        f"hung (not returning {HANG_AFTER:g} s after the target) {totals['hung']}"
    )
    print(
        "  faults injected (runs with each): "
        + ", ".join(f"{k} {v}" for k, v in totals["runs_with_fault"].items())
    )
    print("  fault events: " + ", ".join(f"{k} {v}" for k, v in totals["fault_events"].items()))
    print(
        f"  worker processes {c['pids']}, lines sent {c['lines_sent']}, received {c['lines_received']}, "
        f"checked {c['lines_checked']}"
    )
    print(
        f"  lost {c['lost']}, duplicated {c['duplicated']}, invented {c['invented']}, "
        f"wrong worker {c['wrong_worker']}"
    )
    print(f"  in flight when we stopped a process on purpose (allowed): {c['in_flight']}")
    print(
        f"  orphans {c['orphans']}, ports left bound {c['ports_bound']} "
        f"(ports re-bound by other processes, not ours: {c['ports_taken']})"
    )
    for f in totals["failed_runs"][:10]:
        print(
            f"  FAILED run {f['spec']['index'] + 1}: {f['spec']} -> {f['counts']['outcome']}; {f['problems']}"
        )
    bench.results = {k: v for k, v in totals.items() if k != "report"} | {"counts": c}
    bench.add("runs", totals["runs"], "", ">= 200", totals["runs"] >= 200)
    bench.add("runs not reaching the target", totals["not_reached"], "", "= 0", totals["not_reached"] == 0)
    bench.add(
        "runs hung after the target",
        totals["hung"],
        "",
        "= 0",
        totals["hung"] == 0,
        note=f"not returned {HANG_AFTER:g} s after the target; cancelled until they ended",
    )
    bench.add("lines checked", c["lines_checked"], "lines")
    for name in ("lost", "duplicated", "invented", "wrong_worker", "orphans", "ports_bound"):
        bench.add(name.replace("_", " "), c[name], "", "= 0", c[name] == 0)
    bench.add("in flight at stop (allowed)", c["in_flight"], "lines")
    bench.add("crashes injected", totals["fault_events"].get("crashes", 0), "events")
    bench.add("stalls injected", totals["fault_events"].get("stalls", 0), "events")
    if not opts.no_write:
        bench.write()
        print(f"  -> benchmarks/results/{bench.name}.json")
    return 0 if ok(totals) else 1


if __name__ == "__main__":
    sys.exit(main())
