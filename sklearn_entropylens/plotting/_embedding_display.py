"""Profiles in two dimensions (PCA or t-SNE), one colour per label."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ._base import _axes, _check_style, _groups, _profile_table, _style

_AXIS_NAMES = {"pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}


def _check_method(method):
    if method not in _AXIS_NAMES:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
    return method


class ProfileEmbeddingDisplay:
    """Profiles in two dimensions (PCA or t-SNE), one colour per label: the paper's family and format maps.

    Build it with :meth:`from_profiles` (a table of profile features) or :meth:`from_estimator` (a fitted
    transformer and prompts); both draw it. Drawing needs matplotlib
    (``pip install 'sklearn-entropylens[plot]'``). All parameters are keywords.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, 2)
        The 2-D coordinates.
    y : ndarray of shape (n_samples,) or None, default=None
        Labels.
    method : {"pca", "tsne"}, default="pca"
        How the coordinates were made (the axis labels).

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Where it is drawn.
    scatters_ : list of matplotlib PathCollection
        One scatter per label.

    See Also
    --------
    EntropyProfileDisplay : Mean profiles per group.
    EntropyHeatmapDisplay : One prompt's positions by layers.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_entropylens import ProfileEmbeddingDisplay
    >>> X = np.random.default_rng(0).normal(size=(20, 6))
    >>> display = ProfileEmbeddingDisplay.from_profiles(X, ["a", "b"] * 10)
    >>> display.embedding.shape, len(display.scatters_)
    ((20, 2), 2)
    """

    def __init__(self, *, embedding, y=None, method="pca"):
        self.embedding = embedding
        self.y = y
        self.method = method

    @classmethod
    def from_profiles(cls, X, y=None, *, method="pca", standardize=True, random_state=0, ax=None,
                      scatter_kwargs=None):
        """Embed profile features in 2-D and plot them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Profile features (any statistics or aggregation), at least 3 profiles.
        y : array-like of shape (n_samples,) or None, default=None
            Labels for the colours; None draws one group.
        method : {"pca", "tsne"}, default="pca"
            Principal components, or t-SNE (perplexity at most 30, below the number of samples).
        standardize : bool, default=True
            Standardize each feature first.
        random_state : int, default=0
            Seeds t-SNE.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        scatter_kwargs : dict or None, default=None
            Passed to ``Axes.scatter`` for every label, over the defaults.

        Returns
        -------
        display : ProfileEmbeddingDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_profiles")
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        from sklearn.preprocessing import StandardScaler

        _check_method(method)
        _check_style("scatter_kwargs", scatter_kwargs)
        X = _profile_table(X, min_samples=3)
        if y is not None:
            _groups(y, X.shape[0])
            y = np.asarray(y)
        if standardize:
            X = StandardScaler().fit_transform(X)
        if method == "pca":
            embedding = PCA(n_components=2).fit_transform(X)
        else:
            perplexity = min(30.0, (X.shape[0] - 1) / 3)
            embedding = TSNE(n_components=2, perplexity=perplexity, random_state=random_state).fit_transform(X)
        display = cls(embedding=embedding, y=y, method=method)
        return display.plot(ax=ax, scatter_kwargs=scatter_kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, method="pca", standardize=True, random_state=0, ax=None,
                       scatter_kwargs=None):
        """Transform prompts with a fitted profiler or pipeline, then embed and plot the result.

        Parameters
        ----------
        estimator : transformer
            Fitted; ``estimator.transform(X)`` gives the profiles.
        X : list of str
            Prompts.
        y : array-like of shape (n_samples,) or None, default=None
            Labels.
        method : {"pca", "tsne"}, default="pca"
            As in :meth:`from_profiles`.
        standardize : bool, default=True
            As in :meth:`from_profiles`.
        random_state : int or None, default=0
            As in :meth:`from_profiles`.
        ax : matplotlib Axes or None, default=None
            As in :meth:`from_profiles`.
        scatter_kwargs : dict or None, default=None
            As in :meth:`from_profiles`.

        Returns
        -------
        display : ProfileEmbeddingDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_method(method)
        _check_style("scatter_kwargs", scatter_kwargs)
        return cls.from_profiles(estimator.transform(X), y, method=method, standardize=standardize,
                                 random_state=random_state, ax=ax, scatter_kwargs=scatter_kwargs)

    def plot(self, *, ax=None, scatter_kwargs=None):
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        scatter_kwargs : dict or None, default=None
            Passed to ``Axes.scatter`` for every label, over the defaults (``s=14``, the label).

        Returns
        -------
        display : ProfileEmbeddingDisplay
            Itself, with the artists set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.collections import PathCollection

        names = _AXIS_NAMES[_check_method(self.method)]
        _check_style("scatter_kwargs", scatter_kwargs)
        embedding = np.asarray(self.embedding)
        groups, labels = _groups(self.y, len(embedding))
        ax = _axes(ax)
        self.scatters_ = []
        for label in labels:
            members = embedding[groups == label]
            style = _style("scatter_kwargs", scatter_kwargs, {"s": 14, "label": str(label)}, PathCollection)
            self.scatters_.append(ax.scatter(members[:, 0], members[:, 1], **style))
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if self.y is not None:
            ax.legend(loc="best", fontsize="small", markerscale=1.5)
        self.ax_, self.figure_ = ax, ax.figure
        return self
