"""Does the model agree with measurement? Validation sweeps against a model calibrated on other runs.

For each setting (pace, ``-lead``, MTBF in intervals) this runs two sets of measured sweeps with the
emulator (``wl.sweep``): a *calibration* set (``--calib-repeats`` runs of every count) from whose
logs the model is calibrated (``wl.calibrate``), and a separate *validation* set (``--repeats`` runs
of every count) that the model is compared with; no run is in both. The two sets are interleaved
(one sweep over every count per repeat, calibration and validation repeats alternating), so that a
drift in the machine's load hits both alike. Per worker count, the validation runs' successes /
runs with their exact (Clopper-Pearson) interval are compared with the predicted ``p_meet``, and their median
elapsed with the predicted one.
Goal: predicted p_meet inside the measured exact (Clopper-Pearson) interval at every count, predicted
median within 1 % of the measured median.

At compressed pace the start-up (~0.2 s for 16 workers two at a time) does not compress with the
interval, so the deadline there is 10 intervals plus ``--slack`` seconds (default 0.2 s): it keeps the
success curve between 0 and 1 inside the counts swept. At the real pace (``--real``) it is 10 s.

    python benchmarks/model_agreement.py                 # compressed settings (interval 0.1)
    python benchmarks/model_agreement.py --real          # real 1 s pace (slow: run on a quiet machine)
    python benchmarks/model_agreement.py --real --low 13 --repeats 10 --mtbfs 30   # reduced real pace

Writes benchmarks/results/model_agreement.json and model_agreement.md (``--real``: *_real.*;
``--name NAME``: NAME.json / NAME.md instead, for trial runs that must not replace the committed
results); the sweeps' event logs go to runs/<name>/ (Parquet, a calibration and a validation file
per setting). ``--leads`` and ``--mtbfs`` choose the settings (default lead 0 and 1 interval, MTBF
30 and 10 intervals); a reduced real-pace run with ``--into-main`` adds its settings to
model_agreement.json / .md as a "real pace, reduced" section (saying what was reduced) instead of
writing *_real.*. Results written before calibration and validation runs were split were validated on their own
calibration runs: rerun to replace them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import RESULTS, ROOT, load, machine  # noqa: E402
from scipy import stats  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab.model.calibration import calibrate  # noqa: E402
from workerlab.thresholds.stats import cp_interval  # noqa: E402


def roles(calib: int, valid: int) -> list[str]:
    """The order of ``calib`` calibration and ``valid`` validation repeats, evenly interleaved."""
    slots = [((i + 0.5) / calib, "calibration") for i in range(calib)]
    slots += [((j + 0.5) / valid, "validation") for j in range(valid)]
    return [role for _, role in sorted(slots)]


def one_setting(interval: float, lead_iv: float, mtbf_iv: float, args: argparse.Namespace) -> dict:
    deadline = 10 * interval + (0.0 if args.real else args.slack)
    worker_args = ("-lead", f"{lead_iv * interval:g}") if lead_iv else ()
    t0 = time.monotonic()
    logs = ROOT / "runs" / args.name  # the sweeps' event logs (not committed)
    stem = f"i{interval:g}-lead{lead_iv:g}-mtbf{mtbf_iv:g}"
    paths = {role: logs / f"{stem}-{role}.parquet" for role in ("calibration", "validation")}
    if args.from_logs:
        calib, valid = (wl.load(paths[role]) for role in ("calibration", "validation"))
        return compare(calib, valid, interval, lead_iv, mtbf_iv, deadline, math.nan, args)
    # one sweep over every count per repeat: the machine's load drifts, and measuring the counts
    # one after another would give each count its own load; calibration and validation repeats
    # alternate for the same reason
    frames: dict[str, list[pd.DataFrame]] = {"calibration": [], "validation": []}
    for r, role in enumerate(roles(args.calib_repeats, args.repeats)):
        frames[role].append(
            wl.sweep(
                workers=range(args.low, args.high + 1),
                repeats=1,
                interval=interval,
                mtbf=mtbf_iv * interval,
                worker_args=worker_args,
                seed=args.seed + r,
                progress=False,
            )
        )
    calib, valid = (pd.concat(frames[role], ignore_index=True) for role in ("calibration", "validation"))
    wall = time.monotonic() - t0
    logs.mkdir(parents=True, exist_ok=True)
    wl.save(calib, paths["calibration"])
    wl.save(valid, paths["validation"])
    return compare(calib, valid, interval, lead_iv, mtbf_iv, deadline, wall, args)


def compare(
    calib: pd.DataFrame,
    valid: pd.DataFrame,
    interval: float,
    lead_iv: float,
    mtbf_iv: float,
    deadline: float,
    wall: float,
    args,
) -> dict:
    """The model calibrated from ``calib`` against the per-count figures of ``valid`` (other runs)."""
    model = calibrate(calib)
    s = wl.summary(valid, deadline=deadline)
    pred = model.predict(
        range(args.low, args.high + 1), deadline=deadline, runs=args.sim_runs, seed=args.seed
    )
    rows = []
    for _, p in pred.iterrows():
        g = s[s["workers"] == p["workers"]]
        k, n = int(g["deadline_met"].fillna(False).astype(bool).sum()), len(g)
        lo, hi = cp_interval(k, n, 0.95)
        el = g["elapsed_s"].dropna().to_numpy()
        med = float(np.median(el)) if len(el) else math.nan
        # distribution-free 95 % interval of the measured median (order statistics)
        mlo, mhi = math.nan, math.nan
        if len(el) >= 2:
            mci = stats.quantile_test(el, q=med, p=0.5).confidence_interval(0.95)
            mlo, mhi = float(mci.low), float(mci.high)
        rows.append(
            {
                "workers": int(p["workers"]),
                "successes": k,
                "runs": n,
                "ci_low": lo,
                "ci_high": hi,
                "p_meet": float(p["p_meet"]),
                "p_inside": bool(lo <= p["p_meet"] <= hi),
                "median_measured_s": med,
                "median_predicted_s": float(p["median_s"]),
                "median_error": float(p["median_s"]) / med - 1 if med > 0 else math.nan,
                "median_ci_low": mlo,
                "median_ci_high": mhi,
                "median_inside": bool(mlo <= p["median_s"] <= mhi),
            }
        )
    return {
        "interval": interval,
        "lead_intervals": lead_iv,
        "mtbf_intervals": mtbf_iv,
        "deadline_s": deadline,
        "sweep_wall_s": None if math.isnan(wall) else round(wall, 1),
        "calibration_runs": int(calib["run_id"].nunique()),
        "validation_runs": int(valid["run_id"].nunique()),
        "validated_on": "validation runs only: none of them was used to calibrate the model",
        "model": model.to_dict(),
        "model_text": repr(model),
        "rows": rows,
        "p_inside_all": all(r["p_inside"] for r in rows),
        "max_abs_median_error": max(abs(r["median_error"]) for r in rows),
        "median_inside_all": all(r["median_inside"] for r in rows),
    }


def markdown(results: list[dict]) -> str:
    out = [
        "# Model against measurement",
        "",
        "Per setting: two interleaved sets of measured sweeps (the counts interleaved too), a model",
        "calibrated on the calibration set only, and per count the success rate measured on the",
        "separate validation set with its exact (Clopper-Pearson) interval against the predicted p_meet, and the",
        "validation set's median (with a distribution-free 95% interval) against the predicted one.",
        "No run is in both sets. Regenerate: `python benchmarks/model_agreement.py [--real] [--from-logs]`.",
        "",
    ]
    for r in results:
        out.append(
            f"## interval {r['interval']:g} s, lead {r['lead_intervals']:g} interval(s), "
            f"MTBF {r['mtbf_intervals']:g} intervals, deadline {r['deadline_s']:g} s"
        )
        out += [
            "",
            f"Calibrated on {r['calibration_runs']} runs, validated on {r['validation_runs']} other runs.",
            "",
            "```",
            r["model_text"],
            "```",
            "",
        ]
        out.append(
            "| workers | measured met | exact 95% CI | predicted p_meet | inside | median meas. (95% CI) "
            "| median pred. | error | inside |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for x in r["rows"]:
            out.append(
                f"| {x['workers']} | {x['successes']}/{x['runs']} | {x['ci_low']:.2f}–{x['ci_high']:.2f} | "
                f"{x['p_meet']:.3f} | {'yes' if x['p_inside'] else '**no**'} | {x['median_measured_s']:.4f} "
                f"({x['median_ci_low']:.4f}–{x['median_ci_high']:.4f}) | {x['median_predicted_s']:.4f} | "
                f"{x['median_error']:+.1%} | {'yes' if x['median_inside'] else '**no**'} |"
            )
        out.append("")
    return "\n".join(out)


def add_to_main(results: list[dict], args: argparse.Namespace, before: list[float], seconds: float) -> int:
    """Add a reduced run's settings to model_agreement.json / .md, saying what was reduced."""
    pace = "real 1 s pace" if args.real else f"interval {args.interval:g} s"
    reduction = (
        f"{pace}, reduced: workers {args.low}-{args.high} x {args.calib_repeats} calibration + "
        f"{args.repeats} validation repeats (counts interleaved), "
        f"leads {', '.join(f'{x:g}' for x in args.leads)} interval(s), "
        f"MTBF {', '.join(f'{x:g}' for x in args.mtbfs)} intervals"
    )
    extra = {
        "reduction": reduction,
        "settings": vars(args),
        "results": results,
        "load": {"before": before, "after": load()},
        "seconds": round(seconds, 1),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = RESULTS / "model_agreement.json"
    doc = json.loads(path.read_text()) if path.exists() else {"benchmark": "model_agreement"}
    doc.setdefault("reduced", []).append(extra)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    md = RESULTS / "model_agreement.md"
    text = markdown(results).split("\n", 8)[-1]  # the settings' sections, without the page header
    head = (
        f"# {reduction.capitalize()}\n\nLoad average (1, 5, 15 min) before {before}, after {load()}; "
        f"{round(seconds)} s wall. Same comparison as above, on fewer runs: the exact (Clopper-Pearson) intervals are wider.\n\n"
    )
    md.write_text(md.read_text().rstrip("\n") + "\n\n" + head + text)
    print(head + text)
    return 0 if all(r["p_inside_all"] for r in results) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true", help="real 1 s pace instead of compressed")
    ap.add_argument("--interval", type=float, default=0.1, help="compressed interval (default 0.1 s)")
    ap.add_argument("--repeats", type=int, default=20, help="validation runs of each count")
    ap.add_argument("--calib-repeats", type=int, default=10, help="calibration runs of each count (others)")
    ap.add_argument("--low", type=int, default=10)
    ap.add_argument("--high", type=int, default=16)
    ap.add_argument("--slack", type=float, default=0.2, help="compressed deadline = 10 intervals + this")
    ap.add_argument("--sim-runs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--from-logs", action="store_true", help="compare again from the saved logs, no sweeps")
    ap.add_argument("--leads", type=float, nargs="+", default=[0.0, 1.0], help="leads in intervals")
    ap.add_argument("--mtbfs", type=float, nargs="+", default=[30.0, 10.0], help="MTBFs in intervals")
    ap.add_argument(
        "--into-main", action="store_true", help="add the results to model_agreement.json/.md (reduced runs)"
    )
    ap.add_argument(
        "--name", default=None, help="results/NAME.json/.md and runs/NAME/ (default model_agreement)"
    )
    args = ap.parse_args()
    if args.name is None:
        args.name = "model_agreement_real" if args.real else "model_agreement"
    elif args.into_main:
        ap.error("--name and --into-main exclude each other")
    interval = 1.0 if args.real else args.interval
    before = load()
    t0 = time.monotonic()
    results = [one_setting(interval, lead, mtbf, args) for lead in args.leads for mtbf in args.mtbfs]
    if args.into_main:
        return add_to_main(results, args, before, time.monotonic() - t0)
    name = args.name
    doc = {
        "benchmark": name,
        "settings": vars(args),
        "results": results,
        "machine": machine(),
        "load": {"before": before, "after": load()},
        "seconds": round(time.monotonic() - t0, 1),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = RESULTS / f"{name}.json"
    if args.from_logs and previous.exists():  # keep when and under which load the sweeps ran
        old = json.loads(previous.read_text())
        doc |= {k: old[k] for k in ("load", "seconds", "timestamp", "machine") if k in old}
        doc["compared_again"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for new, was in zip(results, old.get("results", [])):
            new["sweep_wall_s"] = was.get("sweep_wall_s")
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))
    print(markdown(results))
    return 0 if all(r["p_inside_all"] and r["max_abs_median_error"] <= 0.01 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
