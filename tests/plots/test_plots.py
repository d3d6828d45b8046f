"""The plots show the right things: lanes, markers, lines — checked on hand-built logs."""

from __future__ import annotations

import inspect
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from helpers import by_gid, one
from logbuilder import bulk_run, faulty_run, perfect_run, sweep
from matplotlib.figure import Figure

from workerlab import plots
from workerlab.analysis import runs as analysis

approx = pytest.approx


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    """Plots must never call plt.show(); close every figure a test made."""

    def refuse(*a, **k):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


@pytest.fixture
def ax():
    return plt.figure(figsize=(8, 5)).add_subplot()


@pytest.fixture(scope="module")
def run16():
    """16 workers, target 150, three crashes at known places and one stall."""
    b = perfect_run(16, 150, extra=4, lead=0.1, run_id="r16")
    b.crash(3, 2.5)
    b.restart(3, 2.51)
    b.spawn(3, 2.52)
    b.ready(3, 2.6)
    b.crash(7, 4.5)
    b.crash(3, 5.5)
    b.stall(12, 6.2)
    return b.frame()


# -- timeline -------------------------------------------------------------------------------


def test_timeline_has_one_lane_per_worker_and_every_event(ax, run16):
    out = plots.plot_timeline(run16, ax=ax)
    assert out is ax
    assert list(ax.get_yticks()) == list(range(1, 17))
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(w) for w in range(1, 17)]
    assert ax.yaxis_inverted()  # worker 1 on top
    samples = one(ax, "samples")
    assert len(samples.get_segments()) == 154  # one tick per sample row, one artist
    assert len(one(ax, "lifetimes").get_paths()) == len(analysis.processes(run16)) == 17
    assert len(one(ax, "crash").get_offsets()) == 3
    assert len(one(ax, "stall").get_offsets()) == 1
    assert len(one(ax, "restart").get_offsets()) == 1
    crash_lanes = sorted(np.round(one(ax, "crash").get_offsets()[:, 1]).astype(int).tolist())
    assert crash_lanes == [3, 3, 7]
    reached = one(ax, "reached")
    assert reached.get_xdata()[0] == approx(analysis.summary(run16)["elapsed_s"].iloc[0])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for want in ("crash (3)", "stall (1)", "restart (1)", "sample (kept)", "sample (after target)"):
        assert want in labels
    assert "(s)" in ax.get_xlabel() and ax.get_ylabel() == "worker id"


def test_timeline_marks_kept_and_unkept_samples_differently(ax):
    plots.plot_timeline(faulty_run().frame(), ax=ax)
    colors = one(ax, "samples").get_colors()
    distinct, counts = np.unique(np.round(colors, 3), axis=0, return_counts=True)
    assert sorted(counts.tolist()) == [1, 8]  # 8 kept, 1 after the target


def test_timeline_lifetime_bars_span_spawn_to_end(ax):
    plots.plot_timeline(faulty_run().frame(), ax=ax)
    spans = sorted(
        (round(p.vertices[:, 0].min(), 3), round(p.vertices[:, 0].max(), 3))
        for p in one(ax, "lifetimes").get_paths()
    )
    assert spans == [(0.0, 3.0), (0.0, 4.6), (3.02, 5.75), (4.62, 5.75)]


def test_timeline_of_one_worker_has_a_single_lane(ax):
    plots.plot_timeline(perfect_run(1, 5).frame(), ax=ax)
    assert list(ax.get_yticks()) == [1]
    assert not by_gid(ax, "crash")


def test_timeline_of_a_sweep_shows_one_run_and_says_which(ax):
    df = sweep(perfect_run(2, 4, run_id="a"), perfect_run(5, 10, run_id="b"))
    plots.plot_timeline(df, ax=ax)
    assert "run a (1 of 2 runs)" in ax.get_title()
    assert len(ax.get_yticks()) == 2
    ax2 = plt.figure().add_subplot()
    plots.plot_timeline(df, ax=ax2, run_id="b")
    assert "run b (2 of 2 runs)" in ax2.get_title() and len(ax2.get_yticks()) == 5


def test_timeline_of_a_timed_out_run_has_no_reached_line(ax):
    b = perfect_run(2, 4)
    b._records = [r for r in b._records if r[1] != 0]
    b.run_stop(9.0, "timeout", target=40)
    plots.plot_timeline(b.frame(), ax=ax)
    assert not by_gid(ax, "reached")
    assert "not reached (timeout)" in ax.get_title()


