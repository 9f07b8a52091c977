import math

import numpy as np
import pytest
import torch

from sklearn_entropylens import load_model
from sklearn_entropylens.lens import LogitLens
from sklearn_entropylens.lens._encoding import encode_prompts
from sklearn_entropylens.lens._runner import profile_token_ids
from sklearn_entropylens.lens._reference import entropy_bruteforce, reference_profiles
from sklearn_entropylens.testing import TINY_MODEL_TYPES, register_tiny_model
from tests._helpers import entropies_of, float64_copy, reference_entropies


PROMPTS = ["hello world", "a", "The quick brown fox jumps", "", "12 34 56", "zzz"]


@pytest.mark.parametrize("model_type", TINY_MODEL_TYPES)
def test_engine_matches_float64_reference_on_every_architecture(model_type):
    loaded = load_model(register_tiny_model(model_type))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=6)
    entropies, tokens = entropies_of(loaded, ids, n_tokens=6, batch_size=4)
    assert entropies.shape == (len(PROMPTS), 6, loaded.n_layers)
    model64 = float64_copy(loaded.model)
    expected, _ = reference_entropies(loaded, ids, 6, model=model64, continuations=tokens)
    np.testing.assert_allclose(entropies, expected, atol=2e-4)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "gemma2"])
def test_final_layer_is_the_entropy_of_the_models_own_logits(model_type):
    loaded = load_model(register_tiny_model(model_type))
    ids = encode_prompts(loaded, ["abc", "hello there"], n_tokens=3)
    entropies, tokens = entropies_of(loaded, ids, n_tokens=3)
    for row, prompt_ids in enumerate(ids):
        sequence = prompt_ids + list(tokens[row, :-1])
        with torch.no_grad():
            logits = loaded.model(input_ids=torch.tensor([sequence])).logits[0, -3:]
        np.testing.assert_allclose(entropies[row, :, -1], entropy_bruteforce(logits.double()), atol=1e-5)
        np.testing.assert_array_equal(tokens[row], logits.argmax(-1).numpy())


def test_positions_start_at_last_prompt_token():
    loaded = load_model(register_tiny_model("llama"))
    ids = encode_prompts(loaded, ["hello"], n_tokens=1)
    entropies, tokens = entropies_of(loaded, ids, n_tokens=1)
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor(ids)).logits[0, -1]
    assert entropies[0, 0, -1] == pytest.approx(float(entropy_bruteforce(logits.double())), abs=1e-5)
    assert tokens[0, 0] == int(logits.argmax())


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "gemma3_text", "opt", "gpt_neox"])
def test_profiles_do_not_depend_on_batch_size_or_batch_mates(model_type):
    loaded = load_model(register_tiny_model(model_type))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=5)
    reference, reference_tokens = entropies_of(loaded, ids, n_tokens=5, batch_size=1)
    for batch_size in (2, 3, 6):
        got, got_tokens = entropies_of(loaded, ids, n_tokens=5, batch_size=batch_size)
        np.testing.assert_allclose(got, reference, atol=1e-5)
        np.testing.assert_array_equal(got_tokens, reference_tokens)
    # Same prompt next to a very long one (much left padding).
    long = encode_prompts(loaded, ["x" * 300], n_tokens=5)
    got, _ = entropies_of(loaded, [ids[1]] + long, n_tokens=5, batch_size=2)
    np.testing.assert_allclose(got[0], reference[1], atol=1e-5)


def test_embedding_layer_and_renyi():
    loaded = load_model(register_tiny_model("gpt2"))
    ids = encode_prompts(loaded, ["hi", "hello"], n_tokens=3)
    with_embedding, tokens = entropies_of(loaded, ids, n_tokens=3, include_embedding=True)
    without, _ = entropies_of(loaded, ids, n_tokens=3)
    np.testing.assert_allclose(with_embedding[:, :, 1:], without, atol=1e-6)
    with torch.no_grad():
        hidden = loaded.model(input_ids=torch.tensor([ids[0]]), output_hidden_states=True).hidden_states[0][0, -1]
        expected = entropy_bruteforce(LogitLens(loaded.adapter).logits(hidden[None], [0])[0].double())
    assert with_embedding[0, 0, 0] == pytest.approx(float(expected), abs=1e-5)
    for alpha in (0.5, 2.0, math.inf):
        renyi, _ = entropies_of(loaded, ids, n_tokens=3, alpha=alpha)
        model64 = float64_copy(loaded.model)
        expected, _ = reference_entropies(loaded, ids, 3, alpha=alpha, model=model64, continuations=tokens)
        np.testing.assert_allclose(renyi, expected, atol=2e-4)


def test_sampling_is_seeded_per_prompt():
    loaded = load_model(register_tiny_model("llama"))
    ids = encode_prompts(loaded, ["a", "b", "c"], n_tokens=8)
    first, tokens_a = entropies_of(loaded, ids, n_tokens=8, temperature=1.0, seeds=[1, 2, 3], batch_size=3)
    second, tokens_b = entropies_of(loaded, ids[::-1], n_tokens=8, temperature=1.0, seeds=[3, 2, 1], batch_size=1)
    np.testing.assert_array_equal(tokens_a, tokens_b[::-1])
    np.testing.assert_allclose(first, second[::-1], atol=1e-5)
    _, other = entropies_of(loaded, ids, n_tokens=8, temperature=1.0, seeds=[4, 5, 6])
    assert not np.array_equal(other, tokens_a)
    _, greedy = entropies_of(loaded, ids, n_tokens=8)
    _, cold = entropies_of(loaded, ids, n_tokens=8, temperature=1e-4, seeds=[4, 5, 6])
    np.testing.assert_array_equal(cold, greedy)


