"""Benchmark 1: time to 150 samples with 16 workers, no crashes, at the real 1 s interval.

The physical limit is the bound (docs/event-log.md): lead + (ceil(150 / 16) - 1) * interval = 9 s with the
emulator, measured from each run itself. Efficiency = bound / elapsed; elapsed - bound is what start-up,
connecting and the collector cost. 5 runs, emulator with -mtbf 0, in this process (wl.collect).
Goals: median efficiency >= 0.95 and median elapsed <= 9.5 s.
Writes benchmarks/results/time_to_target.json; exit 1 if a goal is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, median  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab.analysis.runs import latencies  # noqa: E402

RUNS, WORKERS, SAMPLES = 5, 16, 150
GOAL_EFFICIENCY, GOAL_ELAPSED = 0.95, 9.5


def main() -> int:
    bench = Bench(
        "time_to_target",
        "1. Time to 150, 16 workers, no crashes, real 1 s interval",
        f"{RUNS} runs of wl.collect({WORKERS}, {SAMPLES}, mtbf=0) at the emulator's default 1 s interval; "
        "bound and efficiency as wl.summary computes them from each run (measured interval and lead).",
    )
    rows = []
    for i in range(RUNS):
        df = wl.collect(WORKERS, SAMPLES, mtbf=0, progress=False)
        s = wl.summary(df).iloc[0]
        lat = latencies(df)
        first = df[df.event == "sample"].groupby("pid").t.min().sort_values()
        rows.append(
            {
                "elapsed_s": float(s.elapsed_s),
                "bound_s": float(s.bound_s),
                "efficiency": float(s.efficiency),
                "interval_s": float(s.interval_s),
                "lead_s": float(s.lead_s),
                "overhead_s": float(s.elapsed_s - s.bound_s),
                "samples": int(s.samples),
                "numbers_processed": int(s.numbers_processed),
                "spawn_to_ready_median_s": float(lat[lat.kind == "spawn_to_ready"].seconds.median()),
                # the 6 earliest workers are the ones that must send a 10th number (150 = 16 * 9 + 6)
                "first_sample_of_6th_worker_s": float(first.iloc[min(5, len(first) - 1)]),
                "first_sample_of_last_worker_s": float(first.iloc[-1]),
            }
        )
        print(
            f"  run {i + 1}: elapsed {s.elapsed_s:.3f} s, bound {s.bound_s:.3f} s, "
            f"efficiency {s.efficiency:.4f}",
            flush=True,
        )
    med = {k: median([r[k] for r in rows]) for k in rows[0]}
    bench.results = {"runs": rows, "median": med}
    bench.add(
        "elapsed, median of 5",
        med["elapsed_s"],
        "s",
        f"<= {GOAL_ELAPSED:g} s",
        med["elapsed_s"] <= GOAL_ELAPSED,
    )
    bench.add("bound, median", med["bound_s"], "s")
    bench.add(
        "efficiency (bound/elapsed), median",
        med["efficiency"],
        "",
        f">= {GOAL_EFFICIENCY:g}",
        med["efficiency"] >= GOAL_EFFICIENCY,
    )
    bench.add("efficiency, worst run", min(r["efficiency"] for r in rows), "")
    bench.add(
        "elapsed - bound, median",
        med["overhead_s"],
        "s",
        note="start-up: the 6th-earliest worker's first number, less the lead",
    )
    bench.add("first number of the 6th worker, median", med["first_sample_of_6th_worker_s"], "s")
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
