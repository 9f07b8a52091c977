"""The package's imports run one way: no cycles, no upward edges, no package reaching into another's private module.

Every ``import`` and ``from ... import`` of the package is read from the source (function-level imports
included, since a cycle hidden in a function is still a cycle), as are ``importlib.import_module`` and
``__import__`` calls with a literal name and private attributes read off an imported package
(``from .. import lens`` then ``lens._runner``), and resolved to the modules they load.
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
    ("persistence", "_cli", "testing", "__main__", ""),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def module_name(path, root):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name, root):
    relative = pathlib.Path(*name.split("."))
    return (root.parent / relative).with_suffix(".py").exists() or (root.parent / relative / "__init__.py").exists()


def imported_modules(path, root):
    """The package modules a file imports, anywhere in it, resolved to module names."""
    package_name = root.name
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found, bound = set(), {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package_name:
                    found.add(alias.name)
                    if alias.asname:
                        bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != package_name:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if is_module(submodule, root):
                    found.add(submodule)
                    bound[alias.asname or alias.name] = submodule
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(submodule)  # a private name of the module: reached like a private module
                else:
                    found.add(target)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.split(".")[0] == package_name
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            found.add(node.args[0].value)
    for node in ast.walk(tree):
        # A private module read as an attribute of an imported package: ``lens._runner``.
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            attribute = node.attr
            if attribute.startswith("_") and not attribute.startswith("__"):
                found.add(f"{bound[node.value.id]}.{attribute}")
    found.discard(name)
    return found


def import_graph(root):
    """Each module's imports; a private name read from a module counts as an edge to ``<module>.<name>``."""
    return {module_name(path, root): imported_modules(path, root) for path in sorted(root.rglob("*.py"))}


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


def cycles(graph):
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
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


def upward_edges(graph, rank):
    return sorted(
        f"{importer} -> {target}"
        for importer, targets in graph.items()
        for target in targets
        if rank[unit_of(target)] > rank[unit_of(importer)]
    )


def private_reaches(graph):
    return sorted(
        f"{importer} -> {target}"
        for importer, targets in graph.items()
        for target in targets
        if private_owner(target) is not None
        and not (importer == private_owner(target) or importer.startswith(private_owner(target) + "."))
    )


GRAPH = import_graph(ROOT)


def test_every_module_is_in_a_layer():
    assert {unit_of(name) for name in GRAPH} <= set(RANK), sorted({unit_of(name) for name in GRAPH} - set(RANK))


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_no_upward_imports():
    assert upward_edges(GRAPH, RANK) == []


def test_no_package_imports_another_packages_private_module():
    assert private_reaches(GRAPH) == []


# Each rule on a small package written for the test, with the violation it must find.
@pytest.fixture
def toy(tmp_path):
    def write(files):
        for relative, text in {"toy/__init__.py": "", "toy/low/__init__.py": "", "toy/high/__init__.py": "",
                               **files}.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return import_graph(tmp_path / "toy")

    return write


TOY_RANK = {"low": 0, "high": 1, "": 2}


def test_a_cycle_through_a_function_level_import_is_found(toy):
    graph = toy({"toy/low/_a.py": "from . import _b\n",
                 "toy/low/_b.py": "def f():\n    from ._a import g\n"})
    assert cycles(graph) == [["toy.low._a", "toy.low._b"]]


def test_an_upward_import_is_found_also_through_importlib(toy):
    graph = toy({"toy/low/_a.py": "import importlib\nm = importlib.import_module('toy.high')\n"})
    assert upward_edges(graph, TOY_RANK) == ["toy.low._a -> toy.high"]
    graph = toy({"toy/low/_a.py": "def f():\n    from ..high import thing\n"})
    assert upward_edges(graph, TOY_RANK) == ["toy.low._a -> toy.high"]


@pytest.mark.parametrize("source", [
    "from ..low._b import x\n",
    "from ..low import _b\n",
    "import toy.low._b as b\n",
    "from .. import low\ny = low._b\n",
    "y = __import__('toy.low._b')\n",
])
def test_a_reach_into_another_packages_private_module_is_found(toy, source):
    graph = toy({"toy/low/_b.py": "x = 1\n", "toy/high/_a.py": source})
    assert private_reaches(graph) == ["toy.high._a -> toy.low._b"]


def test_a_private_name_of_another_package_is_found(toy):
    graph = toy({"toy/low/__init__.py": "def _helper():\n    pass\n",
                 "toy/high/_a.py": "from ..low import _helper\nfrom .. import low\ny = low._other\n"})
    assert private_reaches(graph) == ["toy.high._a -> toy.low._helper", "toy.high._a -> toy.low._other"]


def test_a_package_may_use_its_own_private_modules(toy):
    graph = toy({"toy/low/_b.py": "x = 1\n", "toy/low/_c.py": "from ._b import x\n",
                 "toy/low/__init__.py": "from ._c import x\n"})
    assert private_reaches(graph) == [] and upward_edges(graph, TOY_RANK) == [] and cycles(graph) == []