def test_empty_prompt_is_bos_alone():
    loaded = load_model(register_tiny_model("llama"))
    assert encode_prompts(loaded, [""], n_tokens=2) == [[loaded.tokenizer.bos_token_id]]


def test_prompt_too_long_for_context():
    loaded = load_model(register_tiny_model("gpt2"))
    long_prompt = "y" * 1100
    with pytest.raises(ValueError, match="Prompt 1 has 1101 tokens.*truncation='left'"):
        encode_prompts(loaded, ["ok", long_prompt], n_tokens=4)
    with pytest.warns(UserWarning, match="truncated from the left to 1021 tokens"):
        ids = encode_prompts(loaded, ["ok", long_prompt], n_tokens=4, truncation="left")
    assert len(ids[1]) == 1021 and ids[1][-1] == ids[1][-2]
    with pytest.raises(ValueError, match="n_tokens=2000 does not fit"):
        encode_prompts(loaded, ["ok"], n_tokens=2000)


def test_chat_template_missing_is_a_clear_error():
    loaded = load_model(register_tiny_model("llama"))
    with pytest.raises(ValueError, match="has no chat template"):
        encode_prompts(loaded, ["hi"], n_tokens=2, chat_template=True)


def test_non_finite_logits_raise():
    name = register_tiny_model("llama", name="tiny-llama-nan")
    loaded = load_model(name)
    ids = encode_prompts(loaded, ["hi"], n_tokens=2)
    with torch.no_grad():
        saved = loaded.adapter.head[0].weight.clone()
        loaded.adapter.head[0].weight.fill_(float("nan"))
    try:
        with pytest.raises(FloatingPointError, match="non-finite logits"):
            entropies_of(loaded, ids, n_tokens=2)
    finally:
        with torch.no_grad():
            loaded.adapter.head[0].weight.copy_(saved)


ALL_STATISTICS = ("entropy", "kl_to_final", "final_token_rank", "top1_agreement", "top_p_size", "top_p_overlap")


@pytest.mark.parametrize("model_type, overrides", [
    ("llama", {}), ("gemma2", {}), ("phi", {}), ("opt", {}),
    # OPT-350m's layout: post-LN blocks, no final norm, and a projection out of a wider residual stream.
    ("opt", {"word_embed_proj_dim": 16, "do_layer_norm_before": False}),
], ids=["llama", "gemma2", "phi", "opt", "opt-350m-style"])
@pytest.mark.parametrize("include_embedding", [False, True])
def test_every_statistic_matches_the_float64_reference(model_type, overrides, include_embedding):
    name = f"tiny-{model_type}-{'-'.join(f'{k}{v}' for k, v in overrides.items())}" if overrides else None
    loaded = load_model(register_tiny_model(model_type, name=name, **overrides))
    if "word_embed_proj_dim" in overrides:
        assert loaded.adapter.paths["head"] == ("model.decoder.project_out",)  # no final norm, the projection
    ids = encode_prompts(loaded, PROMPTS, n_tokens=4)
    values = profile_token_ids(
        loaded, ids, n_tokens=4, batch_size=4, statistics=ALL_STATISTICS, include_embedding=include_embedding
    )
    tokens = values.tokens
    model64 = float64_copy(loaded.model)
    expected, _ = reference_profiles(
        loaded, ids, 4, model=model64, continuations=tokens, statistics=ALL_STATISTICS, include_embedding=include_embedding
    )
    n_layers = loaded.n_layers + int(include_embedding)
    for name in ALL_STATISTICS:
        assert values[name].shape == (len(PROMPTS), 4, n_layers), name
        np.testing.assert_allclose(values[name], expected[name], atol=2e-4, rtol=1e-5, err_msg=name)
    np.testing.assert_array_equal(values["kl_to_final"][..., -1], 0.0)
    np.testing.assert_array_equal(values["final_token_rank"][..., -1], 1.0)
    np.testing.assert_array_equal(values["top1_agreement"], values["final_token_rank"] == 1)


def test_statistics_do_not_change_each_other_or_the_tokens():
    loaded = load_model(register_tiny_model("llama"))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=5)
    alone, tokens = entropies_of(loaded, ids, n_tokens=5, batch_size=3)
    together = profile_token_ids(loaded, ids, n_tokens=5, batch_size=3, statistics=ALL_STATISTICS)
    np.testing.assert_allclose(together["entropy"], alone, atol=1e-5)
    np.testing.assert_array_equal(together.tokens, tokens)


def test_whole_row_statistics_split_large_batches(monkeypatch):
    from sklearn_entropylens.lens import _memory

    loaded = load_model(register_tiny_model("llama"))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=3)
    reference = profile_token_ids(loaded, ids, n_tokens=3, batch_size=6, statistics=ALL_STATISTICS)
    # A bound below one prompt's rows forces one prompt per block, and a tiny buffer one position per pass.
    monkeypatch.setattr(_memory, "WHOLE_ROW_BYTES", 1)
    split = profile_token_ids(loaded, ids, n_tokens=3, batch_size=6, statistics=ALL_STATISTICS)
    for name in ALL_STATISTICS:
        np.testing.assert_allclose(split[name], reference[name], atol=1e-5, err_msg=name)
