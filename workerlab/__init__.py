"""workerlab: drive a flaky streaming worker program at its limit and see what happened.

The public surface is small and flat (``import workerlab as wl``). No module is named like a
public function (``wl.dashboard`` lives in ``workerlab.ui.dashboard``, ``wl.sweep`` in ``workerlab.batch.sweep``):
importing a submodule sets the package attribute of its name, which would shadow the function.

Names are resolved lazily (``__getattr__``) so that ``python -m workerlab worker`` (the
emulator) and ``import workerlab`` stay fast: importing every public module at once takes
about 1 s (pandas, aiohttp, matplotlib, ipywidgets), ``import workerlab`` about 0.02 s. Type
checkers and IDEs read the ``TYPE_CHECKING`` imports below instead, so they see the real
signatures; tests/test_packaging.py checks that both lists agree.

``Run`` and ``StartLimiter`` (for code that drives runs itself) are not part of this surface: no
public call takes them. They live in ``workerlab.engine``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workerlab.analysis.runs import latencies, summary, worker_summary
    from workerlab.batch.sweep import sweep, sweep_async
    from workerlab.config import Config
    from workerlab.engine.collector import collect, collect_async
    from workerlab.engine.status import RunStatus
    from workerlab.engine.stop import Stop
    from workerlab.errors import CollectError, CollectStopped, CollectTimeout, ConfigError, WorkerStartError
    from workerlab.log.events import EVENTS, SCHEMA
    from workerlab.log.persist import load, save
    from workerlab.model.calibration import calibrate
    from workerlab.model.model import Model
    from workerlab.plots import (
        plot_latency,
        plot_overlay,
        plot_run,
        plot_search,
        plot_success_map,
        plot_sweep,
        plot_throughput,
        plot_timeline,
    )
    from workerlab.thresholds.result import SearchStatus
    from workerlab.thresholds.search import find_threshold, find_threshold_async
    from workerlab.thresholds.verdict import Threshold, threshold
    from workerlab.ui.dashboard import Dashboard, dashboard
    from workerlab.ui.threshold import ThresholdDashboard, threshold_dashboard

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "collect": "workerlab.engine.collector",
    "collect_async": "workerlab.engine.collector",
    "RunStatus": "workerlab.engine.status",
    "Stop": "workerlab.engine.stop",
    "Config": "workerlab.config",
    "ConfigError": "workerlab.errors",
    "CollectError": "workerlab.errors",
    "WorkerStartError": "workerlab.errors",
    "CollectTimeout": "workerlab.errors",
    "CollectStopped": "workerlab.errors",
    "EVENTS": "workerlab.log.events",
    "SCHEMA": "workerlab.log.events",
    "summary": "workerlab.analysis.runs",
    "worker_summary": "workerlab.analysis.runs",
    "latencies": "workerlab.analysis.runs",
    "load": "workerlab.log.persist",
    "save": "workerlab.log.persist",
    "plot_throughput": "workerlab.plots",
    "plot_latency": "workerlab.plots",
    "plot_timeline": "workerlab.plots",
    "plot_run": "workerlab.plots",
    "plot_sweep": "workerlab.plots",
    "plot_overlay": "workerlab.plots",
    "sweep": "workerlab.batch.sweep",
    "sweep_async": "workerlab.batch.sweep",
    "threshold": "workerlab.thresholds.verdict",
    "Threshold": "workerlab.thresholds.verdict",
    "dashboard": "workerlab.ui.dashboard",
    "Dashboard": "workerlab.ui.dashboard",
    "threshold_dashboard": "workerlab.ui.threshold",
    "ThresholdDashboard": "workerlab.ui.threshold",
    "plot_search": "workerlab.plots",
    "Model": "workerlab.model.model",
    "calibrate": "workerlab.model.calibration",
    "find_threshold": "workerlab.thresholds.search",
    "find_threshold_async": "workerlab.thresholds.search",
    "SearchStatus": "workerlab.thresholds.result",
    "plot_success_map": "workerlab.plots",
}

__all__ = [
    "CollectError",
    "CollectStopped",
    "CollectTimeout",
    "Config",
    "ConfigError",
    "Dashboard",
    "EVENTS",
    "Model",
    "RunStatus",
    "SCHEMA",
    "Stop",
    "Threshold",
    "WorkerStartError",
    "collect",
    "collect_async",
    "dashboard",
    "latencies",
    "load",
    "plot_latency",
    "plot_overlay",
    "plot_search",
    "plot_run",
    "plot_sweep",
    "plot_throughput",
    "plot_timeline",
    "save",
    "summary",
    "sweep",
    "sweep_async",
    "threshold",
    "worker_summary",
    "calibrate",
    "find_threshold",
    "find_threshold_async",
    "SearchStatus",
    "plot_success_map",
    "ThresholdDashboard",
    "threshold_dashboard",
    "__version__",
]


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
