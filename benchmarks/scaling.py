"""Benchmark 6: scaling — elapsed against the bound for 1, 2, 4, 8 and 16 workers, at compressed time.

150 samples at interval 0.05 s, no crashes, 3 runs per worker count (median). The bound shrinks as
lead + (ceil(150 / W) - 1) * interval; what a run costs beyond it (elapsed - bound: start-up, connecting,
the collector) should not grow with W — the cost should grow only as the bound does.
Goal, set before measuring: for every W, median(elapsed - bound) <= median(elapsed - bound) at W = 1
plus 2 intervals (0.1 s). (16 workers start at most START_CONCURRENCY at a time, so some growth is
expected; the goal says how much is acceptable.) Writes benchmarks/results/scaling.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, median  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab.analysis.runs import latencies  # noqa: E402
from workerlab.engine.collector import START_CONCURRENCY  # noqa: E402

WORKERS = (1, 2, 4, 8, 16)
SAMPLES, INTERVAL, REPEATS = 150, 0.05, 3
SLACK = 2 * INTERVAL


def main() -> int:
    bench = Bench(
        "scaling",
        "6. Scaling: elapsed against the bound, 1-16 workers, interval 0.05 s",
        f"wl.collect(W, {SAMPLES}, interval={INTERVAL}, mtbf=0), {REPEATS} runs per W, medians; "
        f"START_CONCURRENCY = {START_CONCURRENCY}.",
    )
    table = {}
    for w in WORKERS:
        rows = []
        for _ in range(REPEATS):
            df = wl.collect(w, SAMPLES, interval=INTERVAL, mtbf=0, progress=False)
            s = wl.summary(df).iloc[0]
            lat = latencies(df)
            first = df[df.event == "sample"].groupby("pid").t.min()
            rows.append(
                (
                    float(s.elapsed_s),
                    float(s.bound_s),
                    float(s.efficiency),
                    float(lat[lat.kind == "spawn_to_ready"].seconds.median()),
                    float(first.max()),
                )
            )
        table[w] = {
            "elapsed_s": median([r[0] for r in rows]),
            "bound_s": median([r[1] for r in rows]),
            "overhead_s": median([r[0] - r[1] for r in rows]),
            "efficiency": median([r[2] for r in rows]),
            "spawn_to_ready_s": median([r[3] for r in rows]),
            "last_worker_first_sample_s": median([r[4] for r in rows]),
            "runs": [{"elapsed_s": r[0], "bound_s": r[1]} for r in rows],
        }
        t = table[w]
        print(
            f"  W={w:>2}: elapsed {t['elapsed_s']:.3f} s, bound {t['bound_s']:.3f} s, "
            f"elapsed - bound {t['overhead_s'] * 1000:.0f} ms",
            flush=True,
        )
    bench.results = {"per_workers": table}
    base = table[1]["overhead_s"]
    for w, t in table.items():
        ok = t["overhead_s"] <= base + SLACK
        bench.add(
            f"W={w:>2}: elapsed - bound",
            t["overhead_s"] * 1000,
            "ms",
            f"<= W=1 + {SLACK * 1000:.0f} ms" if w > 1 else None,
            ok if w > 1 else None,
            note=f"elapsed {t['elapsed_s']:.3f} s, bound {t['bound_s']:.3f} s, "
            f"efficiency {t['efficiency']:.3f}; spawn->ready {t['spawn_to_ready_s'] * 1000:.0f} ms; "
            f"last of the {w} workers sent its first number at {t['last_worker_first_sample_s']:.3f} s "
            f"(= {t['last_worker_first_sample_s'] / INTERVAL:.1f} intervals; at most "
            f"{START_CONCURRENCY} start at once)",
        )
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
