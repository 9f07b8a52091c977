"""Units of the features: nats to another logarithm base, normalisation by ``log V``, axis-label units."""

import math

from ._layout import split_site
from ._registry import declaration, is_statistic


def convert_units(entropy_nats, *, log_base=None, normalize=False, vocab_size=None):
    """Convert entropies from nats to another logarithm base, or normalise them by ``log V``.

    The engine records every entropy and KL in nats; this is the conversion the estimators'
    ``log_base`` and ``normalize`` parameters apply to their features. Use it on raw values (those of
    :meth:`EntropyProfileTransformer.statistic_matrices
    <sklearn_entropylens.EntropyProfileTransformer.statistic_matrices>` or of a :class:`ProfileResult`)
    to report them in bits or as a fraction of the maximum entropy ``log V``, the entropy of the uniform
    distribution over the vocabulary. ``normalize`` takes precedence over ``log_base``, and the
    estimators normalise entropies only: a KL has no maximum.

    Parameters
    ----------
    entropy_nats : ndarray
        Entropies in nats.
    log_base : float or None, default=None
        Base of the logarithm; ``None`` (or ``e``) keeps nats, ``2`` gives bits.
    normalize : bool, default=False
        Divide by the maximum entropy ``log V``, giving values in ``[0, 1]`` (independent of the base).
    vocab_size : int or None, default=None
        ``V``; required when ``normalize`` is True.

    Returns
    -------
    entropy : ndarray
        The converted entropies.

    See Also
    --------
    feature_unit : The unit after conversion.
    entropy_from_logits : Entropy, in nats, of next-token logits.
    sklearn_entropylens.EntropyProfileTransformer : Applies it to its features (``log_base``, ``normalize``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens.lens import convert_units
    >>> entropy_nats = np.log(np.array([4.0, 64.0]))  # uniform over 4 and over 64 tokens
    >>> convert_units(entropy_nats, log_base=2).tolist()  # in bits
    [2.0, 6.0]
    >>> convert_units(entropy_nats, normalize=True, vocab_size=64).round(6).tolist()  # fractions of log 64
    [0.333333, 1.0]
    """
    if normalize:
        return entropy_nats / math.log(vocab_size)
    if log_base is None or log_base == math.e:
        return entropy_nats
    return entropy_nats / math.log(log_base)


def feature_unit(statistic, *, log_base=None, normalize=False):
    """The unit of a statistic's features after :func:`convert_units` (for axis labels).

    The displays label their axes with it. Entropies and KL are in nats, bits or another base's units
    depending on ``log_base``; normalised entropies are a fraction of ``log V``; the other statistics
    keep their own unit (a rank, a share of positions, a number of tokens), which the conversion does
    not change. A statistic read at a sublayer site (``mlp_entropy``) has the unit of the statistic
    itself.

    Parameters
    ----------
    statistic : str
        A statistic's name (``<site>_<statistic>`` at a sublayer site).
    log_base : float or None, default=None
        The features' logarithm base; None for nats.
    normalize : bool, default=False
        Whether entropies are divided by ``log V``.

    Returns
    -------
    unit : str
        Empty for a name that is not a statistic.

    See Also
    --------
    convert_units : Converts entropies to those units.
    Statistic : The declaration of a statistic, its raw unit included.
    sklearn_entropylens.EntropyProfileDisplay : Labels its axes with it.

    Examples
    --------
    >>> from sklearn_entropylens.lens import feature_unit
    >>> feature_unit("entropy"), feature_unit("entropy", log_base=2), feature_unit("top_p_size")
    ('nats', 'bits', 'tokens')
    >>> feature_unit("mlp_entropy", normalize=True), feature_unit("kl_to_final", normalize=True)
    ('fraction of log V', 'nats')
    """
    site_free = split_site(statistic)[1]
    if not is_statistic(site_free):
        return ""
    declared = declaration(site_free)
    if declared.normalizable and normalize:
        return "fraction of log V"
    if declared.in_nats and log_base is not None and log_base != math.e:
        return "bits" if log_base == 2 else f"log base {log_base:g}"
    return declared.unit


def convert_statistic(statistic, values_nats, *, log_base=None, normalize=False, vocab_size=None):
    """A statistic's raw values in the units of its features (see :func:`convert_units`), at any site."""
    declared = declaration(split_site(statistic)[1])
    if not declared.in_nats:
        return values_nats
    return convert_units(
        values_nats, log_base=log_base, normalize=normalize and declared.normalizable, vocab_size=vocab_size
    )
