import json
import pathlib

import numpy as np
import pytest
import skops.io
from skops.io.exceptions import UntrustedTypesFoundException
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_entropylens import EntropyProfileTransformer, dump, get_trusted_types, load

PROMPTS = ["hello", "world", "a b", "c d e", "fff", "g"]
LABELS = [0, 1, 0, 1, 0, 1]


@pytest.fixture
def fitted_pipeline(tiny_llama):
    pipe = make_pipeline(EntropyProfileTransformer(tiny_llama, n_tokens=3), StandardScaler(), LogisticRegression())
    return pipe.fit(PROMPTS, LABELS)


def test_skops_round_trip(fitted_pipeline, tmp_path):
    path = tmp_path / "pipeline.skops"
    skops.io.dump(fitted_pipeline, path)
    assert path.stat().st_size < 64_000  # no weights inside (the tiny model alone is 178 kB)
    loaded = skops.io.load(path, trusted=get_trusted_types())
    np.testing.assert_array_equal(loaded.predict(PROMPTS), fitted_pipeline.predict(PROMPTS))
    np.testing.assert_allclose(loaded[0].transform(PROMPTS), fitted_pipeline[0].transform(PROMPTS))
    assert loaded[0].model_revision_ == fitted_pipeline[0].model_revision_


def test_loading_without_trust_is_refused(fitted_pipeline, tmp_path):
    path = tmp_path / "pipeline.skops"
    dump(fitted_pipeline, path)
    with pytest.raises(UntrustedTypesFoundException, match="EntropyProfileTransformer"):
        skops.io.load(path)
    # Public paths, which moving a private module does not change.
    assert set(skops.io.get_untrusted_types(file=path)) == {
        "sklearn_entropylens.EntropyProfileTransformer", "sklearn_entropylens.lens.FeatureLayout",
        "sklearn_entropylens.models.ModelSpec",
    }
    np.testing.assert_array_equal(load(path).predict(PROMPTS), fitted_pipeline.predict(PROMPTS))


