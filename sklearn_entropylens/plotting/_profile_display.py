"""The mean entropy profile of each group over relative depth, with a band and the phases shaded."""

import numpy as np
from scipy import stats
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ..lens import feature_unit
from ._base import _axes, _axis_label, _check_band, _check_style, _groups, _per_layer, _profiler_of, _style


class EntropyProfileDisplay:
    """Mean entropy profile per group over relative depth, with a band and the phases shaded.

    Build it with :meth:`from_profiles` (a table of profile features) or :meth:`from_estimator` (a
    fitted :class:`EntropyProfileTransformer`, or a pipeline ending in one, and prompts); both draw it.
    Drawing needs matplotlib (``pip install 'sklearn-entropylens[plot]'``). All parameters are keywords.

    Parameters
    ----------
    depths : ndarray of shape (n_layers,)
        Relative depth of each layer, in [0, 1].
    means : ndarray of shape (n_groups, n_layers)
        Mean profile of each group.
    labels : list
        The group labels.
    lows, highs : ndarray of shape (n_groups, n_layers) or None, default=None
        The band around each mean; needed unless ``band`` is None.
    band : {"std", "ci"} or None, default=None
        What the band around each mean is, everywhere in this class: ``"std"`` one standard deviation of
        the group's profiles, ``"ci"`` a ``confidence`` interval of the group's mean (Student's t), None no
        band. A str or None: anything else raises a TypeError, an unknown name a ValueError.
    confidence : float, default=0.95
        Level of a ``"ci"`` band.
    statistic : str, default="entropy"
        The statistic drawn (the y-axis label).
    unit : str or None, default=None
        Its unit on the y-axis; None means the unit of the statistic's raw values (nats for entropy).
    counts : list of int or None, default=None
        Profiles in each group (shown in the legend and the title).
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
        One band per group (empty when ``band`` is None).
    phases_ : list of matplotlib artists
        The shaded expansion (rising) and pruning (falling) spans of the overall mean profile.

    See Also
    --------
    EntropyHeatmapDisplay : One prompt's positions by layers.
    ProfileEmbeddingDisplay : Profiles in two dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_entropylens import EntropyProfileDisplay
    >>> X = np.array([[1.0, 3.0, 2.0], [1.5, 3.5, 2.5], [0.5, 1.0, 2.0]])
    >>> display = EntropyProfileDisplay.from_profiles(X, ["a", "a", "b"], band="std")
    >>> display.means.round(2)
    array([[1.25, 3.25, 2.25],
           [0.5 , 1.  , 2.  ]])
    >>> display.band, len(display.bands_)
    ('std', 2)
    """

    def __init__(self, *, depths, means, labels, lows=None, highs=None, band=None, confidence=0.95,
                 statistic="entropy", unit=None, counts=None, n_tokens=None):
        self.depths = depths
        self.means = means
        self.labels = labels
        self.lows = lows
        self.highs = highs
        self.band = _check_band(band)
        self.confidence = confidence
        self.statistic = statistic
        self.unit = unit
        self.counts = counts
        self.n_tokens = n_tokens

    def title(self):
        """What the plot shows in one line: statistic, tokens averaged, profiles and the band.

        Returns
        -------
        title : str
            One line, for the axes' title.
        """
        parts = [f"mean {self.statistic.replace('_', ' ')} profile per group"]
        if self.n_tokens:
            parts[0] += f" over {self.n_tokens} tokens"
        if self.counts is not None:
            parts.append(f"{int(np.sum(self.counts))} profiles")
        if self.band == "std":
            parts.append("band: \u00b11 standard deviation")
        elif self.band == "ci":
            parts.append(f"band: {self.confidence:.0%} confidence interval of the mean")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    @classmethod
    def from_profiles(cls, X, y=None, *, feature_names=None, layout=None, n_layers=None, statistic="entropy",
                      band="std", confidence=0.95, unit=None, n_tokens=None, ax=None, shade_phases=True,
                      line_kwargs=None, band_kwargs=None):
        """Plot the mean profile of each label of ``y`` from a table of profile features.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Profile features, laid out as ``layout`` says, else as
            :meth:`FeatureLayout.of_table` reads them: named ones (a DataFrame, or ``feature_names``) by
            their names, so windows or positions are averaged and only ``statistic`` is drawn; unnamed
            ones as groups of ``n_layers`` consecutive layers.
        y : array-like of shape (n_samples,) or None, default=None
            Group labels; None draws one group.
        feature_names : list of str or None, default=None
            Names of the columns of ``X`` (``get_feature_names_out()`` of the profiler).
        layout : FeatureLayout or None, default=None
            The layout of ``X`` (a profiler's ``feature_layout_``); read from the names when None.
        n_layers : int or None, default=None
            Layers per group of unnamed features (all features if None).
        statistic : str, default="entropy"
            Which statistic of named features to draw.
        band : {"std", "ci"} or None, default="std"
            The band around each mean: one standard deviation, a ``confidence`` interval of the mean, or
            none.
        confidence : float, default=0.95
            Level of the ``"ci"`` band (Student's t), in (0, 1).
        unit : str or None, default=None
            Unit of the features on the y-axis; None for the statistic's own (nats for entropy and
            KL): give ``"bits"`` for features of a profiler with ``log_base=2``.
        n_tokens : int or None, default=None
            Positions averaged into each profile, for the title.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        shade_phases : bool, default=True
            Shade where the overall mean profile rises (expansion) and falls (pruning).
        line_kwargs : dict or None, default=None
            Passed to ``Axes.plot`` for every mean line, over the defaults.
        band_kwargs : dict or None, default=None
            Passed to ``Axes.fill_between`` for every band, over the defaults.

        Returns
        -------
        display : EntropyProfileDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_profiles")
        _check_band(band)
        _check_style("line_kwargs", line_kwargs)
        _check_style("band_kwargs", band_kwargs)
        if band == "ci" and not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
        values, depths, _ = _per_layer(
            X, feature_names=feature_names, statistic=statistic, n_layers=n_layers, layout=layout
        )
        groups, labels = _groups(y, values.shape[0])
        means, lows, highs, counts = [], [], [], []
        for label in labels:
            members = values[groups == label]
            counts.append(len(members))
            mean = members.mean(axis=0)
            means.append(mean)
            if band is None:
                continue
            if len(members) < 2:
                half = np.zeros_like(mean)
            elif band == "std":
                half = members.std(axis=0, ddof=1)
            else:
                half = stats.sem(members, axis=0) * stats.t.ppf(0.5 + confidence / 2, len(members) - 1)
            lows.append(mean - half)
            highs.append(mean + half)
        display = cls(
            depths=depths, means=np.asarray(means), labels=labels,
            lows=None if band is None else np.asarray(lows), highs=None if band is None else np.asarray(highs),
            band=band, confidence=confidence, statistic=statistic, unit=unit, counts=counts, n_tokens=n_tokens,
        )
        return display.plot(ax=ax, shade_phases=shade_phases, line_kwargs=line_kwargs, band_kwargs=band_kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, statistic="entropy", band="std", confidence=0.95, unit=None,
                       n_tokens=None, ax=None, shade_phases=True, line_kwargs=None, band_kwargs=None):
        """Profile prompts with a fitted profiler (or pipeline ending in one) and plot them.

        The profiles are ``estimator.transform(X)``, named by ``estimator.get_feature_names_out()``; when
        the estimator is the profiler (or a pipeline whose last step it is) they are read with its
        ``feature_layout_``.

        Parameters
        ----------
        estimator : EntropyProfileTransformer or Pipeline
            Fitted; its ``transform`` gives the profiles and ``get_feature_names_out`` their names.
        X : list of str
            Prompts.
        y : array-like of shape (n_samples,) or None, default=None
            Group labels; None draws one group.
        statistic : str, default="entropy"
            Which statistic to draw.
        band : {"std", "ci"} or None, default="std"
            The band around each mean, as in :meth:`from_profiles`.
        confidence : float, default=0.95
            Level of the ``"ci"`` band.
        unit : str or None, default=None
            Unit on the y-axis; None for the profiler's (bits with ``log_base=2``).
        n_tokens : int or None, default=None
            Positions averaged, for the title; None for the profiler's ``n_tokens``.
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        shade_phases : bool, default=True
            Shade the expansion and pruning spans of the overall mean.
        line_kwargs, band_kwargs : dict or None, default=None
            As in :meth:`from_profiles`.

        Returns
        -------
        display : EntropyProfileDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_band(band)
        _check_style("line_kwargs", line_kwargs)
        _check_style("band_kwargs", band_kwargs)
        layout = None
        profiler = _profiler_of(estimator)
        if profiler is not None:
            if unit is None:
                unit = feature_unit(statistic, log_base=profiler.log_base, normalize=profiler.normalize)
            if n_tokens is None:
                n_tokens = profiler.n_tokens
            final_step = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
            if final_step is profiler:
                layout = profiler.feature_layout_
        return cls.from_profiles(
            estimator.transform(X), y, feature_names=estimator.get_feature_names_out(), layout=layout,
            statistic=statistic, band=band, confidence=confidence, unit=unit, n_tokens=n_tokens, ax=ax,
            shade_phases=shade_phases, line_kwargs=line_kwargs, band_kwargs=band_kwargs,
        )

    def plot(self, *, ax=None, shade_phases=True, line_kwargs=None, band_kwargs=None):
        """Draw the mean profiles, and their bands unless ``band`` is None.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; a new figure if None.
        shade_phases : bool, default=True
            Shade the expansion and pruning spans of the overall mean.
        line_kwargs : dict or None, default=None
            Passed to ``Axes.plot`` for every mean line, over the defaults (a marker, the group's label).
        band_kwargs : dict or None, default=None
            Passed to ``Axes.fill_between`` for every band, over the defaults (the line's colour,
            ``alpha=0.2``).

        Returns
        -------
        display : EntropyProfileDisplay
            Itself, with the artists set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D

        _check_band(self.band)
        _check_style("line_kwargs", line_kwargs)
        _check_style("band_kwargs", band_kwargs)
        if self.band is not None and (self.lows is None or self.highs is None):
            raise ValueError(f"A band={self.band!r} display needs lows and highs; give them, or band=None.")
        ax = _axes(ax)
        self.phases_ = []
        if shade_phases and len(self.depths) > 1:
            overall = np.asarray(self.means).mean(axis=0)
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
        lows = self.lows if self.band is not None else [None] * len(self.labels)
        highs = self.highs if self.band is not None else [None] * len(self.labels)
        for mean, low, high, label, count in zip(self.means, lows, highs, self.labels, counts):
            name = str(label) if count is None else f"{label} (n={count})"
            style = _style("line_kwargs", line_kwargs, {"marker": "o", "markersize": 3, "label": name}, Line2D)
            (line,) = ax.plot(self.depths, mean, **style)
            self.lines_.append(line)
            if self.band is not None:
                style = _style("band_kwargs", band_kwargs, {"color": line.get_color(), "alpha": 0.2, "linewidth": 0},
                               PolyCollection)
                self.bands_.append(ax.fill_between(self.depths, low, high, **style))
        ax.set_xlabel("relative depth")
        ax.set_ylabel(_axis_label(self.statistic, self.unit))
        ax.set_title(self.title(), fontsize="medium")
        ax.set_xlim(float(self.depths[0]), float(self.depths[-1]))
        if len(self.labels) > 1 or self.phases_:
            ax.legend(loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

