"""Helpers shared by the benchmark scripts (not a benchmark itself: run_all.py does not run it).

Every benchmark writes ``benchmarks/results/<name>.json`` with the same top-level keys, so that
run_all.py can build the results table from the files alone:

    benchmark, title, what, figures: [{figure, value, unit, goal, met, note}], results (details),
    machine, load (1-min load average before/after: other people's work shares this machine),
    timestamp, seconds (wall time of the benchmark)

``met`` is true/false for a figure with a goal and null for one that is only reported.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    """What the figures were measured on."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu_count": cpus,
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def load() -> list[float]:
    """1, 5 and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def figure(
    name: str, value, unit: str = "", goal: str | None = None, met: bool | None = None, note: str = ""
) -> dict:
    """One row of the results table."""
    if isinstance(value, float):
        value = None if math.isnan(value) else round(value, 4)
    return {"figure": name, "value": value, "unit": unit, "goal": goal, "met": met, "note": note}


class Bench:
    """Collects a benchmark's figures and writes its JSON; use as a context manager."""

    def __init__(self, name: str, title: str, what: str) -> None:
        self.name, self.title, self.what = name, title, what
        self.figures: list[dict] = []
        self.results: dict = {}
        self.load_before = load()
        self.t0 = time.monotonic()

    def add(self, *args, **kwargs) -> dict:
        row = figure(*args, **kwargs)
        self.figures.append(row)
        return row

    @property
    def ok(self) -> bool:
        """No figure with a goal missed it."""
        return all(f["met"] is not False for f in self.figures)

    def write(self) -> Path:
        report = {
            "benchmark": self.name,
            "title": self.title,
            "what": self.what,
            "figures": self.figures,
            "results": self.results,
            "machine": machine(),
            "load": {"before": self.load_before, "after": load()},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - self.t0, 1),
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
        return path

    def print_table(self) -> None:
        print(
            f"{self.title}  (load before {self.load_before[0]:g}, now {load()[0]:g}; "
            f"{machine()['cpu_count']} CPUs)"
        )
        width = max(len(f["figure"]) for f in self.figures) if self.figures else 10
        for f in self.figures:
            value = (
                "-"
                if f["value"] is None
                else (f"{f['value']:,.4g}" if isinstance(f["value"], float) else f"{f['value']}")
            )
            met = {True: "met", False: "MISSED", None: ""}[f["met"]]
            goal = f"goal {f['goal']}" if f["goal"] else ""
            print(f"  {f['figure']:<{width}}  {value:>12} {f['unit']:<10} {goal:<16} {met}")
        print(f"  -> {(RESULTS / (self.name + '.json')).relative_to(ROOT)}")

    def finish(self) -> int:
        """Write, print, and return the exit status (1 if a goal was missed)."""
        self.write()
        self.print_table()
        return 0 if self.ok else 1


def _jsonable(obj):
    """numpy scalars and other strays -> plain JSON values."""
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
