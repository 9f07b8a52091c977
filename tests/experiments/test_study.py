"""The pre-registered feature study: every setting reads one cached profile, and the nested estimate."""

import numpy as np
import pandas as pd
import pytest

from sklearn_entropylens import EntropyProfileTransformer, get_profile_counters, reset_profile_counters
from sklearn_entropylens.experiments._study import (
    FEATURE_SETS, default_classifiers, feature_selector, run_feature_study, study_pipeline,
)

PROMPTS = [f"{word} {k}" for k in range(6) for word in ("alpha beta", "zz yy xx", "1 2 3 4", "hello world")]
LABELS = np.tile([0, 1, 0, 1], 6)
GROUPS = np.repeat(np.arange(12), 2)


def test_feature_selector_keeps_each_sets_columns_and_logs_the_counts(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, statistics=["entropy", "kl_to_final", "final_token_rank",
                                                                           "top_p_size"], alpha=[0.5, 1, 5])
    frame = profiler.set_output(transform="pandas").fit_transform(PROMPTS[:4])
    entropy = feature_selector("entropy").set_output(transform="pandas").fit_transform(frame)
    assert list(entropy.columns) == [f"entropy_alpha1_layer0{k}" for k in (1, 2, 3)]
    assert feature_selector("Renyi 0.5, 1, 5").set_output(transform="pandas").fit_transform(frame).shape[1] == 9
    everything = feature_selector("Renyi + KL + rank + top-p").set_output(transform="pandas").fit_transform(frame)
    assert everything.shape[1] == 18
    np.testing.assert_allclose(everything["top_p_size_layer01"], np.log(frame["top_p_size_layer01"]))
    np.testing.assert_allclose(everything["kl_to_final_layer02"], frame["kl_to_final_layer02"])


def test_feature_study_scores_the_whole_grid_from_one_profile_per_prompt(tiny_llama, tmp_path):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4, memory=str(tmp_path))
    reset_profile_counters()
    result = run_feature_study(PROMPTS, LABELS, profiler=profiler, aggregates=("mean", 2),
                               classifiers=default_classifiers(3), groups=GROUPS, n_splits=3, inner_splits=2)
    assert get_profile_counters()["computed"] == len(set(PROMPTS))  # the grid, folds and searches add none
    table = result.table
    assert len(table) == len(FEATURE_SETS) * 2 * 2
    assert set(table["features"]) == set(FEATURE_SETS) and set(table["aggregate"]) == {"mean", "2"}
    assert ((table["auc_ci_low"] <= table["auc"]) & (table["auc"] <= table["auc_ci_high"])).all()
    chosen = result.chosen
    assert len(chosen) == 3 and set(chosen["features"]) <= set(FEATURE_SETS)
    assert set(chosen["classifier"]) <= {"kNN", "logistic regression"}
    assert result.nested.summary["n_folds"] == 3 and "nested estimate" in result.summary


def test_study_pipeline_matches_a_setting_of_the_grid(tiny_llama):
    from sklearn.linear_model import LogisticRegression

    pipeline = study_pipeline(EntropyProfileTransformer(tiny_llama, n_tokens=2), "entropy", "mean", LogisticRegression())
    pipeline.fit(PROMPTS[:8], LABELS[:8])
    assert isinstance(pipeline.predict_proba(PROMPTS[:2]), np.ndarray)
    assert list(pipeline[:-1].get_feature_names_out()) == [f"entropy_alpha1_layer0{k}" for k in (1, 2, 3)]


FITTED_ON = []


class _RecordingProfiler(EntropyProfileTransformer):
    """The profiler, noting the prompts of every fit: the prompts a search's pipeline is trained on."""

    def fit(self, X, y=None):
        FITTED_ON.append(tuple(X))
        return super().fit(X, y)

    def fit_transform(self, X, y=None):
        FITTED_ON.append(tuple(X))
        return super().fit_transform(X, y)


def _assert_nested(records, folds, prompts, n_candidates, inner_splits):
    """The last records are, per outer fold, the search's inner fits then its refit: none sees a test prompt."""
    block = n_candidates * inner_splits + 1
    assert len(records) >= block * len(folds)
    nested = records[len(records) - block * len(folds):]
    for k, (train, test) in enumerate(folds):
        train_prompts, test_prompts = {prompts[i] for i in train}, {prompts[i] for i in test}
        fits = nested[k * block:(k + 1) * block]
        for seen in fits:
            assert set(seen) <= train_prompts and not set(seen) & test_prompts
        assert set(fits[-1]) == train_prompts  # the refit on the whole training part
        assert all(len(seen) < len(train_prompts) for seen in fits[:-1])  # inner fits on parts of it


def test_nested_estimates_never_let_the_search_see_its_test_fold(tiny_llama, tmp_path):
    from sklearn.model_selection import StratifiedGroupKFold

    from sklearn_entropylens.experiments import held_out_condition_folds
    from sklearn_entropylens.experiments._study import run_held_out_condition_study

    profiler = _RecordingProfiler(tiny_llama, n_tokens=2, memory=str(tmp_path))
    n_candidates = len(FEATURE_SETS) * 2 * 2
    FITTED_ON.clear()
    run_feature_study(PROMPTS, LABELS, profiler=profiler, aggregates=("mean", 2), classifiers=default_classifiers(3),
                      groups=GROUPS, n_splits=3, inner_splits=2)
    folds = list(StratifiedGroupKFold(3, shuffle=True, random_state=42).split(PROMPTS, LABELS, GROUPS))
    _assert_nested(FITTED_ON, folds, PROMPTS, n_candidates, inner_splits=2)

    groups, condition = np.tile(np.arange(6), 4), np.repeat([1, 2], 12)  # each topic in both wordings
    FITTED_ON.clear()
    result = run_held_out_condition_study(PROMPTS, LABELS, profiler=profiler, aggregates=("mean", 2),
                                          classifiers=default_classifiers(3), groups=groups, condition=condition,
                                          n_splits=3, inner_splits=2)
    folds = held_out_condition_folds(LABELS, groups, condition, n_splits=3)
    for train, test in folds:
        assert set(condition[train]) & set(condition[test]) == set()
    _assert_nested(FITTED_ON, folds, PROMPTS, n_candidates, inner_splits=2)
    assert len(result.chosen) == len(folds) and "condition held out" in result.summary
