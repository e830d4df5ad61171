"""The import-layer contract of ``landslide_app``: no import cycle, no import from a lower layer to a
higher one, and nothing in the package imports the shipped test fixtures (``landslide_app.testing``).

Every ``.py`` file of the package is parsed with :mod:`ast`; every ``import`` counts, including the
lazy ones inside functions and those under ``if TYPE_CHECKING:`` (a cycle hidden behind a lazy
import is still a cycle). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``.

Layers, low to high (a module may import its own layer and the layers below it)::

    0 core         core/*, config, errors, atomic, the package root (``__version__``)
    1 data         scene, sources, terrain, cluster
    2 chips
    3 model
    4 baselines
    5 experiments
    6 apps         dashboard, demo
    7 cli          cli (the package: commands, shared options, rules)

``testing`` (fixtures shipped for tests and benchmarks) may import any layer; no module outside it
may import it. A new top-level module or subpackage must be given a layer in :data:`LAYERS`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import landslide_app

PACKAGE = "landslide_app"
ROOT = Path(landslide_app.__file__).resolve().parent

#: Layer of each top-level module or subpackage of ``landslide_app`` ("" is the package root).
LAYERS: dict[str, int] = {
    "": 0,
    "core": 0,
    "config": 0,
    "errors": 0,
    "atomic": 0,
    "scene": 1,
    "sources": 1,
    "terrain": 1,
    "cluster": 1,
    "chips": 2,
    "model": 3,
    "baselines": 4,
    "experiments": 5,
    "dashboard": 6,
    "demo": 6,
    "cli": 7,
}
LAYER_NAMES = {0: "core", 1: "data", 2: "chips", 3: "model", 4: "baselines", 5: "experiments", 6: "apps", 7: "cli"}
TESTING = "testing"


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for f in sorted(ROOT.rglob("*.py")):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, dict[str, int]]:
    """``{module: {imported module: line of the first such import}}`` within the package."""
    mods = _modules()
    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                if t.split(".")[0] != PACKAGE:
                    continue
                r = _resolve(t, mods)
                if r and r != mod:
                    graph[mod].setdefault(r, node.lineno)
    return graph


def _top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def _where(mod: str, line: int) -> str:
    path = _modules()[mod].relative_to(ROOT.parent)
    return f"{path}:{line}"


def layer_violations(graph: dict[str, dict[str, int]], where: Callable[[str, int], str] = _where) -> list[str]:
    """One readable line per forbidden edge (upward import, or an import of ``testing``)."""
    out = []
    for mod, targets in sorted(graph.items()):
        src = _top(mod)
        if src == TESTING:
            continue
        for dst_mod, line in sorted(targets.items()):
            dst = _top(dst_mod)
            if dst == TESTING:
                out.append(f"{mod} -> {dst_mod} ({where(mod, line)}): the package must not import test fixtures")
            elif LAYERS[dst] > LAYERS[src]:
                out.append(
                    f"{mod} -> {dst_mod} ({where(mod, line)}): upward import from layer "
                    f"{LAYER_NAMES[LAYERS[src]]} ({src or PACKAGE}) to layer {LAYER_NAMES[LAYERS[dst]]} ({dst})"
                )
    return out


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    sccs.append(sorted(comp))
    return sccs


def _describe_cycle(comp: list[str], graph: dict[str, dict[str, int]]) -> str:
    inside = set(comp)
    edges = [f"    {m} -> {t} ({_where(m, line)})" for m in comp for t, line in sorted(graph[m].items()) if t in inside]
    return "cycle among " + ", ".join(comp) + ":\n" + "\n".join(edges)


def test_every_module_has_a_layer():
    missing = sorted({_top(m) for m in _modules()} - set(LAYERS) - {TESTING})
    assert not missing, f"give these top-level modules a layer in tests/test_architecture.py LAYERS: {missing}"


def test_no_upward_imports_and_no_imports_of_testing():
    bad = layer_violations(import_graph())
    assert not bad, (
        "imports against the layer order (low -> high: "
        + " < ".join(LAYER_NAMES[i] for i in sorted(LAYER_NAMES))
        + "):\n"
        + "\n".join(bad)
    )


def test_no_import_cycles():
    graph = import_graph()
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(_describe_cycle(c, graph) for c in cycles)


def test_the_contract_catches_what_it_should():
    """The checks fail on a made-up graph with an upward edge, a testing import and a cycle."""
    graph = {
        "landslide_app.chips.a": {"landslide_app.model.b": 3},  # upward
        "landslide_app.model.b": {"landslide_app.model.c": 1},
        "landslide_app.model.c": {"landslide_app.model.b": 2, "landslide_app.testing.x": 5},  # cycle, testing
        "landslide_app.testing.x": {"landslide_app.cli": 1},  # allowed: testing may import anything
        "landslide_app.cli": {},
    }
    bad = layer_violations(graph, where=lambda mod, line: f"{mod}:{line}")
    assert len(bad) == 2
    assert bad[0].startswith("landslide_app.chips.a -> landslide_app.model.b (landslide_app.chips.a:3): upward")
    assert "must not import test fixtures" in bad[1]
    assert import_cycles(graph) == [["landslide_app.model.b", "landslide_app.model.c"]]


#: Third-party libraries the core layer may import (besides the standard library); psutil only as the
#: optional non-Linux fallback of :func:`landslide_app.core.memory.available_memory`.
CORE_LIBRARIES = {"numpy", "pyproj", "affine", "rasterio", "psutil"}


def test_core_imports_only_the_standard_library_and_its_few_libraries():
    import sys

    bad = []
    for mod, path in _modules().items():
        if LAYERS.get(_top(mod)) != 0:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in CORE_LIBRARIES | {PACKAGE}:
                    bad.append(f"{mod} imports {name} ({_where(mod, node.lineno)})")
    allowed = sorted(CORE_LIBRARIES)
    assert not bad, f"the core layer may import only the standard library and {allowed}:\n" + "\n".join(bad)
