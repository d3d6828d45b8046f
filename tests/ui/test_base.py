"""The one widget base (``workerlab.ui.base.TaskWidget``): start, stop and close alike on both widgets.

Each test runs inside a running event loop, as a kernel does, at compressed emulator time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets
import pytest
from helpers import FAST, pid_alive, wait_for_async

import workerlab as wl
from workerlab.engine import procs
from workerlab.log import events
from workerlab.ui.base import TaskWidget


def tree(widget: Any) -> list[Any]:
    """Every widget inside ``widget``, at any depth."""
    out: list[Any] = []
    for child in getattr(widget, "children", ()):
        out += [child, *tree(child)]
    return out


def dashboard() -> wl.Dashboard:
    return wl.dashboard(workers=2, samples=100_000, interval=FAST, mtbf=0)


def threshold_widget() -> wl.ThresholdDashboard:
    return wl.threshold_dashboard(
        interval=FAST, mtbf=0, samples=40, deadline=0.5, level=0.8, find=False, counts=(1, 4), seed=3
    )


def log_of(widget: Any):
    """The event log the widget's task handed back (a run's, or every run of a search)."""
    return widget.events if isinstance(widget, wl.Dashboard) else widget.result.events


WIDGETS = [pytest.param(dashboard, id="dashboard"), pytest.param(threshold_widget, id="threshold")]


@pytest.mark.parametrize("make", WIDGETS)
def test_both_widgets_share_the_base(make):
    widget = make()
    assert isinstance(widget, TaskWidget) and isinstance(widget, ipywidgets.VBox)
    assert type(widget).start is TaskWidget.start and type(widget).close is TaskWidget.close
    assert type(widget).stop is TaskWidget.stop
    widget.close()


@pytest.mark.parametrize("make", WIDGETS)
def test_close_mid_task_stops_it_closes_every_widget_inside_and_leaves_no_task_or_process(make):
    widget = make()
    inside = tree(widget)
    assert any(getattr(w, "children", ()) for w in inside)  # boxes in boxes: depth matters
    pids: set[int] = set()
    left: set[asyncio.Task] = set()

    async def body() -> None:
        task = widget.start()
        assert task is widget.task and widget.running and widget.run_button.disabled
        await wait_for_async(lambda: procs.LIVE or task.done(), 60, "the task's first worker")
        pids.update(procs.LIVE)
        widget.close()
        await task  # never cancelled: the Stop token ends it, its workers stopped
        left.update(asyncio.all_tasks() - {asyncio.current_task()})

    asyncio.run(body())
    assert widget.stop_token is not None and widget.stop_token.reason == widget.CLOSE_REASON
    assert widget.comm is None and [w for w in inside if w.comm is not None] == []
    assert left == set() and not widget.running
    assert pids and [p for p in pids if pid_alive(p)] == [] and not procs.LIVE
    log = log_of(widget)
    assert [p for p in log.loc[log.event == "spawn", "pid"] if pid_alive(int(p))] == []


@pytest.mark.parametrize("make", WIDGETS)
def test_stop_right_after_start_is_not_lost(make):
    """The token is made by ``start``, before the task runs: a Stop at once still stops it."""
    widget = make()
    left: set[asyncio.Task] = set()

    async def body() -> None:
        widget.start()
        widget.stop()
        await widget.task
        left.update(asyncio.all_tasks() - {asyncio.current_task()})

    asyncio.run(body())
    assert widget.stop_token.is_set() and widget.stop_token.reason == widget.STOP_REASON
    assert left == set() and not procs.LIVE
    assert not widget.run_button.disabled and widget.stop_button.disabled  # controls given back
    if isinstance(widget, wl.Dashboard):
        assert events.run_stops(widget.events).outcome.tolist() == ["stopped"]
    widget.close()


def test_start_without_a_loop_says_so_and_starts_nothing():
    dash = dashboard()
    assert dash.start() is None and dash.task is None
    assert "No running event loop" in dash.status.value and not dash.run_button.disabled
    dash.close()
