"""What the displays share: matplotlib kept optional, the layout of a profile table, groups and styling.

matplotlib is an optional dependency (the ``plot`` extra): nothing here imports it at module level.
Every drawing method first calls scikit-learn's ``check_matplotlib_support`` with its own name, then
imports pyplot inside, as scikit-learn's displays do.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ..lens import FeatureLayout, feature_unit

BANDS = ("std", "ci")


def pyplot(caller_name="sklearn_entropylens.plotting.pyplot"):
    """``matplotlib.pyplot``, or scikit-learn's ImportError naming ``caller_name`` when matplotlib is missing.

    For code of this package that draws figures of its own (the experiments, the command line); install
    matplotlib with ``pip install 'sklearn-entropylens[plot]'``.

    Parameters
    ----------
    caller_name : str, default="sklearn_entropylens.plotting.pyplot"
        Who needs matplotlib, for the error message.

    Returns
    -------
    pyplot : module
        ``matplotlib.pyplot``.

    See Also
    --------
    EntropyProfileDisplay : The mean entropy profile of each group over relative depth.
    EntropyHeatmapDisplay : One prompt's statistic over positions and layers.
    sklearn_entropylens.run_experiment : Draws each experiment's figure through it.

    Examples
    --------
    >>> from sklearn_entropylens.plotting import pyplot
    >>> plt = pyplot()
    >>> plt.__name__
    'matplotlib.pyplot'
    """
    check_matplotlib_support(caller_name)
    import matplotlib.pyplot as plt

    return plt


def _axes(ax):
    """``ax``, or the axes of a new figure (call after ``check_matplotlib_support``)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _check_band(band):
    """``band`` is one of :data:`BANDS` or None; a TypeError or ValueError naming ``band`` otherwise."""
    if band is not None and not isinstance(band, str):
        raise TypeError(
            f"band must be one of {BANDS} (a str) or None, got {band!r} of type {type(band).__name__}."
        )
    if band is not None and band not in BANDS:
        raise ValueError(f"band must be one of {BANDS} or None, got {band!r}.")
    return band


def _check_style(name, kwargs):
    """A dict of matplotlib properties or None, checked before any work."""
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict of matplotlib properties or None, got {type(kwargs).__name__}.")
    return kwargs


def _style(name, kwargs, defaults, artist):
    """``defaults`` updated with the user's ``kwargs``, aliases (``lw``, ``c``, ...) resolved for ``artist``."""
    from matplotlib.cbook import normalize_kwargs

    kwargs = _check_style(name, kwargs)
    return {**normalize_kwargs(dict(defaults), artist), **normalize_kwargs(dict(kwargs or {}), artist)}


def _axis_label(statistic, unit=None):
    """``"<statistic> (<unit>)"``; a unit of None is the statistic's raw unit (nats for entropy and KL)."""
    unit = feature_unit(statistic) if unit is None else unit
    name = statistic.replace("_", " ")
    return f"{name} ({unit})" if unit else name


def _profiler_of(estimator):
    """The EntropyProfileTransformer that makes an estimator's features (itself, a pipeline step, ``profiler_``)."""
    from ..estimators import EntropyProfileTransformer

    if isinstance(estimator, EntropyProfileTransformer):
        return estimator
    for _, step in getattr(estimator, "steps", []):
        found = _profiler_of(step)
        if found is not None:
            return found
    return getattr(estimator, "profiler_", None)


def _feature_names(X, feature_names):
    if feature_names is not None:
        return [str(name) for name in feature_names]
    if isinstance(X, pd.DataFrame):
        return [str(name) for name in X.columns]
    return None


def _profile_table(X, *, min_samples=1):
    """``X`` as a finite float64 (samples x features) array, or a clear error."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < min_samples:
        raise ValueError(
            f"Expected a 2-D table of at least {min_samples} profile(s) (samples x features), got shape {X.shape}."
        )
    if not np.isfinite(X).all():
        raise ValueError("The profiles contain NaN or infinite values.")
    return X


def _layout_of(n_features, *, feature_names=None, n_layers=None, layout=None, what="the profiles"):
    """The layout of a table: ``layout`` when given (a profiler's ``feature_layout_``), else
    :meth:`FeatureLayout.of_table` (the names, else consecutive groups of ``n_layers``)."""
    if layout is None:
        return FeatureLayout.of_table(n_features, feature_names=feature_names, n_layers=n_layers, what=what)
    if not isinstance(layout, FeatureLayout):
        raise TypeError(f"layout must be a FeatureLayout (a profiler's feature_layout_) or None, got "
                        f"{type(layout).__name__}.")
    if layout.n_features != n_features:
        raise ValueError(f"The layout describes {layout.n_features} features; {what} have {n_features}.")
    return layout


def _per_layer(X, *, feature_names=None, statistic="entropy", n_layers=None, layout=None):
    """Per-sample, per-layer values of one statistic, averaged over positions or windows.

    Returns ``(values (n_samples, n_layers), depths (n_layers,), layers or None)``.
    """
    names = _feature_names(X, feature_names)
    X = _profile_table(X)
    layout = _layout_of(X.shape[1], feature_names=names, n_layers=n_layers, layout=layout)
    if not layout.named:
        chosen = list(range(len(layout.groups)))
    else:
        chosen = layout.groups_of(statistic)
        if not chosen:
            statistics = sorted({name for name in layout.statistics if name is not None})
            raise ValueError(f"No {statistic!r} features among the profiles; they hold {statistics}.")
    values = layout.split(X)[:, chosen].mean(axis=1)
    return values, layout.depths, layout.layers


def _groups(y, n_samples):
    """Each sample's label and the distinct labels in order of appearance (one group "all" without y)."""
    if y is None:
        return np.full(n_samples, "all", dtype=object), ["all"]
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"y must have one label per profile: {n_samples} profiles, y of shape {y.shape}.")
    labels = list(pd.unique(y))
    return y, labels
