"""The statistic registry: what each per-layer statistic is, and what the engine must accumulate for it.

Adding a statistic is one entry of :data:`STATISTICS` (and, if it needs a new kind of pass, one method of
:class:`~._kernels.LensStatistics`). Renyi entropies of given orders are statistics named
``entropy_alpha<order>``.
"""

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Statistic:
    """The declaration of one per-layer statistic: everything the engine and the estimators need to know.

    Each entry of :data:`STATISTICS` is one: read it to learn a statistic's raw unit, whether
    ``log_base`` and ``normalize`` convert it, and what it costs the streaming pass (``whole_rows``
    statistics, the top-p sets, need whole rows of logits at once). Adding a statistic is one entry of
    :data:`STATISTICS` (and, if it needs a new kind of pass, one method of the engine's
    ``LensStatistics``). A Renyi entropy of a given order, ``entropy_alpha<order>``, is no entry of its
    own: it takes the declaration of ``"entropy"`` under its own name.

    Parameters
    ----------
    name : str
        Its name in ``statistics=`` and in feature names.
    unit : str
        Unit of its raw values.
    description : str
        One line for documentation and the CLI.
    read : str or None
        The :class:`LensStatistics` method that gives its values; None for a statistic that compares
        layers and is formed across them by the engine (``top_p_overlap``).
    passes : frozenset of str
        What the streaming pass must accumulate for it: ``"normalizer"`` (log-sum-exp),
        ``"final_distribution"`` (the final layer's probabilities, for KL), ``"final_top1"`` (the final
        top-1 token's logit, for ranks), ``"lens_top1"`` (the layer's own top-1 token) and
        ``"top_p_sets"`` (candidate sets, which need whole rows).
    compares_previous_layer : bool
        Block 1's value needs the embedding layer (recorded even when not asked for).
    compares_later_layers : bool
        Formed across the layers after it, up to the final one, by the engine (``top1_settled``).
    final_value : float or None
        Its value at the last block when fixed by definition (the final layer is its own reference);
        None when computed from the model's own distribution.
    first_layer_value : float or None
        Value of the embedding layer when it has no predecessor.
    in_nats : bool
        Measured in nats: ``log_base`` converts it.
    normalizable : bool
        ``normalize=True`` divides it by ``log V``.

    See Also
    --------
    STATISTICS : The registry of statistics.
    feature_unit : The unit of a statistic's features after conversion.
    sklearn_entropylens.EntropyProfileTransformer : Profiles the statistics named in ``statistics``.

    Examples
    --------
    >>> from sklearn_entropylens.lens import STATISTICS
    >>> entropy = STATISTICS["entropy"]
    >>> entropy.unit, entropy.in_nats, entropy.normalizable, sorted(entropy.passes)
    ('nats', True, True, ['normalizer'])
    >>> STATISTICS["final_token_rank"].final_value  # the final layer ranks its own top-1 token first
    1.0
    >>> [name for name, statistic in STATISTICS.items() if statistic.whole_rows]
    ['top_p_size', 'top_p_overlap']
    """

    name: str
    unit: str
    description: str
    read: object = None
    passes: frozenset = frozenset()
    compares_previous_layer: bool = False
    compares_later_layers: bool = False
    final_value: object = None
    first_layer_value: object = None
    in_nats: bool = False
    normalizable: bool = False

    @property
    def whole_rows(self):
        """Whether it needs whole-vocabulary rows of logits at once."""
        return "top_p_sets" in self.passes


#: The statistics the lens can compute, by the name ``statistics=`` accepts: each a
#: :class:`~sklearn_entropylens.lens.Statistic`
#: giving its unit, the passes over the vocabulary it needs, and its value at the last block where that is
#: fixed by definition (KL to the final layer is 0 there).
STATISTICS = {
    statistic.name: statistic
    for statistic in (
        Statistic(
            "entropy", "nats", "Shannon or Renyi entropy (alpha) of the layer's distribution",
            read="entropy", passes=frozenset({"normalizer"}), in_nats=True, normalizable=True,
        ),
        Statistic(
            "kl_to_final", "nats", "KL(final-layer distribution || layer distribution)",
            read="kl_to_final", passes=frozenset({"normalizer", "final_distribution"}), final_value=0.0,
            in_nats=True,
        ),
        Statistic(
            "final_token_rank", "rank, 1 = top", "rank of the final top-1 token in the layer's distribution",
            read="final_token_rank", passes=frozenset({"final_top1"}), final_value=1.0,
        ),
        Statistic(
            "top1_agreement", "share of positions", "1 where the layer's top-1 token is the final one",
            read="top1_agreement", passes=frozenset({"final_top1"}), final_value=1.0,
        ),
        Statistic(
            "top1_settled", "share of positions",
            "1 where the layer's top-1 token is the final one and stays so in every later layer",
            passes=frozenset({"final_top1"}), compares_later_layers=True, final_value=1.0,
        ),
        Statistic(
            "top1_frequency_rank", "frequency rank, 1 = most frequent",
            "frequency rank, in a token-frequency table, of the layer's top-1 token",
            read="top1_frequency_rank", passes=frozenset({"lens_top1"}),
        ),
        Statistic(
            "top_p_size", "tokens", "size of the smallest set of most probable tokens holding top_p",
            read="top_p_size", passes=frozenset({"top_p_sets"}),
        ),
        Statistic(
            "top_p_overlap", "share of the previous set", "|S_l & S_(l-1)| / |S_(l-1)| of those sets",
            passes=frozenset({"top_p_sets"}), compares_previous_layer=True, first_layer_value=1.0,
        ),
    )
}


