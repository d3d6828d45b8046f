"""Run every benchmark (`make bench`): each script in BENCHMARKS as its own process, in order.

Exits non-zero if any of them fails (a missed goal counts as a failure). Append new scripts to BENCHMARKS.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: benchmark scripts, relative to this directory; each writes its figures to results/
BENCHMARKS = [
    "emulator_startup.py",
]


def main() -> int:
    failed = []
    for script in BENCHMARKS:
        print(f"== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)], cwd=HERE.parent).returncode != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(BENCHMARKS)} benchmark(s) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
