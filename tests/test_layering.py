"""The import graph of moohw: one direction, no cycles (STYLE rule 1).

Read from the source with ``ast`` (nothing is imported). Nodes are moohw's subpackages and
top-level modules (``moohw.devices``, ``moohw.runs``, ``moohw.problems``, ``moohw.algorithms``,
...); an edge is a module-level import of one from another. Imports inside functions are the
documented way to defer heavy optional dependencies (BoTorch, torch) and are left out, except
that core must not reach problems/algorithms at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> the package name it is installed as (setup.cfg package_dir).
FOLDERS = {
    "moohw": "moohw",
    "problems": "moohw.problems",
    "algorithms": "moohw.algorithms",
    "cli": "moohw.cli",
}
#: The command line sits on top of everything (it is the one core module allowed to call
#: into the algorithms); it is not part of the core layering.
CLI_PREFIX = "moohw.cli"


def _modules() -> dict[str, Path]:
    out = {}
    for folder, pkg in FOLDERS.items():
        for f in (ROOT / folder).rglob("*.py"):
            rel = f.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg, *parts])] = f
    return out


def _node(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for n in nodes:
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            continue
        if isinstance(n, ast.Import):
            found |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            if n.level:  # relative import
                base = module.split(".")[: -n.level if path.name != "__init__.py" else None]
                if path.name == "__init__.py" and n.level > 1:
                    base = module.split(".")[: -(n.level - 1)]
                found.add(".".join([*base, n.module] if n.module else base))
            elif n.module:
                found.add(n.module)
                found |= {f"{n.module}.{a.name}" for a in n.names}
    return {m for m in found if m == "moohw" or m.startswith("moohw.")}


def _graph(top_level_only: bool = True) -> dict[str, set[str]]:
    mods = _modules()
    g: dict[str, set[str]] = {}
    for mod, path in mods.items():
        if mod.startswith(CLI_PREFIX):
            continue
        src = _node(mod)
        deps = {_node(m) for m in _imports(path, mod, top_level_only) if m in mods}
        g.setdefault(src, set()).update(d for d in deps if d != src)
    return g


def _cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if state.get(m) is None and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if state.get(n) is None and (c := visit(n)):
            return c
    return None


def test_graph_is_read():
    g = _graph()
    # The graph really is read: known edges are present.
    assert "moohw.spaces" in g["moohw.devices"]
    assert "moohw.problems" in g["moohw.algorithms"]


def test_import_graph_has_no_cycles():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_cycle_detector_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_core_imports_nothing_from_problems_or_algorithms():
    bad = []
    for mod, path in _modules().items():
        if mod.startswith(("moohw.problems", "moohw.algorithms", CLI_PREFIX)):
            continue
        for m in _imports(path, mod, top_level_only=False):
            if m.startswith(("moohw.problems", "moohw.algorithms")):
                bad.append(f"{mod} imports {m}")
    assert not bad, "; ".join(bad)


def test_problems_do_not_import_algorithms():
    for mod, path in _modules().items():
        if mod.startswith("moohw.problems"):
            assert not any(
                m.startswith("moohw.algorithms") for m in _imports(path, mod, top_level_only=False)
            ), mod
