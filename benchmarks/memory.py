"""Benchmark 5: memory — peak RSS of the collecting process, and of one emulator.

Each case runs in a fresh subprocess that only imports workerlab and does the one run, so ru_maxrss
(the peak resident set of that process, Linux: KiB) is the run's and nothing else's:
  * the main job: 16 workers, 150 samples, real 1 s interval, default crash model (mtbf 30);
  * a large run: 16 workers, 300,000 samples at interval 1e-4: what the records cost per sample
    (records are tuples in a list until the run ends, then one DataFrame is built from them).
Reported: RSS after the imports (baseline), peak RSS, and for the large run (peak - baseline) per
sample. The emulators' VmRSS is read from /proc at every progress tick; the maximum over all of them
and all ticks is reported. No goal is set; the figures are for the record.
Writes benchmarks/results/memory.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Bench  # noqa: E402

CHILD = r"""
import json, resource, sys
import workerlab as wl
import workerlab.engine.collector, workerlab.log.events, pandas, aiohttp  # everything a run loads
workers, samples, interval, mtbf = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0

baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
emulator_max = [0]
def on_update(run):
    for pid in list(run.pids):
        emulator_max[0] = max(emulator_max[0], rss_kib(pid))

df = wl.collect(workers, samples, interval=interval, mtbf=mtbf, progress=False, stall_after=10 * max(interval, 0.1),
                on_update=on_update)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "rows": len(df),
                  "samples": int((df.event == "sample").sum()), "emulator_max_kib": emulator_max[0],
                  "frame_mib": round(df.memory_usage(deep=True).sum() / 2**20, 2)}))
"""

CASES = {
    "main job: 16 workers, 150 samples, 1 s interval, mtbf 30": (16, 150, 1.0, 30.0),
    "large: 16 workers, 300k samples, interval 1e-4, mtbf 0": (16, 300_000, 1e-4, 0.0),
}


def measure(workers: int, samples: int, interval: float, mtbf: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(workers), str(samples), str(interval), str(mtbf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    bench = Bench(
        "memory",
        "5. Memory: peak RSS of the collecting process and of one emulator",
        "Each case in a fresh subprocess that only runs wl.collect; ru_maxrss of that process; "
        "emulator VmRSS from /proc at each progress tick (max over processes and ticks).",
    )
    results = {}
    for name, args in CASES.items():
        r = measure(*args)
        results[name] = r
        print(
            f"  {name}: peak {r['peak_kib'] / 1024:.1f} MiB (baseline {r['baseline_kib'] / 1024:.1f} MiB), "
            f"emulator max {r['emulator_max_kib'] / 1024:.1f} MiB",
            flush=True,
        )
    bench.results = results
    main_job, large = results[list(CASES)[0]], results[list(CASES)[1]]
    bench.add("collector peak RSS, main job (16 w, 150 samples)", main_job["peak_kib"] / 1024, "MiB")
    bench.add("collector RSS after imports (baseline)", main_job["baseline_kib"] / 1024, "MiB")
    bench.add("collector peak RSS, 300k samples", large["peak_kib"] / 1024, "MiB")
    per_sample = (large["peak_kib"] - large["baseline_kib"]) * 1024 / max(large["samples"], 1)
    bench.add(
        "peak growth per sample (300k run)",
        per_sample,
        "bytes",
        note="records list plus the DataFrame built from it at the end",
    )
    bench.add("event-log frame, 300k run", large["frame_mib"], "MiB")
    bench.add(
        "one emulator, max VmRSS", max(main_job["emulator_max_kib"], large["emulator_max_kib"]) / 1024, "MiB"
    )
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
