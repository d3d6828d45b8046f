"""The threshold: exact (Clopper-Pearson) intervals, the per-count table, the conditions and the sweep plot,
on hand-built logs.

No process runs here: the logs are constructed (``tests/logbuilder.py``), so every figure is
known exactly. Real sweeps are in ``batch/test_sweep.py``.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import one
from logbuilder import LogBuilder, perfect_run
from logbuilder import sweep as concat_logs

import workerlab as wl
from workerlab.analysis.overlap import RunsAtOnce
from workerlab.model.interference import Interference
from workerlab.thresholds.stats import cp_interval
from workerlab.thresholds.verdict import TABLE_DTYPES, Conditions, SweepVerdict, repeats_needed

approx = pytest.approx


# -- statistics on constructed logs -------------------------------------------------------


def test_exact_interval_against_hand_computed_values():
    # all successes: the low end is 0.025^(1/n) (one-sided 97.5 %); none: the high end is 1 - that
    for n in (1, 3, 20, 72):
        assert cp_interval(n, n, 0.95) == approx((0.025 ** (1 / n), 1.0))
        assert cp_interval(0, n, 0.95) == approx((0.0, 1 - 0.025 ** (1 / n)))
    assert cp_interval(3, 3, 0.8) == approx((0.1 ** (1 / 3), 1.0))
    assert all(math.isnan(v) for v in cp_interval(0, 0, 0.95))


def test_repeats_needed_is_the_first_count_whose_low_end_reaches_the_level():
    # all successes: 0.025^(1/n) >= 0.95  <=>  n >= ln 0.025 / ln 0.95 = 71.9
    assert repeats_needed(5, 5, 0.95) == 72
    assert cp_interval(72, 72, 0.95)[0] >= 0.95 > cp_interval(71, 71, 0.95)[0]
    assert repeats_needed(3, 3, 0.9) == 36  # n >= ln 0.025 / ln 0.9 = 35.01
    assert repeats_needed(80, 80, 0.95) == 80  # already conclusive: the current count
    n = repeats_needed(19, 20, 0.95)  # a failure costs more repeats than 72
    assert n > 72
    assert cp_interval(19 + n - 20, n, 0.95)[0] >= 0.95 > cp_interval(19 + n - 21, n - 1, 0.95)[0]
    assert repeats_needed(5, 5, 1.0) is None


def _perfect(workers: int, rid: str, interval: float = 1.0) -> LogBuilder:
    """Elapsed = connect at 0.06 + (ceil(150 / workers) - 1) * interval; bound without the 0.06."""
    return perfect_run(workers, 150, interval=interval, run_id=rid)


def _failed(workers: int, rid: str) -> LogBuilder:
    b = LogBuilder(n_workers=workers, target=150, run_id=rid)
    b.start(1, 0.0)
    b.samples(1, [0.1, 1.1])
    b.crash(1, 1.5)
    b.run_stop(1.6, "failed", message="WorkerStartError: worker 1 failed 5 times")
    return b


@pytest.fixture(scope="module")
def constructed():
    """14 workers miss 10 s (10.06 s), 15 and 16 meet it (9.06 s), a lucky 13 (interval 0.8: 8.86 s),
    and one 16-worker run that failed."""
    runs = [_perfect(13, "w13-r1", interval=0.8)]
    runs += [_perfect(w, f"w{w}-r{r}") for w in (14, 15, 16) for r in (1, 2, 3)]
    runs += [_failed(16, "w16-r4")]
    return concat_logs(*runs)


def test_threshold_table_and_answer(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df)
    t = th.table.set_index("workers")
    assert list(t.index) == [13, 14, 15, 16]
    assert list(t.runs) == [1, 3, 3, 3] and list(t.successes) == [1, 0, 3, 3]
    assert t.loc[14, "success_rate"] == 0 and t.loc[15, "success_rate"] == 1
    assert t.loc[15, "ci_low"] == approx(0.025 ** (1 / 3)) and t.loc[14, "ci_high"] == approx(
        1 - 0.025 ** (1 / 3)
    )
    assert t.loc[15, "median_elapsed_s"] == approx(9.06) and t.loc[14, "p95_elapsed_s"] == approx(10.06)
    assert t.loc[13, "median_elapsed_s"] == approx(0.06 + 11 * 0.8)
    assert t.loc[15, "median_bound_s"] == approx(9.0) and t.loc[14, "median_bound_s"] == approx(10.0)
    # 13 met it once, but 14 did not: the threshold is where every larger count qualifies too
    assert th.workers == 15
    assert th.strong is False and th.repeats_needed == 72
    text = str(th)
    assert text.startswith("15 workers meet 10 s in 3/3 runs (95% CI 0.29–1.00): not yet conclusive at 0.95")
    # a fresh sweep of 72, never "69 more" of these: topping up runs that looked good voids the confidence
    assert "a fresh sweep of 72 repeats" in text and "would not keep the stated confidence" in text
    assert "at that count (about 72 runs x " in text and " min, one at a time)" in text  # its time, measured
    assert "69" not in text and "14 workers: 0/3" in text
    # short in a notebook too: the sentence and the runs at once; the table is behind details()
    html = th._repr_html_()
    assert html.startswith("<p><b>15 workers meet") and "<table" not in html and "runs at once" in html
    assert "not_reached" in th.details() and len(str(th).splitlines()) <= 8
    assert th.to_frame().dtypes.astype(str).to_dict() == TABLE_DTYPES
    md = th.to_markdown().splitlines()
    assert md[0].startswith("| workers | runs |") and len(md) == 2 + 4 and md[3].startswith("| 14 | 3 | 0 |")
    d = th.to_dict()
    assert (d["workers"], d["strong"], d["repeats_needed"], d["runs"], d["successes"]) == (
        15,
        False,
        72,
        3,
        3,
    )


def test_threshold_is_strong_when_the_low_end_reaches_the_level(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df, level=0.4, confidence=0.8)  # 3/3: low end 0.1^(1/3) = 0.464 >= 0.4
    assert th.workers == 15 and th.strong and th.repeats_needed == 3
    # strong, but 14 workers (0/3) are not shown under 0.4: "conclusive" only where it is
    assert not th.conclusive and "conclusive at" not in str(th) and "not yet" not in str(th)
    assert "strong at 0.4" in str(th) and "not conclusive" in str(th)
    th = wl.threshold(df, deadline=11.0)  # now 14 workers (10.06 s) meet it too, and so does 13
    assert th.workers == 13 and th.table.set_index("workers").loc[14, "successes"] == 3


def test_conclusive_needs_the_count_below_measured_under_the_level(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df, level=0.4, confidence=0.8)
    assert th.strong and not th.conclusive  # 14 workers 0/3: high end 1 - 0.1^(1/3) = 0.54 >= 0.4
    more = concat_logs(*[_perfect(14, f"w14-r{r}") for r in (4, 5, 6)])
    th = wl.threshold(pd.concat([df, more], ignore_index=True), level=0.4, confidence=0.8)
    assert th.strong and th.conclusive and th.to_dict()["conclusive"] is True  # 0/6: high 0.32 < 0.4
    assert "conclusive at 0.4" in str(th) and "not conclusive" not in str(th)


def test_a_failed_run_counts_as_a_miss(constructed):
    th = wl.threshold(constructed)
    row = th.table.set_index("workers").loc[16]
    assert (row.runs, row.successes, row.not_reached) == (4, 3, 1)
    assert row.median_elapsed_s == approx(9.06)  # times are those of runs that reached the target
    assert th.workers is None  # 16 now succeeds in 3/4 < 0.95
    text = str(th)
    assert text.startswith("no worker count tested (13–16) meets 10 s in at least 0.95 of runs")
    assert "1 run did not reach the target" in text


def test_threshold_refuses_bad_input(constructed):
    with pytest.raises(ValueError, match="level"):
        wl.threshold(constructed, level=1.0)
    with pytest.raises(ValueError, match="empty"):
        wl.threshold(constructed.iloc[:0])


# -- the plot --------------------------------------------------------------------------------


def test_plot_sweep_shows_runs_median_bound_deadline_rate_and_threshold(constructed):
    df = constructed[constructed.run_id != "w13-r1"]
    fig = plt.figure(figsize=(9, 5))
    ax = fig.add_subplot()
    th = wl.threshold(df, level=0.7)
    assert th.workers == 15  # 16: 3/4 = 0.75 >= 0.7
    assert wl.plot_sweep(th, ax=ax) is ax
    assert len(one(ax, "runs").get_offsets()) == 9  # every run that reached the target is a point
    assert len(one(ax, "not_reached").get_offsets()) == 1
    median = one(ax, "median")
    assert list(median.get_xdata()) == [14, 15, 16]
    assert list(median.get_ydata()) == approx([10.06, 9.06, 9.06])
    assert list(one(ax, "bound").get_ydata()) == approx([10.0, 9.0, 9.0])
    assert one(ax, "deadline").get_ydata()[0] == 10.0
    assert one(ax, "threshold").get_xdata()[0] == 15
    twins = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    assert len(twins) == 1
    twin = twins[0]
    assert list(one(twin, "success").get_ydata()) == approx([0.0, 1.0, 0.75])
    ci = one(twin, "success_ci").get_segments()
    assert [tuple(np.round(s[:, 1], 4)) for s in ci] == [
        tuple(np.round(cp_interval(k, n, 0.95), 4)) for k, n in ((0, 3), (3, 3), (3, 4))
    ]
    assert one(twin, "level").get_ydata()[0] == 0.7
    assert "15 workers" in ax.get_title() and "share" in twin.get_ylabel()
    plt.close(fig)


def test_plot_sweep_draws_the_model_curve_beside_the_measured_share(constructed):
    df = constructed[constructed.run_id != "w16-r4"]
    model = wl.Model(interval=1.0, mtbf=0)  # no crashes: 13 and 14 workers miss 10 s, 15 and 16 meet it
    pred = model.predict(range(12, 19), 150, 10.0, 300, seed=0)
    ax = wl.plot_sweep(wl.threshold(df), model=pred)
    twin = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax][0]
    curve = one(twin, "model")
    assert list(curve.get_xdata()) == [13, 14, 15, 16]  # the prediction over the swept counts only
    assert list(curve.get_ydata()) == approx([0.0, 0.0, 1.0, 1.0])
    assert "model" in [h.get_label() for h in twin.get_legend().legend_handles][-3]
    plt.close("all")


def test_the_success_map_is_computed_by_the_model_and_drawn_by_the_plot():
    model = wl.Model(interval=1.0, mtbf=30.0)
    grid = model.success_map(range(13, 17), mtbf=[10.0, 30.0, 1e6], runs=300)
    assert list(grid.columns) == ["workers", "mtbf", "p_meet", "own", "samples", "deadline_s"]
    assert len(grid) == 12 and grid.loc[grid["own"], "mtbf"].unique().tolist() == [30.0]
    assert (grid["samples"] == 150).all() and (grid["deadline_s"] == 10.0).all()
    by_cell = grid.set_index(["mtbf", "workers"])["p_meet"]
    assert by_cell[(30.0, 15)] == model.predict([15], runs=300, seed=0)["p_meet"].iloc[0]
    ax = wl.plot_success_map(grid)
    assert "P(150 samples within 10 s)" in ax.get_title()
    image = next(im for im in ax.images if im.get_gid() == "success_map")
    z = image.get_array()
    assert z.shape == (3, 4)  # MTBF down, workers across
    assert z[:, 0].max() < 0.05  # 13 workers never (bound 11 s)
    assert (z[1:, 2:] > 0.95).all()  # 15 and 16 workers with MTBF 30 s or (almost) no crashes
    # (with lead 0 frequent crashes can *help* 14 workers: a restarted worker sends at once)
    outlined = [p for p in ax.patches if p.get_gid() == "level_cell"]
    assert len(outlined) == int((z >= 0.95).sum())
    assert "◀ model" in ax.get_yticklabels()[1].get_text()
    plt.close("all")


def test_the_plots_take_computed_results_and_say_so_when_given_their_input(constructed):
    figures = plt.get_fignums()
    with pytest.raises(TypeError, match=r"wl\.threshold\(df\)"):
        wl.plot_sweep(constructed)
    with pytest.raises(TypeError, match="Model.predict"):
        wl.plot_sweep(wl.threshold(constructed), model=wl.Model())
    with pytest.raises(TypeError, match=r"model\.success_map"):
        wl.plot_success_map(wl.Model())
    no_runs = SweepVerdict(None, wl.threshold(constructed).table.iloc[:0], False, None, 0.95, 10.0)
    with pytest.raises(ValueError, match="no runs"):
        wl.plot_sweep(no_runs)
    assert plt.get_fignums() == figures  # refused before drawing anything


def test_a_verdict_carries_its_judged_runs_and_its_log(constructed):
    th = wl.threshold(constructed, 9.5)
    assert th.events is constructed
    assert th.judged["run_id"].tolist() == list(dict.fromkeys(constructed["run_id"]))
    assert th.judged["met"].sum() == th.table["successes"].sum() == 7  # 13 (8.86 s), 15 and 16 (9.06 s)
    assert th.judged["reached"].sum() == len(th.judged) - 1  # the failed 16-worker run


# -- the conditions ---------------------------------------------------------------------------


def test_conditions_warn_only_when_runs_shared_the_machine_unmeasured():
    alone = Conditions(RunsAtOnce(runs=2, overlapped=0, mean=1.0, max=1))
    assert not alone.unchecked and "WARNING" not in alone.text() and "ran alone" in alone.text()
    shared = RunsAtOnce(runs=2, overlapped=2, mean=1.5, max=2, per_count={3: (1.5, 2)})
    side = Conditions(shared)
    assert side.unchecked and "WARNING" in side.text() and side.to_dict()["unchecked"] is True
    measured = Conditions(shared, Interference(at_once=2))
    assert not measured.unchecked and "WARNING" not in measured.text()
    assert measured.to_dict()["interference"]["at_once"] == 2


def test_interval_labels_follow_the_confidence(constructed):
    from workerlab.cli.output import format_sweep

    df = constructed[constructed.run_id != "w16-r4"]
    th = wl.threshold(df, confidence=0.8)
    assert "(80% CI " in str(th) and "95%" not in str(th)
    rows = [{k: v for k, v in r.items()} for r in th.table.to_dict("records")]
    text = format_sweep({"rows": rows, "threshold": th.to_dict()})
    assert "80% CI" in text.splitlines()[0] and "95%" not in text


def test_a_sweep_verdict_and_a_search_result_are_both_thresholds(constructed):
    from workerlab.thresholds.result import SearchResult
    from workerlab.thresholds.verdict import SweepVerdict

    th = wl.threshold(constructed[constructed.run_id != "w16-r4"])
    assert isinstance(th, SweepVerdict) and isinstance(th, wl.Threshold)
    assert issubclass(SearchResult, wl.Threshold) and not hasattr(th, "searched")
