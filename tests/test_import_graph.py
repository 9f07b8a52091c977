"""The package's imports run one way: no cycles, no upward edges, no package reaching into another's private module.

Every ``import`` and ``from ... import`` of the package is read from the source (function-level imports
included, since a cycle hidden in a function is still a cycle) and resolved to the module it loads.
"""

import ast
import importlib.util
import pathlib

import pytest

PACKAGE = "sklearn_entropylens"
# Found without importing the package, so that the graph is read even when an import fails.
ROOT = pathlib.Path(importlib.util.find_spec(PACKAGE).origin).parent

# The order of the layers, lowest first: a module may import its own layer's modules and lower layers'
# only. The lens engine is below model loading (loading uses the engine's adapters and checks; a worker
# reloads a model through the specification it is handed, never by importing models/).
LAYERS = (
    ("_param_validation", "_public_names", "_validation", "metrics"),
    ("lens",),
    ("models",),
    ("datasets",),
    ("estimators",),
    ("plotting",),
    ("experiments",),
    ("persistence", "_cli", "_testing", "__main__", ""),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name):
    relative = pathlib.Path(*name.split("."))
    return (ROOT.parent / relative).with_suffix(".py").exists() or (ROOT.parent / relative / "__init__.py").exists()


def imported_modules(path):
    """The package modules a file imports, anywhere in it, resolved to module names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if is_module(submodule) else target)
    found.discard(name)
    return found


def unit_of(name):
    """The layer unit of a module: its first-level subpackage or top-level module ("" for the package itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def private_owner(target):
    """The package that owns the first private component of ``target`` (None when it has none)."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


GRAPH = {module_name(path): imported_modules(path) for path in sorted(ROOT.rglob("*.py"))}


def cycles(graph):
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_in_a_layer():
    assert {unit_of(name) for name in GRAPH} <= set(RANK), sorted({unit_of(name) for name in GRAPH} - set(RANK))


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_no_upward_imports():
    upward = sorted(
        f"{importer} -> {target}"
        for importer, targets in GRAPH.items()
        for target in targets
        if RANK[unit_of(target)] > RANK[unit_of(importer)]
    )
    assert upward == []


def test_no_package_imports_another_packages_private_module():
    reaching = sorted(
        f"{importer} -> {target}"
        for importer, targets in GRAPH.items()
        for target in targets
        if private_owner(target) is not None
        and not (importer == private_owner(target) or importer.startswith(private_owner(target) + "."))
    )
    assert reaching == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected


def test_the_walk_sees_function_level_and_relative_imports():
    # lens/_runner.py imported models/_loading inside a function before the restructure; a relative
    # import of a sibling and of the package itself must both resolve.
    assert f"{PACKAGE}.lens._decode" in GRAPH[f"{PACKAGE}.lens._runner"]
    assert private_owner(f"{PACKAGE}.lens._decode") == f"{PACKAGE}.lens"
    assert private_owner(f"{PACKAGE}.lens") is None
