"""Plots in scikit-learn's Display pattern: ``from_estimator``, ``from_profiles``, then ``plot(ax=)``.

Each display keeps the numbers it draws as attributes, draws on a given or new matplotlib axes, and
exposes the artists (``ax_``, ``figure_`` and the lines, bands or points) for further styling.
"""

import numpy as np
import pandas as pd
from scipy import stats

from ..lens import FeatureLayout, feature_unit, readable_token

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


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("Plotting needs matplotlib: pip install matplotlib") from exc
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


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


def _per_layer(X, *, feature_names=None, statistic="entropy", n_layers=None, layout=None):
    """Per-sample, per-layer values of one statistic, averaged over positions or windows.

    The layout is ``layout`` when given (a profiler's ``feature_layout_``), else the one a DataFrame
    carries, else read from the feature names, else consecutive groups of ``n_layers``. Returns ``(values (n_samples, n_layers), depths
    (n_layers,), layers or None)``.
    """
    names = _feature_names(X, feature_names)
    X = _profile_table(X)
    if layout is None:
        layout = FeatureLayout.of_table(X.shape[1], feature_names=names, n_layers=n_layers, what="the profiles")
    if layout.n_features != X.shape[1]:
        raise ValueError(f"The layout describes {layout.n_features} features; the profiles have {X.shape[1]}.")
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


