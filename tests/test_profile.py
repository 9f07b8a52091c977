import math
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sklearn_entropylens import (
    EntropyProfileTransformer,
    ModelLoadError,
    get_profile_counters,
    load_model,
    reset_profile_counters,
)

PROMPTS = ["hello world", "a b c", "The quick brown fox", "", "1 2 3 4", "zzz", "hello world"]


def test_fit_records_model_layout(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4).fit(PROMPTS)
    assert profiler.model_name_ == tiny_llama
    assert profiler.model_revision_ == "tiny-llama-seed0"
    assert profiler.n_layers_ == 3 and profiler.vocab_size_ == 259
    assert profiler.dtype_ == "float32"
    np.testing.assert_array_equal(profiler.layers_, [1, 2, 3])
    assert profiler.sampling_seed_ is None
    assert not hasattr(profiler, "n_features_in_")


@pytest.mark.parametrize(
    "aggregate, n_features, first_name",
    [("mean", 3, "entropy_layer01"), ("concat", 12, "entropy_pos00_layer01"), (2, 6, "entropy_win0_layer01"),
     (4, 12, "entropy_win0_layer01"), (1, 3, "entropy_win0_layer01")],
)
def test_aggregates_and_feature_names(tiny_llama, aggregate, n_features, first_name):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate=aggregate)
    X = profiler.fit_transform(PROMPTS)
    names = profiler.get_feature_names_out()
    assert X.shape == (len(PROMPTS), n_features) and X.dtype == np.float32
    assert len(names) == n_features and names[0] == first_name and len(set(names)) == n_features


def test_aggregate_layouts_agree(tiny_llama):
    matrices = EntropyProfileTransformer(tiny_llama, n_tokens=4).fit(PROMPTS).entropy_matrices(PROMPTS)
    concat = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate="concat").fit_transform(PROMPTS)
    np.testing.assert_allclose(concat.reshape(-1, 4, 3), matrices)
    mean = EntropyProfileTransformer(tiny_llama, n_tokens=4).fit_transform(PROMPTS)
    np.testing.assert_allclose(mean, matrices.mean(axis=1))
    windows = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate=2).fit_transform(PROMPTS)
    np.testing.assert_allclose(windows[:, :3], matrices[:, :2].mean(axis=1))
    np.testing.assert_allclose(windows[:, 3:], matrices[:, 2:].mean(axis=1))
    # Duplicated prompts (greedy) give identical rows.
    np.testing.assert_array_equal(concat[0], concat[-1])


def test_units_and_embedding(tiny_llama):
    nats = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit_transform(PROMPTS)
    bits = EntropyProfileTransformer(tiny_llama, n_tokens=2, log_base=2).fit_transform(PROMPTS)
    unit = EntropyProfileTransformer(tiny_llama, n_tokens=2, normalize=True).fit_transform(PROMPTS)
    np.testing.assert_allclose(bits, nats / math.log(2))
    np.testing.assert_allclose(unit, nats / math.log(259))
    assert unit.max() <= 1 + 1e-9
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, include_embedding=True)
    assert profiler.fit_transform(PROMPTS).shape == (len(PROMPTS), 4)
    assert profiler.get_feature_names_out()[0] == "entropy_layer00"


def test_set_output_pandas(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2).set_output(transform="pandas")
    frame = profiler.fit_transform(PROMPTS)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(profiler.get_feature_names_out())


