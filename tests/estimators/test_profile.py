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
    with pytest.raises(ModelLoadError, match=r"Unknown model 'no-such/model-xyz'.*'smollm2-135m'"):
        EntropyProfileTransformer("no-such/model-xyz").fit(["ok"])


def test_a_typo_fails_fast_with_the_closest_name(monkeypatch):
    import time

    from sklearn_entropylens.models import _loading

    # As on a machine without network: the probe answers at once, the load never waits for retries.
    monkeypatch.setattr(_loading, "hub_reachable", lambda timeout=3.0: False)
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match=r"hub is not reachable from this machine\. Did you mean 'smollm2-135m'\?"):
        EntropyProfileTransformer("smollm-135m").fit(["ok"])
    assert time.perf_counter() - started < 10


def test_hub_probe_is_quick_and_false_offline(monkeypatch):
    import time

    from huggingface_hub import constants

    from sklearn_entropylens.models._hub import hub_reachable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for variable in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://host.invalid")
    started = time.perf_counter()
    assert hub_reachable(timeout=1.0) is False
    assert time.perf_counter() - started < 5


def test_a_missing_local_path_is_named_as_such(tmp_path):
    with pytest.raises(ModelLoadError, match=r"is a path but not a model directory"):
        EntropyProfileTransformer(str(tmp_path / "nowhere")).fit(["ok"])


def test_a_model_object_gets_a_short_pointer_to_register_model(tiny_llama):
    model = load_model(tiny_llama).model
    with pytest.raises(ModelLoadError) as error:
        EntropyProfileTransformer(model).fit(["ok"])
    message = str(error.value)
    assert message.startswith("model must be a string identifier, not a loaded LlamaForCausalLM object")
    assert "register_model('my-model', model, tokenizer)" in message and len(message) < 300


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


def test_a_list_of_renyi_orders_is_one_pass_with_one_feature_block_per_order(tiny_llama, tmp_path):
    reset_profile_counters()
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4, statistics=["entropy", "kl_to_final"],
                                         alpha=[0.5, 1, 5], log_base=2, memory=str(tmp_path))
    X = profiler.fit_transform(PROMPTS)
    assert get_profile_counters()["computed"] == len(set(PROMPTS))  # one decode per prompt for all orders
    assert profiler.statistics_ == ("entropy_alpha0.5", "entropy_alpha1", "entropy_alpha5", "kl_to_final")
    names = profiler.get_feature_names_out()
    assert X.shape == (len(PROMPTS), 4 * 3) and names[0] == "entropy_alpha0.5_layer01" and names[9] == "kl_to_final_layer01"
    for k, order in enumerate([0.5, 1, 5]):
        single = EntropyProfileTransformer(tiny_llama, n_tokens=4, alpha=order, log_base=2).fit_transform(PROMPTS)
        np.testing.assert_allclose(X[:, 3 * k : 3 * k + 3], single, rtol=1e-6, atol=1e-6)
    # Orders are part of the cache key: another list is another entry, the same list is served.
    reset_profile_counters()
    clone(profiler).fit_transform(PROMPTS)
    assert get_profile_counters()["computed"] == 0
    clone(profiler).set_params(alpha=[0.5, 2]).fit_transform(PROMPTS)
    assert get_profile_counters()["computed"] == len(set(PROMPTS))
    with pytest.raises(ValueError, match="does not include"):
        EntropyProfileTransformer(tiny_llama, statistics="kl_to_final", alpha=[0.5, 1]).fit(PROMPTS)


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
    from sklearn_entropylens.lens import _runner

    prompts = [f"prompt number {k} " * (k % 4 + 1) for k in range(11)]
    whole = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2).fit_transform(prompts)
    monkeypatch.setattr(_runner, "CHECKPOINT_PROMPTS", 4)
    reset_profile_counters()
    chunked = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2, memory=str(tmp_path)).fit_transform(prompts)
    np.testing.assert_array_equal(chunked, whole)
    assert get_profile_counters()["computed"] == 11


