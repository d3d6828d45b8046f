"""Whole threshold searches, simulated with the real planner, against the exact per-side tables.

The search's plan (``workerlab.thresholds.decider.Decider``) is a pure function of the predicted
rates and the measured results, so whole searches can run on binomial draws
(``support.simulate``, in tests/support/). On each side - the candidate shown to meet, the count below
shown below - the decisive count's true rate is set to level - 0.005, level and level + 0.005 and
the share of searches that concluded at the candidate is compared with the exact probability of
that count's plan (``Plan.operating``): they agree when the exact value lies in the simulation's
99.9 % Clopper-Pearson interval. Where the conclusion is wrong at that rate, the exact value must
be at most (1 - confidence) / 2. Also: the plans chosen for typical predictions, and the power of
a search (P(conclusive)) at the predicted rates and at 0.99. Simulated, not measured. Writes
benchmarks/results/search_error.json and search_error.md. ``--quick``: 2,000 searches per cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import RESULTS, Bench  # noqa: E402
from support.simulate import search_errors  # noqa: E402

from workerlab.thresholds.decider import Decider, choose  # noqa: E402
from workerlab.thresholds.exact import BELOW, MEETS  # noqa: E402

TYPICAL = [(MEETS, 0.9999), (MEETS, 0.999), (MEETS, 0.995), (MEETS, 0.99), (MEETS, 0.97),
           (BELOW, 0.003), (BELOW, 0.3), (BELOW, 0.74), (BELOW, 0.9)]  # fmt: skip


def plans() -> list[dict]:
    out = []
    for aim, p in TYPICAL:
        plan = choose(aim, min(p, 0.999), 0.95, 0.95, 250)
        oc = plan.operating(min(p, 0.999))
        out.append(
            dict(aim=aim, p_pred=p, plan=plan.describe(), runs_one_by_one=round(plan.runs_one_by_one(min(p, 0.999)), 1),
                 power=round(oc.power, 3), power_at_099=round(plan.operating(0.99).power, 3) if aim == MEETS else None)
        )  # fmt: skip
    return out


def main() -> int:
    searches = 2000 if "--quick" in sys.argv else 10_000
    bench = Bench(
        "search_error",
        "Whole threshold searches (simulated, real planner) against the exact per-side tables",
        f"{searches} simulated searches per side and true rate; level = confidence = 0.95",
    )
    checks = search_errors(searches, np.random.default_rng(20261203))
    for c in checks:
        name = f"{c.side} side, true rate {c.true_rate:.3f}"
        goal = f"<= {c.half_alpha:g}" if c.wrong else "power"
        bench.add(f"{name}: exact", round(c.exact, 5), "", goal, c.exact <= c.half_alpha if c.wrong else None)
        bench.add(f"{name}: simulated", round(c.simulated, 5), "", "agrees", c.agrees,
                  note=f"99.9% CI {c.ci_low:.4f}-{c.ci_high:.4f}")  # fmt: skip
    rows = plans()
    sp = Decider({14: 0.003, 15: 0.999, 16: 1.0})
    sp.step()
    power = sp.power()
    bench.add(
        "search power at the predicted rates (15: 0.999, 14: 0.003)", round(power["at_predicted"] or 0, 3), ""
    )
    bench.add("search power with the candidate at 0.99", round(power["at_0.99"] or 0, 3), "")
    bench.results = {
        "checks": [c.__dict__ | {"agrees": c.agrees} for c in checks],
        "plans": rows,
        "power": power,
    }
    lines = ["# Whole searches against the exact tables (simulated)", "",
             f"{searches} searches per row, seeded; level = confidence = 0.95; exact value in the 99.9 % CI.", "",
             "| side | true rate | wrong? | exact | simulated | 99.9 % CI | agrees |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in checks:
        lines.append(f"| {c.side} | {c.true_rate:.3f} | {'yes' if c.wrong else 'no'} | {c.exact:.4f} | "
                     f"{c.simulated:.4f} | {c.ci_low:.4f}-{c.ci_high:.4f} | {c.agrees} |")  # fmt: skip
    lines += ["", "## Plans chosen for typical predictions", "", "| aim | p_pred | plan | E[runs] | power | power at 0.99 |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['aim']} | {r['p_pred']} | {r['plan']} | {r['runs_one_by_one']} | {r['power']} | "
                     f"{r['power_at_099'] if r['power_at_099'] is not None else '-'} |")  # fmt: skip
    (RESULTS / "search_error.md").write_text("\n".join(lines) + "\n")
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