def test_timeline_stays_one_artist_for_many_samples(ax):
    df = bulk_run(16, 1250)
    n_artists = len(ax.get_children())
    plots.plot_timeline(df, ax=ax)
    assert len(one(ax, "samples").get_segments()) == (df["event"] == "sample").sum()
    assert len(ax.get_children()) - n_artists < 15


# -- throughput ------------------------------------------------------------------------------


def test_throughput_curve_ideal_target_deadline_and_crashes(ax):
    df = faulty_run().frame()
    s = analysis.summary(df).iloc[0]
    out = plots.plot_throughput(df, ax=ax, deadline=5.0)
    assert out is ax
    observed = one(ax, "observed")
    assert observed.get_ydata()[-1] == 8  # kept samples only
    assert np.all(np.diff(observed.get_ydata()) >= 0)
    ideal = one(ax, "ideal")
    assert ideal.get_xdata()[-1] == approx(s["bound_s"])  # reaches the target at the bound
    assert ideal.get_ydata()[-1] == 8
    assert ideal.get_ydata()[1] == 2  # 2 workers: 2 samples per step
    assert one(ax, "target").get_ydata()[0] == 8
    assert one(ax, "deadline").get_xdata()[0] == 5.0
    crash = one(ax, "crash").get_offsets()
    assert crash.tolist() == [[3.0, 5.0]]  # 5 kept samples by t = 3.0
    assert one(ax, "stall").get_offsets().tolist() == [[4.6, 6.0]]
    assert "(s)" in ax.get_xlabel() and "samples" in ax.get_ylabel()


def test_throughput_without_deadline_and_for_a_sweep(ax):
    df = sweep(perfect_run(2, 6, run_id="a"), perfect_run(4, 6, run_id="b"), perfect_run(4, 6, run_id="c"))
    plots.plot_throughput(df, ax=ax, deadline=None)
    assert not by_gid(ax, "deadline")
    assert len(by_gid(ax, "observed")) == 3
    assert len(by_gid(ax, "ideal")) == 2  # one per worker count
    widths = {line.get_linewidth() for line in by_gid(ax, "observed")}
    assert max(widths) < 1.8  # many runs: thinner lines
    assert "3 runs" in ax.get_title()


def test_throughput_creates_its_own_figure_without_ax():
    before = set(plt.get_fignums())
    ax = plots.plot_throughput(perfect_run(1, 3).frame())
    assert set(plt.get_fignums()) - before == {ax.figure.number}


# -- latency -----------------------------------------------------------------------------------


