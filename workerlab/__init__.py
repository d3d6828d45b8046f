"""workerlab: drive a flaky streaming worker program at its limit and see what happened.

The public surface is small and flat (``import workerlab as wl``). No module is named like a
public function (``wl.dashboard`` lives in ``workerlab.ui``, ``wl.sweep`` in ``workerlab.sweeping``): importing a submodule sets the
package attribute of its name, which would shadow the function. Names are resolved
lazily so that ``python -m workerlab worker`` (the emulator) and ``import workerlab``
stay fast: pandas, aiohttp and matplotlib load only when something needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "collect": "workerlab.collector",
    "collect_async": "workerlab.collector",
    "CollectError": "workerlab.errors",
    "WorkerStartError": "workerlab.errors",
    "CollectTimeout": "workerlab.errors",
    "EVENTS": "workerlab.events",
    "SCHEMA": "workerlab.events",
    "summary": "workerlab.analysis",
    "worker_summary": "workerlab.analysis",
    "load": "workerlab.persist",
    "save": "workerlab.persist",
    "plot_throughput": "workerlab.plots",
    "plot_latency": "workerlab.plots",
    "plot_timeline": "workerlab.plots",
    "plot_run": "workerlab.plots",
    "plot_sweep": "workerlab.plots",
    "sweep": "workerlab.sweeping",
    "sweep_async": "workerlab.sweeping",
    "threshold": "workerlab.verdict",
    "latencies": "workerlab.analysis",
    "dashboard": "workerlab.ui",
    "Model": "workerlab.model",
    "calibrate": "workerlab.calibration",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


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
