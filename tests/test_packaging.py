"""The project's own files install what it needs: pyproject.toml and environment.yml agree."""

from __future__ import annotations

import re
import tomllib

from helpers import ROOT

#: a pip requirement with extras stands for these conda-forge packages
CONDA_NAMES = {"dask[distributed]": ["dask", "distributed"]}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower(), m.group(2).replace(" ", "")


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    out: dict[str, str] = {}
    for req in reqs:
        name, spec = _split(req)
        for conda in CONDA_NAMES.get(name, [name]):
            out[conda] = spec
    return out


def conda_requirements() -> dict[str, str]:
    """name -> version spec of environment.yml's conda dependencies (not the pip: block)."""
    out: dict[str, str] = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([^:#]+?)\s*$", line)  # exactly two spaces: top-level entries only
        if in_deps and m:
            name, spec = _split(m.group(1))
            if name not in ("python", "pip"):
                out[name] = spec
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert conda_requirements() == pip_requirements()


def test_environment_yml_installs_the_project_itself():
    text = (ROOT / "environment.yml").read_text()
    assert "- -e ." in text and "conda-forge" in text


def test_the_parsers_see_real_content():
    """Guards the two tests above against passing on empty parses."""
    pip = pip_requirements()
    assert {"aiohttp", "pandas", "nest-asyncio", "matplotlib", "ipywidgets", "nbval", "pytest"} <= set(pip)
    assert "distributed" in pip and "dask" in pip


def test_one_list_of_public_names_seen_by_type_checkers_and_resolved_lazily():
    """``_EXPORTS`` is the list: ``__all__`` derives from it, the TYPE_CHECKING imports mirror it.

    Each TYPE_CHECKING import names the module ``_EXPORTS`` says and re-exports the name as
    itself (``X as X``, which type checkers read as an explicit re-export).
    """
    import ast
    import inspect

    import workerlab as wl

    tree = ast.parse((ROOT / "workerlab" / "__init__.py").read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                for alias in imp.names:
                    assert alias.asname == alias.name, f"import {alias.name} as {alias.name}"
                    assert alias.name not in typed, f"{alias.name} imported twice"
                    typed[alias.name] = imp.module
    assert typed == wl._EXPORTS
    assert wl.__all__ == [*wl._EXPORTS, "__version__"] and sorted(dir(wl)) == sorted(wl.__all__)
    for name, module in wl._EXPORTS.items():
        value = getattr(wl, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            # defined in that module, or in a submodule of that package (workerlab.plots.*)
            assert value.__module__ == module or value.__module__.startswith(module + "."), name
    assert (ROOT / "workerlab" / "py.typed").exists()


def test_import_and_the_emulator_entry_stay_light():
    """`import workerlab` and `python -m workerlab worker` must not load pandas or aiohttp."""
    import subprocess
    import sys

    code = (
        "import sys, workerlab, workerlab.cli.main, workerlab.worker.emulator; "
        "print(' '.join(m for m in ('pandas', 'aiohttp', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_run_and_start_limiter_live_in_the_engine_not_in_the_public_surface():
    """No public call takes a ``Run`` or a ``StartLimiter``; ``Stop`` and ``RunStatus`` are public."""
    import workerlab as wl
    import workerlab.engine as engine
    from workerlab.engine import collector, limiter, stop

    assert {"Run", "StartLimiter"}.isdisjoint(wl.__all__)
    assert {"Stop", "RunStatus", "CollectStopped", "SweepStopped", "RunOptions"} <= set(wl.__all__)
    assert engine.Run is collector.Run and engine.StartLimiter is limiter.StartLimiter
    assert engine.Stop is stop.Stop is wl.Stop and engine.RunStatus is wl.RunStatus
    assert set(engine.__all__) == {"Run", "RunStatus", "StartLimiter", "Stop"}