def test_latency_shows_every_kind_with_its_n(ax):
    out = plots.plot_latency(faulty_run().frame(), ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 4
    assert "gap between samples" in labels[0] and "n=5" in labels[0]
    assert "spawn → ready" in labels[1] and "n=4" in labels[1]
    assert "connect → first sample" in labels[2] and "n=4" in labels[2]
    assert "restart" in labels[3] and "n=2" in labels[3]
    assert len(by_gid(ax, "box")) == 4
    assert ax.get_xscale() == "log" and "seconds" in ax.get_xlabel()
    assert len(one(ax, "strip").get_offsets()) == 5 + 4 + 4 + 2


def test_latency_without_restarts_says_n0_and_draws_three_boxes(ax):
    plots.plot_latency(perfect_run(3, 9, lead=0.0).frame(), ax=ax)  # lead 0: drawn at the floor
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[3].endswith("n=0")
    assert len(by_gid(ax, "box")) == 3
    assert "3 ≤ 1 µs" in labels[2]


def test_latency_of_a_sweep_pools_runs(ax):
    df = sweep(faulty_run("x"), faulty_run("y"))
    plots.plot_latency(df, ax=ax)
    assert "2 runs pooled" in ax.get_title()
    assert "n=10" in ax.get_yticklabels()[0].get_text()


# -- overview ----------------------------------------------------------------------------------


def test_plot_run_has_three_panels_and_the_key_figures(run16):
    before = set(plt.get_fignums())
    fig = plots.plot_run(run16)
    assert isinstance(fig, Figure) and set(plt.get_fignums()) == before  # not registered with pyplot
    assert len(fig.axes) == 3
    timeline, throughput, latency = fig.axes
    assert len(timeline.get_yticks()) == 16
    assert by_gid(throughput, "ideal") and by_gid(latency, "box")
    title = fig._suptitle.get_text()
    s = analysis.summary(run16).iloc[0]
    for want in (
        "150 samples from 16 workers",
        "154 numbers processed",
        f"in {s['elapsed_s']:.2f} s",
        f"bound {s['bound_s']:.2f} s",
        f"efficiency {s['efficiency']:.3f}",
        "3 crashes",
        "1 stall",
    ):
        assert want in title
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_run_of_a_sweep_shows_the_chosen_run():
    df = sweep(perfect_run(2, 4, run_id="a"), perfect_run(3, 6, run_id="b"))
    fig = plots.plot_run(df, run_id="b")
    assert "run b" in fig._suptitle.get_text() and "3 workers" in fig._suptitle.get_text()
    assert len(fig.axes[0].get_yticks()) == 3


def test_plots_refuse_an_empty_log(ax):
    from workerlab.log import events

    for fn in (plots.plot_throughput, plots.plot_latency, plots.plot_timeline):
        with pytest.raises(ValueError, match="empty"):
            fn(events.empty(), ax=ax)


def test_public_names_resolve_to_this_module():
    import workerlab as wl

    assert wl.plot_run is plots.plot_run and wl.plot_timeline is plots.plot_timeline


def test_timeline_legend_lists_only_the_process_endings_that_occur(ax):
    plots.plot_timeline(perfect_run(2, 4).frame(), ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [lab for lab in labels if lab.startswith("process")] == ["process (stopped)"]
    ax2 = plt.figure().add_subplot()
    plots.plot_timeline(faulty_run().frame(), ax=ax2)
    labels = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert [lab for lab in labels if lab.startswith("process")] == [
        "process (stopped)",
        "process (crashed)",
        "process (stalled)",
    ]


def test_throughput_keeps_a_compressed_run_readable_when_the_deadline_is_far(ax):
    df = perfect_run(4, 20, interval=0.02).frame()  # done in ~0.2 s
    plots.plot_throughput(df, ax=ax, deadline=10.0)
    assert ax.get_xlim()[1] < 1.0
    assert one(ax, "deadline").get_xdata()[0] == 10.0
    assert any("deadline 10 s (off the axis" in t.get_text() for t in ax.get_legend().get_texts())
    ax2 = plt.figure().add_subplot()
    plots.plot_throughput(perfect_run(4, 20, interval=1.0).frame(), ax=ax2, deadline=6.0)  # done at 4.2 s
    assert ax2.get_xlim()[1] > 6.0  # a near deadline is on the axis
    assert all("off the axis" not in t.get_text() for t in ax2.get_legend().get_texts())


def test_plots_accept_a_log_that_is_still_running(ax):
    """Mid-run snapshots (the dashboard's live frames) have no run-level stop row yet."""
    df = perfect_run(4, 20, interval=0.02).frame()
    live = df[~((df.event == "stop") & (df.worker_id == 0))]
    plots.plot_timeline(live, ax=ax)
    assert not [line for line in ax.get_lines() if line.get_gid() == "reached"]
    fig = plots.plot_run(live)
    assert "numbers processed" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("plot_throughput", "df"),
        ("plot_latency", "df"),
        ("plot_timeline", "df"),
        ("plot_run", "df"),
        ("plot_sweep", "verdict"),
        ("plot_success_map", "grid"),
        ("plot_search", "result"),
    ],
)
def test_the_data_comes_first_and_everything_else_by_keyword(name, data):
    params = list(inspect.signature(getattr(plots, name)).parameters.values())
    assert params[0].name == data and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert [p.name for p in params[1:] if p.kind is not inspect.Parameter.KEYWORD_ONLY] == []
    assert "ax" in [p.name for p in params[1:]]  # Axes-level take it; plot_run takes it to refuse it


def test_a_positional_second_argument_is_refused(ax):
    df = perfect_run(2, 4).frame()
    for fn in (plots.plot_throughput, plots.plot_latency, plots.plot_timeline, plots.plot_run):
        with pytest.raises(TypeError, match="positional"):
            fn(df, ax)
    assert ax.get_title() == ""  # nothing was drawn on it


