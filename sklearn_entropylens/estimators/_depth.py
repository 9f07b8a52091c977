"""Depth: resampling profiles onto relative depth, and expansion/pruning features.

A profile transformer's features come in *groups* (a statistic, a window or a position) of one value per
layer, and say so in their names (``entropy_win0_layer07``). Block ``l`` of an ``L``-block model sits at
relative depth ``l / L`` (the embedding layer at 0), so models of different depth compare on a common
grid of relative depths.
"""

import numbers

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline
from scipy.stats import spearmanr, ttest_1samp, wilcoxon
from scipy.stats import t as t_distribution
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from .._param_validation import Checked, Interval, InvalidParameterError, Options, ValidatedParametersMixin
from .._public_names import public_module
from ..lens import FeatureLayout

def _layer_count(n_layers):
    """A checked ``n_layers`` entry as an int (None stays None)."""
    return None if n_layers is None else int(n_layers)


def check_layer_counts(n_layers):
    """Validate a list of per-table ``n_layers``: each None or a positive int."""
    if not isinstance(n_layers, (list, tuple)) or not all(
        value is None or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1)
        for value in n_layers
    ):
        raise InvalidParameterError(
            f"The 'n_layers' parameter of DepthRescaler must be None, a positive int or a list of them (one per "
            f"table); got {n_layers!r}."
        )
    return list(n_layers)


def _is_collection_of_tables(X):
    """A list of 2-D arrays or DataFrames (profiles of several models), as opposed to one table."""
    return (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(isinstance(part, pd.DataFrame) or (isinstance(part, np.ndarray) and part.ndim == 2) for part in X)
    )


def _check_same_groups(layouts, groups, named):
    """Every table has the expected groups: the same names where both are named, else the same count."""
    for layout in layouts:
        if len(layout.groups) != len(groups) or (layout.named and named and list(layout.groups) != list(groups)):
            raise ValueError(f"The feature groups {layout.groups} do not match the groups {list(groups)} seen in fit.")


class _LayoutMixin:
    """Reads the layer layout of one table (validated like any scikit-learn input) or of several."""

    def _validated_tables(self, X, reset):
        """Return a list of (float array, layout), one per table of X."""
        per_table = isinstance(self.n_layers, (list, tuple))
        if not reset and not hasattr(self, "n_features_in_") and not _is_collection_of_tables(X):
            X = [X]  # fitted on several tables: a single one is read the same way, by its own layout
        if _is_collection_of_tables(X):
            if per_table and len(self.n_layers) != len(X):
                raise ValueError(f"n_layers gives {len(self.n_layers)} depths for {len(X)} tables.")
            depths = [_layer_count(n) for n in self.n_layers] if per_table else [_layer_count(self.n_layers)] * len(X)
            if reset:
                for attribute in ("n_features_in_", "feature_names_in_"):
                    if hasattr(self, attribute):
                        delattr(self, attribute)
            tables = []
            for index, part in enumerate(X):
                names = list(part.columns) if isinstance(part, pd.DataFrame) else None
                array = np.asarray(part, dtype=np.float64)
                if array.ndim != 2 or array.shape[0] == 0:
                    raise ValueError(f"Table {index} of X must be a non-empty 2-D array, got shape {array.shape}.")
                if not np.isfinite(array).all():
                    raise ValueError(f"Table {index} of X contains NaN or infinite values.")
                tables.append((array, self._layout(part, names, array.shape[1], depths[index], f"table {index} of X")))
            return tables
        if per_table:
            raise ValueError("A list of n_layers needs X as a list of tables, one per model.")
        n_layers = _layer_count(self.n_layers)
        array = validate_data(self, X, reset=reset, dtype=np.float64)
        names = getattr(self, "feature_names_in_", None)
        return [(array, self._layout(X, names, array.shape[1], n_layers, "X"))]

    @staticmethod
    def _layout(table, names, n_features, n_layers, what):
        """The layout of a table: read from its feature names, else consecutive groups (see FeatureLayout.of_table)."""
        return FeatureLayout.of_table(n_features, feature_names=names, n_layers=n_layers, what=what)


