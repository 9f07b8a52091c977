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
