"""Saving and loading fitted estimators safely with skops.

skops refuses to load any type it was not told to trust; scikit-learn's own types are trusted by
default, the library's are not. :func:`get_trusted_types` lists the library's types, and :func:`load`
trusts exactly those (plus any you review and pass) and refuses anything else.

Saved files name the library's types by their public paths (``sklearn_entropylens.EntropyProfileTransformer``,
``sklearn_entropylens.lens.FeatureLayout``), which do not change when a private module moves. Files saved
before that (which name private modules such as ``sklearn_entropylens.estimators._profile``) are read by
:func:`load` under the same public names.
"""

import io
import json
import zipfile

__all__ = ["dump", "get_trusted_types", "load"]


# scikit-learn types that skops does not trust by default but that the library's default estimators
# hold once fitted: the k-d tree (and its metric) of a fitted KNeighborsClassifier.
_SKLEARN_TYPES_OF_DEFAULTS = [
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
]


def _library_types():
    """The library's types that a saved estimator may hold, by the public name they are saved under."""
    from . import estimators, lens, models

    types = [getattr(estimators, name) for name in (
        "CorrectnessClassifier", "DepthRescaler", "EntropyProfileTransformer", "ExpansionPruningTransformer",
        "FormatClassifier", "InterventionScorer", "ModelFamilyClassifier", "TaskClassifier", "TunedLens",
    )] + [lens.FeatureLayout, models.ModelSpec]
    return {cls.__qualname__: f"{cls.__module__}.{cls.__qualname__}" for cls in types}


def get_trusted_types():
    """Fully qualified names of the types that may appear in a saved estimator of the library.

    These are the library's estimator types (by their public paths), plus the few scikit-learn types
    that skops does not trust by default but that the library's default classifiers hold once fitted
    (a k-nearest-neighbours k-d tree and its metric).

    Returns
    -------
    types : list of str
        Pass them as ``trusted`` to :func:`skops.io.load`.

    See Also
    --------
    dump, load : Save and load estimators with skops.

    Examples
    --------
    >>> from sklearn_entropylens import get_trusted_types
    >>> [name for name in get_trusted_types() if name.startswith("sklearn_entropylens")][:3]
    ['sklearn_entropylens.CorrectnessClassifier', 'sklearn_entropylens.DepthRescaler', 'sklearn_entropylens.EntropyProfileTransformer']
    """
    return sorted(_library_types().values()) + _SKLEARN_TYPES_OF_DEFAULTS


# Where the library's types lived before they were saved under their public names: the exact paths that
# files saved by earlier versions name (0.1.0.dev0 up to 2026-12-06), each read as the public type.
_EARLIER_PATHS = {
    "sklearn_entropylens.estimators._classifiers.CorrectnessClassifier": "CorrectnessClassifier",
    "sklearn_entropylens.estimators._classifiers.FormatClassifier": "FormatClassifier",
    "sklearn_entropylens.estimators._classifiers.TaskClassifier": "TaskClassifier",
    "sklearn_entropylens.estimators._depth.DepthRescaler": "DepthRescaler",
    "sklearn_entropylens.estimators._depth.ExpansionPruningTransformer": "ExpansionPruningTransformer",
    "sklearn_entropylens.estimators._family.ModelFamilyClassifier": "ModelFamilyClassifier",
    "sklearn_entropylens.estimators._intervention.InterventionScorer": "InterventionScorer",
    "sklearn_entropylens.estimators._profile.EntropyProfileTransformer": "EntropyProfileTransformer",
    "sklearn_entropylens.estimators._tuned_lens.TunedLens": "TunedLens",
    "sklearn_entropylens.lens._result.FeatureLayout": "FeatureLayout",
}


def _public_type_names(data):
    """A saved file's bytes with each earlier private path of a library type replaced by its public name.

    Only the exact paths of :data:`_EARLIER_PATHS` are renamed, before the trust check, so a type of
    anyone else's (even one with the same class name) is never taken for the library's.
    """
    public = _library_types()
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))

    def rename(node):
        if isinstance(node, dict):
            earlier = f"{node.get('__module__')}.{node.get('__class__')}"
            if earlier in _EARLIER_PATHS:
                node["__module__"] = public[_EARLIER_PATHS[earlier]].rpartition(".")[0]
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    rename(schema)
    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = json.dumps(schema, indent=2).encode() if item.filename == "schema.json" else source.read(item)
            target.writestr(item, content)
    return renamed.getvalue()


