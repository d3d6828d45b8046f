"""Search results built without a process: the real planner (``Decider``) fed made-up outcomes, then
``assemble``, as a finished search builds its answer. Shared by the tests of the answer's words
(tests/thresholds) and of its picture (tests/plots).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from workerlab.analysis.overlap import RunsAtOnce
from workerlab.batch.spec import BatchSettings
from workerlab.config import RunOptions
from workerlab.model.interference import Interference
from workerlab.model.model import Model
from workerlab.thresholds.assemble import assemble
from workerlab.thresholds.decider import Decider
from workerlab.thresholds.result import SearchResult
from workerlab.thresholds.settings import SearchSettings
from workerlab.thresholds.stats import search_table
from workerlab.thresholds.verdict import Conditions

#: the model's predicted p_meet: 15 workers the candidate, 14 the count below, 16 screened
PRED = {13: 0.0, 14: 0.0015, 15: 1.0, 16: 1.0}
#: runs at once as a search with a pilot of four side by side leaves them: 14 ran alone
RUNS = RunsAtOnce(
    runs=80, overlapped=60, mean=1.9, max=4, per_count={14: (1.0, 1), 15: (2.1, 4), 16: (2.4, 4)}
)
CONDITIONS = Conditions(
    RUNS,
    Interference(
        at_once=4,
        alone_overhead_s=(0.1, 0.11),
        side_overhead_s=(0.1, 0.12),
        alone_workers=(15, 16),
        side_workers=(15, 16),
        shift_s=0.004,
        shift_low_s=-0.02,
        shift_high_s=0.03,
    ),
)
MODEL = Model(interval=0.2, mtbf=6.0, runs=6)


def settings(**options) -> SearchSettings:
    """A search's checked settings: counts 1-16, 150 samples, deadline 10 s, the emulator ``options``."""
    batch = BatchSettings.check(
        range(1, 17),
        samples=150,
        deadline=10.0,
        parallel=None,
        max_live_workers=64,
        options=RunOptions(**options),
    )
    return SearchSettings.check(batch, level=0.95, confidence=0.95, model=None, max_runs=400)


def search(
    met: Callable[[int, int], bool] = lambda w, i: w >= 15,
    *,
    stop_after: int | None = None,
    **facts,
) -> SearchResult:
    """The ``SearchResult`` of a search whose run ``i`` (start order) at ``w`` workers meets the
    deadline when ``met(w, i)``, elapsed ``9 + i / 100`` s; ``stop_after``: stopped after that many
    measured runs (``interrupted``). ``facts`` override ``assemble``'s (``conditions=``, ...)."""
    decider = Decider(PRED)
    judged: list[dict] = []
    stopped = False
    while not stopped and not (step := decider.step()).done:
        for w, n in sorted(step.runs.items()):
            for _ in range(n):
                stopped = stop_after is not None and len(judged) >= stop_after
                if stopped:
                    break
                i = decider.start(w)
                ok = met(w, i)
                decider.record(w, i, ok)
                judged.append(
                    {"workers": w, "met": ok, "reached": True, "elapsed_s": 9 + i / 100, "bound_s": 9.0}
                )
    pred = pd.DataFrame(
        {"workers": list(PRED), "p_meet": list(PRED.values()), "median_s": 9.0, "bound_s": 9.0}
    )
    table = search_table(pd.DataFrame(judged), sorted(PRED), pred, 0.95)
    given = dict(
        conditions=CONDITIONS,
        runs_used=len(judged) + 6,
        wall_s=210.0,
        model=MODEL,
        prediction=pred,
        pilot_runs=6,
        interrupted=stop_after is not None,
        settings=settings(interval=0.2, mtbf=6.0, seed=7),
    )
    return assemble(table, decider, level=0.95, deadline=10.0, confidence=0.95, **(given | facts))


def no_model() -> SearchResult:
    """A search stopped during its pilot: no model, no plans, nothing measured."""
    table = search_table(
        pd.DataFrame(columns=["workers", "met", "reached", "elapsed_s", "bound_s"]), range(1, 17), None, 0.95
    )
    return assemble(
        table,
        None,
        level=0.95,
        deadline=10.0,
        confidence=0.95,
        conditions=None,
        runs_used=4,
        wall_s=30.0,
        pilot_runs=4,
        interrupted=True,
    )
