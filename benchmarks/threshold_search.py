"""The adaptive threshold search at the real 1 s pace: conclusive, in how many runs and minutes?

Runs ``workerlab threshold --json`` (the emulator's defaults: 1 s interval, MTBF 30 s, lead 0;
deadline 10 s, 150 samples, level and confidence 0.95, counts 1-16) as a user would, and reads
its JSON. Goal (issue 12): conclusive in <= 6 min wall and <= 170 runs on this 2-CPU machine.

Beside it, the fixed design it replaces: a sweep of 8-16 workers x 10 repeats (90 runs). That is
not run here (it is the notebook's old experiment); its figures are *estimated* from its known
cost: 90 runs took 226 s wall and ended "not yet conclusive" at 15 workers (10/10 runs). A fixed
design that is conclusive needs every count at the candidate's size: at least 73 runs that all
succeed (Wilson low end >= 0.95 at 73/73), so 9 counts x 73 runs, at the same 2.5 s of wall per run.

    python benchmarks/threshold_search.py            # the search (~5 min at the real pace)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Bench, load  # noqa: E402

from workerlab.thresholds.verdict import repeats_needed  # noqa: E402

GOAL_WALL_S = 360
GOAL_RUNS = 170
#: the fixed 8-16 x 10 sweep as measured before (notebook 03, real pace)
FIXED = {"runs": 90, "wall_s": 226.0, "conclusive": False}


def main() -> int:
    bench = Bench(
        "threshold_search",
        "Threshold search (real pace)",
        "workerlab threshold --json with the emulator's defaults at the real 1 s interval: runs used, "
        "wall time and whether the answer is conclusive, against the fixed 8-16 x 10 sweep (estimated).",
    )
    loads = [load()]
    during: list[float] = []  # the 1-minute load average every 15 s: the machine is shared
    done = threading.Event()

    def sample() -> None:
        while not done.wait(15):
            during.append(round(os.getloadavg()[0], 2))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "workerlab", "threshold", "--json", "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    done.set()
    loads.append(load())
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    rep = json.loads(proc.stdout)
    fixed_conclusive_runs = 9 * repeats_needed(0, 0, 0.95)
    per_run = FIXED["wall_s"] / FIXED["runs"]
    bench.results = {
        "search": {
            k: rep[k] for k in ("workers", "conclusive", "runs_used", "pilot_runs", "wall_s", "sentence")
        },
        "search_table": [r for r in rep["table"] if r["runs"] > 0],
        "model": rep["model_text"],
        "process_wall_s": round(wall, 1),
        "load_1min_before_after": [loads[0][0], loads[1][0]],
        "load_1min_during": during,
        "fixed_sweep_8_16_x10": FIXED | {"how": "measured before (notebook 03 at the real pace), not rerun"},
        "fixed_design_conclusive_estimate": {
            "runs": fixed_conclusive_runs,
            "wall_s": round(fixed_conclusive_runs * per_run),
            "how": "9 counts x 73 all-successful runs (Wilson low >= 0.95), at the 90-run sweep's wall per run",
        },
    }
    bench.add("search: conclusive", rep["conclusive"], goal="true", met=bool(rep["conclusive"]))
    bench.add("search: runs used", rep["runs_used"], "runs", f"<= {GOAL_RUNS}", rep["runs_used"] <= GOAL_RUNS)
    bench.add("search: wall", rep["wall_s"], "s", f"<= {GOAL_WALL_S}", rep["wall_s"] <= GOAL_WALL_S)
    bench.add("search: answer", rep["workers"], "workers")
    if during:
        bench.add("load (1 min) during the search: max", max(during), note=f"min {min(during):g}")
    bench.add("fixed 8-16 x 10 sweep: runs (not conclusive)", FIXED["runs"], "runs", note="measured before")
    bench.add("fixed 8-16 x 10 sweep: wall", FIXED["wall_s"], "s", note="measured before")
    bench.add("fixed design, conclusive: runs (estimate)", fixed_conclusive_runs, "runs")
    bench.add("fixed design, conclusive: wall (estimate)", round(fixed_conclusive_runs * per_run), "s")
    print(rep["sentence"])
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
