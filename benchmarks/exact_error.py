"""Exact error tables of the one-count plans (``workerlab.thresholds.exact``), and the planner's speed.

For each level / confidence / run cap: every plan the planner can choose (``candidates``; the
prediction only picks among them), its largest P(meets) over true rates in [level - 0.05, level)
and largest P(below) over [level, level + 0.05], computed exactly (dynamic programming over the
binomial) on a grid of 101 rates plus the supremum at the level. Then the plans chosen at
level = confidence = 0.95 for typical predictions, with expected runs and power, checked against a
seeded simulation at level - 0.005, level and level + 0.005; and how long the planner takes, cold
(caches emptied) and warm. Writes benchmarks/results/exact_error.json and exact_error.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Bench  # noqa: E402

from workerlab.thresholds import exact  # noqa: E402
from workerlab.thresholds.exact import BELOW, MEETS, candidates, fresh_runs, plan_runs  # noqa: E402
from workerlab.thresholds.stats import cp_interval  # noqa: E402

SETTINGS = [(0.95, 0.95), (0.9, 0.9), (0.95, 0.99), (0.8, 0.95)]
CAPS = [90, 150, 250]
CHOSEN = [(MEETS, 0.999), (MEETS, 0.99), (MEETS, 0.97), (BELOW, 0.74), (BELOW, 0.9)]
SIMS = 200_000


def worst_errors(level: float, confidence: float, cap: int) -> dict:
    """Largest wrong-decision probability per side over every candidate plan of both aims."""
    wrong_m = np.linspace(level - 0.05, level, 102)  # the last point is the supremum at the level
    wrong_b = np.linspace(level, min(level + 0.05, 0.9999), 101)
    out = {"level": level, "confidence": confidence, "max_runs": cap, "plans": 0}
    meets = below = 0.0
    for aim in (MEETS, BELOW):
        try:
            plans = candidates(aim, level, confidence, cap)
        except ValueError:
            continue
        out["plans"] += len(plans)
        for plan in plans:
            meets = max(meets, max(plan.operating(p).meets for p in wrong_m))
            below = max(below, max(plan.operating(p).below for p in wrong_b))
    half = (1 - confidence) / 2
    return out | {"half_alpha": half, "max_wrong_meets": meets, "max_wrong_below": below}


def simulate(plan: exact.Plan, p: float, rng: np.random.Generator) -> tuple[int, int]:
    """Seeded simulation of a plan by whole looks: (times it said meets, times it said below)."""
    fails = np.zeros(SIMS, dtype=np.int64)
    open_ = np.ones(SIMS, dtype=bool)
    said = {MEETS: 0, BELOW: 0}
    prev = 0
    for n, a, r in zip(plan.looks, plan.meets, plan.below):
        fails += rng.binomial(n - prev, 1 - p, SIMS)
        prev = n
        for hit, what in ((open_ & (fails <= a), MEETS), (open_ & (fails >= r), BELOW)):
            said[what] += int(hit.sum())
            open_ &= ~hit
    return said[MEETS], said[BELOW]


def chosen(cap: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for aim, p_pred in CHOSEN:
        plan = plan_runs(p_pred, aim=aim, max_runs=cap)
        pred, at99 = plan.operating(p_pred), plan.operating(0.99)
        agree = True
        for p in (plan.level - 0.005, plan.level, plan.level + 0.005):
            oc = plan.operating(p)
            for count, exact_p in zip(simulate(plan, p, rng), (oc.meets, oc.below)):
                lo, hi = cp_interval(count, SIMS, 0.999)
                agree = agree and lo <= exact_p <= hi
        rows.append(
            {
                "aim": aim,
                "p_pred": p_pred,
                "max_runs": cap,
                "plan": plan.describe(),
                "looks": plan.looks,
                "expected_runs": pred.expected_runs,
                "expected_runs_one_by_one": plan.runs_one_by_one(p_pred),
                "power_at_p_pred": pred.power,
                "power_at_0.99": at99.power,
                "error_meets": plan.errors()[0],
                "error_below": plan.errors()[1],
                "simulation_agrees": agree,
                "fresh_runs_at_p_pred": fresh_runs(p_pred, plan.level, plan.confidence),
            }
        )
    return rows


CACHES = (exact.candidates, exact._tails, exact._pmf)


def candidate_set_time() -> float:
    """Seconds to build every candidate plan of both aims at the defaults, caches emptied first."""
    for c in CACHES:
        c.cache_clear()
    t0 = time.perf_counter()
    for aim in (MEETS, BELOW):
        candidates(aim, 0.95, 0.95, 250)
    return time.perf_counter() - t0


def planner_times() -> dict:
    """Seconds per ``plan_runs`` call, cold (every cache emptied first) and warm; the full candidate set."""
    caches = CACHES
    cold, warm = [], []
    for aim, p_pred in CHOSEN:
        for cap in (150, 250):
            for c in caches:
                c.cache_clear()
            t0 = time.perf_counter()
            plan_runs(p_pred, aim=aim, max_runs=cap)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            plan_runs(p_pred, aim=aim, max_runs=cap)
            warm.append(time.perf_counter() - t0)
    out = {"cold_max_s": max(cold), "cold_median_s": statistics.median(cold), "warm_max_s": max(warm)}
    return out | {"candidates_defaults_s": candidate_set_time()}


def markdown(tables: list[dict], rows: list[dict], times: dict) -> str:
    lines = [
        "# Exact error of the one-count plans",
        "",
        "Generated by `benchmarks/exact_error.py`. Every plan the planner can choose, both aims; errors",
        "computed exactly over the binomial (101 true rates per side plus the supremum at the level).",
        "",
        "| level | confidence | max runs | plans | (1-C)/2 | max P(meets), p < level | max P(below), p >= level |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tables:
        lines.append(
            f"| {t['level']} | {t['confidence']} | {t['max_runs']} | {t['plans']} | {t['half_alpha']:.4f} "
            f"| {t['max_wrong_meets']:.7f} | {t['max_wrong_below']:.7f} |"
        )
    lines += [
        "",
        "## Chosen plans, level = confidence = 0.95",
        "",
        "| aim | p_pred | cap | plan | E[N] by looks | E[N] one by one | power at p_pred | power at 0.99 "
        "| P(meets) at L | P(below) at L | simulation agrees | fresh runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['aim']} | {r['p_pred']} | {r['max_runs']} | {r['plan']} | {r['expected_runs']:.1f} "
            f"| {r['expected_runs_one_by_one']:.1f} | {r['power_at_p_pred']:.3f} | {r['power_at_0.99']:.3f} "
            f"| {r['error_meets']:.5f} | {r['error_below']:.5f} | {r['simulation_agrees']} "
            f"| {r['fresh_runs_at_p_pred']} |"
        )
    lines += [
        "",
        f"Planner: cold (caches emptied) max {times['cold_max_s']:.3f} s, median {times['cold_median_s']:.3f} s;"
        f" warm max {times['warm_max_s']:.4f} s. Every candidate plan of both aims at level = confidence ="
        f" 0.95, 250 runs, built cold: {times['candidates_defaults_s']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    bench = Bench(
        "exact_error",
        "Exact error of the one-count plans (thresholds.exact)",
        "largest wrong-decision probability per side over every plan the planner can choose; chosen plans",
    )
    tables = [worst_errors(level, conf, cap) for level, conf in SETTINGS for cap in CAPS]
    rng = np.random.default_rng(18)
    rows = chosen(250, rng) + chosen(90, rng)
    times = planner_times()
    for t in tables:
        name = f"L={t['level']} C={t['confidence']} cap {t['max_runs']}"
        ok = max(t["max_wrong_meets"], t["max_wrong_below"]) <= t["half_alpha"]
        bench.add(f"{name}: max wrong meets", t["max_wrong_meets"], "", f"<= {t['half_alpha']:g}", ok)
        bench.add(f"{name}: max wrong below", t["max_wrong_below"], "", f"<= {t['half_alpha']:g}", ok)
    for r in rows:
        name = f"{r['aim']} plan, p_pred {r['p_pred']}, cap {r['max_runs']}"
        bench.add(f"{name}: E[N]", r["expected_runs"], "runs", note=r["plan"])
        bench.add(f"{name}: power", r["power_at_p_pred"], "")
    bench.add("simulation agrees with the exact tables", all(r["simulation_agrees"] for r in rows), "", "true",
              all(r["simulation_agrees"] for r in rows))  # fmt: skip
    bench.add("planner, cold, max", times["cold_max_s"], "s", "< 3 s", times["cold_max_s"] < 3)
    cand = times["candidates_defaults_s"]
    bench.add("every candidate plan at the defaults, both aims, cold", cand, "s", "< 5 s", cand < 5)
    bench.add("planner, warm, max", times["warm_max_s"], "s")
    bench.results = {"tables": tables, "chosen": rows, "planner": times}
    (RESULTS / "exact_error.md").write_text(markdown(tables, rows, times))
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
