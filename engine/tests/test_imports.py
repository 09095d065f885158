"""No import circles in the engine: every module of ``ladderlab`` is parsed (not imported) and each import, at
module level or inside a function, is an edge; a cycle fails the test with the modules and the lines involved.

A function-level import counts too: it only delays the circle to the first call, and the modules still
depend on each other. Importing a package's submodule does not count as importing the package itself
(``from .data.types import X`` is an edge to ``ladderlab.data.types``, not to ``ladderlab.data``), since a
package's ``__init__`` importing its own submodules is ordinary Python, not a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ladderlab"

Edges = dict[str, dict[str, int]]  # module -> imported module -> line of the (first) import


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under ``root`` (a package's ``__init__.py`` is the package)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name ``from <...> import`` refers to."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))


def import_edges(root: Path) -> Edges:
    modules = module_names(root)
    edges: Edges = {name: {} for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(name, is_package, node)
                # `from . import stop` imports the submodule ladderlab.stop; `from .config import X` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges[name].setdefault(target, node.lineno)
    return edges


def cycles(edges: Edges) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return [_one_cycle(edges, group) for group in groups]


def _one_cycle(edges: Edges, group: set[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, inside the group (breadth first)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(edges[v]):
                if w not in group:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not a cycle")


def describe(edges: Edges, cycle: list[str]) -> str:
    return (
        " -> ".join(cycle)
        + "  ("
        + ", ".join(f"{a} imports {b} at line {edges[a][b]}" for a, b in zip(cycle, cycle[1:], strict=False))
        + ")"
    )


def test_engine_has_no_import_cycles():
    edges = import_edges(PACKAGE)
    assert len(edges) > 30 and "ladderlab.train" in edges  # the whole package was read
    found = [describe(edges, c) for c in cycles(edges)]
    assert not found, "import cycles in engine/src/ladderlab:\n" + "\n".join(found)


def test_the_check_finds_module_and_function_level_cycles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub.c import g\n    return g\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import g\n")  # a package importing its own module: fine
    (pkg / "sub" / "c.py").write_text("import pkg.d\n")
    (pkg / "d.py").write_text("def h():\n    from .a import x\n")
    edges = import_edges(pkg)
    assert edges["pkg.b"] == {"pkg.sub.c": 2} and edges["pkg.sub"] == {"pkg.sub.c": 1}
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.d", "pkg.a"]]
    assert "pkg.d imports pkg.a at line 2" in describe(edges, cycles(edges)[0])
