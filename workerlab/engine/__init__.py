"""One run: worker processes, their ports and streams, the collector that owns them, the sync wrapper.

``wl.collect`` is the public entry. For code that drives runs itself, ``workerlab.engine`` also
gives ``Run`` (one collection run), ``RunStatus`` (what ``on_update`` reads of it),
``StartLimiter`` (the bound on workers starting at once, shareable between runs) and ``Stop``;
they resolve lazily, so importing one light module of the engine loads neither pandas nor aiohttp.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Run", "RunStatus", "StartLimiter", "Stop"]

_EXPORTS = {
    "Run": "workerlab.engine.collector",
    "RunStatus": "workerlab.engine.status",
    "StartLimiter": "workerlab.engine.limiter",
    "Stop": "workerlab.engine.stop",
}


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'workerlab.engine' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
