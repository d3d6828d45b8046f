"""Start-up benchmark of the worker emulator: spawn -> first successful TCP connect, and idle RSS.

Every crash of a worker costs one start, so this is the emulator's key figure. Two forms are timed,
30 starts each (after one unmeasured warm-up start that also writes the bytecode cache):
  * ``bin/worker``, with the venv's bin dir first on PATH (as `make` does), so ``python3`` in its
    shebang is the venv's interpreter and not a slow pyenv shim;
  * the collector's own argv for the emulator (``workerlab.config``: ``python -I -S -c "import
    emulator ..."``, which imports the module so its bytecode is cached).
Readiness is polled with a TCP connect every ~1 ms. Idle RSS is VmRSS after ~0.3 s of idling.
Writes benchmarks/results/emulator_startup.json, prints a table, exits 1 if a goal is missed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "emulator_startup.json"
STARTS = 30
IDLE_S = 0.3
GOAL = {"median_ms": 60.0, "p95_ms": 100.0, "rss_mb": 15.0}
FORMS = {
    "bin/worker": [str(ROOT / "bin" / "worker")],
    "collector argv (python -I -S -c import)": None,  # filled in main(): from workerlab.config
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def start_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One start: (seconds from spawn to the first accepted connect, idle RSS in MB)."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, "-workerId", "1", "-port", str(port), "-mtbf", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                ready = time.perf_counter() - t0
                break
            except ConnectionRefusedError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {proc.returncode} before listening") from None
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError(f"{argv} not listening after 10 s") from None
                time.sleep(0.001)
        time.sleep(IDLE_S)
        return ready, rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def measure(argv: list[str], env: dict[str, str]) -> dict:
    start_once(argv, env)  # warm-up: page cache, bytecode cache
    runs = [start_once(argv, env) for _ in range(STARTS)]
    ms = [r[0] * 1000 for r in runs]
    rss = [r[1] for r in runs]
    return {
        "starts": STARTS,
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(p95(ms), 1),
        "min_ms": round(min(ms), 1),
        "max_ms": round(max(ms), 1),
        "rss_mb": round(statistics.median(rss), 2),
        "rss_max_mb": round(max(rss), 2),
    }


def main() -> int:
    env = dict(
        os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    )
    from workerlab.config import make_config

    FORMS["collector argv (python -I -S -c import)"] = list(make_config(1, 1).base_argv)
    results = {name: measure(argv, env) for name, argv in FORMS.items()}
    for r in results.values():
        r["meets_goal"] = (
            r["median_ms"] <= GOAL["median_ms"]
            and r["p95_ms"] <= GOAL["p95_ms"]
            and r["rss_max_mb"] <= GOAL["rss_mb"]
        )
    report = {
        "benchmark": "emulator_startup",
        "what": "spawn -> first successful TCP connect (polled every ~1 ms); idle RSS = VmRSS after "
        f"{IDLE_S} s; {STARTS} starts per form after one warm-up; p95 = nearest rank",
        "goal": GOAL,
        "results": results,
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"emulator start-up, {STARTS} starts each (goal: median <= {GOAL['median_ms']:g} ms, "
        f"p95 <= {GOAL['p95_ms']:g} ms, RSS <= {GOAL['rss_mb']:g} MB)"
    )
    print(f"  {'form':<26} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'RSS MB':>7}  goal")
    for name, r in results.items():
        print(
            f"  {name:<26} {r['median_ms']:>9.1f} {r['p95_ms']:>7.1f} {r['max_ms']:>7.1f} "
            f"{r['rss_max_mb']:>7.1f}  {'met' if r['meets_goal'] else 'MISSED'}"
        )
    print(f"  -> {RESULT.relative_to(ROOT)}")
    return 0 if all(r["meets_goal"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
