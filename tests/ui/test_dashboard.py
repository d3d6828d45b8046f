"""The dashboard driven from Python the way a kernel drives it: inside a running event loop.

Each test body runs under ``asyncio.run`` (a kernel's loop is already running when a button
callback fires), sets widget values, clicks Run programmatically, awaits ``dash.task`` and looks
at what a person would see: status, progress, plot frames, the summary. Emulator time is
compressed; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import re
import stat
from pathlib import Path

import ipywidgets
import pandas as pd
import pytest
from helpers import FAST, pid_alive, wait_for_async

import workerlab as wl
from workerlab.engine import procs
from workerlab.log import events
from workerlab.plots.live import LiveFigure

board = importlib.import_module("workerlab.ui.dashboard")
render = importlib.import_module("workerlab.ui.render")
figures = importlib.import_module("workerlab.plots.figures")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"  # live frames are JPEG (cheap to encode), the last one PNG


def run_in_loop(body):
    """Run ``body()`` (a coroutine function) on a fresh event loop, like a kernel cell."""
    return asyncio.run(body())


def assert_no_worker_left(dash) -> None:
    df = dash.events
    pids = {int(p) for p in df.loc[df.event == "spawn", "pid"]}
    assert pids, "the run spawned nothing"
    assert [p for p in pids if pid_alive(p)] == []
    assert not set(procs.LIVE) & pids


def text(html_value: str) -> str:
    """What an HTML widget shows, without its tags."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_value)).split())


def fast(dash, workers: int = 4, samples: int = 200, interval: float = 0.05, mtbf: float = 0.0):
    dash.workers.value, dash.samples.value = workers, samples
    dash.interval.value, dash.mtbf.value = interval, mtbf
    return dash


def test_a_run_fills_the_summary_and_gives_the_button_back():
    dash = fast(wl.dashboard(), workers=4, samples=120)
    disabled_seen: list[bool] = []
    dash.run_button.observe(lambda change: disabled_seen.append(change["new"]), names="disabled")

    async def body():
        dash.run_button.click()
        assert dash.run_button.disabled and dash.running
        dash.run_button.click()  # a second click during the run starts nothing new
        task = dash.task

        def ended() -> bool:
            if task.done():
                return True
            assert dash.run_button.disabled and not dash.stop_button.disabled  # all along the run
            return False

        await wait_for_async(ended, 60, "the run to end")
        await task

    run_in_loop(body)
    assert disabled_seen == [True, False]
    assert not dash.run_button.disabled and dash.stop_button.disabled and not dash.workers.disabled
    assert dash.error is None
    df = dash.events
    assert int(df.kept.sum()) == 120 and set(df.n_workers) == {4}
    processed = int((df.event == "sample").sum())
    shown = text(dash.summary_out.value)
    assert "120 samples from 4 workers" in shown
    assert f"{processed} numbers processed" in shown
    assert re.search(r"numbers processed\s+" + str(processed), shown)
    assert "Done: 120 samples" in text(dash.status.value)
    assert (dash.progress.value, dash.progress.max, dash.progress.bar_style) == (120, 120, "success")
    assert bytes(dash.plot.value).startswith(PNG) and dash.plot.layout.display is None
    assert_no_worker_left(dash)


@pytest.mark.slow
def test_frames_come_live_during_the_run_then_one_from_its_final_log():
    """Live frames and counters while collecting, then the last frame of the returned log.

    The run has no reachable target: the test waits until three live frames have been shown
    and then presses Stop, so how many frames a loaded machine manages cannot fail it.
    """
    dash = fast(wl.dashboard(redraw_every=0.05), workers=2, samples=100_000, interval=0.02)
    shown: list[bytes] = []
    counters: list = []
    dash.plot.observe(lambda change: shown.append(bytes(change["new"])), names="value")
    dash.live_panel.observe(lambda change: counters.append(dash.live_panel.stats), names="value")

    async def body():
        await asyncio.wrap_future(render.warm_up())  # the first frame does not wait for it
        dash.start()
        await wait_for_async(lambda: dash.live_redraws >= 3 or dash.task.done(), 60, "three live frames")
        dash.stop_button.click()
        await dash.task
        left.update(asyncio.all_tasks() - {asyncio.current_task()})

    left: set = set()
    run_in_loop(body)

    assert left == set()  # every live frame was owned by the run, and ended with it
    assert dash.render_errors == [] and dash.error is None
    assert dash.live_redraws >= 3
    assert len(shown) == len(counters) == dash.redraws == dash.live_redraws + 1
    assert len(set(shown)) == len(shown) and shown[-1].startswith(PNG)
    assert all(frame.startswith(JPEG) for frame in shown[:-1])
    assert dash.plot.format == "png"
    live, last = counters[:-1], counters[-1]
    assert all(c.outcome is None for c in live)  # still running: no outcome yet
    assert [c.samples for c in live] == sorted(c.samples for c in live)
    assert last.outcome == "stopped" and last.samples == int(dash.events["kept"].sum())
    assert all(c.deadline == pytest.approx(0.2) for c in counters)  # 10 intervals of 0.02 s
    assert len(dash.render_seconds) == dash.redraws
    assert_no_worker_left(dash)