def dump(estimator, file):
    """Save a (fitted) estimator or pipeline with :func:`skops.io.dump`; no model weights are written.

    Use it to keep a fitted pipeline (a profile transformer and the classifier after it) and read it
    back with :func:`load`, which builds only types it trusts, where unpickling can run any code. A
    model-backed estimator is saved with its model's identifier and resolved revision, not its weights:
    using it after loading needs that model at that revision (a bundled or hub model, a local directory,
    or a name registered again with :func:`register_model` in the loading process); a profile
    transformer refuses another revision. The library's types are saved under their public paths, so
    files stay loadable when private modules move.

    Parameters
    ----------
    estimator : object
        The estimator.
    file : str or path-like
        Destination, conventionally ``*.skops``.

    See Also
    --------
    load : Loads a saved estimator, trusting the library's types.
    get_trusted_types : The types a saved estimator may hold.
    skops.io.dump : The function it calls.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sklearn_entropylens import DepthRescaler, dump, load
    >>> rescaler = DepthRescaler(n_points=5).fit(np.random.default_rng(0).normal(size=(4, 30)))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rescaler.skops"
    >>> dump(rescaler, path)
    >>> load(path).depths_
    array([0.2, 0.4, 0.6, 0.8, 1. ])
    """
    import skops.io

    skops.io.dump(estimator, file)


def load(file, *, trusted=()):
    """Load an estimator saved with :func:`dump`, trusting only the library's types and ``trusted``.

    skops refuses any type it was not told to trust; this trusts the library's own types and the
    scikit-learn types its default estimators hold (:func:`get_trusted_types`), and refuses a file that
    holds anything else, naming the types to review. Pass the names you have reviewed as ``trusted``.
    Files saved by earlier versions, which name the library's types by their private modules, are read
    under the public names. No model is loaded here: a model-backed estimator loads its model on first
    use, so that model must be available then (a name given to :func:`register_model` must be
    registered again in the loading process).

    Parameters
    ----------
    file : str or path-like
        A ``.skops`` file.
    trusted : sequence of str, default=()
        Further type names you have reviewed (for example your own ``FunctionTransformer`` functions).

    Returns
    -------
    estimator : object
        The loaded estimator; its model is loaded from the per-process cache on first use.

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        If the file holds types that are neither the library's nor in ``trusted``.

    See Also
    --------
    dump : Saves an estimator.
    get_trusted_types : The types trusted by default.
    skops.io.load : The function it calls.

    Examples
    --------
    A pipeline whose first step applies :func:`operator.neg`, a function skops does not trust:

    >>> import operator, pathlib, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_entropylens import DepthRescaler, dump, load
    >>> X = np.random.default_rng(0).normal(size=(4, 30))
    >>> pipeline = make_pipeline(FunctionTransformer(operator.neg), DepthRescaler(n_points=5)).fit(X)
    >>> directory = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(directory.name) / "pipeline.skops"
    >>> dump(pipeline, path)
    >>> load(path)
    Traceback (most recent call last):
    ...
    skops.io.exceptions.UntrustedTypesFoundException: Untrusted types found in the file: ['_operator.neg']. ...
    >>> loaded = load(path, trusted=["_operator.neg"])
    >>> loaded.transform(X).shape, bool(np.array_equal(loaded.transform(X), pipeline.transform(X)))
    ((4, 5), True)
    >>> directory.cleanup()
    """
    import skops.io

    with open(file, "rb") as stream:
        data = _public_type_names(stream.read())
    allowed = set(get_trusted_types()) | set(trusted)
    unknown = sorted(set(skops.io.get_untrusted_types(data=data)) - allowed)
    if unknown:
        raise _untrusted_types_error(unknown)
    return skops.io.loads(data, trusted=sorted(allowed))


def _untrusted_types_error(unknown):
    """skops' exception, with a message that says what to review and how to pass it."""
    from skops.io.exceptions import UntrustedTypesFoundException

    error = UntrustedTypesFoundException(unknown)
    error.args = (
        f"Untrusted types found in the file: {unknown}. They are not the library's (get_trusted_types() lists "
        "those): review each, and if you trust it, pass it as load(file, trusted=[...]) (with skops directly: "
        "skops.io.load(file, trusted=get_trusted_types() + [...])).",
    )
    return error
