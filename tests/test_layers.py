"""Layers point one way (project issue 11), read from the source with `ast` (nothing is imported).

A module may import only from its own layer or lower ones, lowest first:

  0  laser.attention, laser.laser_exact, laser.masks (jax, numpy), laser.reference (numpy)
  1  laser.configs, laser.records: utilities that import nothing else from laser
  2  laser (the package), laser.adapters, laser.nn.*: attention modules and models
  3  laser.data.*: input pipelines
  4  laser.evals.* (but laser.evals.__main__): scoring, evaluation, checkpoint loading
  5  laser.train.*: the trainer and its tasks
  6  laser.main, laser.evals.__main__: entry points
  7  outside the library, in this order: experiments < sweeps < analysis < benchmarks < tests

Within a layer any import is fine as long as there is no cycle. Every import counts, for
both checks: module level, inside functions, under TYPE_CHECKING, and
`importlib.import_module("literal")`. A string that names one of the suite's modules exactly
("laser.train.ctc", or "laser.train.ctc:CTCTask" as in laser/train/task.py's REGISTRY) is a
reference by name: a registry that late-binds to its entries, which may import the registry
back. It must not point up either, but it is no import and is left out of the cycle check.
A new module under laser/ must be given a layer in LAYERS below.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("laser", "experiments", "sweeps", "analysis", "benchmarks")
OUTSIDE = ("experiments", "sweeps", "analysis", "benchmarks", "tests")

# Module or package name -> (rank, layer). A package covers its submodules; the longest
# matching name wins. "laser" itself covers only the package's __init__.
LAYERS: dict[str, tuple[tuple[int, int], str]] = {
    "laser.attention": ((0, 0), "0 core attention"),
    "laser.laser_exact": ((0, 0), "0 core attention"),
    "laser.masks": ((0, 0), "0 core attention"),
    "laser.reference": ((0, 0), "0 core attention"),
    "laser.configs": ((1, 0), "1 utilities"),
    "laser.records": ((1, 0), "1 utilities"),
    "laser": ((2, 0), "2 models"),
    "laser.adapters": ((2, 0), "2 models"),
    "laser.nn": ((2, 0), "2 models"),
    "laser.data": ((3, 0), "3 data"),
    "laser.evals": ((4, 0), "4 evals"),
    "laser.train": ((5, 0), "5 train"),
    "laser.main": ((6, 0), "6 entry points"),
    "laser.evals.__main__": ((6, 0), "6 entry points"),
    **{name: ((7, i), f"7 {name}") for i, name in enumerate(OUTSIDE)},
}
# Third-party packages the layer-0 modules may import (besides the standard library and
# other layer-0 modules): `laser/attention.py` depends on jax alone.
CORE_DEPS = {
    "laser.attention": {"jax", "numpy"},
    "laser.laser_exact": {"jax", "numpy"},
    "laser.masks": {"jax", "numpy"},
    "laser.reference": {"numpy"},
}


def layer(module: str) -> tuple[tuple[int, int], str] | None:
    """(rank, layer) of a module of the suite, None for one without a layer."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in LAYERS and (name != "laser" or n == len(parts)):
            return LAYERS[name]
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def modules() -> dict[str, Path]:
    """Every scanned module by dotted name."""
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_ours(name: str) -> bool:
    return name.split(".")[0] in ("laser", *OUTSIDE)


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, by_name) for every import in the file, resolved to the most
    specific module (`from laser.nn import vit` -> laser.nn.vit; `from laser import KINDS` ->
    laser), and for every string naming a scanned module (by_name=True)."""
    known = modules()
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    out, imported = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                out.append((sub if sub in known else base, node.lineno, False))
        elif isinstance(node, ast.Call) and node.args:
            first, func = node.args[0], node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                if isinstance(first.value, str):
                    out.append((first.value, node.lineno, False))
                    imported.add(id(first))
    # Strings equal to a scanned module's dotted name or "module:attribute" (registries);
    # a bare top-level name ("laser" is also an attention kind) is no reference.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in imported
        ):
            name = node.value.partition(":")[0]
            if "." in name and name in known:
                out.append((name, node.lineno, True))
    return out


@functools.cache
def edges() -> list[tuple[str, str, str, bool]]:
    """(importer, imported, "file:line", by_name) for every reference to a suite module."""
    out = []
    for module, path in modules().items():
        for target, line, by_name in _imports(module, path):
            if _is_ours(target) and target != module:
                out.append((module, target, f"{path.relative_to(ROOT)}:{line}", by_name))
    return out


def _describe(module: str) -> str:
    found = layer(module)
    return f"{module} (layer {found[1]})" if found else f"{module} (no layer)"


def test_every_module_has_a_layer():
    missing = [str(path.relative_to(ROOT)) for m, path in modules().items() if layer(m) is None]
    if missing:
        pytest.fail(
            "modules without a layer (add them to LAYERS in tests/test_layers.py): "
            + ", ".join(missing),
            pytrace=False,
        )


def test_imports_point_down():
    bad = []
    for src, dst, where, by_name in edges():
        have, want = layer(src), layer(dst)
        if have is None or want is None:
            continue  # test_every_module_has_a_layer names them
        if want[0] > have[0]:
            how = " (named in a string)" if by_name else ""
            bad.append(f"{where}: {_describe(src)} -> {_describe(dst)}{how} points up")
    if bad:
        pytest.fail("imports that point to a higher layer:\n" + "\n".join(bad), pytrace=False)


def _cycles() -> list[tuple[list[str], list[tuple[str, str, str]]]]:
    """(modules, one cycle through them as its edges) per strongly connected component of the
    import graph."""
    graph: dict[str, dict[str, str]] = {}
    for src, dst, where, by_name in edges():
        if dst in modules() and not by_name:
            graph.setdefault(src, {}).setdefault(dst, where)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(v: str) -> None:  # Tarjan; the graph has ~100 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for component in components:
        start = min(component)
        # Shortest path back to `start` inside the component (breadth first).
        parent: dict[str, str] = {}
        frontier = [start]
        while start not in parent:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, {})):
                    if w in component and w not in parent:
                        parent[w] = v
                        nxt.append(w)
            frontier = nxt
        path, w = [], start
        while True:
            v = parent[w]
            path.append((v, w, graph[v][w]))
            w = v
            if w == start:
                break
        cycles.append((sorted(component), path[::-1]))
    return cycles


def test_no_import_cycles():
    text = [
        f"cycle among {', '.join(members)}: "
        + "; ".join(f"{where}: {src} -> {dst}" for src, dst, where in cycle)
        for members, cycle in _cycles()
    ]
    if text:
        pytest.fail("import cycles (any import counts):\n" + "\n".join(text), pytrace=False)


def test_core_depends_on_jax_alone():
    bad = []
    for module, allowed in CORE_DEPS.items():
        path = modules().get(module)
        if path is None:
            continue  # laser.reference may not exist yet
        for target, line, _ in _imports(module, path):
            top = target.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top in allowed:
                continue
            if _is_ours(target) and (layer(target) or ((9, 9), ""))[0] == (0, 0):
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line}: {module} -> {target}")
    if bad:
        pytest.fail(
            "layer-0 modules may import only the standard library, the packages of CORE_DEPS "
            "and each other:\n" + "\n".join(bad),
            pytrace=False,
        )
