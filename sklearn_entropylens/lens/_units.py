"""Units of the features: nats to another logarithm base, normalisation by ``log V``, axis-label units."""

import math

from ._layout import split_site
from ._registry import declaration, is_statistic


def convert_units(entropy_nats, *, log_base=None, normalize=False, vocab_size=None):
    """Convert entropies from nats to another logarithm base, or normalise them by ``log V``.

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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens.lens import convert_units
    >>> convert_units(np.array([np.log(4.0)]), log_base=2)  # log 4 nats is 2 bits
    array([2.])
    >>> convert_units(np.array([np.log(4.0)]), normalize=True, vocab_size=16)  # log 4 is half of log 16
    array([0.5])
    """
    if normalize:
        return entropy_nats / math.log(vocab_size)
    if log_base is None or log_base == math.e:
        return entropy_nats
    return entropy_nats / math.log(log_base)


def feature_unit(statistic, *, log_base=None, normalize=False):
    """The unit of a statistic's features after :func:`convert_units` (for axis labels).

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

    Examples
    --------
    >>> from sklearn_entropylens.lens import feature_unit
    >>> feature_unit("entropy"), feature_unit("entropy", log_base=2), feature_unit("top_p_size")
    ('nats', 'bits', 'tokens')
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
