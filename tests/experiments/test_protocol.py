"""The evaluation protocol's grouped folds, held-out conditions, corrected tests and out-of-fold predictions."""

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier

from sklearn_entropylens import evaluate_profile_classifier
from sklearn_entropylens.experiments import held_out_condition_folds
from sklearn_entropylens.metrics import corrected_resampled_ttest


def _grouped_data(seed=0, n_groups=30, per_group=4):
    """Each group has its own offset (a 'fingerprint') and the label flips within the group."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    y = np.tile([0, 1], n_groups * per_group // 2)
    X = rng.normal(size=(n_groups, 3))[groups] * 3 + 0.8 * y[:, None] + rng.normal(size=(len(y), 3)) * 0.3
    return X, y, groups


def test_groups_keep_each_group_in_one_fold_and_match_a_manual_grouped_run():
    X, y, groups = _grouped_data()
    result = evaluate_profile_classifier(LogisticRegression(), X, y, groups=groups, n_splits=5, random_state=1)
    assert result.summary["cv"] == "StratifiedGroupKFold" and result.summary["n_folds"] == 5
    splits = list(StratifiedGroupKFold(5, shuffle=True, random_state=1).split(X, y, groups))
    for (train, test), row in zip(splits, result.folds.itertuples()):
        assert not set(groups[train]) & set(groups[test])
        assert (row.n_train, row.n_test) == (len(train), len(test))
    predictions = result.predictions
    assert sorted(predictions["sample"]) == list(range(len(y)))  # every sample tested exactly once
    assert list(predictions.columns) == ["fold", "sample", "y_true", "proba_0", "proba_1"]
    first = predictions[predictions["fold"] == 0]
    manual = LogisticRegression().fit(X[splits[0][0]], y[splits[0][0]]).predict_proba(X[splits[0][1]])[:, 1]
    np.testing.assert_allclose(first["proba_1"], manual)


def test_summary_reports_the_corrected_test_beside_the_plain_one():
    X, y, groups = _grouped_data(seed=2)
    summary = evaluate_profile_classifier(KNeighborsClassifier(), X, y, groups=groups, n_splits=6).summary
    folds = evaluate_profile_classifier(KNeighborsClassifier(), X, y, groups=groups, n_splits=6).folds
    expected = corrected_resampled_ttest(folds["auc"], folds["dummy_auc"], n_train=folds["n_train"],
                                         n_test=folds["n_test"])
    assert summary["corrected_p_value"] == pytest.approx(expected.pvalue)
    assert summary["difference_ci_low"] == pytest.approx(expected.ci_low)
    assert summary["p_value"] == pytest.approx(stats.ttest_rel(folds["auc"], folds["dummy_auc"]).pvalue)
    assert summary["corrected_p_value"] >= summary["p_value"]
    assert summary["significant"] == (summary["corrected_p_value"] < 0.05)
    assert summary["auc_ci_low"] < summary["auc_mean"] < summary["auc_ci_high"]



def test_auc_interval_is_clipped_to_the_scale_and_otherwise_unchanged():
    # Five folds, one of the rare class in each: the t interval of the fold AUCs passes 1.
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30, int), np.ones(5, int)]
    X = y[:, None] * 3.0 + rng.normal(size=(35, 2))
    X[-1] = 0
    result = evaluate_profile_classifier(KNeighborsClassifier(3), X, y, n_splits=5)
    folds = result.folds
    unclipped = corrected_resampled_ttest(folds["auc"], np.zeros(5), n_train=folds["n_train"], n_test=folds["n_test"])
    assert unclipped.ci_high > 1 and result.summary["auc_ci_high"] == 1.0
    assert result.summary["auc_ci_low"] == pytest.approx(unclipped.ci_low)

def test_grouping_removes_what_a_group_fingerprint_leaks():
    # Labels tied to groups: ungrouped folds let kNN find a sample's group mates, grouped folds cannot.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 5)
    y = rng.integers(0, 2, 40)[groups]
    X = rng.normal(size=(40, 4))[groups] + 0.05 * rng.normal(size=(200, 4))
    leaky = evaluate_profile_classifier(KNeighborsClassifier(3), X, y, n_splits=5).summary["auc_mean"]
    grouped = evaluate_profile_classifier(KNeighborsClassifier(3), X, y, groups=groups, n_splits=5).summary["auc_mean"]
    assert leaky > 0.95 and grouped < 0.75


def test_held_out_condition_folds_train_on_one_condition_and_test_unseen_groups_on_the_other():
    X, y, groups = _grouped_data()
    wording = np.tile([1, 1, 2, 2], 30)
    folds = held_out_condition_folds(y, groups, wording, n_splits=5)
    assert len(folds) == 10
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(y)))
    for train, test in folds:
        assert len(set(wording[test])) == 1 and wording[test][0] not in set(wording[train])
        assert not set(groups[train]) & set(groups[test])
    result = evaluate_profile_classifier(LogisticRegression(), X, y, cv=folds)
    assert result.summary["cv"] == "given folds" and len(result.folds) == 10
    with pytest.raises(ValueError, match="at least two values"):
        held_out_condition_folds(y, groups, np.ones(len(y)))


def test_protocol_refuses_mismatched_groups_and_single_class_test_folds():
    X, y, groups = _grouped_data()
    with pytest.raises(ValueError, match="one group per sample"):
        evaluate_profile_classifier(LogisticRegression(), X, y, groups=groups[:-1])
    only_zeros = [(np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:5])]
    with pytest.raises(ValueError, match="one class only"):
        evaluate_profile_classifier(LogisticRegression(), X, y, cv=only_zeros)


def test_a_search_as_the_estimator_is_nested_and_searches_by_the_training_groups():
    from sklearn.model_selection import GridSearchCV

    X, y, groups = _grouped_data(seed=4)
    seen = []

    class RecordingGroupKFold(StratifiedGroupKFold):
        def split(self, X, y=None, groups=None):
            seen.append(np.unique(groups))
            return super().split(X, y, groups)

    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=RecordingGroupKFold(3), scoring="roc_auc")
    result = evaluate_profile_classifier(search, X, y, groups=groups, n_splits=4, random_state=0)
    outer = list(StratifiedGroupKFold(4, shuffle=True, random_state=0).split(X, y, groups))
    assert len(seen) == 4
    for (train, test), inner_groups in zip(outer, seen):
        np.testing.assert_array_equal(inner_groups, np.unique(groups[train]))  # never a test group
    assert 0.5 < result.summary["auc_mean"] <= 1


def test_pandas_features_are_split_by_row():
    import pandas as pd

    X, y, groups = _grouped_data(seed=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    by_frame = evaluate_profile_classifier(LogisticRegression(), frame, y, groups=groups, n_splits=3)
    by_array = evaluate_profile_classifier(LogisticRegression(), X, y, groups=groups, n_splits=3)
    np.testing.assert_allclose(by_frame.folds["auc"], by_array.folds["auc"])


def test_per_category_auc_compares_answers_of_the_same_fold_model_only():
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.utils import Bunch

    from sklearn_entropylens.experiments._protocol import within_fold_category_auc

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    scores = 0.3 * y + 0.7 * rng.random(n)
    fold = np.arange(n) % 2
    categories = np.repeat(["a", "b"], n // 2)
    one_fold = Bunch(predictions=pd.DataFrame({"fold": 0, "sample": np.arange(n), "y_true": y, "proba_1": scores}))
    table = within_fold_category_auc(one_fold, categories).set_index("category")
    assert table.loc["a", "auc"] == pytest.approx(roc_auc_score(y[:200], scores[:200]))
    assert table.loc["a", "ci_low"] < table.loc["a", "auc"] < table.loc["a", "ci_high"]
    assert table.loc["a", "n"] == 200 and table.loc["a", "n_pairs"] == y[:200].sum() * (200 - y[:200].sum())
    # A second fold model on another scale (every score + 5) changes nothing: no pair crosses folds,
    # where a pooled ROC-AUC would rank every answer of fold 1 above every answer of fold 0.
    shifted = scores + 5.0 * fold
    two_folds = Bunch(predictions=pd.DataFrame({"fold": fold, "sample": np.arange(n), "y_true": y, "proba_1": shifted}))
    within = within_fold_category_auc(two_folds, categories).set_index("category")
    expected = []
    for part in (0, 1):
        mask = (fold == part) & (categories == "a")
        right, wrong = y[mask].sum(), (1 - y[mask]).sum()
        expected.append((roc_auc_score(y[mask], scores[mask]) * right * wrong, right * wrong))
    assert within.loc["a", "auc"] == pytest.approx(sum(a for a, _ in expected) / sum(w for _, w in expected))
    assert abs(within.loc["a", "auc"] - roc_auc_score(y[:200], shifted[:200])) > 0.05
