import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from sklearn_entropylens.metrics import (
    aurc_score, aurc_scorer, corrected_resampled_ttest, prediction_rejection_ratio, prr_scorer, rejection_curve,
)


def _brute_force_curve(quality, confidence):
    """The kept-quality curve averaged over every order that sorts the confidence descending (float64)."""
    n = len(quality)
    curves = []
    for order in itertools.permutations(range(n)):
        if all(confidence[order[i]] >= confidence[order[i + 1]] for i in range(n - 1)):
            kept = np.asarray(quality, dtype=np.float64)[list(order)]
            curves.append([kept[: k + 1].mean() for k in range(n)])
    return np.mean(curves, axis=0)


@pytest.mark.parametrize("seed", range(6))
def test_rejection_scores_match_a_brute_force_over_tie_orders(seed):
    rng = np.random.default_rng(seed)
    quality = rng.integers(0, 2, 7).astype(float) if seed % 2 else rng.random(7)
    confidence = rng.integers(0, 3, 7) / 2.0  # many ties
    curve = _brute_force_curve(quality, confidence)
    np.testing.assert_allclose(rejection_curve(quality, confidence)[1], curve, rtol=1e-12)
    assert aurc_score(quality, confidence) == pytest.approx(1 - curve.mean(), rel=1e-12)
    oracle = _brute_force_curve(quality, quality).mean()
    expected = (curve.mean() - quality.mean()) / (oracle - quality.mean())
    assert prediction_rejection_ratio(quality, confidence) == pytest.approx(expected, rel=1e-12)


def test_rejection_ratio_is_one_for_the_oracle_zero_for_a_constant_and_negative_reversed():
    quality = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    assert prediction_rejection_ratio(quality, quality + 0.5) == pytest.approx(1.0)
    assert prediction_rejection_ratio(quality, np.zeros(8)) == pytest.approx(0.0)
    assert prediction_rejection_ratio(quality, -quality) == pytest.approx(-1.0)
    assert aurc_score(quality, np.zeros(8)) == pytest.approx(0.5)  # random order: the error rate
    assert np.isnan(prediction_rejection_ratio(np.ones(4), [0.1, 0.2, 0.3, 0.4]))


def test_rejection_scores_refuse_bad_input():
    with pytest.raises(ValueError, match="finite"):
        aurc_score([1, 0], [0.5, np.nan])
    with pytest.raises(ValueError, match="inconsistent numbers"):
        prediction_rejection_ratio([1, 0, 1], [0.5, 0.4])


def test_scorers_read_the_probability_of_the_positive_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    confidence = clf.predict_proba(X)[:, 1]
    assert prr_scorer(clf, X, y) == pytest.approx(prediction_rejection_ratio(y, confidence))
    assert aurc_scorer(clf, X, y) == pytest.approx(-aurc_score(y, confidence))
    assert prr_scorer(clf, X, y) > 0.5


def test_corrected_ttest_follows_nadeau_and_bengio():
    scores, baseline = np.array([0.81, 0.76, 0.84, 0.79, 0.73]), np.array([0.52, 0.49, 0.55, 0.47, 0.50])
    result = corrected_resampled_ttest(scores, baseline, n_train=160, n_test=40, confidence=0.9)
    d = scores - baseline
    se = np.sqrt((1 / 5 + 40 / 160) * d.var(ddof=1))
    assert result.statistic == pytest.approx(d.mean() / se)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(d.mean() / se, 4))
    assert result.ci_high - result.mean_difference == pytest.approx(stats.t.ppf(0.95, 4) * se)
    plain = stats.ttest_rel(scores, baseline)
    assert result.pvalue > plain.pvalue  # the correction only widens
    with pytest.raises(ValueError, match="at least 2 folds"):
        corrected_resampled_ttest([0.5], [0.5], n_train=1, n_test=1)
