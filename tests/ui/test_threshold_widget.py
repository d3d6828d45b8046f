"""The threshold search in a widget: a small compressed search end to end, Stop, and its plot."""

from __future__ import annotations

import asyncio
import html
import re

import numpy as np
import pandas as pd
import pytest
from helpers import FAST, pid_alive, wait_for_async

from workerlab.engine import procs
from workerlab.errors import ConfigError
from workerlab.plots.search_progress import plot_search
from workerlab.ui.threshold import ThresholdDashboard, threshold_dashboard

PNG = b"\x89PNG\r\n\x1a\n"


def text(value: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())


def no_worker_left(events: pd.DataFrame) -> None:
    pids = {int(p) for p in events.loc[events["event"] == "spawn", "pid"]}
    assert pids and [p for p in pids if pid_alive(p)] == [] and not set(procs.LIVE) & pids


def small_search(*, seed: int, max_runs: int) -> ThresholdDashboard:
    """A widget set for a search of counts 1-4 that a compressed emulator settles in seconds."""
    return threshold_dashboard(
        interval=FAST,
        mtbf=0.0,
        samples=40,
        deadline=0.5,
        level=0.8,
        find=False,
        counts=(1, 4),
        seed=seed,
        max_runs=max_runs,
    )


@pytest.mark.slow
def test_a_small_search_fills_in_and_ends_with_its_verdict():
    assert threshold_dashboard(interval=FAST).deadline.value == 0.2  # 10 intervals of the pace
    t = small_search(seed=1, max_runs=30)
    result = asyncio.run(t.run())
    assert t.error is None and result is not None
    phases = [u.phase for u in t.updates]
    assert phases[0] == "pilot" and "measuring" in phases
    measured = [int(u.table["runs"].sum()) for u in t.updates]
    assert measured == sorted(measured) and measured[-1] > 0
    assert bytes(t.plot.value).startswith(PNG) and t.plot.layout.display is None
    assert result.sentence in text(t.status.value)
    assert t.verdict.value  # the Threshold's own HTML: sentence, evidence, model
    assert ("success_rate" in t.table.value) == bool(result.table["runs"].sum() > 0)
    assert not t.run_button.disabled and t.stop_button.disabled
    assert result.table["workers"].tolist() == [1, 2, 3, 4]
    no_worker_left(result.events)


def test_stop_returns_what_was_measured_with_nothing_left_running():
    t = small_search(seed=2, max_runs=60)

    async def body():
        t.start()
        await wait_for_async(lambda: len(t.updates) >= 2 or t.task.done(), 60, "the search's second report")
        t.stop_button.click()
        await t.task
        left.update(asyncio.all_tasks() - {asyncio.current_task()})

    left: set = set()
    asyncio.run(body())
    assert left == set()  # the drawings were the search's own tasks, and ended with it
    assert t.error is None and t.result is not None and t.draw_errors == []
    assert text(t.status.value).startswith("Stopped: ")
    no_worker_left(t.result.events)


def test_closing_mid_search_stops_it_through_its_token_with_nothing_left_running():
    t = small_search(seed=3, max_runs=60)

    async def body():
        t.start()
        await wait_for_async(lambda: t.updates or t.task.done(), 60, "the search's first report")
        t.close()
        await t.task  # not cancelled: the token ends it, and it hands back what it measured

    asyncio.run(body())
    assert t.error == "Stopped: the widget was closed during the search."
    assert t.result is not None
    no_worker_left(t.result.events)


def test_plot_search_shows_each_counts_share_with_its_interval_beside_the_model():
    from matplotlib.figure import Figure

    table = pd.DataFrame(
        {
            "workers": [12, 13, 14, 15],
            "runs": [0, 5, 8, 8],
            "successes": [0, 1, 7, 8],
            "success_rate": [np.nan, 0.2, 0.875, 1.0],
            "ci_low": [np.nan, 0.04, 0.53, 0.68],
            "ci_high": [np.nan, 0.62, 0.98, 1.0],
            "p_pred": [0.0, 0.1, 0.9, 0.99],
        }
    )
    ax = plot_search(table, level=0.9, threshold=15, ax=Figure().add_subplot())
    (model,) = [line for line in ax.get_lines() if line.get_gid() == "model"]
    assert model.get_xdata().tolist() == [12, 13, 14, 15]
    measured = [c for c in ax.containers if c.get_label().startswith("measured")]
    assert len(measured) == 1 and measured[0].lines[0].get_xdata().tolist() == [
        13,
        14,
        15,
    ]
    assert [t.get_text() for t in ax.texts] == ["1/5", "7/8", "8/8"]
    assert [line.get_gid() for line in ax.get_lines() if line.get_gid() in ("level", "threshold")] == [
        "level",
        "threshold",
    ]


def test_the_threshold_widget_checks_its_presets_as_the_run_dashboard_does():
    with pytest.raises(TypeError, match=r"threshold_dashboard\(\) got unknown settings \['colour'\]"):
        threshold_dashboard(colour="red")
    with pytest.raises(ConfigError, match="worker_args must be a sequence of strings"):
        threshold_dashboard(worker_args="-lead 0.5")
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        threshold_dashboard(seed=1.5)
    with pytest.raises(ConfigError, match="samples must be at least 1"):
        threshold_dashboard(samples=0)
