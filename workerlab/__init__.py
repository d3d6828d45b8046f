"""workerlab: drive a flaky streaming worker program at its limit and see what happened.

The public surface is small and flat (``import workerlab as wl``). No module is named like a
public function (``wl.dashboard`` lives in ``workerlab.ui.dashboard``, ``wl.sweep`` in ``workerlab.batch.sweep``):
importing a submodule sets the package attribute of its name, which would shadow the function.

Names are resolved lazily (``__getattr__``) so that ``python -m workerlab worker`` (the
emulator) and ``import workerlab`` stay fast: importing every public module at once takes
about 1 s (pandas, aiohttp, matplotlib, ipywidgets), ``import workerlab`` about 0.02 s. Type
checkers and IDEs read the ``TYPE_CHECKING`` imports below instead, so they see the real
signatures. ``_EXPORTS`` is the one list of public names (``__all__`` derives from it);
tests/test_packaging.py checks that the ``TYPE_CHECKING`` imports name the same modules.

``Run`` and ``StartLimiter`` (for code that drives runs itself) are not part of this surface: no
public call takes them. They live in ``workerlab.engine``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs read; each name re-exported as itself (``X as X``)
    from workerlab.analysis.report import report as report
    from workerlab.analysis.runs import latencies as latencies
    from workerlab.analysis.runs import summary as summary
    from workerlab.analysis.runs import worker_summary as worker_summary
    from workerlab.batch.sweep import sweep as sweep
    from workerlab.batch.sweep import sweep_async as sweep_async
    from workerlab.config import Config as Config
    from workerlab.config import RunOptions as RunOptions
    from workerlab.engine.collector import collect as collect
    from workerlab.engine.collector import collect_async as collect_async
    from workerlab.engine.status import RunStatus as RunStatus
    from workerlab.engine.stop import Stop as Stop
    from workerlab.errors import CollectError as CollectError
    from workerlab.errors import CollectStopped as CollectStopped
    from workerlab.errors import CollectTimeout as CollectTimeout
    from workerlab.errors import ConfigError as ConfigError
    from workerlab.errors import SweepStopped as SweepStopped
    from workerlab.errors import WorkerStartError as WorkerStartError
    from workerlab.log.events import EVENTS as EVENTS
    from workerlab.log.events import SCHEMA as SCHEMA
    from workerlab.log.persist import load as load
    from workerlab.log.persist import save as save
    from workerlab.model.calibration import calibrate as calibrate
    from workerlab.model.model import Model as Model
    from workerlab.plots import plot_latency as plot_latency
    from workerlab.plots import plot_overlay as plot_overlay
    from workerlab.plots import plot_run as plot_run
    from workerlab.plots import plot_search as plot_search
    from workerlab.plots import plot_success_map as plot_success_map
    from workerlab.plots import plot_sweep as plot_sweep
    from workerlab.plots import plot_throughput as plot_throughput
    from workerlab.plots import plot_timeline as plot_timeline
    from workerlab.thresholds.result import SearchStatus as SearchStatus
    from workerlab.thresholds.search import find_threshold as find_threshold
    from workerlab.thresholds.search import find_threshold_async as find_threshold_async
    from workerlab.thresholds.verdict import Threshold as Threshold
    from workerlab.thresholds.verdict import threshold as threshold
    from workerlab.ui.dashboard import Dashboard as Dashboard
    from workerlab.ui.dashboard import dashboard as dashboard
    from workerlab.ui.threshold import ThresholdDashboard as ThresholdDashboard
    from workerlab.ui.threshold import threshold_dashboard as threshold_dashboard

__version__ = "0.1.0"

#: THE list of public names: public name -> module that defines it. ``__all__`` and ``__dir__``
#: derive from it; the TYPE_CHECKING imports above mirror it (tests/test_packaging.py checks that
#: each name is imported there from this module, and nothing else is).
_EXPORTS: dict[str, str] = {
    # one run
    "collect": "workerlab.engine.collector",
    "collect_async": "workerlab.engine.collector",
    "RunStatus": "workerlab.engine.status",
    "Stop": "workerlab.engine.stop",
    "RunOptions": "workerlab.config",
    "Config": "workerlab.config",
    # errors
    "ConfigError": "workerlab.errors",
    "CollectError": "workerlab.errors",
    "WorkerStartError": "workerlab.errors",
    "CollectTimeout": "workerlab.errors",
    "CollectStopped": "workerlab.errors",
    "SweepStopped": "workerlab.errors",
    # the event log
    "EVENTS": "workerlab.log.events",
    "SCHEMA": "workerlab.log.events",
    "summary": "workerlab.analysis.runs",
    "report": "workerlab.analysis.report",
    "worker_summary": "workerlab.analysis.runs",
    "latencies": "workerlab.analysis.runs",
    "load": "workerlab.log.persist",
    "save": "workerlab.log.persist",
    # plots
    "plot_throughput": "workerlab.plots",
    "plot_latency": "workerlab.plots",
    "plot_timeline": "workerlab.plots",
    "plot_run": "workerlab.plots",
    "plot_sweep": "workerlab.plots",
    "plot_overlay": "workerlab.plots",
    "plot_search": "workerlab.plots",
    "plot_success_map": "workerlab.plots",
    # many runs, and how many workers meet the deadline
    "sweep": "workerlab.batch.sweep",
    "sweep_async": "workerlab.batch.sweep",
    "threshold": "workerlab.thresholds.verdict",
    "Threshold": "workerlab.thresholds.verdict",
    "Model": "workerlab.model.model",
    "calibrate": "workerlab.model.calibration",
    "find_threshold": "workerlab.thresholds.search",
    "find_threshold_async": "workerlab.thresholds.search",
    "SearchStatus": "workerlab.thresholds.result",
    # widgets
    "dashboard": "workerlab.ui.dashboard",
    "Dashboard": "workerlab.ui.dashboard",
    "threshold_dashboard": "workerlab.ui.threshold",
    "ThresholdDashboard": "workerlab.ui.threshold",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'workerlab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return __all__
