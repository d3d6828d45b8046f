"""The project's own files install what it needs: pyproject.toml and environment.yml agree."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

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