@pytest.mark.slow
def test_real_frames_are_distinct_pngs_and_none_failed_to_draw():
    dash = fast(wl.dashboard(), workers=4, samples=300, interval=0.05)
    shown: list[bytes] = []
    dash.plot.observe(lambda change: shown.append(bytes(change["new"])), names="value")

    async def body():
        await asyncio.wrap_future(render.warm_up())
        dash.start()
        await dash.task

    run_in_loop(body)
    # how many live frames a run gets depends on the machine's load: the count is checked
    # with a fast renderer above; here, that every frame drawn for real is a new PNG
    assert dash.render_errors == [] and dash.error is None
    assert len(shown) == dash.redraws >= 1
    assert all(frame.startswith(JPEG) for frame in shown[:-1]) and shown[-1].startswith(PNG)
    assert len(set(shown)) == len(shown)
    assert_no_worker_left(dash)


@pytest.mark.slow
def test_a_live_snapshot_of_a_real_run_draws():
    """Mid-run logs (no run-level row yet, workers still open) draw like finished ones."""
    snaps = []

    def grab(run):
        if not run.finished and (not snaps or (len(snaps) == 1 and run.count >= 20)):
            snaps.append((list(run.records), run))

    df = wl.collect(3, 120, interval=FAST, mtbf=0, progress=False, on_update=grab)
    assert len(snaps) == 2
    for records, run in snaps:
        frame = run.frame(records)
        assert not ((frame.event == "stop") & (frame.worker_id == 0)).any()  # still running
        assert LiveFigure().render(frame, deadline=10.0, live=True)[0].startswith(PNG)
    assert LiveFigure().render(df, deadline=10.0)[0].startswith(PNG)


@pytest.mark.slow
def test_every_run_is_kept_and_the_compare_view_overlays_them():
    dash = fast(wl.dashboard(), workers=2, samples=40, interval=0.02)

    async def body():
        await dash.run()
        dash.workers.value, dash.mtbf.value = 3, 0.5
        await dash.run()

    run_in_loop(body)
    hist = dash.history
    ids = list(pd.unique(hist["run_id"]))
    assert len(ids) == 2 and ids[-1] == dash.events["run_id"].iloc[0]  # distinct, oldest first
    assert hist.groupby("run_id", sort=False)["n_workers"].first().tolist() == [2, 3]
    assert wl.summary(hist)["samples"].tolist() == [40, 40]
    runs = dash.runs
    assert runs["run_id"].tolist() == ids and runs["workers"].tolist() == [2, 3]
    assert runs["mtbf"].tolist() == [0.0, 0.5] and runs["deadline"].tolist() == [0.2, 0.2]
    assert bytes(dash.compare.plot.value).startswith(PNG) and dash.compare.plot.layout.display is None
    assert "The last 2 of 2 runs" in text(dash.compare.note.value)
    assert dash._history.labels()[ids[1]] == "3 workers · interval 0.02 s · MTBF 0.5 s · 40 samples"
    assert_no_worker_left(dash)


def test_the_deadline_follows_the_pace_until_it_is_set():
    dash = wl.dashboard(interval=0.2)
    assert dash.deadline.value == 2.0  # 10 intervals, not a fixed 10 s
    dash.interval.value = 0.05
    assert dash.deadline.value == 0.5
    dash.worker_bin.value = "/opt/worker"  # the original's pace is 1 s
    assert dash.deadline.value == 10.0
    dash.worker_bin.value = ""
    dash.deadline.value = 3.0  # set by the person: it stays
    dash.interval.value = 1.0
    assert dash.deadline.value == 3.0
    assert wl.dashboard(interval=0.2, deadline=7).deadline.value == 7.0
    assert "deadline 7 s" in wl.dashboard(deadline=7)._repr_mimebundle_()["text/plain"]


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.slow
def test_a_worker_that_dies_at_start_shows_an_error_and_gives_the_button_back(tmp_path):
    bad = _script(tmp_path, "broken-worker", "#!/bin/sh\necho 'error: libfoo.so missing' >&2\nexit 3\n")
    dash = wl.dashboard(worker_bin=str(bad), workers=2, samples=10)
    # emulator options stay in the widgets but are neither editable nor passed to this binary
    assert dash.mtbf.disabled and dash.interval.disabled
    assert {"interval", "mtbf", "seed"}.isdisjoint(dash.settings())

    run_in_loop(dash.run)
    status = text(dash.status.value)
    assert "The run failed" in status and "exit=3" in status and "libfoo.so missing" in status
    assert dash.error and "WorkerStartError" not in status  # a sentence, not a traceback
    assert not dash.run_button.disabled and dash.stop_button.disabled
    assert dash.progress.bar_style == "danger"
    assert "target of 10 not reached (failed)" in text(dash.summary_out.value)
    assert_no_worker_left(dash)


