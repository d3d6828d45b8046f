"""What the tests and the benchmarks share, kept out of the installed package.

``groundtruth`` checks a run's event log against what the workers really sent, ``leftovers`` finds
worker processes or ports a run left behind, ``simulate`` runs whole threshold searches on
binomial draws with the real planner. Importable without installing anything: the tests have
``tests/`` on ``sys.path`` (pytest puts it there for ``conftest.py``) and the benchmarks insert it
themselves, so both say ``from support import groundtruth``.
"""
