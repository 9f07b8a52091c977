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
    # Nadeau and Bengio (2003, Machine Learning 52, eq. 8 and section 5): J = 5 random splits with
    # n1 = 100 training and n2 = 30 test examples; t = mean(d) / sqrt((1/J + n2/n1) * s^2), J - 1 df.
    # Worked by hand on these numbers (no formula of the code restated):
    #   d = scores - baseline = [0.14, 0.06, 0.10, 0.10, 0.10], mean 0.10,
    #   s^2 = (0.04^2 + 0.04^2 + 0 + 0 + 0) / 4 = 0.0008,
    #   (1/5 + 30/100) * 0.0008 = 0.5 * 0.0008 = 0.0004, standard error 0.02, t = 0.10 / 0.02 = 5 exactly.
    scores, baseline = [0.84, 0.80, 0.85, 0.78, 0.83], [0.70, 0.74, 0.75, 0.68, 0.73]
    result = corrected_resampled_ttest(scores, baseline, n_train=100, n_test=30, confidence=0.95)
    assert result.df == 4
    assert result.mean_difference == pytest.approx(0.10, rel=1e-12)
    assert result.statistic == pytest.approx(5.0, rel=1e-9)
    # Student's t with 4 df has a closed-form CDF, F(t) = 1/2 + (3u - u^3)/4 with u = t / sqrt(4 + t^2),
    # so the two-sided p-value at t = 5 is 1 - (3u - u^3)/2 = 0.0074904...; scipy's t distribution agrees.
    u = 5 / np.sqrt(29)
    assert result.pvalue == pytest.approx(1 - (3 * u - u**3) / 2, rel=1e-9)
    assert result.pvalue == pytest.approx(0.0074904, abs=1e-7)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(5.0, 4), rel=1e-9)
    # 95 % interval: 0.10 +/- t_{0.975, 4} * 0.02, with t_{0.975, 4} = 2.776445 (tables of Student's t).
    assert result.ci_low == pytest.approx(0.10 - 2.776445 * 0.02, abs=1e-7)
    assert result.ci_high == pytest.approx(0.10 + 2.776445 * 0.02, abs=1e-7)
    # The correction multiplies the plain paired t (scipy's ttest_rel, 7.9057 = 5 sqrt(2.5)) by
    # sqrt((1/J) / (1/J + n2/n1)) = sqrt(0.2 / 0.5): it only shrinks the statistic.
    plain = stats.ttest_rel(scores, baseline)
    assert plain.statistic == pytest.approx(5 * np.sqrt(2.5), rel=1e-9)
    assert result.statistic == pytest.approx(plain.statistic * np.sqrt(0.2 / 0.5), rel=1e-9)
    assert result.pvalue > plain.pvalue
    # The sign follows the order of the two learners.
    reversed_result = corrected_resampled_ttest(baseline, scores, n_train=100, n_test=30, confidence=0.95)
    assert reversed_result.statistic == pytest.approx(-5.0, rel=1e-9)
    assert reversed_result.pvalue == pytest.approx(result.pvalue, rel=1e-9)
    with pytest.raises(ValueError, match="at least 2 folds"):
        corrected_resampled_ttest([0.5], [0.5], n_train=1, n_test=1)
