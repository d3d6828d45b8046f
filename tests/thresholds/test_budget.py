"""The budget checked before any worker starts, and the cost a search says at its start.

``max_runs`` counts every run (the pilot's too) and must cover the least a conclusive search can
take (``SearchSettings.least_runs``, from the planner's own plans): below it ``find_threshold``
refuses with a ``ConfigError`` naming that minimum, before anything is spawned; at it, a search
whose every run goes the clear way can end conclusive (the budget's last runs are counted).
"""

from __future__ import annotations

import pytest

import workerlab as wl
from workerlab.batch.progress import Progress
from workerlab.config import RunOptions
from workerlab.thresholds import search
from workerlab.thresholds.decider import PLAN_MAX_RUNS, SCREEN_RUNS, Decider, choose
from workerlab.thresholds.exact import BELOW, MEETS
from workerlab.thresholds.pilot import PILOT_RUNS
from workerlab.thresholds.settings import Floor, floor, least_runs


def by_scan(plan, aim: str) -> int:
    """The runs after which ``plan`` first decides ``aim``, every run going that way (run by run)."""
    f = 0
    for n in range(1, plan.max_runs + 1):
        f += aim == BELOW
        if plan.decide(f, n) is not None:
            assert plan.decide(f, n) == aim
            return n
    raise AssertionError(f"{plan.describe()} never decides {aim}")


def chosen(aim: str, p: float):
    return choose(aim, p, 0.95, 0.95, PLAN_MAX_RUNS)


def settings(workers=range(1, 17), *, max_runs=400, model=None, interval=0.02, **kw):
    return search.check(
        workers,
        samples=150,
        deadline=None,
        level=kw.pop("level", 0.95),
        confidence=0.95,
        model=model,
        max_runs=max_runs,
        parallel=kw.pop("parallel", None),
        max_live_workers=64,
        options=RunOptions(interval=interval, mtbf=0),
    )


def test_the_floor_is_what_the_searchs_own_plans_spend_on_clear_counts():
    f = floor(0.95, 0.95)
    assert f == Floor(by_scan(chosen(MEETS, 0.999), MEETS), by_scan(chosen(BELOW, 0.001), BELOW))
    # no plan the search would choose for another prediction is cheaper on a clear-cut count
    assert all(by_scan(chosen(MEETS, p), MEETS) >= f.meets for p in (0.95, 0.97, 0.99, 0.995, 0.998))
    assert all(by_scan(chosen(BELOW, p), BELOW) >= f.below for p in (0.01, 0.1, 0.5, 0.9))
    assert 2 <= f.below < 10 < f.meets <= 80  # a count that always meets still costs its first look
    assert floor(0.8, 0.95).meets < f.meets  # a lower level is shown in fewer runs


def test_least_runs_at_the_defaults_is_pilot_candidate_and_count_below():
    f = floor(0.95, 0.95)
    least = least_runs(tuple(range(1, 17)), f, PILOT_RUNS)
    # the cheapest conclusive answer is 16 workers (no larger count to screen) over 15 shown below
    assert (least.total, least.screens) == (PILOT_RUNS + f.meets + f.below, 0)
    with_model = least_runs(tuple(range(1, 17)), f, 0)
    assert with_model.total == least.total - PILOT_RUNS
    # 1 worker has no count below, but the two larger counts get their screens
    assert least_runs((1, 2, 3), f, 0).total == min(f.meets + 2 * SCREEN_RUNS, f.meets + f.below)
    one = least_runs((15,), f, PILOT_RUNS)  # one count above 1 is never conclusive: its plan only
    assert not one.conclusive and one.total == PILOT_RUNS + f.meets


def test_a_budget_below_the_least_is_refused_before_any_worker_starts(spawned):
    least = settings().least_runs().total
    with pytest.raises(wl.ConfigError) as info:
        wl.find_threshold(max_runs=30, interval=0.02, mtbf=0, progress=False)
    assert spawned == []
    err = info.value
    assert err.param == "max_runs" and f"below {least} runs" in str(err) and f"max_runs={least}" in str(err)
    assert str(PILOT_RUNS) + " pilot runs" in str(err)
    assert settings(max_runs=least).max_runs == least  # the least itself is a budget


def test_a_level_no_plan_can_show_is_refused_too():
    with pytest.raises(wl.ConfigError, match=r"0\.999 cannot be shown: no exact plan of at most 250 runs"):
        settings(level=0.999)


def test_at_the_least_budget_a_clear_search_is_conclusive_counting_its_last_runs():
    """Runs one at a time (as the count below's always go), the loop asking for the next step right
    after each start: the budget stops new runs, never the counting of a run already going."""
    pred = {14: 0.0, 15: 0.999}  # the cheapest conclusive search: no larger count to screen
    s = settings([14, 15], model=object.__new__(wl.Model))
    least = s.least_runs().total
    sp = Decider(pred, max_runs=least)
    going: list[tuple[int, int]] = []
    while True:
        step = sp.step()
        if step.done:
            break
        if step.runs and not going:  # start one wanted run, as the loop does, then ask again
            w = min(step.runs)
            going.append((w, sp.start(w)))
            continue
        assert going, "waiting for nothing"
        w, i = going.pop()  # the run ends: 14 misses, 15 meets
        sp.record(w, i, w != 14)
    assert step.conclusive and sp.total == least, step.reason


def test_the_expected_cost_counts_the_least_runs_at_the_pace():
    at_real = search.expected_cost(settings(interval=1.0))
    assert at_real.least == settings().least_runs().total
    assert (
        3 * 60 < at_real.seconds < 5 * 60
        and "~4 min at this pace with up to 4 runs at once" in at_real.text()
    )
    assert at_real.alone_seconds > 3 * at_real.seconds and at_real.when() == "~4–14 min"
    compressed = search.expected_cost(settings(interval=0.02))
    assert compressed.least == at_real.least and compressed.seconds < at_real.seconds / 10
    alone = search.expected_cost(settings(interval=1.0, parallel=1))
    assert alone.seconds > 3 * at_real.seconds  # one run at a time


def test_the_progress_bar_says_what_the_search_expects_to_cost(capsys):
    stop = wl.Stop()
    stop.set()  # nothing runs: only the bar's first words are wanted
    wl.find_threshold(interval=0.02, mtbf=0, stop=stop)
    err = capsys.readouterr().err
    cost = search.expected_cost(settings())
    assert f"runs (expect ≥ {cost.least}, {cost.when()})" in err


def test_progress_describe_changes_the_bars_words(capsys):
    bar = Progress(3, True)
    bar.describe("runs (expect ≥ 80, ~4 min)")
    bar.close()
    assert "runs (expect ≥ 80, ~4 min)" in capsys.readouterr().err
    Progress(3, False).describe("nothing to say it on")  # no bar: nothing happens
