"""Classes named by the public path users import them from, not by the private module that defines them.

Saved artifacts (skops, pickle) record a class by ``__module__`` and ``__qualname__``. Naming our public
classes by their public path (as numpy and pandas do) keeps every file saved from now on loadable when a
private module is moved or split; :mod:`sklearn_entropylens.persistence` maps the private paths written
by earlier versions onto the same public names.
"""


def public_module(module):
    """Class decorator: record the class under ``module`` (a public package that re-exports it)."""

    def rename(cls):
        cls.__module__ = module
        return cls

    return rename
