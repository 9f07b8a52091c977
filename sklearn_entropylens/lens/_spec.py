"""What a profile is made of, validated once: the checks of the parameters that change the numbers."""

import math
import numbers

import numpy as np

from ._layout import SITES
from ._registry import STATISTICS, is_statistic


def check_alpha(alpha):
    """Validate a Renyi order and return it as a float.

    Parameters
    ----------
    alpha : float
        Order of the Renyi entropy: ``1`` for Shannon, any value ``>= 0`` including ``numpy.inf``.

    Returns
    -------
    alpha : float
        The order as a Python float.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number >= 0 (1 for Shannon), got {alpha!r}.")
    alpha = float(alpha)
    if math.isnan(alpha) or alpha < 0:
        raise ValueError(f"alpha must be >= 0 (1 for Shannon, numpy.inf for min-entropy), got {alpha}.")
    return alpha


def check_alphas(alpha):
    """Validate ``alpha``: one Renyi order (a float) or a non-empty list of distinct orders (a tuple)."""
    if isinstance(alpha, (list, tuple, np.ndarray)):
        orders = tuple(check_alpha(order) for order in alpha)
        if not orders or len(set(orders)) != len(orders):
            raise ValueError(f"alpha must be one Renyi order or a non-empty list of distinct orders, got {list(alpha)!r}.")
        return orders
    return check_alpha(alpha)


def check_site_names(sites):
    """Validate a ``sites`` parameter: one name or distinct names among :data:`SITES`; return a tuple."""
    if isinstance(sites, str):
        sites = (sites,)
    if not isinstance(sites, (list, tuple)):
        raise ValueError(f"sites must be a list or tuple of names among {SITES}, got {sites!r}; for example ('block', 'mlp').")
    unknown = [site for site in sites if site not in SITES]
    if unknown or not sites or len(set(sites)) != len(sites):
        raise ValueError(f"sites must be distinct names among {SITES}, got {tuple(sites)!r}.")
    return tuple(sites)


def check_statistics(statistics):
    """Validate the ``statistics`` parameter and return it as a tuple of unique names.

    Parameters
    ----------
    statistics : str or sequence of str
        Names among :data:`STATISTICS`, or ``entropy_alpha<order>`` (a Renyi entropy of that order).

    Returns
    -------
    statistics : tuple of str
        The names, in the order given.
    """
    if isinstance(statistics, str):
        statistics = (statistics,)
    try:
        names = tuple(statistics)
    except TypeError:
        raise TypeError(
            f"statistics must be a name or a list of names among {tuple(STATISTICS)}, got {statistics!r}."
        ) from None
    if not names:
        raise ValueError(f"statistics must name at least one of {tuple(STATISTICS)}.")
    for name in names:
        if not is_statistic(name):
            raise ValueError(f"Unknown statistic {name!r}; choose among {tuple(STATISTICS)} (or 'entropy_alpha<order>').")
    if len(set(names)) != len(names):
        raise ValueError(f"statistics must not repeat a name, got {list(names)}.")
    return names


def check_log_base(log_base):
    """Validate a logarithm base: None (nats) or a finite number > 0 other than 1."""
    if log_base is not None and (
        isinstance(log_base, bool)
        or not isinstance(log_base, numbers.Real)
        or not math.isfinite(log_base)
        or log_base <= 0
        or log_base == 1
    ):
        raise ValueError(f"log_base must be None (nats) or a number > 0 other than 1, got {log_base!r}.")
    return log_base


def check_top_p(top_p):
    """Validate a top-p mass in (0, 1] and return it as a float."""
    if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a probability mass in (0, 1], got {top_p!r}.")
    return float(top_p)
