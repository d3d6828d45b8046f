"""The dashboard's frames: numbers folded in live agree with analysis, artists are updated in place.

Logs of known shape come from tests/logbuilder.py; one real compressed run checks the live
fold against what the collector really writes. Nothing here asserts a duration.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from helpers import FAST
from logbuilder import faulty_run, perfect_run, simulated_run

import workerlab as wl
from workerlab.analysis import report
from workerlab.analysis.livestats import LiveLog, rate_window, snapshot
from workerlab.log import events
from workerlab.plots.live import LiveFigure
from workerlab.ui.live import LivePanel

JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


def records_of(df: pd.DataFrame) -> list[tuple]:
    """The collector's raw records (``events.RECORD_FIELDS``) that ``df`` was built from."""

    def value(x):
        return None if pd.isna(x) else x

    cols = [df[c].tolist() for c in events.RECORD_FIELDS]
    return [
        (str(e), int(w), value(p), value(port), value(v), float(t), value(d))
        for e, w, p, port, v, t, d in zip(*cols)
    ]


def assert_same(live, exact) -> None:
    """Two snapshots of the same records hold the same numbers."""
    assert live.stats.samples == exact.stats.samples and live.stats.target == exact.stats.target
    assert live.stats.outcome == exact.stats.outcome
    for name in ("crashes", "restarts", "stalls", "rate", "eta_s", "elapsed_s", "now_s"):
        a, b = getattr(live.stats, name), getattr(exact.stats, name)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), name
    for name in ("lead_s", "interval_s", "bound_s"):
        a, b = getattr(live, name), getattr(exact, name)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), name
    for name in ("sample_t", "sample_worker", "sample_kept", "kept_t", "proc_start", "proc_worker"):
        np.testing.assert_array_equal(getattr(live, name), getattr(exact, name), err_msg=name)
    np.testing.assert_array_equal(live.proc_end, exact.proc_end)
    assert live.proc_end_event.tolist() == exact.proc_end_event.tolist()
    for kind, (t, w) in exact.faults.items():
        np.testing.assert_array_equal(live.faults[kind][0], t, err_msg=kind)
        np.testing.assert_array_equal(live.faults[kind][1], w, err_msg=kind)
    for kind, values in exact.latencies.items():
        np.testing.assert_allclose(np.sort(live.latencies[kind]), np.sort(values), err_msg=kind)


LOGS = {
    "faulty": lambda: faulty_run().frame(),
    "perfect": lambda: perfect_run(4, 20, extra=3).frame(),
    "simulated": lambda: simulated_run(6, 60, mtbf=3.0, stall_after={2: 4}, seed=3).frame(),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOGS))
def test_the_live_fold_agrees_with_analysis_at_every_prefix(name):
    """Fed in random chunks, the live fold says what analysis says of the log up to there."""
    df = LOGS[name]()
    records, target = records_of(df), int(events.run_stops(df)["target"].iloc[0])
    n_workers = int(df["n_workers"].iloc[0])
    rng = random.Random(7)
    log = LiveLog(n_workers=n_workers, target=target)
    cut = 0
    while cut < len(records):
        cut = min(len(records), cut + rng.randint(1, 9))
        log.feed(records[:cut])  # the run's list as it has grown by then
        now = records[cut - 1][5] + 0.05
        prefix = events.from_records(
            records[:cut], run_id="r", n_workers=n_workers, samples=target, wall0=0.0
        )
        assert_same(
            log.snapshot(deadline=4.0, now=now), snapshot(prefix, deadline=4.0, now=now, target=target)
        )


def test_the_live_fold_agrees_with_analysis_on_a_real_run():
    df = wl.collect(4, 120, interval=FAST, mtbf=0.4, seed=11, progress=False)
    log = LiveLog(n_workers=4, target=120)
    log.feed(records_of(df))
    assert_same(log.snapshot(deadline=1.0), snapshot(df, deadline=1.0))