class EntropyProfileDisplay:
    """Mean entropy profile per group over relative depth, with a band and the phases shaded.

    Build it with :meth:`from_profiles` (a table of profile features) or :meth:`from_estimator` (a
    fitted :class:`EntropyProfileTransformer`, or a pipeline ending in one, and prompts).

    Parameters
    ----------
    depths : ndarray of shape (n_layers,)
        Relative depth of each layer, in [0, 1].
    means : ndarray of shape (n_groups, n_layers)
        Mean profile of each group.
    lows, highs : ndarray of shape (n_groups, n_layers)
        The band around each mean.
    labels : list
        The group labels.
    statistic : str, default="entropy"
        The statistic drawn (the y-axis label).
    unit : str or None, default=None
        Its unit on the y-axis; None means the unit of the statistic's raw values (nats for entropy).
    counts : list of int or None, default=None
        Profiles in each group (shown in the legend and the title).
    band_kind : {"std", "ci"} or None, default=None
        What the band is (said in the title): one standard deviation or a confidence interval.
    confidence : float, default=0.95
        Level of a ``"ci"`` band.
    n_tokens : int or None, default=None
        Positions averaged into each profile (said in the title when known).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        Its figure.
    lines_ : list of matplotlib Line2D
        One mean line per group.
    bands_ : list of matplotlib PolyCollection
        One band per group (empty without bands).
    phases_ : list of matplotlib artists
        The shaded expansion (rising) and pruning (falling) spans of the overall mean profile.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_entropylens import EntropyProfileDisplay
    >>> X = np.array([[1.0, 3.0, 2.0], [1.5, 3.5, 2.5], [0.5, 1.0, 2.0]])
    >>> display = EntropyProfileDisplay.from_profiles(X, ["a", "a", "b"])
    >>> display.means.round(2)
    array([[1.25, 3.25, 2.25],
           [0.5 , 1.  , 2.  ]])
    """

    def __init__(self, depths, means, lows, highs, labels, *, statistic="entropy", unit=None, counts=None,
                 band_kind=None, confidence=0.95, n_tokens=None):
        self.depths = depths
        self.means = means
        self.lows = lows
        self.highs = highs
        self.labels = labels
        self.statistic = statistic
        self.unit = unit
        self.counts = counts
        self.band_kind = band_kind
        self.confidence = confidence
        self.n_tokens = n_tokens

    def title(self):
        """What the plot shows in one line: statistic, tokens averaged, profiles and the band."""
        parts = [f"mean {self.statistic.replace('_', ' ')} profile per group"]
        if self.n_tokens:
            parts[0] += f" over {self.n_tokens} tokens"
        if self.counts is not None:
            parts.append(f"{int(np.sum(self.counts))} profiles")
        if self.band_kind == "std":
            parts.append("band: \u00b11 standard deviation")
        elif self.band_kind == "ci":
            parts.append(f"band: {self.confidence:.0%} confidence interval of the mean")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    @classmethod
    def from_profiles(cls, X, y=None, *, feature_names=None, statistic="entropy", n_layers=None, band="std",
                      confidence=0.95, unit=None, n_tokens=None, ax=None, shade_phases=True, feature_layout=None,
                      **kwargs):
        """Plot the mean profile of each label of ``y`` from a table of profile features.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Profile features; named ones (a DataFrame, or ``feature_names``) are read by their layout,
            so windows or positions are averaged and only ``statistic`` is drawn. Unnamed ones are
            groups of ``n_layers`` consecutive layers.
        y : array-like of shape (n_samples,) or None, default=None
            Group labels; None draws one group.
        feature_names : list of str or None, default=None
            Names of the columns of ``X`` (``get_feature_names_out()`` of the profiler).
        statistic : str, default="entropy"
            Which statistic of named features to draw.
        n_layers : int or None, default=None
            Layers per group of unnamed features (all features if None).
        band : {"std", "ci"} or None, default="std"
            The band: one standard deviation, a ``confidence`` interval of the mean, or none.
        confidence : float, default=0.95
            Level of the ``"ci"`` band (Student's t).
        unit : str or None, default=None
            Unit of the features on the y-axis; None for the statistic's own (nats for entropy and
            KL): give ``"bits"`` for features of a profiler with ``log_base=2``.
        n_tokens : int or None, default=None
            Positions averaged into each profile, for the title.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        shade_phases : bool, default=True
            Shade where the overall mean profile rises (expansion) and falls (pruning).
        feature_layout : FeatureLayout or None, default=None
            The layout of ``X`` (a profiler's ``feature_layout_``); read from the names when None.
        **kwargs : dict
            Passed to ``Axes.plot`` for every mean line.

        Returns
        -------
        display : EntropyProfileDisplay
        """
        values, depths, _ = _per_layer(
            X, feature_names=feature_names, statistic=statistic, n_layers=n_layers, layout=feature_layout
        )
        groups, labels = _groups(y, values.shape[0])
        means, lows, highs, counts = [], [], [], []
        for label in labels:
            members = values[groups == label]
            counts.append(len(members))
            mean = members.mean(axis=0)
            if band == "std":
                half = members.std(axis=0, ddof=1) if len(members) > 1 else np.zeros_like(mean)
            elif band == "ci":
                scale = stats.sem(members, axis=0) if len(members) > 1 else np.zeros_like(mean)
                half = scale * stats.t.ppf(0.5 + confidence / 2, max(1, len(members) - 1))
            elif band is None:
                half = np.zeros_like(mean)
            else:
                raise ValueError(f"band must be 'std', 'ci' or None, got {band!r}.")
            means.append(mean)
            lows.append(mean - half)
            highs.append(mean + half)
        display = cls(depths, np.asarray(means), np.asarray(lows), np.asarray(highs), labels, statistic=statistic,
                      unit=unit, counts=counts, band_kind=band, confidence=confidence, n_tokens=n_tokens)
        return display.plot(ax=ax, band=band is not None, shade_phases=shade_phases, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, **kwargs):
        """Profile prompts with a fitted profiler (or pipeline ending in one) and plot them.

        Parameters
        ----------
        estimator : EntropyProfileTransformer or Pipeline
            Fitted; its ``transform`` gives the profiles and ``get_feature_names_out`` their layout.
        X : list of str
            Prompts.
        y : array-like or None, default=None
            Group labels.
        **kwargs : dict
            As in :meth:`from_profiles`; the unit and the number of tokens default to the profiler's.

        Returns
        -------
        display : EntropyProfileDisplay
        """
        profiler = _profiler_of(estimator)
        if profiler is not None:
            statistic = kwargs.get("statistic", "entropy")
            kwargs.setdefault("unit", feature_unit(statistic, log_base=profiler.log_base, normalize=profiler.normalize))
            kwargs.setdefault("n_tokens", profiler.n_tokens)
            final_step = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
            if final_step is profiler:
                kwargs.setdefault("feature_layout", profiler.feature_layout_)
        return cls.from_profiles(estimator.transform(X), y, feature_names=estimator.get_feature_names_out(), **kwargs)

    def plot(self, ax=None, *, band=True, shade_phases=True, **kwargs):
        """Draw the profiles.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        band : bool, default=True
            Draw the bands.
        shade_phases : bool, default=True
            Shade the expansion and pruning spans of the overall mean.
        **kwargs : dict
            Passed to ``Axes.plot``.

        Returns
        -------
        display : EntropyProfileDisplay
            Itself, with the artists set.
        """
        ax = _axes(ax)
        self.phases_ = []
        if shade_phases and len(self.depths) > 1:
            overall = self.means.mean(axis=0)
            labelled = set()
            for k, rising in enumerate(np.diff(overall) > 0):
                colour = "tab:green" if rising else "tab:red"
                phase = "expansion" if rising else "pruning"
                label = None if phase in labelled else phase
                labelled.add(phase)
                self.phases_.append(
                    ax.axvspan(self.depths[k], self.depths[k + 1], color=colour, alpha=0.08, lw=0, label=label)
                )
        self.lines_, self.bands_ = [], []
        counts = self.counts if self.counts is not None else [None] * len(self.labels)
        for mean, low, high, label, count in zip(self.means, self.lows, self.highs, self.labels, counts):
            name = str(label) if count is None else f"{label} (n={count})"
            (line,) = ax.plot(self.depths, mean, marker="o", markersize=3, label=name, **kwargs)
            self.lines_.append(line)
            if band:
                self.bands_.append(ax.fill_between(self.depths, low, high, color=line.get_color(), alpha=0.2, lw=0))
        ax.set_xlabel("relative depth")
        ax.set_ylabel(_axis_label(self.statistic, self.unit))
        ax.set_title(self.title(), fontsize="medium")
        ax.set_xlim(float(self.depths[0]), float(self.depths[-1]))
        if len(self.labels) > 1 or self.phases_:
            ax.legend(loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class EntropyHeatmapDisplay:
    """Positions x layers of one prompt's statistic, with the generated tokens along the position axis.

    Parameters
    ----------
    values : ndarray of shape (n_tokens, n_profile_layers)
        The statistic at each position and layer.
    layers : ndarray of shape (n_profile_layers,)
        Layer indices.
    tokens : list of str
        The token read at each position (the last prompt token, then the generated ones); drawn with
        spaces as a visible space and line breaks, tabs and control characters escaped.
    statistic : str, default="entropy"
        The statistic drawn.
    unit : str or None, default=None
        Unit of the colour bar; None for the statistic's raw unit (nats for entropy and KL).

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Where it is drawn.
    image_ : matplotlib AxesImage
        The heatmap.
    colorbar_ : matplotlib Colorbar
        Its colour bar.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_entropylens import EntropyHeatmapDisplay
    >>> display = EntropyHeatmapDisplay(np.ones((2, 3)), np.arange(1, 4), ["Paris", " is"]).plot()
    >>> display.image_.get_array().shape
    (2, 3)
    """

    def __init__(self, values, layers, tokens, *, statistic="entropy", unit=None):
        self.values = values
        self.layers = layers
        self.tokens = tokens
        self.statistic = statistic
        self.unit = unit

    @classmethod
    def from_profiles(cls, profile, *, feature_names, tokens=None, statistic="entropy", unit=None, ax=None, **kwargs):
        """Draw one row of per-position features (``aggregate="concat"``) as a heatmap.

        Parameters
        ----------
        profile : array-like of shape (n_features,) or (1, n_features)
            One prompt's features, named ``<statistic>_posTT_layerLL``.
        feature_names : list of str
            Their names (``get_feature_names_out()`` of the profiler).
        tokens : list of str or None, default=None
            The token read at each position; position numbers if None.
        statistic : str, default="entropy"
            Which statistic to draw.
        unit : str or None, default=None
            Unit of the features (the colour bar); None for the statistic's own, ``"bits"`` for a
            profiler with ``log_base=2``.
        ax : matplotlib Axes or None, default=None
            Where to draw.
        **kwargs : dict
            Passed to ``Axes.imshow``.

        Returns
        -------
        display : EntropyHeatmapDisplay
        """
        profile = np.asarray(profile, dtype=np.float64)
        if profile.ndim == 2 and profile.shape[0] == 1:
            profile = profile[0]
        if profile.ndim != 1:
            raise ValueError(f"Give one prompt's features (a single row), got shape {profile.shape}.")
        layout = FeatureLayout.from_names(feature_names)
        if layout is None or layout.layers is None:
            raise ValueError("feature_names must name positions and layers, as aggregate='concat' does.")
        chosen = [k for k in layout.groups_of(statistic) if "_pos" in layout.groups[k]]
        if not chosen:
            raise ValueError(f"No per-position {statistic!r} features; profile with aggregate='concat'.")
        values = layout.split(profile[None])[0, chosen]
        tokens = [str(t) for t in range(len(chosen))] if tokens is None else list(tokens)
        if len(tokens) != len(chosen):
            raise ValueError(f"{len(tokens)} tokens for {len(chosen)} positions.")
        return cls(values, layout.layers, tokens, statistic=statistic, unit=unit).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, prompt, *, statistic="entropy", ax=None, **kwargs):
        """Profile one prompt with a fitted :class:`EntropyProfileTransformer` and draw its heatmap.

        Parameters
        ----------
        estimator : EntropyProfileTransformer
            Fitted.
        prompt : str
            The prompt.
        statistic : str, default="entropy"
            One of the profiler's ``statistics_``, or ``<site>_<statistic>`` for a sublayer site it profiles.
        ax : matplotlib Axes or None, default=None
            Where to draw.
        **kwargs : dict
            Passed to ``Axes.imshow``.

        Returns
        -------
        display : EntropyHeatmapDisplay
        """
        profiled = estimator.feature_layout_.statistics if hasattr(estimator, "feature_layout_") else (statistic,)
        if statistic not in profiled:
            raise ValueError(f"statistic {statistic!r} is not among the profiler's statistics {tuple(dict.fromkeys(profiled))}.")
        result = estimator.profile_tokens(prompt)
        # Raw values (the default unit: entropy and KL in nats), whatever the profiler's output units.
        display = cls(result[statistic][0], result.layers, result.token_text[0], statistic=statistic)
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, cmap="viridis", **kwargs):
        """Draw the heatmap (positions down, layers across).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw.
        cmap : str, default="viridis"
            Colour map.
        **kwargs : dict
            Passed to ``Axes.imshow``.

        Returns
        -------
        display : EntropyHeatmapDisplay
        """
        ax = _axes(ax)
        values = np.asarray(self.values)
        self.image_ = ax.imshow(values, aspect="auto", cmap=cmap, interpolation="nearest", **kwargs)
        self.colorbar_ = ax.figure.colorbar(self.image_, ax=ax)
        self.colorbar_.set_label(_axis_label(self.statistic, self.unit))
        step = max(1, len(self.layers) // 12)
        ax.set_xticks(np.arange(0, len(self.layers), step), [str(layer) for layer in self.layers[::step]])
        ax.set_yticks(np.arange(len(self.tokens)), [readable_token(str(token)) for token in self.tokens], fontsize="small")
        ax.set_xlabel("layer")
        ax.set_ylabel("token read")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ProfileEmbeddingDisplay:
    """Profiles in two dimensions (PCA or t-SNE), one colour per label: the paper's family and format maps.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, 2)
        The 2-D coordinates.
    y : ndarray of shape (n_samples,) or None
        Labels.
    method : str, default="pca"
        How the coordinates were made (the axis labels).

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Where it is drawn.
    scatters_ : list of matplotlib PathCollection
        One scatter per label.

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

    def __init__(self, embedding, y=None, *, method="pca"):
        self.embedding = embedding
        self.y = y
        self.method = method

    @classmethod
    def from_profiles(cls, X, y=None, *, method="pca", standardize=True, random_state=0, ax=None, **kwargs):
        """Embed profile features in 2-D and plot them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Profile features (any statistics or aggregation).
        y : array-like of shape (n_samples,) or None, default=None
            Labels for the colours.
        method : {"pca", "tsne"}, default="pca"
            Principal components, or t-SNE (perplexity at most 30, below the number of samples).
        standardize : bool, default=True
            Standardize each feature first.
        random_state : int, default=0
            Seeds t-SNE.
        ax : matplotlib Axes or None, default=None
            Where to draw.
        **kwargs : dict
            Passed to ``Axes.scatter``.

        Returns
        -------
        display : ProfileEmbeddingDisplay
        """
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        from sklearn.preprocessing import StandardScaler

        X = _profile_table(X, min_samples=3)
        if standardize:
            X = StandardScaler().fit_transform(X)
        if method == "pca":
            embedding = PCA(n_components=2).fit_transform(X)
        elif method == "tsne":
            perplexity = min(30.0, (X.shape[0] - 1) / 3)
            embedding = TSNE(n_components=2, perplexity=perplexity, random_state=random_state).fit_transform(X)
        else:
            raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
        if y is not None:
            _groups(y, X.shape[0])
            y = np.asarray(y)
        return cls(embedding, y, method=method).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, **kwargs):
        """Transform prompts with a fitted profiler or pipeline, then embed and plot the result.

        Parameters
        ----------
        estimator : transformer
            Fitted; ``estimator.transform(X)`` gives the profiles.
        X : list of str
            Prompts.
        y : array-like or None, default=None
            Labels.
        **kwargs : dict
            As in :meth:`from_profiles`.

        Returns
        -------
        display : ProfileEmbeddingDisplay
        """
        return cls.from_profiles(estimator.transform(X), y, **kwargs)

    def plot(self, ax=None, **kwargs):
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw.
        **kwargs : dict
            Passed to ``Axes.scatter``.

        Returns
        -------
        display : ProfileEmbeddingDisplay
        """
        ax = _axes(ax)
        groups, labels = _groups(self.y, len(self.embedding))
        self.scatters_ = []
        for label in labels:
            members = self.embedding[groups == label]
            self.scatters_.append(ax.scatter(members[:, 0], members[:, 1], s=14, label=str(label), **kwargs))
        names = {"pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}[self.method]
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if self.y is not None:
            ax.legend(loc="best", fontsize="small", markerscale=1.5)
        self.ax_, self.figure_ = ax, ax.figure
        return self