def test_accepts_any_iterable_of_strings(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit(PROMPTS)
    expected = profiler.transform(PROMPTS)
    for variant in (tuple(PROMPTS), np.array(PROMPTS, dtype=object), pd.Series(PROMPTS), iter(PROMPTS),
                    np.array(PROMPTS)):
        np.testing.assert_allclose(profiler.transform(variant), expected, atol=1e-6)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("a single prompt", ValueError, "string object received"),
        (None, TypeError, "X is None"),
        (["ok", 3], TypeError, "item 1 is int"),
        (["ok", None], TypeError, "item 1 is NoneType"),
        ([b"bytes"], TypeError, "item 0 is bytes"),
        ([], ValueError, "no prompts"),
        (5, TypeError, "iterable of prompt strings"),
        (np.array([[1.0, 2.0]]), ValueError, "1-D sequence"),
        (pd.DataFrame({"prompt": ["a"]}), ValueError, "DataFrame"),
    ],
)
def test_bad_input_gets_a_clear_error(tiny_llama, bad, error, match):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2)
    with pytest.raises(error, match=match):
        profiler.fit(bad)
    profiler.fit(["ok"])
    with pytest.raises(error, match=match):
        profiler.transform(bad)
    with pytest.raises(error, match=match):
        clone(profiler).fit_transform(bad)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_tokens": 0}, "n_tokens"),
        ({"n_tokens": 2.5}, "n_tokens"),
        ({"aggregate": "median"}, "aggregate"),
        ({"aggregate": 3, "n_tokens": 4}, "divide"),
        ({"alpha": -1}, "alpha"),
        ({"log_base": 1}, "log_base"),
        ({"temperature": -0.1}, "temperature"),
        ({"truncation": "right"}, "truncation"),
        ({"batch_size": 0}, "batch_size"),
        ({"normalize": "yes"}, "normalize"),
        ({"dtype": "int8"}, "dtype"),
        ({"device": "nonsense"}, "device"),
        ({"memory": 3}, "memory"),
    ],
)
def test_bad_parameters_are_caught_in_fit(tiny_llama, params, match):
    profiler = EntropyProfileTransformer(tiny_llama, **params)  # __init__ never validates
    with pytest.raises((ValueError, TypeError), match=match):
        profiler.fit(["ok"])


def test_unknown_model_lists_bundled_names():
    with pytest.raises(ModelLoadError, match=r"Could not load 'no-such/model-xyz'.*'smollm2-135m'"):
        EntropyProfileTransformer("no-such/model-xyz").fit(["ok"])


def test_unfitted_transform_raises(tiny_llama):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EntropyProfileTransformer(tiny_llama).transform(["ok"])


def test_clones_share_the_loaded_model_and_pickle_without_weights(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit(PROMPTS)
    twin = clone(profiler).fit(PROMPTS)
    assert load_model(profiler.model) is load_model(twin.model)
    payload = pickle.dumps(profiler)
    assert len(payload) < 5_000
    np.testing.assert_allclose(pickle.loads(payload).transform(PROMPTS), profiler.transform(PROMPTS))


def test_sampled_profiles_are_reproducible(tiny_llama):
    first = EntropyProfileTransformer(tiny_llama, n_tokens=6, temperature=1.0, random_state=0, aggregate="concat")
    X = first.fit_transform(PROMPTS)
    again = clone(first).set_params(batch_size=1).fit_transform(PROMPTS)
    np.testing.assert_allclose(X, again, atol=1e-5)
    other = clone(first).set_params(random_state=1).fit_transform(PROMPTS)
    assert not np.allclose(X, other)
    # Repeated prompts get different samples ("hello world" is at 0 and 6).
    assert not np.allclose(X[0], X[-1])


def test_memory_caches_each_prompt_once(tiny_llama, tmp_path):
    reset_profile_counters()
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=3, memory=str(tmp_path))
    first = profiler.fit_transform(PROMPTS)
    assert get_profile_counters() == {"computed": 6, "cache_hits": 0, "cache_misses": 6}
    second = clone(profiler).set_params(batch_size=2, aggregate="concat", log_base=2).fit_transform(PROMPTS[::-1])
    counters = get_profile_counters()
    assert counters["computed"] == 6 and counters["cache_hits"] == 7
    np.testing.assert_allclose(second.reshape(-1, 3, 3).mean(axis=1)[::-1] * math.log(2), first)
    clone(profiler).set_params(alpha=2.0).fit_transform(PROMPTS[:2])
    assert get_profile_counters()["computed"] == 8


