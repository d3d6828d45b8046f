"""The package's shape: no import cycles between modules, and modules and folders of a readable size.

The layers themselves (a lower layer never imports a higher one) are import-linter's contract in
pyproject.toml, checked by `make lint`; this file checks what that contract cannot: two modules of
one layer importing each other, also from inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "workerlab"


def _graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("workerlab", cache_dir=None)
    # the root re-exports everything (lazily); it is the API, not a layer
    return {
        m: {i for i in graph.find_modules_directly_imported_by(m) if i != "workerlab"}
        for m in graph.modules
        if m != "workerlab"
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_two_modules_import_each_other_even_inside_a_function():
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles (break each by moving the shared piece down a layer):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_folder_holds_more_than_twelve_modules():
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        modules = [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, f"{folder.relative_to(PACKAGE.parent)} holds {len(modules)}: {modules}"


def test_no_module_over_400_lines_and_no_function_over_80():
    long_modules, long_functions = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        name = path.relative_to(PACKAGE.parent)
        if text.count("\n") > 400:
            long_modules.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long_functions.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert long_modules == [], long_modules
    assert long_functions == [], long_functions