@public_module("sklearn_entropylens")
class DepthRescaler(ValidatedParametersMixin, _LayoutMixin, TransformerMixin, BaseEstimator):
    """Resample layer profiles onto a common grid of relative depth.

    Block ``l`` of an ``L``-block model sits at relative depth ``l / L`` (the embedding layer, when
    present, at 0). Each group of per-layer features (a statistic, a window of positions or a position,
    as laid out by :class:`EntropyProfileTransformer`) is interpolated onto ``n_points`` equally spaced
    depths, so that profiles of models of different depth can be compared, averaged and classified
    together.

    Parameters
    ----------
    n_points : int or None, default=None
        Points of the common grid; None takes the largest number of layers seen in ``fit``. With layers
        ``1 .. L`` the grid is ``k / n_points`` for ``k = 1 .. n_points``; with the embedding layer it
        is ``k / (n_points - 1)`` for ``k = 0 .. n_points - 1``. So ``n_points = L`` reproduces an
        ``L``-layer profile exactly.
    kind : {"linear", "cubic", "pad"}, default="linear"
        ``"linear"``: piecewise-linear interpolation; ``"cubic"``: a not-a-knot cubic spline; both hold
        the end values constant outside the depths a model covers. ``"pad"``: no resampling, the layers
        in order followed by zeros up to ``n_points``, as the reference implementation does before its
        t-SNE; kept for comparison only, since the run of zeros encodes the depth itself.
    n_layers : int, list of int or None, default=None
        Layers per group for input without layer names (NumPy arrays), or a list with one number per
        table when ``X`` is a list of tables; None reads the layout from the feature names
        (``..._layerLL``, as ``EntropyProfileTransformer.get_feature_names_out`` gives them, or
        ``..._depthD``), or, without names, takes each row as one profile of blocks ``1 .. n_features``.

    Attributes
    ----------
    n_points_ : int
        Number of points per group of the output.
    depths_ : ndarray of shape (`n_points_`,)
        The common grid of relative depths (``"pad"``: the slot index).
    groups_ : list of str
        The group prefixes of the output features.
    n_features_in_ : int
        Number of input features, when ``fit`` saw one table.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input feature names, when ``fit`` saw one DataFrame.

    See Also
    --------
    ExpansionPruningTransformer : Expansion and pruning read from the same layout.
    ModelFamilyClassifier : Fingerprints on rescaled profiles.

    Notes
    -----
    ``X`` can also be a list of arrays or DataFrames, each holding the profiles of one model (each
    with its own number of layers); their rows are resampled and stacked in order. The groups of every
    table must match.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens import DepthRescaler
    >>> shallow = np.array([[1.0, 3.0]])            # 2 blocks, at depths 0.5 and 1
    >>> deep = np.array([[0.0, 1.0, 2.0, 3.0]])     # 4 blocks, at depths 0.25 .. 1
    >>> DepthRescaler(n_points=4).fit_transform([shallow, deep])
    array([[1., 1., 2., 3.],
           [0., 1., 2., 3.]])
    """

    _entropylens_constraints = {
        "n_points": [Options(None), Interval(numbers.Integral, 1, None)],
        "kind": [Options("linear", "cubic", "pad")],
        "n_layers": [Options(None), Interval(numbers.Integral, 1, None), Checked(check_layer_counts)],
    }

    def __init__(self, n_points=None, *, kind="linear", n_layers=None):
        self.n_points = n_points
        self.kind = kind
        self.n_layers = n_layers

    def fit(self, X, y=None):
        """Read the layout of X and fix the common grid.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or list of them
            Profiles, one table per model.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted rescaler.
        """
        self._validate_params()
        tables = self._validated_tables(X, reset=True)
        layouts = [layout for _, layout in tables]
        _check_same_groups(layouts, layouts[0].groups, layouts[0].named)
        deepest = max(layout.n_layers for layout in layouts)
        n_points = deepest if self.n_points is None else int(self.n_points)
        if self.kind == "pad" and n_points < deepest:
            raise ValueError(f"kind='pad' needs n_points >= the deepest profile ({deepest} layers), got {n_points}.")
        if self.kind == "cubic" and min(layout.n_layers for layout in layouts) < 2:
            raise ValueError(f"kind='cubic' needs at least 2 layers per profile, got {min(layout.n_layers for layout in layouts)} (1 feature(s) per group).")
        self.n_points_ = n_points
        self.groups_ = list(layouts[0].groups)
        self._groups_named = layouts[0].named
        self._starts_at_embedding = bool(layouts[0].depths[0] == 0)
        if self.kind == "pad":
            self.depths_ = np.arange(1, n_points + 1, dtype=np.float64)
        elif self._starts_at_embedding:
            self.depths_ = np.linspace(0.0, 1.0, n_points) if n_points > 1 else np.ones(1)
        else:
            self.depths_ = np.arange(1, n_points + 1) / n_points
        return self

    def transform(self, X):
        """Resample every group of every profile onto the common grid.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or list of them
            Profiles, one table per model.

        Returns
        -------
        X_new : ndarray of shape (n_samples_total, n_groups * `n_points_`)
            Resampled profiles, group-major; rows of several tables are stacked in order.
        """
        check_is_fitted(self)
        tables = self._validated_tables(X, reset=False)
        _check_same_groups([layout for _, layout in tables], self.groups_, self._groups_named)
        return np.vstack([self._resample(array, layout) for array, layout in tables])

    def _resample(self, array, layout):
        values = layout.split(array)  # (n, groups, layers)
        n_samples, n_groups, n_layers = values.shape
        if self.kind == "pad":
            if n_layers > self.n_points_:
                raise ValueError(f"A profile has {n_layers} layers, more than n_points_={self.n_points_}.")
            out = np.zeros((n_samples, n_groups, self.n_points_))
            out[..., :n_layers] = values
            return out.reshape(n_samples, -1)
        grid = np.clip(self.depths_, layout.depths[0], layout.depths[-1])
        if n_layers == 1:
            out = np.repeat(values, self.n_points_, axis=2)
        elif self.kind == "linear":
            # Interpolate every row at once: locate the grid between consecutive depths.
            right = np.clip(np.searchsorted(layout.depths, grid, side="right"), 1, n_layers - 1)
            left = right - 1
            weight = (grid - layout.depths[left]) / (layout.depths[right] - layout.depths[left])
            out = values[..., left] * (1 - weight) + values[..., right] * weight
        else:
            out = CubicSpline(layout.depths, values, axis=2)(grid)
        return out.reshape(n_samples, -1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``<group>_depthD.DDD`` (``<group>_padKK`` for ``"pad"``).

        Parameters
        ----------
        input_features : None
            Ignored: the layout was read in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Group-major names.
        """
        check_is_fitted(self)
        if self.kind == "pad":
            width = max(2, len(str(self.n_points_)))
            cells = [f"pad{int(k):0{width}d}" for k in self.depths_]
        else:
            cells = FeatureLayout.cell_names(depths=self.depths_)
        return np.asarray([f"{group}_{cell}" for group in self.groups_ for cell in cells], dtype=object)


@public_module("sklearn_entropylens")
class ExpansionPruningTransformer(ValidatedParametersMixin, _LayoutMixin, TransformerMixin, BaseEstimator):
    """Entropy changes across depth: expansion (rises) and pruning (falls) of the candidate set.

    For each group of per-layer values (an entropy profile, a window or a position), the change between
    consecutive layers ``Delta H_l = H_l - H_(l-1)`` reads as expansion when positive (more candidate
    tokens) and pruning when negative (fewer). Summary features locate the strongest of each.

    Parameters
    ----------
    n_layers : int or None, default=None
        Layers per group for input without layer names; None reads the layout from the feature names
        (as :class:`DepthRescaler` does) or takes each row as one profile.
    n_extreme : int, default=1
        How many expansion layers (largest rises) and pruning layers (largest falls) to report.
    features : {"all", "deltas", "summary"}, default="all"
        Output the deltas, the summary, or both (deltas first, per group).

    Attributes
    ----------
    groups_ : list of str
        The group prefixes.
    depths_ : ndarray of shape (n_layers,)
        Relative depth of each input layer of a group.
    layers_ : ndarray of shape (n_layers,) or None
        Layer indices of the input, when its feature names give them.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input feature names, when ``fit`` saw a DataFrame.

    See Also
    --------
    DepthRescaler : Profiles on a common grid of relative depth.
    InterventionScorer : Skips the expansion or pruning layers.

    Notes
    -----
    Per group the summary holds ``total_expansion`` (sum of the positive deltas), ``total_pruning``
    (sum of the magnitudes of the negative ones), ``peak_depth`` (relative depth of the largest value),
    then ``expansion_depth<k>`` and ``pruning_depth<k>``: the relative depth of the layer ending the
    ``k``-th largest rise and fall (a layer with no rise or fall left reports its delta's depth anyway;
    read ``total_*`` to tell). :meth:`expansion_pruning_layers` gives the layer indices themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens import ExpansionPruningTransformer
    >>> profile = np.array([[1.0, 4.0, 5.0, 2.0]])   # blocks 1..4
    >>> ExpansionPruningTransformer(features="summary").fit_transform(profile)
    array([[4.  , 3.  , 0.75, 0.5 , 1.  ]])
    """

    _entropylens_constraints = {
        "n_layers": [Options(None), Interval(numbers.Integral, 1, None)],
        "n_extreme": [Interval(numbers.Integral, 1, None)],
        "features": [Options("all", "deltas", "summary")],
    }

    def __init__(self, n_layers=None, *, n_extreme=1, features="all"):
        self.n_layers = n_layers
        self.n_extreme = n_extreme
        self.features = features

    def fit(self, X, y=None):
        """Read the layout of X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Profiles.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._validate_params()
        (array, layout), = self._validated_tables(X, reset=True)
        if layout.n_layers < 2:
            raise ValueError(
                f"Expansion and pruning need at least 2 layers per profile, got {layout.n_layers} "
                f"(from {array.shape[1]} feature(s))."
            )
        if self.n_extreme > layout.n_layers - 1:
            raise ValueError(f"n_extreme={self.n_extreme} exceeds the {layout.n_layers - 1} layer-to-layer changes.")
        self.groups_ = list(layout.groups)
        self.depths_ = layout.depths
        self.layers_ = layout.layers
        return self

    def _deltas(self, X):
        check_is_fitted(self)
        (array, layout), = self._validated_tables(X, reset=False)
        values = layout.split(array)
        return values, np.diff(values, axis=2)

    def expansion_pruning_layers(self, X):
        """The layers ending the largest rises and falls of each profile.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Profiles.

        Returns
        -------
        layers : dict
            ``"expansion"`` and ``"pruning"``: int arrays of shape (n_samples, n_groups, n_extreme),
            strongest first, holding layer indices (``layers_``; positions ``1 .. L`` without names).
        """
        _, deltas = self._deltas(X)
        index = self.layers_ if self.layers_ is not None else np.arange(1, len(self.depths_) + 1)
        rises = np.argsort(-deltas, axis=2, kind="stable")[..., : self.n_extreme] + 1
        falls = np.argsort(deltas, axis=2, kind="stable")[..., : self.n_extreme] + 1
        return {"expansion": index[rises], "pruning": index[falls]}

    def transform(self, X):
        """Deltas between consecutive layers and expansion/pruning summaries.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Profiles.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            Per group: the deltas (``features`` "all" or "deltas"), then the summary.
        """
        values, deltas = self._deltas(X)
        blocks = []
        if self.features in ("all", "deltas"):
            blocks.append(deltas)
        if self.features in ("all", "summary"):
            later_depths = self.depths_[1:]
            rises = np.argsort(-deltas, axis=2, kind="stable")[..., : self.n_extreme]
            falls = np.argsort(deltas, axis=2, kind="stable")[..., : self.n_extreme]
            blocks += [
                np.clip(deltas, 0, None).sum(axis=2, keepdims=True),
                np.clip(-deltas, 0, None).sum(axis=2, keepdims=True),
                self.depths_[np.argmax(values, axis=2)][..., None],
                later_depths[rises],
                later_depths[falls],
            ]
        return np.concatenate(blocks, axis=2).reshape(values.shape[0], -1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, per group: ``<group>_delta_layerLL`` then the summary names.

        Parameters
        ----------
        input_features : None
            Ignored: the layout was read in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            In the column order of :meth:`transform`.
        """
        check_is_fitted(self)
        layers = None if self.layers_ is None else self.layers_[1:]
        delta_names = [f"delta_{cell}" for cell in FeatureLayout.cell_names(layers, self.depths_[1:])]
        cells = []
        if self.features in ("all", "deltas"):
            cells += delta_names
        if self.features in ("all", "summary"):
            cells += ["total_expansion", "total_pruning", "peak_depth"]
            cells += [f"expansion_depth{k}" for k in range(1, self.n_extreme + 1)]
            cells += [f"pruning_depth{k}" for k in range(1, self.n_extreme + 1)]
        return np.asarray([f"{group}_{cell}" for group in self.groups_ for cell in cells], dtype=object)


def expansion_set_size_correlation(entropy, set_size, *, per_sample=False, confidence=0.95):
    """Spearman correlation between entropy changes and candidate-set size changes across layers.

    The paper's reading of expansion and pruning: where entropy rises from one layer to the next, the
    top-p candidate set should grow, and shrink where it falls. The changes ``Delta H_l`` and
    ``Delta |S_l|`` between consecutive layers are pooled over samples, positions and layer pairs (the
    paper's statistic). Its p-value treats every pair as independent, which pairs of one prompt are
    not (they share the prompt and its continuation), so it is far too small: with ``per_sample=True``
    the correlation is computed within each sample (over its positions and layer pairs) and tested
    across samples, which are independent.

    Parameters
    ----------
    entropy : array-like of shape (..., n_layers)
        Per-layer entropies, for example ``statistic_matrices(X)["entropy"]`` of
        :class:`EntropyProfileTransformer` (samples first).
    set_size : array-like of the same shape
        Per-layer top-p set sizes (``statistic_matrices(X)["top_p_size"]``).
    per_sample : bool, default=False
        Test the per-sample correlations across samples instead of pooling.
    confidence : float, default=0.95
        Level of the interval of the mean per-sample correlation.

    Returns
    -------
    result : scipy.stats.SignificanceResult or Bunch
        Pooled: ``statistic`` is Spearman's rho, ``pvalue`` its two-sided p-value (pairs taken as
        independent). Per sample: a Bunch with ``per_sample`` (rho of each sample; NaN where a sample's
        changes are constant), ``statistic`` (their mean), ``ci_low``, ``ci_high`` (t interval),
        ``pvalue`` (one-sample t-test of the mean against 0), ``wilcoxon_pvalue`` (signed-rank test,
        free of the normality assumption) and ``n_samples`` (samples with a defined rho).

    See Also
    --------
    ExpansionPruningTransformer : Expansion and pruning of entropy profiles.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens import expansion_set_size_correlation
    >>> entropy = np.array([[1.0, 2.0, 1.5, 3.0]])
    >>> sizes = np.array([[3, 10, 6, 40]])
    >>> float(expansion_set_size_correlation(entropy, sizes).statistic)
    1.0
    >>> rng = np.random.default_rng(0)
    >>> entropy = rng.normal(size=(20, 8, 6)).cumsum(-1)
    >>> sizes = np.exp(entropy + rng.normal(scale=0.5, size=entropy.shape))
    >>> result = expansion_set_size_correlation(entropy, sizes, per_sample=True)
    >>> result.n_samples, result.statistic > 0.5, result.pvalue < 1e-6
    (20, True, True)
    """
    entropy, set_size = np.asarray(entropy, dtype=np.float64), np.asarray(set_size, dtype=np.float64)
    if entropy.shape != set_size.shape or entropy.shape[-1] < 2:
        raise ValueError(
            f"entropy and set_size must have the same shape with at least 2 layers, got {entropy.shape} and "
            f"{set_size.shape}."
        )
    entropy_changes, size_changes = np.diff(entropy, axis=-1), np.diff(set_size, axis=-1)
    if not per_sample:
        return spearmanr(entropy_changes.ravel(), size_changes.ravel())
    if entropy.ndim < 2:
        raise ValueError("per_sample=True needs samples along the first axis: shape (n_samples, ..., n_layers).")
    n_samples = entropy.shape[0]
    rhos = np.full(n_samples, np.nan)
    for sample in range(n_samples):
        changes, sizes = entropy_changes[sample].ravel(), size_changes[sample].ravel()
        if np.ptp(changes) > 0 and np.ptp(sizes) > 0:
            rhos[sample] = spearmanr(changes, sizes).statistic
    defined = rhos[np.isfinite(rhos)]
    if len(defined) < 2:
        raise ValueError(f"Only {len(defined)} sample(s) have a defined correlation; the test across samples needs 2.")
    mean, error = float(defined.mean()), float(defined.std(ddof=1) / np.sqrt(len(defined)))
    half_width = float(t_distribution.ppf(0.5 + confidence / 2, len(defined) - 1) * error)
    return Bunch(per_sample=rhos, statistic=mean, ci_low=mean - half_width, ci_high=mean + half_width,
                 pvalue=float(ttest_1samp(defined, 0.0).pvalue), wilcoxon_pvalue=float(wilcoxon(defined).pvalue),
                 n_samples=len(defined))
