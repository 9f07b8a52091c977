"""The API reference has a page for every public name (docs/_api.py writes it from the ``__all__`` lists)."""

import importlib
import pathlib
import pkgutil
import re
import sys

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def test_every_public_name_has_an_api_page(tmp_path):
    sys.path.insert(0, str(DOCS))
    try:
        import _api
    finally:
        sys.path.remove(str(DOCS))
    documented = _api.write(tmp_path / "api.rst")
    pages = set(documented.values())
    for module_name, _ in _api.GROUPS:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            assert _api._key(name, obj) in documented, f"{module_name}.{name} has no API page"
    text = (tmp_path / "api.rst").read_text()
    assert all(f"   {page.rpartition('.')[2]}" in text for page in pages)
    assert "sklearn_entropylens.lens" in text and "sklearn_entropylens.models" in text
    # Each page is written by one of our templates, named as autosummary finds it in templates_path.
    templates = set(re.findall(r":template: (\S+)", text))
    assert templates and all((DOCS / "_templates" / name).is_file() for name in templates), templates


def test_every_public_module_is_in_the_reference():
    sys.path.insert(0, str(DOCS))
    try:
        import _api
    finally:
        sys.path.remove(str(DOCS))
    package = importlib.import_module("sklearn_entropylens")
    public = {f"sklearn_entropylens.{info.name}" for info in pkgutil.iter_modules(package.__path__)
              if not info.name.startswith("_")}
    grouped = {module_name for module_name, _ in _api.GROUPS}
    assert public <= grouped, f"public modules missing from docs/_api.py GROUPS: {sorted(public - grouped)}"
    for module_name in grouped:
        assert hasattr(importlib.import_module(module_name), "__all__"), f"{module_name} has no __all__"
