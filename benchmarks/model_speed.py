"""How fast the model simulates: 10,000 runs of 16 workers (goal: < 1 s on one core).

Times ``Model.simulate(16, 150, runs=10_000)`` with the emulator's default crash model at the 1 s
pace (median of 7 repeats, after one warm-up), and with a calibrated-looking model at MTBF 10
intervals (more processes per run). Threads of numpy's BLAS are not involved (no linear algebra),
so this is one core. Writes benchmarks/results/model_speed.json; exit 1 if the goal is missed.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, load, machine  # noqa: E402

from workerlab.model.model import Model  # noqa: E402

GOAL_S = 1.0


def timed(model: Model, workers: int, runs: int) -> float:
    model.simulate(workers, 150, runs=runs, seed=0)  # warm-up
    times = []
    for i in range(7):
        t0 = time.perf_counter()
        model.simulate(workers, 150, runs=runs, seed=i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    before = load()
    cases = {
        "16 workers, MTBF 30 intervals": timed(Model(interval=1.0, mtbf=30.0), 16, 10_000),
        "16 workers, MTBF 10 intervals": timed(Model(interval=1.0, mtbf=10.0), 16, 10_000),
        "1 worker, MTBF 10 intervals": timed(Model(interval=1.0, mtbf=10.0), 1, 10_000),
    }
    doc = {
        "benchmark": "model_speed",
        "what": "Model.simulate, 10,000 runs, 150 samples: median seconds of 7",
        "results": {k: round(v, 4) for k, v in cases.items()},
        "goal_s": GOAL_S,
        "met": all(v < GOAL_S for v in cases.values()),
        "machine": machine(),
        "load": {"before": before, "after": load()},
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "model_speed.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc["results"], indent=1), "load", doc["load"])
    return 0 if doc["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
