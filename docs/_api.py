"""Write docs/api.rst from the package's ``__all__`` lists: one page per public object, grouped as the package is.

Run by ``conf.py`` at every build, so the reference cannot fall behind the code. An object exported by
several namespaces (the top level re-exports the subpackages' main names) gets one page, under the
first namespace below that exports it; the others list it by that page.
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil

GROUPS = [
    ("sklearn_entropylens", "Estimators, displays and top-level functions"),
    ("sklearn_entropylens.estimators", "Estimators"),
    ("sklearn_entropylens.lens", "The lens engine"),
    ("sklearn_entropylens.models", "Models"),
    ("sklearn_entropylens.datasets", "Datasets"),
    ("sklearn_entropylens.experiments", "Experiments and the evaluation protocol"),
    ("sklearn_entropylens.metrics", "Metrics"),
    ("sklearn_entropylens.plotting", "Plotting"),
    ("sklearn_entropylens.persistence", "Saving and loading"),
    ("sklearn_entropylens.testing", "Tiny models for tests and examples"),
]


def _kind(obj):
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


# A constant whose value prints in more characters than this is shown without its value (its page says
# what it holds); shorter ones, such as a tuple of names, show their value.
LONGEST_VALUE_SHOWN = 400


def _template(obj):
    kind = _kind(obj)
    if kind == "data" and len(repr(obj)) > LONGEST_VALUE_SHOWN:
        return "autosummary/data_no_value.rst"
    return f"autosummary/{kind}.rst"


_TEMPLATE_ORDER = ["autosummary/class.rst", "autosummary/function.rst", "autosummary/data.rst",
                   "autosummary/data_no_value.rst"]


def _key(name, obj):
    # Classes and functions are one object wherever they are exported; a constant is keyed by its name as
    # well, since two constants may be one interned string or small number.
    return id(obj) if _kind(obj) != "data" else (name, id(obj))


def constant_descriptions(package="sklearn_entropylens"):
    """Each public constant's description: the ``#:`` comment above its definition, keyed by (module, name).

    autodoc reads such comments only from the module a page names, so a constant re-exported elsewhere
    (``sklearn_entropylens.DEFAULT_MODEL``) would show its type's docstring (str's); ``conf.py`` puts this
    text on its page instead, found in the module that defines the very object the page documents.
    """
    found = {}
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        lines = inspect.getsource(module).splitlines()
        for node in ast.parse("\n".join(lines)).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    comment, row = [], node.lineno - 2
                    while row >= 0 and lines[row].startswith("#:"):
                        comment.insert(0, lines[row][3:] if lines[row].startswith("#: ") else "")
                        row -= 1
                    if comment:
                        found[info.name, target.id] = comment
    return found


def describe_constant(qualified_name, obj, descriptions):
    """The description of the constant that ``qualified_name`` names: that of the module defining ``obj``.

    Raises ``ValueError`` when no module of the package defines that object with a ``#:`` comment, or when
    several do (two constants of one name and value could then not be told apart).
    """
    name = qualified_name.rpartition(".")[2]
    defining = [module for module, constant in descriptions if constant == name
                and getattr(importlib.import_module(module), name, None) is obj]
    if len(defining) != 1:
        raise ValueError(f"{qualified_name}: {len(defining)} modules define it with a '#:' comment above it "
                         f"({defining}); exactly one must")
    return descriptions[defining[0], name]


def write(path):
    seen, lines = {}, [
        "API reference", "=============", "",
        "Every public name, one page each, generated from the docstrings. An object exported in several",
        "places is documented once; the other places link to its page.", "",
    ]
    for module_name, title in GROUPS:
        module = importlib.import_module(module_name)
        names = list(getattr(module, "__all__", ()))
        lines += [title, "-" * len(title), "", f".. currentmodule:: {module_name}", ""]
        new = {}
        again = []
        for name in sorted(names):
            obj = getattr(module, name)
            key = _key(name, obj)
            if key in seen:
                again.append((name, seen[key]))
                continue
            seen[key] = f"{module_name}.{name}"
            new.setdefault(_template(obj), []).append(name)
        for template in sorted(new, key=_TEMPLATE_ORDER.index):
            lines += [".. autosummary::", "   :toctree: generated", f"   :template: {template}", ""]
            lines += [f"   {name}" for name in new[template]] + [""]
        if again:
            lines += ["Also here: " + ", ".join(f":obj:`{name} <{target}>`" for name, target in again) + ".", ""]
    pathlib.Path(path).write_text("\n".join(lines))
