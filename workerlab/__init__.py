"""workerlab: drive a flaky streaming worker program at its limit and see what happened.

The public surface is small and flat (``import workerlab as wl``). No module is named like a
public function (``wl.dashboard`` lives in ``workerlab.ui``, ``wl.sweep`` in ``workerlab.sweeping``):
importing a submodule sets the package attribute of its name, which would shadow the function.

Names are resolved lazily (``__getattr__``) so that ``python -m workerlab worker`` (the
emulator) and ``import workerlab`` stay fast: importing every public module at once takes
about 1 s (pandas, aiohttp, matplotlib, ipywidgets), ``import workerlab`` about 0.02 s. Type
checkers and IDEs read the ``TYPE_CHECKING`` imports below instead, so they see the real
signatures; tests/test_packaging.py checks that both lists agree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis import latencies, summary, worker_summary
    from .calibration import calibrate
    from .collector import Run, RunStatus, collect, collect_async
    from .config import Config
    from .errors import CollectError, CollectTimeout, ConfigError, WorkerStartError
    from .events import EVENTS, SCHEMA
    from .limiter import StartLimiter
    from .model import Model
    from .persist import load, save
    from .plots import (
        plot_latency,
        plot_overlay,
        plot_run,
        plot_search,
        plot_success_map,
        plot_sweep,
        plot_throughput,
        plot_timeline,
    )
    from .search import SearchStatus, find_threshold, find_threshold_async
    from .sweeping import sweep, sweep_async
    from .ui import Dashboard, dashboard
    from .ui_threshold import ThresholdDashboard, threshold_dashboard
    from .verdict import Threshold, threshold

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "collect": "workerlab.collector",
    "collect_async": "workerlab.collector",
    "Run": "workerlab.collector",
    "RunStatus": "workerlab.collector",
    "StartLimiter": "workerlab.limiter",
    "Config": "workerlab.config",
    "ConfigError": "workerlab.errors",
    "CollectError": "workerlab.errors",
    "WorkerStartError": "workerlab.errors",
    "CollectTimeout": "workerlab.errors",
    "EVENTS": "workerlab.events",
    "SCHEMA": "workerlab.events",
    "summary": "workerlab.analysis",
    "worker_summary": "workerlab.analysis",
    "latencies": "workerlab.analysis",
    "load": "workerlab.persist",
    "save": "workerlab.persist",
    "plot_throughput": "workerlab.plots",
    "plot_latency": "workerlab.plots",
    "plot_timeline": "workerlab.plots",
    "plot_run": "workerlab.plots",
    "plot_sweep": "workerlab.plots",
    "plot_overlay": "workerlab.plots",
    "sweep": "workerlab.sweeping",
    "sweep_async": "workerlab.sweeping",
    "threshold": "workerlab.verdict",
    "Threshold": "workerlab.verdict",
    "dashboard": "workerlab.ui",
    "Dashboard": "workerlab.ui",
    "threshold_dashboard": "workerlab.ui_threshold",
    "ThresholdDashboard": "workerlab.ui_threshold",
    "plot_search": "workerlab.plots",
    "Model": "workerlab.model",
    "calibrate": "workerlab.calibration",
    "find_threshold": "workerlab.search",
    "find_threshold_async": "workerlab.search",
    "SearchStatus": "workerlab.search",
    "plot_success_map": "workerlab.plots",
}

__all__ = [
    "CollectError",
    "CollectTimeout",
    "Config",
    "ConfigError",
    "Dashboard",
    "EVENTS",
    "Model",
    "Run",
    "RunStatus",
    "SCHEMA",
    "StartLimiter",
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