def test_run_id_is_the_same_keyword_for_the_timeline_and_the_whole_run(ax):
    df = sweep(perfect_run(2, 4, run_id="a"), perfect_run(3, 6, run_id="b"))
    assert plots.plot_timeline(df, run_id="b", ax=ax) is ax
    assert len(ax.get_yticks()) == 3 and "run b (2 of 2 runs)" in ax.get_title()
    assert len(plots.plot_run(df, run_id="b").axes[0].get_yticks()) == 3


def test_plot_run_is_figure_level_and_refuses_an_ax(ax):
    with pytest.raises(TypeError, match="takes no ax"):
        plots.plot_run(perfect_run(2, 4).frame(), ax=ax)
    assert not ax.has_data()


# -- what the plots show, computed without drawing -------------------------------------------


def test_throughput_data_of_a_faulty_run_without_drawing():
    from workerlab.analysis import curves

    df = faulty_run().frame()
    data = curves.throughput(df, deadline=5.0)
    assert data.n_runs == 1 and data.counts.tolist() == [2] and data.goals == [8]
    run = data.curves[data.curves["run"] == 0]
    assert run["t"].tolist() == approx([0.0, 0.7, 0.8, 1.7, 1.8, 2.7, 3.7, 4.7, 5.5, 5.8])
    assert run["kept"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]  # the 9th sample is not kept
    assert data.marks[["kind", "t", "kept"]].values.tolist() == [["crash", 3.0, 5], ["stall", 4.6, 6]]
    bound = analysis.summary(df)["bound_s"].iloc[0]
    assert data.ideals["t"].iloc[-1] == approx(bound) and data.ideals["kept"].tolist() == [0, 2, 4, 6, 8]
    assert data.data_end == approx(5.8) and data.top == 8  # the target, and the samples kept


def test_throughput_data_of_a_sweep_has_one_ideal_per_count_and_no_empty_marks():
    from workerlab.analysis import curves

    df = sweep(perfect_run(2, 6, run_id="a"), perfect_run(4, 6, run_id="b"), perfect_run(4, 6, run_id="c"))
    data = curves.throughput(df)
    assert data.counts.tolist() == [2, 4, 4]
    assert data.curves.groupby("run")["kept"].max().tolist() == [6, 6, 6]
    assert sorted(data.ideals.groupby(["workers", "goal"]).groups) == [(2, 6), (4, 6)]
    assert data.marks.empty and data.ideal_end == data.ideals["t"].max()
    with pytest.raises(ValueError, match="empty"):
        from workerlab.log import events

        curves.throughput(events.empty())


def test_timeline_data_without_drawing(run16):
    from workerlab.analysis import curves

    data = curves.timeline(run16)
    assert (data.run_id, data.nth, data.n_runs, data.n_workers) == ("r16", 1, 1, 16)
    assert data.lanes == list(range(1, 17))
    assert len(data.lifetimes) == len(analysis.processes(run16)) == 17
    assert sorted(data.lifetimes["end_event"].unique()) == ["crash", "stall", "stop"]
    assert len(data.samples) == 154 and data.samples["kept"].sum() == 150
    assert data.events.groupby("kind", sort=False).size().to_dict() == {"crash": 3, "stall": 1, "restart": 1}
    assert data.outcome == "reached"
    assert data.elapsed_s == approx(analysis.summary(run16)["elapsed_s"].iloc[0])
    b = curves.timeline(sweep(perfect_run(2, 4, run_id="a"), perfect_run(5, 10, run_id="b")), run_id="b")
    assert (b.run_id, b.nth, b.n_runs, b.lanes) == ("b", 2, 2, [1, 2, 3, 4, 5])


def test_timeline_data_of_a_run_still_running_has_no_outcome():
    from workerlab.analysis import curves

    df = perfect_run(4, 20, interval=0.02).frame()
    data = curves.timeline(df[~((df.event == "stop") & (df.worker_id == 0))])
    assert data.outcome is None


