"""The API reference has a page for every public name (docs/_api.py writes it from the ``__all__`` lists)."""

import importlib
import pathlib
import pkgutil
import re
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def api():
    sys.path.insert(0, str(DOCS))
    try:
        import _api
    finally:
        sys.path.remove(str(DOCS))
    return _api


def _reference_sections(text):
    """Per module section of api.rst: the names with a page there, and the names linked to a page elsewhere."""
    sections = {}
    for module_name, body in re.findall(r"\.\. currentmodule:: (\S+)\n(.*?)(?=\n[^\n]+\n-+\n|\Z)", text, re.S):
        pages = set(re.findall(r"^   (\w+)$", body, re.M))
        links = dict(re.findall(r":obj:`(\w+) <([\w.]+)>`", body))
        sections[module_name] = pages, links
    return sections


def test_every_public_name_has_an_api_page(api, tmp_path):
    api.write(tmp_path / "api.rst")
    text = (tmp_path / "api.rst").read_text()
    sections = _reference_sections(text)
    all_pages = {f"{module_name}.{name}" for module_name, (pages, _) in sections.items() for name in pages}
    for module_name, _ in api.GROUPS:
        pages, links = sections[module_name]
        for name in importlib.import_module(module_name).__all__:
            assert name in pages or links.get(name) in all_pages, f"{module_name}.{name} has no API page"
    # Each page is written by one of our templates, named as autosummary finds it in templates_path.
    templates = set(re.findall(r":template: (\S+)", text))
    assert templates and all((DOCS / "_templates" / name).is_file() for name in templates), templates
    assert re.search(r'^templates_path = \["_templates"\]$', (DOCS / "conf.py").read_text(), re.M)


def test_every_public_module_is_in_the_reference(api):
    package = importlib.import_module("sklearn_entropylens")
    public = {info.name for info in pkgutil.walk_packages(package.__path__, "sklearn_entropylens.")
              if not any(part.startswith("_") for part in info.name.split("."))}
    grouped = {module_name for module_name, _ in api.GROUPS}
    assert public <= grouped, f"public modules missing from docs/_api.py GROUPS: {sorted(public - grouped)}"
    for module_name in grouped:
        assert hasattr(importlib.import_module(module_name), "__all__"), f"{module_name} has no __all__"


def test_every_public_constant_says_what_it_holds(api):
    descriptions = api.constant_descriptions()
    for module_name, _ in api.GROUPS:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.isupper():
                assert api.describe_constant(f"{module_name}.{name}", getattr(module, name), descriptions)
