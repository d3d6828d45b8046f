"""Behaviour before and after a change, measured on one machine under one load: two revisions side by side.

    python benchmarks/compare_revs.py BEFORE [AFTER] [--pairs 3] [--soak-runs 40] [--no-search]

Each revision is checked out in a temporary git worktree (AFTER defaults to HEAD; uncommitted changes
are not measured) and run with this venv's Python, its own tree first on the path. The short
measurements alternate between the two (before, after, before, after, ...), so that a change in the
machine's load hits both alike; the threshold search, about 5 minutes at the real pace, runs once each.

- the main job (`workerlab run --workers 16 --samples 150 --json`, real 1 s pace): efficiency
  (bound / elapsed) and elapsed, ``--pairs`` runs each;
- restart latency (benchmarks/restart_latency.py of that revision: compressed time, hundreds of
  restarts), twice each;
- the dashboard's live frame cost and frames per second (benchmarks/dashboard_frames.py --pairs 1);
- the soak (benchmarks/soak.py --runs N): lines lost, duplicated, invented; processes and ports left;
- the threshold search at the real pace (`workerlab threshold --json`): runs, wall, answer.

Writes benchmarks/results/<name>.json (every figure, each revision's commit, the load before and after
each measurement) and <name>.md, a table of medians, which it also prints (--name, default compare_revs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, load  # noqa: E402


def _tree(rev: str, parent: Path) -> tuple[Path, str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    path = parent / commit
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), commit], cwd=ROOT, check=True)
    return path, commit


def _run(tree: Path, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(tree), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(
        [sys.executable, *argv], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
    )


def _json(out: str) -> dict[str, Any]:
    """The last line of ``out`` that is a JSON object."""
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise ValueError(f"no JSON object in the output: {out[-500:]!r}")


def main_job(tree: Path) -> dict[str, Any]:
    p = _run(tree, ["-m", "workerlab", "run", "--workers", "16", "--samples", "150", "--json"], 120)
    rec = _json(p.stdout)
    return {"efficiency": rec["efficiency"], "elapsed_s": rec["elapsed_s"], "crashes": rec["crashes"]}


def restart(tree: Path) -> dict[str, Any]:
    p = _run(tree, ["benchmarks/restart_latency.py"], 600)
    figures = json.loads((tree / "benchmarks" / "results" / "restart_latency.json").read_text())
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr[-2000:])
    compressed = figures["results"]["compressed"]
    return {"median_ms": compressed["median_ms"], "p95_ms": compressed["p95_ms"]}


def frames(tree: Path) -> dict[str, Any]:
    rec = _json(_run(tree, ["benchmarks/dashboard_frames.py", "--pairs", "1"], 300).stdout)
    keep = ("frame_ms_median", "frames_per_s", "efficiency_with", "efficiency_without")
    return {k: rec[k] for k in keep if k in rec}


def soak(tree: Path, runs: int) -> dict[str, Any]:
    p = _run(tree, ["benchmarks/soak.py", "--runs", str(runs), "--no-write", "--quiet"], 1800)
    text = p.stdout
    out: dict[str, Any] = {"exit": p.returncode}
    for key in ("lost", "duplicated", "invented", "runs", "not reaching the target", "hung"):
        m = re.search(rf"{key}(?: \([^)]*\))? (\d+)", text)
        out[key.replace(" ", "_")] = int(m.group(1)) if m else None
    return out


def search(tree: Path) -> dict[str, Any]:
    t = time.monotonic()
    rec = _json(_run(tree, ["-m", "workerlab", "threshold", "--json"], 1800).stdout)
    keep = ("workers", "conclusive", "runs_used", "wall_s")
    return {**{k: rec.get(k) for k in keep}, "process_s": round(time.monotonic() - t, 1)}


def _measure(name: str, fn: Any, tree: Path, *args: Any) -> dict[str, Any]:
    before = load()
    t = time.monotonic()
    figures = fn(tree, *args)
    print(f"  {name} {tree.name}: {figures}", file=sys.stderr, flush=True)
    return {"figures": figures, "seconds": round(time.monotonic() - t, 1), "load": [before, load()]}


def _median(rows: list[dict[str, Any]], key: str) -> Any:
    values = [r["figures"][key] for r in rows if r["figures"].get(key) is not None]
    return statistics.median(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--pairs", type=int, default=3, help="main-job runs of each revision (default 3)")
    parser.add_argument("--soak-runs", type=int, default=40)
    parser.add_argument("--no-search", action="store_true", help="skip the 5-minute threshold searches")
    parser.add_argument(
        "--name", default="compare_revs", help="results/<name>.json and .md (default compare_revs)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"measured": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    with tempfile.TemporaryDirectory() as tmp:
        trees = [_tree(args.before, Path(tmp)), _tree(args.after, Path(tmp))]
        try:
            for _, commit in trees:
                results[commit] = {"main": [], "restart": [], "frames": [], "soak": [], "search": []}
            plan: list[tuple[str, Any, tuple[Any, ...]]] = [("main", main_job, ())] * args.pairs
            plan += [("restart", restart, ())] * 2 + [
                ("frames", frames, ()),
                ("soak", soak, (args.soak_runs,)),
            ]
            plan += [] if args.no_search else [("search", search, ())]
            for name, fn, extra in plan:
                for path, commit in trees:
                    results[commit][name].append(_measure(name, fn, path, *extra))
        finally:
            for path, _ in trees:
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        ("main job: efficiency (median)", "main", "efficiency"),
        ("main job: elapsed s (median)", "main", "elapsed_s"),
        ("restart latency median, ms (interval 0.02 s)", "restart", "median_ms"),
        ("dashboard live frame median, ms", "frames", "frame_ms_median"),
        ("dashboard frames per s", "frames", "frames_per_s"),
        ("soak: runs", "soak", "runs"),
        ("soak: lost / duplicated / invented", "soak", "lost"),
        ("threshold search: runs used", "search", "runs_used"),
        ("threshold search: wall s", "search", "wall_s"),
        ("threshold search: answer", "search", "workers"),
    ]
    b, a = trees[0][1], trees[1][1]
    table = [f"| figure | before ({b}) | after ({a}) |", "|---|---|---|"]
    for label, group, key in rows:
        cells = []
        for commit in (b, a):
            rs = results[commit][group]
            if key == "lost":
                cells.append(" / ".join(str(_median(rs, k)) for k in ("lost", "duplicated", "invented")))
            else:
                value = _median(rs, key)
                cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        table.append(f"| {label} | {cells[0]} | {cells[1]} |")
    loads = [m["load"] for c in (b, a) for ms in results[c].values() if isinstance(ms, list) for m in ms]
    peak = max((x[0] for pair in loads for x in pair), default=float("nan"))
    text = "\n".join(table)
    note = (
        f"Measured {results['measured']} UTC by benchmarks/compare_revs.py; 1-minute load up to {peak:g}.\n"
    )
    (RESULTS / f"{args.name}.md").write_text(f"# {b} against {a}\n\n{note}\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