def test_our_loader_refuses_types_it_was_not_told_about(tiny_llama, tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    from tests._helpers import rows_to_text

    pipe = make_pipeline(FunctionTransformer(rows_to_text), EntropyProfileTransformer(tiny_llama, n_tokens=2))
    pipe.fit(np.ones((3, 2)))
    path = tmp_path / "adapter.skops"
    dump(pipe, path)
    with pytest.raises(UntrustedTypesFoundException, match="rows_to_text") as error:
        load(path)
    assert "get_trusted_types() lists those" in str(error.value)
    assert "pass it as load(file, trusted=[...])" in str(error.value)
    reloaded = load(path, trusted=["tests._helpers.rows_to_text"])
    np.testing.assert_allclose(reloaded.transform(np.ones((2, 2))), pipe.transform(np.ones((2, 2))))


def test_trusted_types_name_public_paths_that_import():
    for name in get_trusted_types():
        module, _, cls = name.rpartition(".")
        assert getattr(__import__(module, fromlist=[cls]), cls).__name__ == cls
        if name.startswith("sklearn_entropylens"):
            assert not any(part.startswith("_") for part in name.split(".")), name


ARTIFACTS = pathlib.Path(__file__).parent / "data" / "artifacts"


def test_a_file_saved_before_the_restructure_loads_and_predicts_the_same(smollm2):
    # Saved by the library at 9d7b1df, when the types lived in private modules that have since moved, and
    # before n_threads existed (tests/data/artifacts/make_pre_move_artifact.py wrote them, at 2 threads).
    saved = json.loads((ARTIFACTS / "pipeline_before_issue34.json").read_text())
    assert "sklearn_entropylens.estimators._profile.EntropyProfileTransformer" in skops.io.get_untrusted_types(
        file=ARTIFACTS / "pipeline_before_issue34.skops"
    )
    pipeline = load(ARTIFACTS / "pipeline_before_issue34.skops")
    assert type(pipeline[0]) is EntropyProfileTransformer
    assert pipeline[0].n_threads is None  # a parameter added since takes its default
    pipeline.set_params(entropyprofiletransformer__n_threads=2)
    features = pipeline[0].transform(saved["prompts"])
    np.testing.assert_allclose(features, np.asarray(saved["profile_features"], dtype=np.float32), rtol=1e-6)
    np.testing.assert_allclose(pipeline.decision_function(saved["prompts"]), saved["decision_function"], rtol=1e-5)


def test_a_file_saved_before_the_restructure_without_a_model_loads():
    extremes = load(ARTIFACTS / "expansion_pruning_before_issue34.skops")
    assert type(extremes).__name__ == "ExpansionPruningTransformer" and type(extremes).__module__ == "sklearn_entropylens"
    assert extremes.groups_ == ["entropy"] and extremes.n_features_in_ == 30
    assert extremes.transform(np.tile(np.linspace(3.0, 1.0, 30), (2, 1))).shape == (2, 29 + 5)


class TunedLens(BaseEstimator):
    """Someone else's class that shares a name with one of the library's."""

    def __init__(self, weights=None):
        self.weights = weights


def test_another_packages_class_of_the_same_name_is_never_taken_for_the_librarys(tmp_path):
    path = tmp_path / "theirs.skops"
    skops.io.dump(TunedLens(weights=[1.0, 2.0]), path)
    with pytest.raises(UntrustedTypesFoundException, match=f"{__name__}.TunedLens"):
        load(path)
    assert type(load(path, trusted=[f"{__name__}.TunedLens"])) is TunedLens


def test_depth_and_family_estimators_round_trip(tmp_path):
    from sklearn_entropylens import DepthRescaler, ExpansionPruningTransformer, ModelFamilyClassifier

    rng = np.random.default_rng(0)
    tables = [np.linspace(0, 5, L) + rng.normal(0, 0.1, (8, L)) for L in (12, 24)]
    tables += [np.linspace(5, 0, L) + rng.normal(0, 0.1, (8, L)) for L in (16, 30)]
    family = ModelFamilyClassifier(n_points=10).fit(tables, ["up", "up", "down", "down"])
    pipe = make_pipeline(DepthRescaler(n_points=6), ExpansionPruningTransformer()).fit(tables[0])
    for estimator, data, method in [(family, tables, "predict_proba"), (pipe, tables[0], "transform")]:
        path = tmp_path / "estimator.skops"
        dump(estimator, path)
        np.testing.assert_allclose(getattr(load(path), method)(data), getattr(estimator, method)(data))


def test_prompt_classifier_round_trip(tiny_llama, tmp_path):
    from sklearn_entropylens import TaskClassifier

    from sklearn.neighbors import KNeighborsClassifier

    clf = TaskClassifier(profiler=EntropyProfileTransformer(tiny_llama, n_tokens=2), classifier=KNeighborsClassifier(n_neighbors=3))
    clf.fit(PROMPTS, LABELS)
    path = tmp_path / "task.skops"
    dump(clf, path)
    np.testing.assert_allclose(load(path).predict_proba(PROMPTS), clf.predict_proba(PROMPTS))


def test_a_model_already_in_memory_in_one_line_saved_without_weights_and_reattached(tmp_path):
    from sklearn_entropylens import ModelLoadError, clear_model_cache, register_model
    from sklearn_entropylens.models import _spec
    from sklearn_entropylens.testing import make_byte_tokenizer, make_tiny_model

    model = make_tiny_model("qwen2")  # a model built or modified in code
    profiler = EntropyProfileTransformer(model=register_model("my-qwen", model, make_byte_tokenizer(), revision="v1"), n_tokens=2)
    expected = profiler.fit_transform(PROMPTS)
    path = tmp_path / "profiler.skops"
    dump(profiler, path)
    assert path.stat().st_size < 50_000  # the name and revision, never the weights
    del _spec._REGISTRY["my-qwen"]  # as in a new process
    clear_model_cache()
    restored = load(path)
    with pytest.raises(ModelLoadError, match="'my-qwen'.*register_model\\(name, model, tokenizer, revision=...\\)"):
        restored.transform(PROMPTS)
    register_model("my-qwen", model, make_byte_tokenizer(), revision="v2")
    with pytest.raises(ValueError, match="'v1'"):
        restored.transform(PROMPTS)  # other weights under the same name are refused
    register_model("my-qwen", model, make_byte_tokenizer(), revision="v1")
    np.testing.assert_allclose(restored.transform(PROMPTS), expected)
