"""The worker emulator: the original program's CLI and HTTP stream, plus fault injection.

Standard library only, and importable on its own (``bin/worker`` runs ``emulator.py`` as a
top-level module), so that a worker starts in ~20 ms without importing the package.
"""