@pytest.mark.slow
def test_frames_update_the_same_artists_and_draw_only_the_data_when_the_axes_hold():
    records = records_of(simulated_run(8, 80, mtbf=4.0, seed=5).frame())
    fig = LiveFigure()
    log = LiveLog(n_workers=8, target=80)
    artists = [id(a) for a in fig.dynamic]
    children: list[int] = []
    seen = []
    for cut in range(20, len(records) + 1, 20):
        frame, stats = fig.render_live(log, records[:cut], deadline=10.0, now=records[cut - 1][5])
        assert frame.startswith(JPEG)
        assert [id(a) for a in fig.dynamic] == artists  # the same objects, frame after frame
        counts = [len(ax.get_children()) for ax in fig.figure.axes]
        assert counts == (children or counts)  # nothing added after the first frame (its legend)
        children = counts
        s = log.snapshot(deadline=10.0)
        assert fig.throughput.observed.get_ydata()[-1] == stats.samples == len(s.kept_t)
        assert len(fig.timeline.ticks.get_segments()) == len(s.sample_t)
        assert len(fig.timeline.bars.get_paths()) == len(s.proc_start)
        assert len(fig.throughput.marks["crash"].get_offsets()) == stats.crashes
        seen.append(stats.samples)
    assert seen == sorted(seen) and len(seen) >= 5
    assert fig.frames == len(seen) and 1 <= fig.full_draws < fig.frames  # most frames only blit


def test_a_finished_log_draws_as_png_with_its_outcome():
    fig = LiveFigure()
    frame, stats = fig.render(faulty_run().frame(), deadline=5.0)
    assert frame.startswith(PNG)
    assert (stats.outcome, stats.samples, stats.elapsed_s, stats.on_track) == ("reached", 8, 5.5, False)
    assert fig.timeline.reached.get_visible() and fig.timeline.reached.get_xdata()[0] == 5.5
    assert fig.throughput.ax.get_title() == "throughput"  # not "live"


def test_the_counters_of_a_log_with_known_faults():
    """faulty_run: 1 crash, 1 stall, 2 restarts, 1 garbage line; shown in the live panel."""
    b = faulty_run()
    stats = snapshot(b.frame(), deadline=6.0).stats
    assert (stats.crashes, stats.restarts, stats.stalls) == (1, 2, 1)
    panel = LivePanel()
    panel.show(stats)
    assert "crashes / restarts / stalls" in panel.value and "1 / 2 / 1" in panel.value
    assert "reached at 5.50 s" in panel.value and ">met<" in panel.value
    assert dict(report.live_details(stats))["deadline 6 s"] == "met"


def test_rate_and_time_left_against_the_deadline_while_running():
    """4 workers, one sample each a second from 0.06 s: at 5.5 s, 24 kept, 4 a second."""
    df = perfect_run(4, 40).frame()
    records = [r for r in records_of(df) if r[5] <= 5.5 and not (r[0] == "stop")]
    log = LiveLog(n_workers=4, target=40)
    log.feed(records)
    stats = log.snapshot(deadline=9.0, now=5.5).stats
    assert stats.outcome is None and stats.samples == 24
    assert rate_window(1.0, 5.5) == pytest.approx(3.0) and stats.rate == pytest.approx(4.0)  # 12 in 3 s
    assert stats.eta_s == pytest.approx(16 / 4.0) and stats.finish_s == pytest.approx(9.5)
    assert stats.on_track is False  # 9.5 s > 9 s
    words = dict(report.live_details(stats))
    assert words["rate"] == "4.0 samples/s" and words["samples"] == "24 of 40"
    assert words["time to target"] == "4.00 s → done at ≈ 9.50 s"
    assert words["deadline 9 s"] == "late by ≈ 500 ms"
    assert (
        dict(report.live_details(log.snapshot(deadline=10.0, now=5.5).stats))["deadline 10 s"] == "on track"
    )


@pytest.mark.slow
def test_the_overlay_has_one_line_per_run_labelled_by_its_settings():
    from matplotlib.figure import Figure

    df = events.concat([perfect_run(4, 20, run_id="a").frame(), faulty_run("b").frame()])
    ax = wl.plot_overlay(df, labels={"a": "4 workers · interval 1 s · MTBF 0 s"}, ax=Figure().add_subplot())
    lines = [line for line in ax.get_lines() if line.get_gid() == "run"]
    assert [line.get_url() for line in lines] == ["a", "b"]
    assert lines[0].get_label() == "4 workers · interval 1 s · MTBF 0 s → 4.06 s"
    assert lines[1].get_label() == "2 workers · interval 1.00 s → 5.50 s"  # from the log alone
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == [lines[0].get_label(), lines[1].get_label()]
    last = wl.plot_overlay(df, last=1, ax=Figure().add_subplot())
    assert [line.get_url() for line in last.get_lines() if line.get_gid() == "run"] == ["b"]
