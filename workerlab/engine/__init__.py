"""One run: worker processes, their ports and streams, the collector that owns them, the sync wrapper.

``Run`` and ``StartLimiter`` live here (``workerlab.engine.collector``, ``workerlab.engine.limiter``)
for code that drives runs itself; ``wl.collect`` is the public entry.
"""