# Renyi entropies of several orders in one pass: each order is a statistic of its own, named by its order.
_RENYI_PREFIX = "entropy_alpha"


def renyi_statistic(alpha):
    """The name of the entropy of Renyi order ``alpha``: ``entropy_alpha0.5``, ``entropy_alpha1``, ``entropy_alphainf``."""
    return f"{_RENYI_PREFIX}{float(alpha):g}"


def renyi_order(name):
    """The order of a ``renyi_statistic`` name, or None for any other name."""
    if not isinstance(name, str) or not name.startswith(_RENYI_PREFIX):
        return None
    try:
        order = float(name[len(_RENYI_PREFIX):])
    except ValueError:
        return None
    return order if order >= 0 and renyi_statistic(order) == name else None


def declaration(name):
    """The :class:`Statistic` of a name: an entry of :data:`STATISTICS`, or a Renyi entropy of a given order."""
    if name in STATISTICS:
        return STATISTICS[name]
    order = renyi_order(name)
    if order is None:
        raise KeyError(name)
    return replace(STATISTICS["entropy"], name=name, description=f"Renyi entropy of order {order:g}")


def is_statistic(name):
    """Whether ``name`` is a statistic: one of :data:`STATISTICS` or ``entropy_alpha<order>``."""
    return isinstance(name, str) and (name in STATISTICS or renyi_order(name) is not None)


def expand_statistics(statistics, alpha):
    """The statistics computed: with a list of orders, ``"entropy"`` becomes one Renyi entropy per order.

    Examples
    --------
    >>> from sklearn_entropylens.lens._registry import expand_statistics
    >>> expand_statistics(("entropy", "kl_to_final"), (0.5, 1.0, 5.0))
    ('entropy_alpha0.5', 'entropy_alpha1', 'entropy_alpha5', 'kl_to_final')
    """
    if not isinstance(alpha, (list, tuple, np.ndarray)):
        return tuple(statistics)
    alpha = tuple(float(order) for order in alpha)
    if "entropy" not in statistics:
        raise ValueError(f"alpha lists orders of 'entropy', which statistics {list(statistics)} does not include.")
    expanded = []
    for name in statistics:
        if name == "entropy":
            expanded.extend(renyi_statistic(order) for order in alpha)
        else:
            expanded.append(name)
    if len(set(expanded)) != len(expanded):
        raise ValueError(f"statistics name an entropy order twice: {expanded}.")
    return tuple(expanded)


def decision_depth(settled, layers):
    """The first layer of ``layers`` at which ``settled`` (``top1_settled`` values, layers last) is 1.

    Guess-then-Refine's decision depth (arXiv 2510.18871): the first layer from which the lens's top-1
    token is the model's final one and stays so in every later layer. Use it on the raw
    ``top1_settled`` values of a profile (positions and layers last), and divide by the number of
    blocks for a relative depth that compares models. A value counts as settled when it is at least
    0.5. The last layer must be the final one, where ``top1_settled`` is 1 by definition: a row with no
    settled layer at all would get ``layers[0]``.

    Parameters
    ----------
    settled : ndarray of shape (..., n_layers)
        ``top1_settled`` of consecutive layers, ending with the final one (always 1).
    layers : array-like of shape (n_layers,)
        The layer index of each.

    Returns
    -------
    depths : ndarray of shape settled.shape[:-1], int
        The layer index at which each position's top-1 token settles.

    See Also
    --------
    sklearn_entropylens.EntropyProfileTransformer.decision_depths : The same, per prompt and position.
    sklearn_entropylens.experiments.run_guess_then_refine : The experiment that reads decision depths.
    STATISTICS : The statistics, ``top1_settled`` among them.

    Examples
    --------
    >>> from sklearn_entropylens.lens import decision_depth
    >>> decision_depth([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], layers=[1, 2, 3, 4, 5])  # settled from block 3, 1
    array([3, 1])
    """
    settled = np.asarray(settled)
    return np.asarray(layers)[np.argmax(settled >= 0.5, axis=-1)]


def required_passes(statistics):
    """What the streaming pass must accumulate for the named statistics (the union of their ``passes``)."""
    return frozenset().union(*(declaration(name).passes for name in statistics))


def needs_whole_rows(statistics):
    """Whether any of the named statistics needs whole-vocabulary rows (the top-p candidate sets)."""
    return any(declaration(name).whole_rows for name in statistics)


def records_embedding(include_embedding, statistics):
    """Whether the embedding layer is recorded: asked for, or the predecessor of block 1 for a comparison."""
    return include_embedding or any(declaration(name).compares_previous_layer for name in statistics)
