"""The package layout: no module over 700 lines, no import circle among planning's modules.

Imports are read from the source with :mod:`ast`, so imports under ``TYPE_CHECKING`` and inside
functions count as much as top-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planning"
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """Map each planning module to the planning modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for target in targets:
                # ``from planning.x import y``: y may be a module or a name inside planning.x
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("planning"):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_is_over_700_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_circle_among_planning_modules() -> None:
    graph = import_graph()
    # a package's __init__ re-exports its own submodules: those edges are the package's face, not a
    # circle between stages; every other edge counts, TYPE_CHECKING imports included
    pruned = {a: {b for b in targets if not b.startswith(a + ".")} for a, targets in graph.items()}
    assert _cycles(pruned) == []


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_workflow_is_imported_by_nothing_below_it() -> None:
    # the batch runs many scenarios: it sits beside the workflow and the command line
    importers = sorted(a for a, targets in import_graph().items() if "planning.workflow" in targets)
    above = {"planning.cli", "planning"}
    assert all(a in above or a.startswith("planning.batch") for a in importers), importers


@pytest.mark.parametrize(
    "stage", ["siting", "compliance", "report", "network", "access", "coverage"]
)
def test_private_helpers_live_inside_their_stage(stage: str) -> None:
    assert (PACKAGE / stage / "__init__.py").is_file()
    top_private = sorted(p.name for p in PACKAGE.glob("_*.py") if p.name != "__init__.py")
    assert not any(name.startswith(f"_{stage}") for name in top_private), top_private