def test_a_killed_run_keeps_every_finished_batch_and_the_rerun_computes_only_the_rest(tiny_llama, tmp_path, monkeypatch):
    # Long profiles (256 tokens of a 262k-vocabulary lens) take minutes per batch: losing more than the
    # batch in flight would cost real time on every interruption.
    from sklearn_entropylens.lens import _runner

    prompts = [f"prompt number {k} " * (k % 4 + 1) for k in range(11)]
    expected = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2).fit_transform(prompts)
    decode, calls = _runner.decode_batches, []

    def killed_in_the_third_batch(*args, **kwargs):
        calls.append(len(args[4]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return decode(*args, **kwargs)

    monkeypatch.setattr(_runner, "decode_batches", killed_in_the_third_batch)
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=3, batch_size=2, memory=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        profiler.fit_transform(prompts)
    assert calls == [1, 1, 1]  # one batch per write, not CHECKPOINT_PROMPTS prompts
    monkeypatch.setattr(_runner, "decode_batches", decode)
    reset_profile_counters()
    np.testing.assert_array_equal(profiler.fit_transform(prompts), expected)
    assert get_profile_counters()["computed"] == 11 - 4
    assert get_profile_counters()["cache_hits"] == 4


def test_features_are_float32_and_do_not_depend_on_the_batch_at_that_precision(tiny_llama):
    # Rows computed with other prompts in the batch (other padding, other GEMM shapes) round differently in
    # float32; the features are float32, and each row agrees with its one-prompt profile to float32 precision.
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=3, aggregate="concat", batch_size=8).fit(PROMPTS)
    together = profiler.transform(PROMPTS)
    alone = np.vstack([profiler.transform([prompt]) for prompt in PROMPTS])
    assert together.dtype == alone.dtype == np.float32
    np.testing.assert_allclose(together, alone, rtol=1e-5)


def test_empty_prompt_warns_once_per_call_and_still_profiles_bos(tiny_llama):
    from sklearn_entropylens import EmptyPromptWarning

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2)
    with pytest.warns(EmptyPromptWarning, match=r"2 empty prompt\(s\) \(first at index 1\): each is profiled as the BOS") as record:
        X = profiler.fit_transform(["a", "", "b", ""])
    assert len([w for w in record if issubclass(w.category, EmptyPromptWarning)]) == 1
    np.testing.assert_array_equal(X[1], X[3])


@pytest.mark.parametrize("call", ["transform", "pandas fit_transform", "pipeline"])
def test_warnings_point_at_the_callers_line_through_any_wrapper(tiny_llama, call):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_entropylens import EmptyPromptWarning

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2)
    with pytest.warns(EmptyPromptWarning) as record:
        if call == "transform":
            profiler.fit(["a"]).transform(["", "b"])
        elif call == "pandas fit_transform":
            profiler.set_output(transform="pandas").fit_transform(["", "b"])
        else:
            make_pipeline(profiler, StandardScaler()).fit_transform(["", "b"])
    assert record[0].filename == __file__


def test_family_protocol_profiles_the_empty_prompt_without_warning(tiny_llama):
    import warnings

    from sklearn_entropylens import EmptyPromptWarning, ModelFamilyClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyPromptWarning)
        tables = ModelFamilyClassifier(
            profiler=EntropyProfileTransformer(n_tokens=2, temperature=0.7), n_samples=2
        ).model_profiles([tiny_llama])
    assert tables[0].shape == (2, 3)


def test_progress_bar_moves_per_batch(tiny_llama, monkeypatch, capsys):
    from sklearn_entropylens.lens import _runner

    updates = []

    class RecordingBar(_runner.tqdm):
        def update(self, n=1):
            updates.append(n)
            return super().update(n)

    monkeypatch.setattr(_runner, "tqdm", RecordingBar)
    EntropyProfileTransformer(tiny_llama, n_tokens=2, batch_size=1, progress=True).fit_transform(["a", "b", "c"])
    assert updates == [1, 1, 1]
    printed = capsys.readouterr().err
    assert f"Entropy profiles ({tiny_llama}, 2 tokens)" in printed and "3/3" in printed


def test_fit_transform_reads_a_one_shot_iterable_once(tiny_llama):
    prompts = ["hello world", "a b c", "zzz"]
    expected = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit_transform(prompts)
    from_generator = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit_transform(p for p in prompts)
    np.testing.assert_array_equal(from_generator, expected)
    framed = EntropyProfileTransformer(tiny_llama, n_tokens=2).set_output(transform="pandas")
    assert framed.fit_transform(iter(prompts)).shape == (3, 3)


