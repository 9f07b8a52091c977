"""The feature layout: the one owner of profile feature names, their order, aggregation and site naming.

A :class:`FeatureLayout` says where every feature of a table sits (its statistic, its position or
window, its layer and relative depth). It writes the names (:meth:`FeatureLayout.feature_names`), puts
raw profiles in that order (:meth:`FeatureLayout.aggregate`), and reads a layout back from the names of a
table made elsewhere (:meth:`FeatureLayout.of_table`): the profile transformer, the depth transformers and
the displays all go through it. A quantity read at a sublayer site is named ``<site>_<statistic>``
(:func:`site_statistic`, :func:`split_site`).
"""

import re
from dataclasses import dataclass

import numpy as np

from ._registry import is_statistic
from .._public_names import public_module

_LAYER_NAME = re.compile(r"^(?P<group>.+)_layer(?P<index>\d+)$")
_DEPTH_NAME = re.compile(r"^(?P<group>.+)_depth(?P<index>\d+(?:\.\d+)?)$")
_CELL = re.compile(r"^(?P<statistic>.+?)(?:_(?P<kind>pos|win)(?P<index>\d+))?$")

#: Where the lens reads a block: its output stream (``"block"``), or the output of its attention or MLP
#: sublayer. A statistic read at a sublayer site is named ``<site>_<statistic>`` (``attention_entropy``).
SITES = ("block", "attention", "mlp")


def split_site(name):
    """``(site, statistic)`` of a profiled quantity's name: ``"mlp_kl_to_final"`` -> ``("mlp", "kl_to_final")``."""
    for site in SITES[1:]:
        if name.startswith(site + "_") and is_statistic(name[len(site) + 1 :]):
            return site, name[len(site) + 1 :]
    return "block", name


def site_statistic(site, statistic):
    """The name of ``statistic`` read at ``site``: the statistic itself at the block, ``<site>_<statistic>`` elsewhere."""
    return statistic if site == "block" else f"{site}_{statistic}"


def _statistic_of(group):
    """The statistic a group of features holds, when its name starts with a known statistic."""
    match = _CELL.match(group)
    name = match["statistic"] if match else group
    return name if is_statistic(split_site(name)[1]) else None