def test_grid_search_computes_each_prompt_once(tiny_llama, tmp_path):
    rng = np.random.default_rng(0)
    prompts = [" ".join(rng.choice(list("abcdefgh"), size=rng.integers(1, 12))) for _ in range(40)]
    y = np.array([len(p) % 2 for p in prompts])
    pipe = make_pipeline(
        EntropyProfileTransformer(tiny_llama, n_tokens=3, memory=str(tmp_path)), KNeighborsClassifier()
    )
    grid = GridSearchCV(
        pipe,
        {"entropyprofiletransformer__aggregate": ["mean", "concat"], "kneighborsclassifier__n_neighbors": [1, 3, 5],
         "entropyprofiletransformer__batch_size": [4, 8]},
        cv=3,
    )
    reset_profile_counters()
    grid.fit(prompts, y)
    counters = get_profile_counters()
    assert counters["computed"] == len(set(prompts))
    assert counters["cache_hits"] + counters["cache_misses"] > 10 * len(prompts)


def test_several_statistics_are_concatenated_statistic_major(tiny_llama, tmp_path):
    names = ["kl_to_final", "entropy", "top_p_size"]
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate=2, statistics=names, log_base=2)
    X = profiler.fit_transform(PROMPTS)
    feature_names = profiler.get_feature_names_out()
    assert X.shape == (len(PROMPTS), 3 * 2 * 3) and profiler.statistics_ == tuple(names)
    assert list(feature_names[:3]) == ["kl_to_final_win0_layer01", "kl_to_final_win0_layer02", "kl_to_final_win0_layer03"]
    assert feature_names[6] == "entropy_win0_layer01" and feature_names[12] == "top_p_size_win0_layer01"
    matrices = profiler.statistic_matrices(PROMPTS)
    single = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate=2, log_base=2).fit_transform(PROMPTS)
    np.testing.assert_allclose(X[:, 6:12], single, atol=1e-6)
    # Entropy and KL are in bits; sizes are counts and stay as they are.
    np.testing.assert_allclose(X[:, :3], matrices["kl_to_final"][:, :2].mean(axis=1) / math.log(2))
    np.testing.assert_allclose(X[:, 12:15], matrices["top_p_size"][:, :2].mean(axis=1))
    assert (X[:, 12:] >= 1).all()


def test_statistics_are_cached_with_their_settings(tiny_llama, tmp_path):
    reset_profile_counters()
    first = EntropyProfileTransformer(tiny_llama, n_tokens=3, statistics=["entropy", "top_p_size"], memory=str(tmp_path))
    first.fit_transform(PROMPTS)
    computed = get_profile_counters()["computed"]
    again = clone(first).fit_transform(PROMPTS)
    assert get_profile_counters()["computed"] == computed
    # A different top-p changes the numbers, so it is a different cache entry.
    other = clone(first).set_params(top_p=0.9).fit_transform(PROMPTS)
    assert get_profile_counters()["computed"] > computed
    assert not np.allclose(again[:, 3:], other[:, 3:])


def test_entropy_matrices_needs_entropy(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, statistics="kl_to_final").fit(PROMPTS)
    with pytest.raises(ValueError, match="entropy"):
        profiler.entropy_matrices(PROMPTS)


@pytest.mark.parametrize(
    "params, message",
    [({"statistics": "perplexity"}, "Unknown statistic"), ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p")],
)
def test_bad_statistics_parameters(tiny_llama, params, message):
    with pytest.raises(ValueError, match=message):
        EntropyProfileTransformer(tiny_llama, n_tokens=2, **params).fit(PROMPTS)


def test_profiles_reach_the_cache_in_whole_batches_with_unchanged_numbers(tiny_llama, tmp_path, monkeypatch):
    from sklearn_entropylens import _profile

    prompts = [f"prompt number {k} " * (k % 4 + 1) for k in range(11)]
    whole = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2).fit_transform(prompts)
    monkeypatch.setattr(_profile, "_CHECKPOINT_PROMPTS", 4)
    reset_profile_counters()
    chunked = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2, memory=str(tmp_path)).fit_transform(prompts)
    np.testing.assert_array_equal(chunked, whole)
    assert get_profile_counters()["computed"] == 11
