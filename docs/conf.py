"""Sphinx configuration of the sklearn_entropylens documentation.

Build: ``pip install -c constraints.txt -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
"""

import os
import re
import sys
import warnings
from datetime import date

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.abspath(".."))

import numpydoc.validate  # noqa: E402
import sphinx.util.logging  # noqa: E402

import sklearn_entropylens  # noqa: E402

sys.path.insert(0, os.path.abspath("."))
import _api  # noqa: E402

_api.write(os.path.join(os.path.dirname(__file__), "api.rst"))

project = "sklearn_entropylens"
author = "the sklearn_entropylens developers"
copyright = f"{date.today().year}, {author}"
release = sklearn_entropylens.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]

# API reference: one page per public name, generated from the docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# numpydoc's validation of every documented docstring; a failure is a warning, so -W fails the build.
# Excluded, each with its reason:
# - RT02 (a single return value named "x : type"): named return values are this project's style, as
#   scikit-learn's; numpydoc wants the bare type.
# - SS05 (a summary's first word ending in "s" read as a third-person verb): it flags the noun-phrase
#   summaries this project writes ("Names of the output features", "Folds that test on ...", "Minus the
#   mean KL ..."); all 12 it finds are such (checked 2026-12-06).
# - SA01 (See Also), EX01 (Examples), ES01 (extended summary) on methods: as scikit-learn's own docstring
#   test (sklearn/tests/test_docstrings.py), these three are required of every public class and function
#   (checked below, by _validate_classes_and_functions) and not of their methods, whose page is part of
#   their class's page, whose Examples call them.
TOP_LEVEL_CHECKS = {"SA01", "EX01", "ES01"}
numpydoc_validation_checks = {"all", "RT02", "SS05", *TOP_LEVEL_CHECKS}
# Scorer objects made by scikit-learn's make_scorer (their call signature and docstring are scikit-learn's),
# and module constants: numpydoc would validate their type's docstring (str's, tuple's), which is not theirs;
# their pages carry the "#:" comment above their definition instead (_describe_constants, below).
numpydoc_validation_exclude = {r"\.(aurc|prr)_scorer$", r"\.[A-Z][A-Z0-9_]+$"}
_EXCLUDED = re.compile("|".join(numpydoc_validation_exclude))

# No network at build time: cross-references to other projects are written as plain text.
intersphinx_mapping = {}

myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_entropylens {release}"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}

# The gallery: today's examples/. The cheap ones (seconds to a minute on the bundled SmolLM2) run at every
# build, so their output and figures come from the code as it is; the long ones are shown with the output
# of their last recorded run (in their docstrings), not executed.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/(quickstart|sublayer_sites)\.py$",
    "ignore_pattern": r"__init__\.py$|_record\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}

warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")


def _skip_metadata_request_setters(app, what, name, obj, skip, options):
    # scikit-learn generates set_<method>_request for metadata routing; their docstrings refer to
    # scikit-learn's own glossary, and scikit-learn's reference documents them.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def _validate_classes_and_functions(app, what, name, obj, options, lines):
    # numpydoc's own validation (above) skips TOP_LEVEL_CHECKS everywhere; here they are required of every
    # public class, exception and function, so a missing See Also or Examples section fails the -W build.
    if what not in ("class", "exception", "function") or _EXCLUDED.search(name):
        return
    for code, message in numpydoc.validate.validate(name)["errors"]:
        if code in TOP_LEVEL_CHECKS:
            sphinx.util.logging.getLogger(__name__).warning(f"{name}: {code}: {message}")


_CONSTANT_DESCRIPTIONS = _api.constant_descriptions()


def _describe_constants(app, what, name, obj, options, lines):
    if what != "data":
        return
    if name.rpartition(".")[2].isupper():
        lines[:] = _api.describe_constant(name, obj, _CONSTANT_DESCRIPTIONS)
    elif getattr(obj, "__doc__", None) in (None, type(obj).__doc__):  # an instance with its own text keeps it
        raise ValueError(f"{name} is documented as data but has no text of its own")


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_setters)
    app.connect("autodoc-process-docstring", _validate_classes_and_functions)
    app.connect("autodoc-process-docstring", _describe_constants)
