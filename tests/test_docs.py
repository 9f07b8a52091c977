"""The API reference has a page for every public name (docs/_api.py writes it from the ``__all__`` lists)."""

import importlib
import pathlib
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
            key = id(obj) if _api._kind(obj) != "data" else (module_name, name)
            assert key in documented, f"{module_name}.{name} has no API page"
    text = (tmp_path / "api.rst").read_text()
    assert all(f"   {page.rpartition('.')[2]}" in text for page in pages)
    assert "sklearn_entropylens.lens" in text and "sklearn_entropylens.models" in text
