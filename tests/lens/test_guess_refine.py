"""Guess-then-Refine statistics (arXiv 2510.18871): frequency ranks of top-1 tokens and decision depth."""

import numpy as np
import pytest

from sklearn_entropylens import EntropyProfileTransformer, load_model, token_frequencies
from sklearn_entropylens.datasets import load_story_texts
from sklearn_entropylens.lens import frequency_ranks
from sklearn_entropylens.lens._encoding import encode_prompts
from sklearn_entropylens.lens._reference import reference_profiles
from sklearn_entropylens.lens._runner import profile_token_ids
from sklearn_entropylens.testing import make_byte_tokenizer, register_tiny_model
from tests._helpers import float64_copy

PROMPTS = ["hello world", "The quick brown fox", "12 34", "zzz"]


def test_frequency_ranks_share_ties_and_count_strictly_more_frequent_tokens():
    np.testing.assert_array_equal(frequency_ranks([5, 0, 9, 5, 0, 1], 6), [2, 5, 1, 2, 5, 4])
    with pytest.raises(ValueError, match="one count per token id of the model's 4-token vocabulary"):
        frequency_ranks([1, 2, 3], 4)
    with pytest.raises(ValueError, match="non-negative"):
        frequency_ranks([1, -2, 3], 3)
    with pytest.raises(ValueError, match="non-negative"):
        frequency_ranks([1, np.nan, 3], 3)


def test_token_frequencies_count_every_token_of_every_text():
    tokenizer = make_byte_tokenizer()
    counts = token_frequencies(["abca", "a"], tokenizer, vocab_size=300)
    expected = np.zeros(300, dtype=np.int64)
    for text in ["abca", "a"]:
        for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
            expected[token] += 1
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == 5
    with pytest.raises(ValueError, match="string object received"):
        token_frequencies("abc", tokenizer)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "gemma2", "opt"])
@pytest.mark.parametrize("whole_rows", [False, True])
def test_settled_and_frequency_rank_match_the_float64_bruteforce(model_type, whole_rows):
    loaded = load_model(register_tiny_model(model_type))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=4)
    ranks = frequency_ranks(np.random.default_rng(0).integers(0, 50, loaded.vocab_size), loaded.vocab_size)
    statistics = ("top1_settled", "top1_frequency_rank", "entropy") + (("top_p_size",) if whole_rows else ())
    result = profile_token_ids(loaded, ids, n_tokens=4, statistics=statistics, include_embedding=True,
                               frequency_ranks=ranks, batch_size=2)
    expected, _ = reference_profiles(loaded, ids, 4, statistics=statistics, include_embedding=True,
                                     model=float64_copy(loaded.model), continuations=result.tokens,
                                     frequency_ranks=ranks)
    for name in ("top1_settled", "top1_frequency_rank"):
        assert np.mean(result[name] == expected[name]) > 0.99, name  # a top-1 can flip on a float32 near-tie
    assert set(np.unique(result["top1_settled"])) <= {0.0, 1.0}
    assert np.all(result["top1_settled"][..., -1] == 1)
    assert np.all(np.diff(result["top1_settled"], axis=-1) >= 0)  # once settled, settled to the end


def test_decision_depths_are_the_first_settled_block_and_average_from_the_features():
    name = register_tiny_model("llama")
    profiler = EntropyProfileTransformer(name, n_tokens=6, statistics=["top1_settled", "top1_agreement"]).fit(PROMPTS)
    depths = profiler.decision_depths(PROMPTS)
    settled = profiler.statistic_matrices(PROMPTS)["top1_settled"]
    agreement = profiler.statistic_matrices(PROMPTS)["top1_agreement"]
    n_layers = profiler.n_layers_
    assert depths.shape == (len(PROMPTS), 6)
    for prompt in range(len(PROMPTS)):
        for position in range(6):
            row = agreement[prompt, position]
            first = next(layer for layer in range(1, n_layers + 1) if np.all(row[layer - 1:] == 1))
            assert depths[prompt, position] == first
    features = profiler.transform(PROMPTS)[:, :n_layers]  # mean over positions of top1_settled per block
    np.testing.assert_allclose(depths.mean(axis=1), n_layers + 1 - features.sum(axis=1))
    with pytest.raises(ValueError, match="top1_settled"):
        EntropyProfileTransformer(name, n_tokens=2).fit(PROMPTS).decision_depths(PROMPTS)


def test_the_frequency_table_is_the_built_in_stories_by_default_and_part_of_the_cache_key(tmp_path):
    name = register_tiny_model("llama")
    profiler = EntropyProfileTransformer(name, n_tokens=3, statistics="top1_frequency_rank", memory=str(tmp_path))
    default = profiler.fit_transform(PROMPTS)
    loaded = profiler.load()
    counts = token_frequencies(load_story_texts(), loaded.tokenizer, vocab_size=loaded.vocab_size)
    np.testing.assert_array_equal(profiler.frequency_ranks_, frequency_ranks(counts, loaded.vocab_size))
    reversed_table = profiler.set_params(token_frequencies=counts.max() - counts).fit_transform(PROMPTS)
    assert not np.array_equal(default, reversed_table)  # not served from the default table's cache entries
    with pytest.raises(ValueError, match="one count per token id"):
        profiler.set_params(token_frequencies=[1, 2, 3]).fit(PROMPTS)
