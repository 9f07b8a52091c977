"""Selective-prediction scores of a confidence estimate: rejection curves, PRR and AURC.

The uncertainty-estimation literature scores a confidence (here: the predicted probability that the
model answers correctly) by what it buys when the least confident answers are withheld. Both scores
follow LM-Polygraph's conventions (Fadeeva et al., 2023; Vashurin et al., 2024): the rejection curve
is the mean quality of the answers kept, at every number kept, and its area is the mean over those
numbers; PRR normalises that area between a random order (0) and the oracle order (1); AURC is the
area under the risk-coverage curve (risk = 1 - quality), lower being better. Ties in the confidence
are scored by their expectation over the orders they allow, so the scores do not depend on how a sort
breaks ties.
"""

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils.validation import check_consistent_length, column_or_1d


def _check(y_true, confidence):
    quality = column_or_1d(y_true).astype(float)
    confidence = column_or_1d(confidence).astype(float)
    check_consistent_length(quality, confidence)
    if len(quality) == 0:
        raise ValueError("The rejection scores need at least one sample.")
    if not (np.all(np.isfinite(quality)) and np.all(np.isfinite(confidence))):
        raise ValueError("y_true and the confidence must be finite: a NaN or infinite value has no place in a ranking.")
    return quality, confidence


def _kept_quality(quality, confidence):
    """Mean quality of the k most confident samples, k = 1 .. n (tied samples enter at their group mean)."""
    order = np.argsort(-confidence, kind="stable")
    sorted_confidence, sorted_quality = confidence[order], quality[order]
    # Within a tie every order is equally likely, so each tied sample is worth the tie's mean quality:
    # a prefix sum is linear, which makes this its expectation over tie orders.
    _, starts, counts = np.unique(-sorted_confidence, return_index=True, return_counts=True)
    group_sums = np.add.reduceat(sorted_quality, starts)
    expected = np.repeat(group_sums / counts, counts)
    return np.cumsum(expected) / np.arange(1, len(quality) + 1)


def rejection_curve(y_true, confidence):
    """Mean quality of the answers kept when only the most confident are kept.

    The curve behind :func:`prediction_rejection_ratio` and :func:`aurc_score`, for plotting or for a
    score of one's own: the answers are sorted by decreasing confidence and, for every number ``k`` of
    answers kept, the curve is the mean quality of the ``k`` most confident. A confidence that puts the
    right answers first gives a curve that starts high and falls to the overall mean quality, where every
    curve ends (all answers kept); a random order is flat at that mean in expectation. Tied confidences
    are scored at their expectation over the orders they allow, so the curve does not depend on how a
    sort breaks ties.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Quality of each answer, higher is better (1 for right and 0 for wrong, or a graded score).
    confidence : array-like of shape (n_samples,)
        Confidence in each answer (for example ``predict_proba(X)[:, 1]`` of a correctness classifier).

    Returns
    -------
    coverage : ndarray of shape (n_samples,)
        Share of the answers kept, ``1/n .. 1``.
    quality : ndarray of shape (n_samples,)
        Mean quality of the kept answers (tied confidences at their expectation).

    See Also
    --------
    prediction_rejection_ratio : Area between the curve and random rejection, normalised by the oracle's.
    aurc_score : Mean risk (one minus the quality) over the curve, lower is better.

    Examples
    --------
    >>> from sklearn_entropylens.metrics import rejection_curve
    >>> rejection_curve([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])[1]
    array([1.        , 1.        , 0.66666667, 0.5       ])
    """
    quality, confidence = _check(y_true, confidence)
    return np.arange(1, len(quality) + 1) / len(quality), _kept_quality(quality, confidence)


def prediction_rejection_ratio(y_true, confidence):
    """PRR: the share of the oracle's gain over a random order that the confidence achieves.

    ``(A - A_random) / (A_oracle - A_random)`` where ``A`` is the mean of the rejection curve
    (:func:`rejection_curve`), ``A_random`` is the mean quality (a random order's expected curve is
    flat) and ``A_oracle`` the area when the answers are kept best first. 1 is a perfect ranking, 0 a
    random one, below 0 worse than random.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Quality of each answer, higher is better.
    confidence : array-like of shape (n_samples,)
        Confidence in each answer, higher is more confident.

    Returns
    -------
    prr : float
        NaN when every answer has the same quality (no order can gain anything).

    See Also
    --------
    rejection_curve : The curve whose mean it normalises.
    aurc_score : The area as a risk, not normalised (lower is better).
    prr_scorer : This score as a scikit-learn scorer on ``predict_proba`` of the positive class.

    Examples
    --------
    >>> from sklearn_entropylens.metrics import prediction_rejection_ratio
    >>> prediction_rejection_ratio([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])
    1.0
    """
    quality, confidence = _check(y_true, confidence)
    random = quality.mean()
    oracle = _kept_quality(quality, quality).mean()
    if np.isclose(oracle, random):
        return float("nan")
    return float((_kept_quality(quality, confidence).mean() - random) / (oracle - random))


def aurc_score(y_true, confidence):
    """AURC: the area under the risk-coverage curve (mean risk of the kept answers), lower is better.

    Risk is ``1 - y_true``; the area is the mean, over the numbers of answers kept, of the mean risk of
    the most confident ones. A random order scores the overall error rate; the best possible score is
    reached by keeping the right answers first.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Quality of each answer in ``[0, 1]``, higher is better.
    confidence : array-like of shape (n_samples,)
        Confidence in each answer, higher is more confident.

    Returns
    -------
    aurc : float
        The mean risk over the rejection curve (lower is better).

    See Also
    --------
    prediction_rejection_ratio : The companion score.
    rejection_curve : The curve it averages.

    Examples
    --------
    >>> from sklearn_entropylens.metrics import aurc_score
    >>> round(aurc_score([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]), 4)
    0.2083
    """
    quality, confidence = _check(y_true, confidence)
    return float(1.0 - _kept_quality(quality, confidence).mean())


prr_scorer = make_scorer(prediction_rejection_ratio, response_method="predict_proba")
prr_scorer.__doc__ = "Scorer of :func:`prediction_rejection_ratio` on ``predict_proba`` of the positive class."
aurc_scorer = make_scorer(aurc_score, response_method="predict_proba", greater_is_better=False)
aurc_scorer.__doc__ = "Scorer of minus :func:`aurc_score` on ``predict_proba`` of the positive class (higher is better)."