def test_sweep_view_without_drawing():
    from workerlab.thresholds.verdict import threshold

    df = sweep(perfect_run(2, 8, run_id="a"), perfect_run(4, 8, run_id="b"), perfect_run(4, 8, run_id="c"))
    view = plots.sweeps.sweep_view(threshold(df, 2.0, 0.9))
    runs = view.runs
    assert runs["workers"].tolist() == [2, 4, 4]
    assert runs["reached"].all() and runs["met"].tolist() == [False, True, True]
    jitter = (runs["x"] - runs["workers"]).abs()
    assert (jitter <= 0.12).all() and (jitter > 0).all()  # sideways, a little, so dots do not overlap
    assert view.counts.tolist() == [2, 4] and view.verdict.workers == 4
    assert (view.deadline, view.level) == (2.0, 0.9)  # the verdict's own
    slowest = runs["elapsed_s"].max()
    assert not view.far and view.top == approx(max(slowest, 2.0) * 1.12)
    far = plots.sweeps.sweep_view(threshold(df, 100.0))
    assert far.far and far.top < 100.0 and far.verdict.workers == 2
    one_count = plots.sweeps.sweep_view(threshold(perfect_run(3, 6).frame(), 9.0))
    assert (one_count.runs["x"] == one_count.runs["workers"]).all()  # one count: no jitter


def test_measured_shares_of_a_search_table_without_drawing():
    import pandas as pd

    from workerlab.plots.search_progress import measured_shares

    table = pd.DataFrame(
        {
            "workers": [12, 13, 14],
            "runs": [0, 5, 8],
            "successes": [0, 1, 8],
            "success_rate": [np.nan, 0.2, 1.0],
            "ci_low": [np.nan, 0.04, 0.68],
            "ci_high": [np.nan, 0.62, 1.0],
        }
    )
    shares = measured_shares(table)
    assert shares["workers"].tolist() == [13, 14] and shares["label"].tolist() == ["1/5", "8/8"]
    assert shares["below"].tolist() == approx([0.16, 0.32])
    assert shares["above"].tolist() == approx([0.42, 0.0])


def test_plot_search_draws_the_answer_of_a_result_each_counts_evidence_against_the_level(ax):
    from answers import search

    th = search()  # 15 workers conclusive, 14 below, 16 screened, 13 only predicted
    assert plots.plot_search(th, ax=ax) is ax
    # the level across, once
    assert one(ax, "level").get_ydata()[0] == approx(th.level)
    # one interval per measured count, from the result's own evidence (its plans' counted runs)
    f = th.to_frame()
    ran = f[f["runs"] > 0]
    (measured,) = [c for c in ax.containers if c.get_label().startswith("measured")]
    # the plans' counts have intervals exact for their plans, the screen a fixed-sample one
    assert measured.get_label() == "measured share (95% fixed-sample / plan-exact CI)"
    assert measured.lines[0].get_xdata().tolist() == ran["workers"].tolist() == [14, 15, 16]
    bars = measured.lines[2][0].get_segments()
    assert len(bars) == 3
    assert [s[0][1] for s in bars] == approx(ran["ci_low"].tolist())
    assert [s[1][1] for s in bars] == approx(ran["ci_high"].tolist())
    n = next(d["runs"] for d in th.decisions if d["workers"] == 15)
    assert [t.get_text() for t in ax.texts] == ["0/2", f"{n}/{n}", "3/3"]  # what each plan counted
    # the model's curve over every allowed count, the answer marked, the count below marked
    assert one(ax, "model").get_xdata().tolist() == [13, 14, 15, 16]
    answer = one(ax, "threshold")
    assert answer.get_xdata()[0] == 15 and answer.get_label() == "answer: 15 workers"
    below = one(ax, "below")
    assert below.get_xdata().tolist() == [14] and "count below: 14 workers (below)" in below.get_label()
    assert ax.get_title(loc="left") == th.sentence


def test_plot_search_says_an_answer_that_is_not_conclusive_and_refuses_a_second_level(ax):
    from answers import search

    th = search(stop_after=20)
    plots.plot_search(th, ax=ax)
    assert one(ax, "threshold").get_label() == "answer: 15 workers so far, not conclusive"
    with pytest.raises(TypeError, match="takes the level and the answer from the result"):
        plots.plot_search(th, level=0.9)
    # a search's table as it runs is still drawn (the threshold widget's live picture)
    fresh = Figure().add_subplot()
    plots.plot_search(th.table, level=0.9, ax=fresh)
    assert one(fresh, "level").get_ydata()[0] == approx(0.9) and by_gid(fresh, "below") == []