@pytest.mark.slow
def test_a_timeout_is_a_message_with_the_partial_run_shown():
    dash = fast(wl.dashboard(timeout=0.5), workers=2, samples=100_000, interval=0.02)
    run_in_loop(dash.run)
    status = text(dash.status.value)
    assert status.startswith("The run timed out: timed out after 0.5 s with")
    assert "of 100000 samples" in status and not dash.run_button.disabled
    assert "target of 100000 not reached (timeout)" in text(dash.summary_out.value)
    assert bytes(dash.plot.value).startswith(PNG)
    assert_no_worker_left(dash)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("samples", 0, "samples must be at least 1"),
        ("interval", 0.0, "interval must be > 0"),
        ("mtbf", -1.0, "mtbf must be >= 0"),
        ("worker_bin", "/nonexistent/worker", "no such file"),
        ("deadline", 0.0, "deadline must be > 0"),
    ],
)
def test_bad_settings_are_one_message_and_nothing_starts(field, value, message):
    dash = wl.dashboard()
    getattr(dash, field).value = value
    before = set(procs.LIVE)
    run_in_loop(dash.run)
    assert "Check the settings" in text(dash.status.value) and message in text(dash.status.value)
    assert dash.events is None and set(procs.LIVE) == before
    assert not dash.run_button.disabled


def test_stop_ends_the_run_keeps_its_partial_log_and_stops_its_workers():
    dash = fast(wl.dashboard(), workers=3, samples=100_000, interval=0.02)

    async def body():
        dash.run_button.click()
        await wait_for_async(lambda: dash.progress.value >= 30 or dash.task.done(), 60, "30 samples")
        dash.stop_button.click()
        await dash.task

    run_in_loop(body)
    df = dash.events
    assert "Stopped after" in text(dash.status.value) and dash.error is None
    assert df.detail.str.contains("outcome=stopped", na=False).any()
    assert df.detail.str.contains("stopped from the dashboard", na=False).any()
    assert 30 <= int((df.event == "sample").sum()) < 100_000
    assert not dash.run_button.disabled
    assert_no_worker_left(dash)


def test_closing_the_dashboard_mid_run_stops_every_worker():
    dash = fast(wl.dashboard(), workers=2, samples=100_000, interval=0.02)
    pids: set[int] = set()

    async def body():
        dash.start()
        await wait_for_async(lambda: dash.progress.value >= 10 or dash.task.done(), 60, "10 samples")
        pids.update(dash._run.pids)
        dash.close()
        await dash.task  # the run's Stop was set: it ends on its own, its workers stopped

    run_in_loop(body)
    assert len(pids) >= 2 and [p for p in pids if pid_alive(p)] == []  # more if a worker was restarted
    assert_no_worker_left(dash)  # every process the log says was spawned, also after the snapshot
    assert dash.error == "Stopped: the dashboard was closed during the run."
    row = events.run_stops(dash.events).iloc[0]
    assert row.outcome == "stopped" and row.message.startswith("the dashboard was closed")


def test_it_is_a_widget_with_a_readable_stand_in_and_checked_defaults():
    dash = wl.dashboard(workers=8, samples=60, interval=0.5)
    assert isinstance(dash, ipywidgets.Widget) and isinstance(dash, board.Dashboard)
    bundle = dash._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("workerlab dashboard: 8 workers, 60 samples")
    assert (dash.workers.min, dash.workers.max, dash.workers.value) == (1, 16, 8)
    assert dash.settings() == {
        "workers": 8,
        "samples": 60,
        "timeout": None,
        "worker_args": (),
        "interval": 0.5,
        "mtbf": 30.0,
        "seed": None,
    }
    dash.worker_bin.value = "/opt/worker"
    assert dash.mtbf.disabled and dash.settings()["worker_bin"] == "/opt/worker"
    dash.worker_bin.value = " "
    assert not dash.mtbf.disabled and "worker_bin" not in dash.settings()
    with pytest.raises(TypeError, match="unknown settings"):
        wl.dashboard(colour="red")
    # the run's validator refuses what the widgets could not show, with its own message
    with pytest.raises(wl.ConfigError, match="cap of 16"):
        wl.dashboard(workers=17)
    with pytest.raises(wl.ConfigError, match="worker_args must be a sequence of strings"):
        wl.dashboard(worker_args="-lead 0.5")
    with pytest.raises(wl.ConfigError, match="seed must be a whole number"):
        wl.dashboard(seed=1.5)
    # importing the module (done at the top of this file) must not shadow the function
    assert isinstance(wl.dashboard(), board.Dashboard)


def test_the_plot_is_shown_at_the_frames_own_width():
    assert board.PLOT_MAX_WIDTH == f"{int(figures.FIG_SIZE[0] * figures.FIG_DPI)}px"
    assert render.new_figure().figure.get_size_inches()[0] * figures.FIG_DPI == 1040
