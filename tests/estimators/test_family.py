import numpy as np
import pytest
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.linear_model import LogisticRegression

from sklearn_entropylens import (
    DepthRescaler,
    EntropyProfileTransformer,
    ModelFamilyClassifier,
    expansion_set_size_correlation,
    get_profile_counters,
    reset_profile_counters,
)
from sklearn_entropylens.testing import register_tiny_model


def _tables(rng):
    rising = [np.linspace(0, 5, L) + rng.normal(0, 0.2, (10, L)) for L in (12, 24)]
    falling = [np.linspace(5, 0, L) + rng.normal(0, 0.2, (10, L)) for L in (16, 30)]
    return rising + falling, np.array(["up", "up", "down", "down"])


def test_family_classifier_on_profile_tables():
    tables, families = _tables(np.random.default_rng(0))
    clf = ModelFamilyClassifier(n_points=20).fit(tables, families)
    assert list(clf.classes_) == ["down", "up"]
    assert clf.models_ == ["model0", "model1", "model2", "model3"]
    assert clf.profiles_.shape == (40, 20) and clf.fingerprints_["model0"].shape == (20,)
    np.testing.assert_array_equal(clf.predict(tables), families)
    probabilities = clf.predict_proba(tables)
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    # Any classifier fits in; the fitted one is a clone.
    logistic = LogisticRegression()
    other = ModelFamilyClassifier(logistic, n_points=20).fit(tables, families)
    assert other.classifier_ is not logistic
    np.testing.assert_array_equal(other.predict(tables), families)


def test_family_classifier_profiles_models_by_identifier():
    llama, gpt2 = register_tiny_model("llama"), register_tiny_model("gpt2")
    clf = ModelFamilyClassifier(profiler=EntropyProfileTransformer(n_tokens=3, temperature=0.7), n_samples=6, n_points=5).fit([llama, gpt2], ["llama", "gpt2"])
    assert clf.models_ == [llama, gpt2] and clf.profiles_.shape == (12, 5)
    np.testing.assert_array_equal(clf.predict([gpt2, llama]), ["gpt2", "llama"])
    # Same seed, same samples: the fingerprint is reproducible.
    again = ModelFamilyClassifier(profiler=EntropyProfileTransformer(n_tokens=3, temperature=0.7), n_samples=6, n_points=5).fit([llama, gpt2], ["llama", "gpt2"])
    np.testing.assert_array_equal(again.profiles_, clf.profiles_)
    tables = clf.model_profiles([llama])
    assert tables[0].shape == (6, 3) and tables[0].columns[0] == "entropy_layer01"
    # Samples differ from one another (sampled continuations, one seed each).
    assert len(np.unique(tables[0].to_numpy().round(8), axis=0)) > 1


@pytest.mark.parametrize(
    "X, y, error, message",
    [
        ("smollm2-135m", ["a"], TypeError, "single string"),
        ([3, 4], ["a", "b"], TypeError, "model identifiers"),
        (["a", "b"], ["x"], ValueError, "one family per model"),
        ([], [], ValueError, "empty"),
    ],
)
def test_family_classifier_bad_input(X, y, error, message):
    with pytest.raises(error, match=message):
        ModelFamilyClassifier().fit(X, y)


def test_family_classifier_needs_sampling():
    with pytest.raises(ValueError, match="temperature"):
        ModelFamilyClassifier(profiler=EntropyProfileTransformer(temperature=0)).fit(["a"], ["x"])


@pytest.mark.slow
def test_real_families_are_separated_and_expansion_follows_candidate_sets(smollm2, gemma3, tmp_path):
    """SmolLM2 (Llama family) against Gemma-3: leave-one-sample-out kNN on depth-rescaled profiles."""
    reset_profile_counters()
    clf = ModelFamilyClassifier(
        profiler=EntropyProfileTransformer(n_tokens=16, temperature=0.7, memory=str(tmp_path)), n_samples=16
    )
    fitted = clf.fit(["smollm2-135m", "gemma3-270m"], ["llama", "gemma3"])
    np.testing.assert_array_equal(fitted.predict(["gemma3-270m", "smollm2-135m"]), ["gemma3", "llama"])
    tables = clf.model_profiles(["smollm2-135m", "gemma3-270m"])
    assert get_profile_counters()["computed"] == 32  # predict and model_profiles reuse the fit's samples
    assert [table.shape[1] for table in tables] == [30, 18]
    X = DepthRescaler(n_points=30).fit_transform(tables)
    y = np.repeat(["llama", "gemma3"], 16)
    accuracy = cross_val_score(KNeighborsClassifier(n_neighbors=1), X, y, cv=LeaveOneOut()).mean()
    assert accuracy == 1.0

    prompts = ["The capital of France is", "Once upon a time", "def f(x):", "Water boils at"]
    for model in ("smollm2-135m", "gemma3-270m"):
        profiler = EntropyProfileTransformer(model, n_tokens=8, statistics=["entropy", "top_p_size"]).fit(prompts)
        values = profiler.statistic_matrices(prompts)
        rho = expansion_set_size_correlation(values["entropy"], values["top_p_size"]).statistic
        assert rho > 0.5, (model, rho)


def test_family_tests_separate_model_identity_from_family_held_out_model():
    from sklearn_entropylens.experiments._paper import family_tests

    rng = np.random.default_rng(0)
    tables, families = _tables(rng)
    flat = [np.full(20, 2.0) + rng.normal(0, 0.2, (10, 20))]  # a family of one model
    models = ["up-12", "up-24", "down-16", "down-30", "flat-20"]
    table = family_tests(tables + flat, models, list(families) + ["flat"], kinds=("linear",), neighbours=(1,))
    identity = table[table["test"] == "model identity"]
    assert len(identity) == 1 and identity["n_samples"].item() == 50
    family = table[table["test"] == "family"].set_index("held_out")
    assert sorted(family.index) == sorted(models[:4])  # the only flat model has no family mate to learn from
    assert (family["predicted"] == ["up", "up", "down", "down"]).all() and (family["accuracy"] == 1).all()
    assert (family["n_samples"] == 10).all()
    assert (family["correct"] == 1).all() and identity["correct"].isna().all()  # one outcome per held-out model