def test_cache_key_holds_the_device_type_and_the_engine_version(tiny_llama, tmp_path, monkeypatch):
    import dataclasses

    from sklearn_entropylens.lens import _spec

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, memory=str(tmp_path)).fit(["a"])
    profiler.transform(["a"])
    reset_profile_counters()
    profiler.transform(["a"])
    assert profiler.spec_.device_type == "cpu" and get_profile_counters()["cache_hits"] == 1
    # A profile cached for another device type, or by an earlier engine version, is not served.
    assert dataclasses.replace(profiler.spec_, device_type="cuda").cache_key() != profiler.spec_.cache_key()
    monkeypatch.setattr(_spec, "CACHE_FORMAT", _spec.CACHE_FORMAT + 1)
    profiler.transform(["a"])
    assert get_profile_counters()["computed"] == 1


def test_stale_temporaries_of_a_killed_writer_are_cleared(tiny_llama, tmp_path):
    import os
    import time

    from sklearn_entropylens.lens._cache import STALE_TEMPORARY_SECONDS, ProfileStore

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, memory=str(tmp_path)).fit(["a"])
    profiler.transform(["a"])
    stored = next(tmp_path.rglob("*.npy"))
    stale, fresh = stored.parent / "killed.tmp", stored.parent / "writing.tmp"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"in progress")
    old = time.time() - STALE_TEMPORARY_SECONDS - 60
    os.utime(stale, (old, old))
    profiler.transform(["b"])  # the next run over this cache
    assert not stale.exists() and fresh.exists()
    store = ProfileStore(tmp_path, "x")
    assert store.remove_stale_temporaries() == 0


def test_sublayer_sites_reach_features_depth_transformers_displays_and_the_command_line(tiny_llama, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_entropylens import DepthRescaler, EntropyHeatmapDisplay, EntropyProfileDisplay
    from sklearn_entropylens._cli import main

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, statistics=["entropy", "kl_to_final"],
                                         sites=("block", "mlp")).set_output(transform="pandas")
    X = profiler.fit_transform(PROMPTS)
    assert profiler.feature_layout_.groups == ("entropy", "kl_to_final", "mlp_entropy", "mlp_kl_to_final")
    assert list(X.columns[-3:]) == ["mlp_kl_to_final_layer01", "mlp_kl_to_final_layer02", "mlp_kl_to_final_layer03"]
    alone = EntropyProfileTransformer(tiny_llama, n_tokens=2, statistics=["entropy", "kl_to_final"], sites="mlp")
    np.testing.assert_array_equal(alone.fit_transform(PROMPTS), X.to_numpy()[:, 6:])  # a site does not depend on the others
    assert list(DepthRescaler(n_points=3).fit(X).groups_) == list(profiler.feature_layout_.groups)
    display = EntropyProfileDisplay.from_estimator(profiler, PROMPTS, statistic="mlp_entropy")
    assert display.ax_.get_ylabel().endswith("(nats)")
    EntropyHeatmapDisplay.from_estimator(profiler, PROMPTS[0], statistic="mlp_kl_to_final")
    (tmp_path / "p.txt").write_text("\n".join(p for p in PROMPTS if p))
    assert main(["profile", str(tmp_path / "p.txt"), "-o", str(tmp_path / "x.csv"), "--model", tiny_llama,
                 "--n-tokens", "2", "--sites", "block,attention"]) == 0
    assert "attention_entropy_layer03" in (tmp_path / "x.csv").read_text().splitlines()[0]


def test_profiles_are_keyed_by_where_the_model_runs_not_where_it_was_fitted(tiny_llama, tmp_path):
    import dataclasses

    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=2, memory=str(tmp_path)).fit(["a"])
    here = profiler.spec_
    assert here.on(profiler.load()) is here
    profiler.spec_ = dataclasses.replace(here, dtype="bfloat16", device_type="cuda")  # as if fitted on a GPU
    assert profiler.spec_.cache_key() != here.cache_key()
    profiler.transform(["a"])  # runs here, on the CPU in float32
    stored = {path.name for path in (tmp_path / "sklearn_entropylens" / "profiles").iterdir()}
    assert stored == {here.cache_key()}