@public_module("sklearn_entropylens.lens")
@dataclass(frozen=True, eq=False)
class FeatureLayout:
    """Where each feature of a profile table sits: consecutive groups, one value per layer in each.

    A group is a statistic (``aggregate="mean"``), a statistic at one position (``"concat"``) or in one
    window of positions (an int ``aggregate``); within a group, features run over the same layers.

    Parameters
    ----------
    groups : tuple of str
        Group names, in feature order (for example ``entropy``, ``entropy_pos03``, ``kl_to_final_win1``).
    depths : ndarray of shape (n_layers,)
        Relative depth of each layer of a group, increasing, in [0, 1]: block ``l`` of an ``L``-block
        model at ``l / L``, the embedding layer at 0.
    layers : ndarray of shape (n_layers,) or None
        Layer indices, when known (None for tables that name depths).
    named : bool
        Whether the layout came from a profiler or from feature names (False: from a column count).

    See Also
    --------
    EntropyProfileTransformer : Its fitted ``feature_layout_``.
    DepthRescaler : Reads a table's layout.

    Examples
    --------
    >>> from sklearn_entropylens.lens import FeatureLayout
    >>> layout = FeatureLayout.for_profile(("entropy",), layers=[1, 2, 3, 4], n_blocks=4, aggregate=2, n_tokens=8)
    >>> layout.feature_names()[:2]
    ['entropy_win0_layer01', 'entropy_win0_layer02']
    >>> FeatureLayout.from_names(layout.feature_names()).groups
    ('entropy_win0', 'entropy_win1')
    """

    groups: tuple
    depths: np.ndarray
    layers: object = None
    named: bool = True

    def __eq__(self, other):
        # By value: a loaded or cloned estimator's layout is a copy of the fitted one.
        if not isinstance(other, FeatureLayout):
            return NotImplemented
        same_layers = (self.layers is None) == (other.layers is None) and (
            self.layers is None or np.array_equal(self.layers, other.layers)
        )
        return (
            tuple(self.groups) == tuple(other.groups)
            and np.array_equal(self.depths, other.depths)
            and same_layers
            and self.named == other.named
        )

    def __hash__(self):
        return hash((tuple(self.groups), tuple(np.asarray(self.depths).tolist()), self.named))

    @classmethod
    def for_profile(cls, statistics, *, layers, n_blocks, aggregate, n_tokens):
        """The layout of :class:`EntropyProfileTransformer` features (statistic-major).

        Parameters
        ----------
        statistics : sequence of str
            The profiled quantities, in order (``<site>_<statistic>`` at a sublayer site).
        layers : array-like of int
            The profiled layers.
        n_blocks : int
            The model's number of blocks (relative depth is ``layer / n_blocks``).
        aggregate : {"mean", "concat"} or int
            As the transformer's.
        n_tokens : int
            Profiled positions.

        Returns
        -------
        layout : FeatureLayout
            The layout of the transformer's output.
        """
        layers = np.asarray(layers)
        if aggregate == "mean":
            cells = [""]
        elif aggregate == "concat":
            digits = max(2, len(str(n_tokens - 1)))
            cells = [f"_pos{t:0{digits}d}" for t in range(n_tokens)]
        else:
            digits = len(str(int(aggregate) - 1))
            cells = [f"_win{w:0{digits}d}" for w in range(int(aggregate))]
        groups = tuple(f"{name}{cell}" for name in statistics for cell in cells)
        return cls(groups, layers / n_blocks, layers)

    @classmethod
    def from_names(cls, names):
        """Read the layout from names such as ``entropy_pos03_layer12`` or ``entropy_depth0.500``.

        Parameters
        ----------
        names : sequence of str
            Feature names.

        Returns
        -------
        layout : FeatureLayout or None
            None when the names do not describe whole, consecutive groups of the same layers.
        """
        names = [str(name) for name in names]
        for pattern in (_LAYER_NAME, _DEPTH_NAME):
            matches = [pattern.match(name) for name in names]
            if not all(matches):
                continue
            groups, indices = [], []
            for match in matches:
                if not groups or groups[-1] != match["group"]:
                    groups.append(match["group"])
                if len(groups) == 1:
                    indices.append(match["index"])
            cell = "_layer" if pattern is _LAYER_NAME else "_depth"
            if [f"{group}{cell}{index}" for group in groups for index in indices] != names or len(set(groups)) != len(groups):
                return None
            if pattern is _LAYER_NAME:
                layers = np.asarray([int(index) for index in indices])
                if np.any(np.diff(layers) <= 0) or layers[-1] < 1:
                    return None
                return cls(tuple(groups), layers / layers[-1], layers)
            depths = np.asarray([float(index) for index in indices])
            if np.any(np.diff(depths) <= 0) or depths[0] < 0 or depths[-1] > 1:
                return None
            return cls(tuple(groups), depths)
        return None

    @classmethod
    def of_table(cls, n_features, *, feature_names=None, n_layers=None, what="X"):
        """The layout of a table of profile features made elsewhere: from its names, else a column count.

        Parameters
        ----------
        n_features : int
            Number of columns of the table.
        feature_names : sequence of str or None, default=None
            The table's column names (a DataFrame's columns, a pipeline's ``feature_names_in_``).
        n_layers : int or None, default=None
            Layers per group: when given, the columns are read as consecutive groups of that many layers
            whatever their names; when None, the names are read (or one group of every column).
        what : str, default="X"
            How errors name the table.

        Returns
        -------
        layout : FeatureLayout

        Raises
        ------
        ValueError
            If the names mention layers without forming whole groups of the same layers in order, or the
            columns do not split into groups of ``n_layers``.
        """
        if feature_names is not None and n_layers is None:
            layout = cls.from_names(feature_names)
            if layout is not None:
                if layout.n_features != n_features:
                    raise ValueError(f"{what} names {layout.n_features} features but has {n_features} columns.")
                return layout
            if cls.mentions_layers(feature_names):
                raise ValueError(
                    f"The feature names of {what} mention layers but do not form whole groups of the same "
                    "layers in order; pass n_layers to read the columns as consecutive groups."
                )
        return cls.from_count(n_features, n_layers)

    @staticmethod
    def aggregate(values, aggregate):
        """One statistic's (samples, positions, layers) values as its block of features, in layout order.

        ``"mean"`` averages over positions; ``"concat"`` flattens position-major; an int ``w`` averages
        ``w`` equal windows of consecutive positions, flattened window-major (as the reference does).

        Parameters
        ----------
        values : ndarray of shape (n_samples, n_tokens, n_layers)
            One statistic's values.
        aggregate : {"mean", "concat"} or int
            As the transformer's ``aggregate``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_groups_of_the_statistic * n_layers)
            The statistic's block of features.
        """
        n_samples, n_tokens, n_layers = values.shape
        if aggregate == "mean":
            return values.mean(axis=1)
        if aggregate == "concat":
            return values.reshape(n_samples, n_tokens * n_layers)
        windows = int(aggregate)
        return values.reshape(n_samples, windows, n_tokens // windows, n_layers).mean(axis=2).reshape(n_samples, -1)

    @classmethod
    def from_count(cls, n_features, n_layers):
        """Layout of unnamed features: consecutive groups of blocks ``1 .. n_layers`` (all of them if None).

        Parameters
        ----------
        n_features : int
            Number of columns.
        n_layers : int or None
            Layers per group; None makes one group of every column.

        Returns
        -------
        layout : FeatureLayout
            Groups named ``profile`` (``profile0``, ``profile1``, ... for several).
        """
        if n_layers is None:
            n_layers = n_features
        if n_features % n_layers:
            raise ValueError(f"{n_features} features do not split into groups of n_layers={n_layers} layers.")
        n_groups = n_features // n_layers
        groups = ("profile",) if n_groups == 1 else tuple(f"profile{k}" for k in range(n_groups))
        layers = np.arange(1, n_layers + 1)
        return cls(groups, layers / n_layers, layers, named=False)

    @staticmethod
    def mentions_layers(names):
        """Whether any name looks like a per-layer or per-depth feature name.

        Parameters
        ----------
        names : sequence of str
            Feature names.

        Returns
        -------
        mentions : bool
            True when a name ends in ``_layerLL`` or ``_depthD``.
        """
        return any(_LAYER_NAME.match(str(name)) or _DEPTH_NAME.match(str(name)) for name in names)

    @property
    def n_layers(self):
        return len(self.depths)

    @property
    def n_features(self):
        return len(self.groups) * self.n_layers

    @property
    def statistics(self):
        """The statistic of each group (None for groups not named after one)."""
        return tuple(_statistic_of(group) for group in self.groups)

    def groups_of(self, statistic):
        """Indices of the groups that hold ``statistic``.

        Parameters
        ----------
        statistic : str
            A statistic's name (``<site>_<statistic>`` at a sublayer site).

        Returns
        -------
        indices : list of int
            Group indices, in layout order.
        """
        return [k for k, name in enumerate(self.statistics) if name == statistic]

    def split(self, X):
        """View a table as (samples, groups, layers).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_groups * n_layers)
            Features in this layout.

        Returns
        -------
        view : ndarray of shape (n_samples, n_groups, n_layers)
            A view, not a copy.
        """
        return X.reshape(X.shape[0], len(self.groups), self.n_layers)

    @staticmethod
    def cell_names(layers=None, depths=None):
        """The per-layer part of feature names: ``layerLL`` for layer indices (zero-padded), else ``depthD``.

        Parameters
        ----------
        layers : array-like of int or None, default=None
            Layer indices.
        depths : array-like of float or None, default=None
            Relative depths, used when ``layers`` is None.

        Returns
        -------
        cells : list of str
            One per layer.
        """
        if layers is not None:
            width = max(2, len(str(int(layers[-1]))))
            return [f"layer{int(layer):0{width}d}" for layer in layers]
        return [f"depth{depth:.4f}" for depth in depths]

    def feature_names(self):
        """``<group>_layerLL`` for every group and layer (``<group>_depthD`` without layer indices).

        Returns
        -------
        names : list of str
            In feature order.
        """
        cells = self.cell_names(self.layers, self.depths)
        return [f"{group}_{cell}" for group in self.groups for cell in cells]

    def position_groups(self, statistic):
        """Indices of the groups holding ``statistic`` at one position each (``aggregate="concat"``), by position.

        Parameters
        ----------
        statistic : str
            A statistic's name.

        Returns
        -------
        indices : list of int
            Group indices, in layout order.
        """
        found = []
        for k in self.groups_of(statistic):
            match = _CELL.match(self.groups[k])
            if match and match["kind"] == "pos":
                found.append((int(match["index"]), k))
        return [k for _, k in sorted(found)]
