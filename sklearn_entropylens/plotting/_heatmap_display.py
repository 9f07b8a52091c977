"""One prompt's positions x layers of a statistic, with the tokens read along the position axis."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ..lens import readable_token
from ._base import _axes, _axis_label, _check_style, _layout_of, _style


class EntropyHeatmapDisplay:
    """Positions x layers of one prompt's statistic, with the generated tokens along the position axis.

    Build it with :meth:`from_estimator` (a fitted :class:`EntropyProfileTransformer` and one prompt) or
    :meth:`from_profiles` (one row of per-position features); both draw it. Drawing needs matplotlib
    (``pip install 'sklearn-entropylens[plot]'``). All parameters are keywords.

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

    See Also
    --------
    EntropyProfileDisplay : Mean profiles per group.
    ProfileEmbeddingDisplay : Profiles in two dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_entropylens import EntropyHeatmapDisplay
    >>> display = EntropyHeatmapDisplay(values=np.ones((2, 3)), layers=np.arange(1, 4), tokens=["Paris", " is"])
    >>> display.plot().image_.get_array().shape
    (2, 3)
    """

    def __init__(self, *, values, layers, tokens, statistic="entropy", unit=None):
        self.values = values
        self.layers = layers
        self.tokens = tokens
        self.statistic = statistic
        self.unit = unit

    @classmethod
    def from_profiles(cls, profile, *, feature_names=None, layout=None, tokens=None, statistic="entropy", unit=None,
                      ax=None, cmap="viridis", imshow_kwargs=None):
        """Draw one row of per-position features (``aggregate="concat"``) as a heatmap.

        Parameters
        ----------
        profile : array-like of shape (n_features,) or (1, n_features)
            One prompt's features, named ``<statistic>_posTT_layerLL``.
        feature_names : list of str or None, default=None
            Their names (``get_feature_names_out()`` of the profiler), read with
            :meth:`FeatureLayout.of_table`; needed unless ``layout`` is given.
        layout : FeatureLayout or None, default=None
            The layout of the features (the profiler's ``feature_layout_``); read from the names when None.
        tokens : list of str or None, default=None
            The token read at each position; position numbers if None.
        statistic : str, default="entropy"
            Which statistic to draw.
        unit : str or None, default=None
            Unit of the features (the colour bar); None for the statistic's own, ``"bits"`` for a
            profiler with ``log_base=2``.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        cmap : str, default="viridis"
            Colour map.
        imshow_kwargs : dict or None, default=None
            Passed to ``Axes.imshow``, over the defaults.

        Returns
        -------
        display : EntropyHeatmapDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_profiles")
        _check_style("imshow_kwargs", imshow_kwargs)
        profile = np.asarray(profile, dtype=np.float64)
        if profile.ndim == 2 and profile.shape[0] == 1:
            profile = profile[0]
        if profile.ndim != 1:
            raise ValueError(f"Give one prompt's features (a single row), got shape {profile.shape}.")
        names = None if feature_names is None else [str(name) for name in feature_names]
        layout = _layout_of(profile.shape[0], feature_names=names, layout=layout, what="the profile")
        if not layout.named or layout.layers is None:
            raise ValueError("feature_names (or layout) must name positions and layers, as aggregate='concat' does.")
        chosen = layout.position_groups(statistic)
        if not chosen:
            raise ValueError(f"No per-position {statistic!r} features; profile with aggregate='concat'.")
        values = layout.split(profile[None])[0, chosen]
        tokens = [str(t) for t in range(len(chosen))] if tokens is None else list(tokens)
        if len(tokens) != len(chosen):
            raise ValueError(f"{len(tokens)} tokens for {len(chosen)} positions.")
        display = cls(values=values, layers=layout.layers, tokens=tokens, statistic=statistic, unit=unit)
        return display.plot(ax=ax, cmap=cmap, imshow_kwargs=imshow_kwargs)

    @classmethod
    def from_estimator(cls, estimator, prompt, *, statistic="entropy", ax=None, cmap="viridis", imshow_kwargs=None):
        """Profile one prompt with a fitted :class:`EntropyProfileTransformer` and draw its heatmap.

        The values are raw (entropy and KL in nats), whatever the profiler's output units.

        Parameters
        ----------
        estimator : EntropyProfileTransformer
            Fitted.
        prompt : str
            The prompt.
        statistic : str, default="entropy"
            One of the profiler's ``statistics_``, or ``<site>_<statistic>`` for a sublayer site it profiles.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        cmap : str, default="viridis"
            Colour map.
        imshow_kwargs : dict or None, default=None
            Passed to ``Axes.imshow``, over the defaults.

        Returns
        -------
        display : EntropyHeatmapDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_style("imshow_kwargs", imshow_kwargs)
        profiled = estimator.feature_layout_.statistics if hasattr(estimator, "feature_layout_") else (statistic,)
        if statistic not in profiled:
            raise ValueError(
                f"statistic {statistic!r} is not among the profiler's statistics {tuple(dict.fromkeys(profiled))}."
            )
        result = estimator.profile_tokens(prompt)
        display = cls(values=result[statistic][0], layers=result.layers, tokens=result.token_text[0],
                      statistic=statistic)
        return display.plot(ax=ax, cmap=cmap, imshow_kwargs=imshow_kwargs)

    def plot(self, *, ax=None, cmap="viridis", imshow_kwargs=None):
        """Draw the heatmap (positions down, layers across).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        cmap : str, default="viridis"
            Colour map.
        imshow_kwargs : dict or None, default=None
            Passed to ``Axes.imshow``, over the defaults (``aspect="auto"``, ``interpolation="nearest"``,
            ``cmap``).

        Returns
        -------
        display : EntropyHeatmapDisplay
            Itself, with the artists set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.image import AxesImage

        style = _style("imshow_kwargs", imshow_kwargs, {"aspect": "auto", "cmap": cmap, "interpolation": "nearest"},
                       AxesImage)
        ax = _axes(ax)
        self.image_ = ax.imshow(np.asarray(self.values), **style)
        self.colorbar_ = ax.figure.colorbar(self.image_, ax=ax)
        self.colorbar_.set_label(_axis_label(self.statistic, self.unit))
        step = max(1, len(self.layers) // 12)
        ax.set_xticks(np.arange(0, len(self.layers), step), [str(layer) for layer in self.layers[::step]])
        tokens = [readable_token(str(token)) for token in self.tokens]
        ax.set_yticks(np.arange(len(tokens)), tokens, fontsize="small")
        ax.set_xlabel("layer")
        ax.set_ylabel("token read")
        self.ax_, self.figure_ = ax, ax.figure
        return self
