"""The data model: a profiling result, and the layout of the features made from it.

A :class:`ProfileResult` is what the engine returns, the cache stores (row by row) and the transformer
aggregates: one float64 array ``values`` of shape (samples, statistics, positions, layers) with the
generated tokens. A :class:`FeatureLayout` says where every feature of a table sits (its statistic, its
position or window, its layer and relative depth); the transformer exposes it as ``feature_layout_``, it
writes the feature names, and it is the one place that reads them back for tables from elsewhere.
"""

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from ._statistics import is_statistic, split_site

_LAYER_NAME = re.compile(r"^(?P<group>.+)_layer(?P<index>\d+)$")
_DEPTH_NAME = re.compile(r"^(?P<group>.+)_depth(?P<index>\d+(?:\.\d+)?)$")
_CELL = re.compile(r"^(?P<statistic>.+?)(?:_(?P<kind>pos|win)(?P<index>\d+))?$")


@dataclass(frozen=True, eq=False)
class ProfileResult:
    """Per-position, per-layer statistics of prompts' continuations.

    Attributes
    ----------
    values : ndarray of shape (n_samples, n_statistics, n_tokens, n_layers)
        Float64 raw statistics (entropies and KL in nats) of layer ``layers[l]`` at position ``t``.
    statistics : tuple of str
        The statistic of each entry of axis 1.
    layers : ndarray of shape (n_layers,)
        Layer indices: 0 is the embedding layer, ``l`` the output of block ``l``.
    tokens : ndarray of shape (n_samples, n_tokens) or None
        The generated token ids (token ``t`` is chosen at position ``t``); None when served from a
        cache, which keeps statistics only.
    prompt_token_ids : list of list of int or None
        The prompts' token ids, when known.
    token_text : list of list of str or None
        Per sample, the text of the token read at each position, when asked for
        (:meth:`EntropyProfileTransformer.profile_tokens`).
    """

    values: np.ndarray
    statistics: tuple
    layers: np.ndarray
    tokens: object = None
    prompt_token_ids: object = None
    token_text: object = None

    def with_token_text(self, token_text):
        """A copy carrying the text of the tokens read at each position."""
        return dataclasses.replace(self, token_text=token_text)

    def __getitem__(self, statistic):
        """The (samples, positions, layers) values of one statistic."""
        if statistic not in self.statistics:
            raise KeyError(f"{statistic!r} is not among the profiled statistics {self.statistics}.")
        return self.values[:, self.statistics.index(statistic)]

    def as_dict(self):
        """``{statistic: (samples, positions, layers) array}``."""
        return {name: self[name] for name in self.statistics}

    def read_tokens(self, sample=0):
        """Token ids read at each position of one sample: the last prompt token, then the generated ones.

        Position 0 reads the last prompt token; position ``t`` the ``t``-th generated token.
        """
        if self.tokens is None or self.prompt_token_ids is None:
            raise ValueError("This result does not carry its tokens (profiles served from a cache do not).")
        return [int(self.prompt_token_ids[sample][-1])] + [int(token) for token in self.tokens[sample][:-1]]


def _statistic_of(group):
    """The statistic a group of features holds, when its name starts with a known statistic."""
    match = _CELL.match(group)
    name = match["statistic"] if match else group
    return name if is_statistic(split_site(name)[1]) else None


@dataclass(frozen=True, eq=False)
class FeatureLayout:
    """Where each feature of a profile table sits: consecutive groups, one value per layer in each.

    A group is a statistic (``aggregate="mean"``), a statistic at one position (``"concat"``) or in one
    window of positions (an int ``aggregate``); within a group, features run over the same layers.

    Attributes
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
        # By value: pandas deep-copies ``attrs``, so the layout a table carries is a copy of the profiler's.
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
        """The layout of :class:`EntropyProfileTransformer` features (statistic-major)."""
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

        Returns None when the names do not describe whole, consecutive groups of the same layers.
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

    def as_dict(self):
        """The layout as plain JSON types: what a DataFrame carries in ``attrs["feature_layout"]``.

        Plain types, so that the table still writes to Parquet (which stores ``attrs`` as JSON).
        """
        return {
            "groups": list(self.groups),
            "depths": [float(depth) for depth in self.depths],
            "layers": None if self.layers is None else [int(layer) for layer in self.layers],
            "named": bool(self.named),
        }

    @classmethod
    def from_dict(cls, fields):
        """The layout :meth:`as_dict` wrote."""
        layers = fields.get("layers")
        return cls(
            groups=tuple(fields["groups"]),
            depths=np.asarray(fields["depths"], dtype=np.float64),
            layers=None if layers is None else np.asarray(layers),
            named=bool(fields.get("named", True)),
        )

    @classmethod
    def carried_by(cls, table, n_features):
        """The layout a DataFrame carries in ``attrs["feature_layout"]`` for its ``n_features`` columns, or None."""
        carried = getattr(table, "attrs", None)
        carried = carried.get("feature_layout") if isinstance(carried, dict) else None
        if isinstance(carried, dict):
            try:
                carried = cls.from_dict(carried)
            except (KeyError, TypeError, ValueError):
                return None
        return carried if isinstance(carried, cls) and carried.n_features == n_features else None

    @classmethod
    def from_count(cls, n_features, n_layers):
        """Layout of unnamed features: consecutive groups of blocks ``1 .. n_layers`` (all of them if None)."""
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
        """Whether any name looks like a per-layer or per-depth feature name."""
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
        """Indices of the groups that hold ``statistic``."""
        return [k for k, name in enumerate(self.statistics) if name == statistic]

    def split(self, X):
        """View X (n_samples, n_groups * n_layers) as (n_samples, n_groups, n_layers)."""
        return X.reshape(X.shape[0], len(self.groups), self.n_layers)

    def feature_names(self):
        """``<group>_layerLL`` for every group and layer (``<group>_depthD`` without layer indices)."""
        if self.layers is None:
            cells = [f"depth{depth:.4f}" for depth in self.depths]
        else:
            width = max(2, len(str(int(self.layers[-1]))))
            cells = [f"layer{int(layer):0{width}d}" for layer in self.layers]
        return [f"{group}_{cell}" for group in self.groups for cell in cells]
