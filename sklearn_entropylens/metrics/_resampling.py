"""Comparing two learners over the folds of one cross-validation, without over-confidence."""

import numpy as np
from scipy import stats
from sklearn.utils import Bunch


def corrected_resampled_ttest(scores, baseline_scores, *, n_train, n_test, confidence=0.95):
    """Nadeau and Bengio's corrected resampled t-test of paired per-fold scores.

    The folds of a cross-validation share training data, so their scores are correlated and the plain
    paired t-test (``scipy.stats.ttest_rel``) under-estimates the variance of the mean difference: it
    rejects far too often. Nadeau and Bengio (2003, Machine Learning 52) correct the variance of the mean
    by ``1/k + n_test/n_train`` in place of ``1/k`` (Bouckaert and Frank, 2004, for k-fold
    cross-validation); the statistic has ``k - 1`` degrees of freedom.

    Parameters
    ----------
    scores, baseline_scores : array-like of shape (n_folds,)
        Per-fold scores of the two learners on the same folds.
    n_train, n_test : int or array-like of shape (n_folds,)
        Training and test sizes of the folds (their means are used when they vary).
    confidence : float, default=0.95
        Level of the interval of the mean difference.

    Returns
    -------
    result : Bunch
        ``mean_difference``, ``ci_low``, ``ci_high`` (corrected t interval), ``statistic``, ``pvalue``
        (two-sided) and ``df``. With identical folds (zero variance) the statistic is infinite or NaN.

    See Also
    --------
    sklearn_entropylens.experiments.evaluate_profile_classifier : Applies it to a classifier's fold ROC-AUCs
        against a stratified dummy's.
    sklearn_entropylens.experiments.protocol_summary : The protocol's scores and both tests in one line.
    scipy.stats.ttest_rel : The plain paired t-test, over-confident on the folds of one cross-validation.

    Examples
    --------
    >>> from sklearn_entropylens.metrics import corrected_resampled_ttest
    >>> result = corrected_resampled_ttest([0.80, 0.85, 0.78, 0.83, 0.81], [0.5, 0.52, 0.47, 0.5, 0.49],
    ...                                    n_train=80, n_test=20)
    >>> round(result.mean_difference, 3), result.pvalue < 0.001
    (0.318, True)
    """
    differences = np.asarray(scores, dtype=float) - np.asarray(baseline_scores, dtype=float)
    if differences.ndim != 1 or len(differences) < 2:
        raise ValueError(f"The corrected t-test needs paired scores of at least 2 folds, got shape {differences.shape}.")
    k = len(differences)
    ratio = float(np.mean(n_test)) / float(np.mean(n_train))
    mean = float(differences.mean())
    standard_error = float(np.sqrt((1.0 / k + ratio) * differences.var(ddof=1)))
    df = k - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.float64(mean) / standard_error)
    pvalue = float(2 * stats.t.sf(abs(statistic), df))  # 0 for an infinite statistic, NaN for NaN
    half_width = float(stats.t.ppf(0.5 + confidence / 2, df) * standard_error)
    return Bunch(mean_difference=mean, ci_low=mean - half_width, ci_high=mean + half_width,
                 statistic=float(statistic), pvalue=pvalue, df=df)
