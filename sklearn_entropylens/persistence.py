"""Saving and loading fitted estimators safely with skops.

skops refuses to load any type it was not told to trust; scikit-learn's own types are trusted by
default, the library's are not. :func:`get_trusted_types` lists the library's estimator types, and
:func:`load` trusts exactly those (plus any you review and pass) and refuses anything else.
"""


# scikit-learn types that skops does not trust by default but that the library's default estimators
# hold once fitted: the k-d tree (and its metric) of a fitted KNeighborsClassifier.
_SKLEARN_TYPES_OF_DEFAULTS = [
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
]


def get_trusted_types():
    """Fully qualified names of the types that may appear in a saved estimator of the library.

    These are the library's estimator types, plus the few scikit-learn types that skops does not trust
    by default but that the library's default classifiers hold once fitted (a k-nearest-neighbours
    k-d tree and its metric).

    Returns
    -------
    types : list of str
        Pass them as ``trusted`` to :func:`skops.io.load`.

    Examples
    --------
    >>> from sklearn_entropylens import get_trusted_types
    >>> [name for name in get_trusted_types() if name.startswith("sklearn_entropylens")]  # doctest: +NORMALIZE_WHITESPACE
    ['sklearn_entropylens.estimators._classifiers.CorrectnessClassifier', 'sklearn_entropylens.estimators._classifiers.FormatClassifier',
     'sklearn_entropylens.estimators._classifiers.TaskClassifier', 'sklearn_entropylens.estimators._depth.DepthRescaler',
     'sklearn_entropylens.estimators._depth.ExpansionPruningTransformer', 'sklearn_entropylens.estimators._family.ModelFamilyClassifier',
     'sklearn_entropylens.estimators._intervention.InterventionScorer', 'sklearn_entropylens.estimators._profile.EntropyProfileTransformer',
     'sklearn_entropylens.estimators._tuned_lens.TunedLens', 'sklearn_entropylens.lens._result.FeatureLayout']
    """
    from .estimators import (
        CorrectnessClassifier,
        DepthRescaler,
        EntropyProfileTransformer,
        ExpansionPruningTransformer,
        FormatClassifier,
        InterventionScorer,
        ModelFamilyClassifier,
        TaskClassifier,
        TunedLens,
    )
    from .lens import FeatureLayout

    ours = (
        CorrectnessClassifier, FormatClassifier, TaskClassifier, DepthRescaler, ExpansionPruningTransformer,
        ModelFamilyClassifier, InterventionScorer, EntropyProfileTransformer, FeatureLayout, TunedLens,
    )
    return sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in ours) + _SKLEARN_TYPES_OF_DEFAULTS


def dump(estimator, file):
    """Save a (fitted) estimator or pipeline with :func:`skops.io.dump`; no model weights are written.

    Parameters
    ----------
    estimator : object
        The estimator.
    file : str or path-like
        Destination, conventionally ``*.skops``.
    """
    import skops.io

    skops.io.dump(estimator, file)


def load(file, *, trusted=()):
    """Load an estimator saved with :func:`dump`, trusting only the library's types and ``trusted``.

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
    """
    import skops.io

    allowed = set(get_trusted_types()) | set(trusted)
    unknown = sorted(set(skops.io.get_untrusted_types(file=file)) - allowed)
    if unknown:
        raise _untrusted_types_error(unknown)
    return skops.io.load(file, trusted=sorted(allowed))


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
