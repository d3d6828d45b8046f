"""The adaptive threshold search at the real 1 s pace: conclusive, in how many runs and minutes?

Runs ``workerlab threshold --json`` (the emulator's defaults: 1 s interval, MTBF 30 s, lead 0;
deadline 10 s, 150 samples, level and confidence 0.95, counts 1-16) as a user would, and reads
its JSON. Goals: conclusive with <= 90 runs, pilot included, in <= 4 min on this 2-CPU
machine, with the count below measured and the power and the runs at once in the JSON.

Beside it, a FIXED plan with the same per-count rules, simulated, not run: every count from 8 to
16 measured with the exact plan the search would give it at the model's predicted rate (a meets
plan where the prediction reaches the level, a below plan elsewhere), all counts decided, none
chosen adaptively. Its runs are the plans' exact expected runs at the predicted rates
(``Plan.operating``); its wall is those runs at the search's own measured wall per run. Nothing
in it is a figure measured before: every number comes from this run's model and plans.

    python benchmarks/threshold_search.py            # the search (~4 min at the real pace)
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

from workerlab.thresholds import exact  # noqa: E402
from workerlab.thresholds.decider import clip  # noqa: E402

GOAL_WALL_S = 240
GOAL_RUNS = 90
#: the counts a fixed plan would measure (the old notebook's sweep)
FIXED_COUNTS = range(8, 17)


def fixed_plan(rep: dict) -> dict:
    """Expected runs of every count in FIXED_COUNTS decided by its own exact plan (simulated, exact)."""
    level, confidence = rep["level"], rep["confidence"]
    pred = {int(r["workers"]): r.get("p_pred") for r in rep["table"]}
    rows, total = [], 0.0
    for w in FIXED_COUNTS:
        p = pred.get(w)
        if p is None:
            continue
        aim = exact.MEETS if p >= level else exact.BELOW
        plan = exact.plan_runs(clip(float(p)), level, confidence, aim=aim)
        n = plan.operating(clip(float(p))).expected_runs
        total += n
        rows.append(
            {"workers": w, "p_pred": p, "aim": aim, "plan": plan.describe(), "expected_runs": round(n, 1)}
        )
    return {"counts": rows, "expected_runs": round(total, 1)}


def main() -> int:
    bench = Bench(
        "threshold_search",
        "Threshold search (real pace)",
        "workerlab threshold --json with the emulator's defaults at the real 1 s interval: runs used, "
        "wall time, whether the answer is conclusive, its power; beside it a fixed plan with the same "
        "per-count rules over 8-16 workers (simulated: exact expected runs).",
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
    fixed = fixed_plan(rep)
    per_run = rep["wall_s"] / max(rep["runs_used"], 1)
    below = [d for d in rep.get("decisions", []) if d.get("workers") == (rep["workers"] or 0) - 1]
    bench.results = {
        "search": {
            k: rep.get(k)
            for k in ("workers", "conclusive", "runs_used", "pilot_runs", "wall_s", "sentence", "power")
        },
        "decisions": rep.get("decisions"),
        "conditions": rep.get("conditions"),
        "search_table": [r for r in rep["table"] if r["runs"] > 0],
        "model": rep["model_text"],
        "process_wall_s": round(wall, 1),
        "load_1min_before_after": [loads[0][0], loads[1][0]],
        "load_1min_during": during,
        "fixed_plan_same_rules": fixed
        | {
            "wall_s": round(fixed["expected_runs"] * per_run),
            "how": "simulated: exact expected runs of each count's plan at the model's predicted rate, "
            "at the search's measured wall per run; not run",
        },
    }
    bench.add("search: conclusive", rep["conclusive"], goal="true", met=bool(rep["conclusive"]))
    bench.add(
        "search: runs used (pilot included)",
        rep["runs_used"],
        "runs",
        f"<= {GOAL_RUNS}",
        rep["runs_used"] <= GOAL_RUNS,
    )
    bench.add("search: wall", rep["wall_s"], "s", f"<= {GOAL_WALL_S}", rep["wall_s"] <= GOAL_WALL_S)
    bench.add("search: answer", rep["workers"], "workers")
    bench.add(
        "search: count below measured",
        bool(below and below[0].get("runs")),
        goal="true",
        met=bool(below and below[0].get("runs")),
    )
    at_once = ((rep.get("conditions") or {}).get("runs_at_once")) or {}
    if at_once:
        bench.add("search: runs at once, max / mean", at_once.get("max"), note=f"mean {at_once.get('mean')}")
    power = rep.get("power") or {}
    for key, value in power.items():
        bench.add(f"search: power {key}", value)
    if during:
        bench.add("load (1 min) during the search: max", max(during), note=f"min {min(during):g}")
    bench.add(
        "fixed plan, same rules, counts 8-16: expected runs", fixed["expected_runs"], "runs", note="simulated"
    )
    bench.add("fixed plan, same rules: wall", round(fixed["expected_runs"] * per_run), "s", note="simulated")
    print(rep["sentence"])
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
