"""Loading options, devices, low-precision weights and memory planning (the engine at scale)."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_entropylens import EntropyProfileTransformer, ModelLoadError, load_model
from sklearn_entropylens.lens import LogitLens, _decode, _memory
from sklearn_entropylens.lens import ProfileSpec
from sklearn_entropylens.lens._encoding import encode_prompts
from sklearn_entropylens.lens._layer_statistics import lens_statistics
from sklearn_entropylens.lens._runner import plan_profiling, profile_token_ids
from sklearn_entropylens.models import ModelSpec
from sklearn_entropylens.models._loading import check_unembedding
from sklearn_entropylens.lens._reference import statistics_bruteforce
from sklearn_entropylens.testing import register_tiny_model, save_tiny_model

PROMPTS = ["The cat sat on the mat", "Once upon a time", "1 2 3 4", "a", "Quantum", "Hello, world"]
ALL_STATISTICS = ("entropy", "kl_to_final", "final_token_rank", "top1_agreement", "top_p_size")


@pytest.fixture(scope="module")
def tiny_directory(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


# --- model_kwargs and devices -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, message",
    [("device_map=auto", "must be None or a dict"), ({"dtype": "float16"}, "'dtype' parameter"),
     ({"torch_dtype": "float16"}, "'dtype' parameter"), ({"revision": "main"}, "'revision' parameter")],
)
def test_model_kwargs_are_validated(tiny_directory, bad, message):
    with pytest.raises(ValueError, match=message):
        load_model(tiny_directory, model_kwargs=bad)
    with pytest.raises(ValueError, match=message):
        EntropyProfileTransformer(tiny_directory, model_kwargs=bad).fit(["a"])


def test_model_kwargs_reach_from_pretrained(tiny_directory):
    eager = load_model(tiny_directory, model_kwargs={"attn_implementation": "eager"})
    assert eager.model.config._attn_implementation == "eager"
    assert eager is not load_model(tiny_directory)
    with pytest.raises(ModelLoadError, match="Could not load"):
        load_model(tiny_directory, model_kwargs={"attn_implementation": "no-such-kernel"})


def test_device_map_loads_and_gives_the_same_profiles(tiny_directory):
    plain = EntropyProfileTransformer(tiny_directory, n_tokens=4, aggregate="concat").fit(PROMPTS)
    for device_map in ("auto", {"": "cpu"}):
        mapped = EntropyProfileTransformer(
            tiny_directory, n_tokens=4, aggregate="concat", model_kwargs={"device_map": device_map}
        ).fit(PROMPTS)
        np.testing.assert_array_equal(mapped.transform(PROMPTS), plain.transform(PROMPTS))
        # Placement does not change a number, so it is not part of the profile cache key.
        assert mapped.spec_.cache_key() == plain.spec_.cache_key()
    with pytest.raises(ValueError, match="conflicts with model_kwargs"):
        load_model(tiny_directory, device="cpu", model_kwargs={"device_map": "auto"})


def test_numeric_loading_options_key_the_cache():
    plain = ModelSpec("x", dtype="float32", device="cpu")
    placed = ModelSpec("x", dtype="float32", device="cpu", model_kwargs={"device_map": "auto", "max_memory": {0: "10GiB"}})
    eager = ModelSpec("x", dtype="float32", device="cpu", model_kwargs={"attn_implementation": "eager", "device_map": "auto"})
    assert placed.cache_key(numeric_only=True) == plain.cache_key(numeric_only=True)
    assert placed.cache_key() != plain.cache_key()  # the loaded-model cache keeps them apart
    assert eager.cache_key(numeric_only=True) == plain.cache_key(numeric_only=True).replace("kwargs=''", "kwargs=\"attn_implementation='eager'\"")
    profile = ProfileSpec(model=eager, model_revision="r", dtype="float32", device_type="cpu", n_tokens=2)
    assert profile.cache_key() != ProfileSpec(model=plain, model_revision="r", dtype="float32", device_type="cpu", n_tokens=2).cache_key()


def test_offloaded_unembedding_is_refused(tiny_directory, tmp_path):
    with pytest.raises(ModelLoadError, match="offloaded"):
        load_model(
            tiny_directory,
            model_kwargs={"device_map": {"": "disk"}, "offload_folder": str(tmp_path)},
        )


def test_quantized_unembedding_is_refused():
    class Adapter:
        unembedding = torch.nn.Linear(4, 3)

    Adapter.unembedding.weight = torch.nn.Parameter(torch.zeros(3, 4, dtype=torch.int8), requires_grad=False)
    with pytest.raises(ModelLoadError, match="quantized"):
        check_unembedding("q", Adapter())


def test_registered_models_take_no_model_kwargs():
    with pytest.raises(ValueError, match="registered in-memory model"):
        load_model(register_tiny_model("llama"), model_kwargs={"attn_implementation": "eager"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        EntropyProfileTransformer(register_tiny_model("llama"), device="cuda").fit(["a"])


# --- low-precision weights, float32 statistics ---------------------------------------------------------


@torch.inference_mode()
def test_bfloat16_lens_is_accumulated_in_float32():
    loaded = load_model(register_tiny_model("gemma2"), dtype="bfloat16")  # soft-capped logits too
    adapter = loaded.adapter
    generator = torch.Generator().manual_seed(0)
    residuals = (4 * torch.randn(2, adapter.n_layers, 3, 32, generator=generator)).to(torch.bfloat16)
    lens = LogitLens(adapter)
    normed = lens.prepare(residuals)
    exact = lens.finish(normed.double() @ adapter.unembedding.weight.double().t())
    final = exact[:, -1].float()
    values = lens_statistics(
        lens, residuals[:, :-1], list(range(1, adapter.n_layers)), final, statistics=ALL_STATISTICS, alpha=1.0,
        top_p=0.6, vocab_chunk=100, max_block_bytes=2**20,
    )
    expected = statistics_bruteforce(exact.permute(0, 2, 1, 3).numpy(), ALL_STATISTICS)
    for name in ALL_STATISTICS:
        np.testing.assert_allclose(values[name].numpy(), np.moveaxis(expected[name], 1, 2), atol=2e-5, err_msg=name)
    # The same logits through the full-row path used for the final layer of low-precision models.
    full = lens.logits(residuals[:, -1].reshape(-1, 32), [adapter.n_layers], vocab_chunk=100)
    np.testing.assert_allclose(full.numpy(), exact[:, -1].reshape(-1, exact.shape[-1]).numpy(), atol=2e-4)


def test_bfloat16_profiles_run_end_to_end():
    name = register_tiny_model("llama")
    full = EntropyProfileTransformer(name, n_tokens=4, dtype="float32").fit(PROMPTS)
    half = EntropyProfileTransformer(name, n_tokens=4, dtype="bfloat16", statistics=["entropy", "kl_to_final"])
    half.fit(PROMPTS)
    assert half.dtype_ == "bfloat16"
    entropies = half.transform(PROMPTS)[:, : full.n_layers_]
    assert np.isfinite(entropies).all()
    # bfloat16 weights move the residual stream a little; the lens itself adds no rounding.
    np.testing.assert_allclose(entropies, full.transform(PROMPTS), atol=0.05)


# --- memory planning ------------------------------------------------------------------------------------


def test_plan_with_ample_memory_is_the_cpu_default():
    loaded = load_model(register_tiny_model("llama"))
    plan = plan_profiling(loaded, [[1, 2, 3]], ProfileSpec(model=None, model_revision="r", dtype="float32", device_type="cpu", n_tokens=32))
    assert (plan.batch_size, plan.row_tile, plan.vocab_chunk) == (8, 2048, loaded.vocab_size)
    assert plan.whole_row_bytes == _memory.WHOLE_ROW_BYTES
    fixed = plan_profiling(loaded, [[1]], ProfileSpec(model=None, model_revision="r", dtype="float32", device_type="cpu", n_tokens=4), batch_size=3, vocab_chunk=17)
    assert (fixed.batch_size, fixed.vocab_chunk) == (3, 17)


def test_plan_shrinks_with_free_memory():
    loaded = load_model(register_tiny_model("llama"))
    kwargs = dict(prompt_length=200, n_tokens=256, n_lens=2, whole_rows=True)
    plans = [_memory.plan_engine(loaded, available=2**k, **kwargs) for k in (34, 22, 20, 16)]
    batches = [plan.batch_size for plan in plans]
    assert batches == sorted(batches, reverse=True) and batches[0] == 8 and batches[-1] == 1
    assert plans[-1].whole_row_bytes >= loaded.vocab_size * 4  # always at least one whole row


def test_plan_for_a_256k_vocabulary_at_256_tokens_fits_its_budget():
    # A Gemma-like model: 262,144 columns, 256 generated tokens, on a GPU-sized budget.
    loaded = load_model(register_tiny_model("gemma3_text", name="tiny-gemma3-256k", vocab_size=262_144))
    available = 8 * 2**30
    plan = _memory.plan_engine(loaded, prompt_length=512, n_tokens=256, n_lens=loaded.n_layers, whole_rows=True,
                               available=available)
    rows = max(plan.row_tile, loaded.n_layers * plan.batch_size)
    tile = rows * plan.vocab_chunk * 4 * 3
    per_prompt = _memory.prompt_bytes(loaded, prompt_length=512, n_tokens=256)
    assert tile + 4 * plan.whole_row_bytes + plan.batch_size * per_prompt <= available * 0.5 + 1


def test_kv_cache_estimate_matches_the_cache(tiny_llama):
    loaded = load_model(tiny_llama)
    ids = torch.tensor([[1] * 10])
    with torch.inference_mode():
        cache = loaded.model(input_ids=ids, use_cache=True).past_key_values
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    estimate = _memory.prompt_bytes(loaded, prompt_length=10, n_tokens=0)
    assert measured <= estimate
    config = loaded.model.config
    kv = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 10 * 4
    assert measured == kv


def test_auto_plan_gives_the_profiles_of_one_prompt_at_a_time(tiny_llama):
    # The automatic plan batches 8 prompts and tiles the vocabulary; each prompt alone, untiled, is the
    # independent expectation: the same tokens and the same statistics up to float32 rounding.
    loaded = load_model(tiny_llama)
    ids = encode_prompts(loaded, PROMPTS * 3, n_tokens=5)
    auto = profile_token_ids(loaded, ids, n_tokens=5, statistics=ALL_STATISTICS)
    alone = [profile_token_ids(loaded, [one], n_tokens=5, batch_size=1, vocab_chunk=loaded.vocab_size,
                               statistics=ALL_STATISTICS) for one in ids]
    for name in ALL_STATISTICS:
        np.testing.assert_allclose(auto[name], np.concatenate([one[name] for one in alone]), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(auto.tokens, np.concatenate([one.tokens for one in alone]))


def test_out_of_memory_batches_are_retried_in_halves(monkeypatch, tiny_llama):
    loaded = load_model(tiny_llama)
    ids = encode_prompts(loaded, PROMPTS, n_tokens=4)
    expected = profile_token_ids(loaded, ids, n_tokens=4, batch_size=2)
    real = _decode._profile_batch

    def small_device(loaded, lens, batch_ids, *args):
        if len(batch_ids) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(loaded, lens, batch_ids, *args)

    monkeypatch.setattr(_decode, "_profile_batch", small_device)
    with pytest.warns(RuntimeWarning, match="retrying in batches of 3 and 3"):
        result = profile_token_ids(loaded, ids, n_tokens=4, batch_size=6)
    np.testing.assert_allclose(result["entropy"], expected["entropy"], atol=1e-5)
    np.testing.assert_array_equal(result.tokens, expected.tokens)

    monkeypatch.setattr(_decode, "_profile_batch", lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MemoryError, match="lower n_tokens"):
            profile_token_ids(loaded, ids[:2], n_tokens=4, batch_size=2)


def test_auto_parameters_are_validated():
    for bad in ("big", 0, 2.5):
        with pytest.raises((TypeError, ValueError), match="batch_size"):
            EntropyProfileTransformer(register_tiny_model("llama"), batch_size=bad).fit(["a"])
        with pytest.raises((TypeError, ValueError), match="vocab_chunk"):
            EntropyProfileTransformer(register_tiny_model("llama"), vocab_chunk=bad).fit(["a"])
