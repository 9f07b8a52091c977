import numpy as np
import pytest
import skops.io
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_entropylens import (
    EntropyProfileTransformer, TunedLens, dump, get_trusted_types, load, load_model, register_model,
)
from sklearn_entropylens.datasets import load_story_texts
from sklearn_entropylens.estimators._tuned_lens import _Trainer, residual_streams
from sklearn_entropylens.lens import Translators
from sklearn_entropylens.lens._encoding import encode_prompts
from sklearn_entropylens.lens._reference import reference_profiles
from sklearn_entropylens.lens._runner import profile_token_ids
from sklearn_entropylens._testing import float64_copy, make_byte_tokenizer, make_tiny_model, register_tiny_model

TEXTS = load_story_texts()
PROMPTS = ["hello world", "The quick brown fox", "12 34"]
ALL_STATISTICS = ("entropy", "kl_to_final", "final_token_rank", "top1_agreement", "top_p_size", "top_p_overlap")


def _random_translators(loaded, scale=0.05, seed=0):
    generator = np.random.default_rng(seed)
    width, n_layers = loaded.adapter.width, loaded.n_layers
    weights = (scale * generator.standard_normal((n_layers, width, width))).astype(np.float32)
    biases = (scale * generator.standard_normal((n_layers, width))).astype(np.float32)
    return Translators(weights, biases, loaded.name, loaded.revision)


@pytest.fixture(scope="module")
def fitted_tiny():
    """A tuned lens of a tiny Llama, fitted on 40 stories (whole vocabulary: the tiny model's 259 tokens)."""
    name = register_tiny_model("llama")
    return name, TunedLens(name, max_length=48, max_epochs=6, training_vocab=None).fit(TEXTS[:40])


def test_translators_at_the_identity_reproduce_the_logit_lens_exactly():
    loaded = load_model(register_tiny_model("llama"))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=4)
    zero = Translators(np.zeros((loaded.n_layers, 32, 32), np.float32), np.zeros((loaded.n_layers, 32), np.float32),
                       loaded.name, loaded.revision)
    logit = profile_token_ids(loaded, ids, n_tokens=4, statistics=ALL_STATISTICS, include_embedding=True)
    tuned = profile_token_ids(loaded, ids, n_tokens=4, statistics=ALL_STATISTICS, include_embedding=True,
                              lens=zero.lens(loaded.adapter))
    np.testing.assert_array_equal(tuned.values, logit.values)


@pytest.mark.parametrize("model_type", ["llama", "gemma2", "gpt2"])
def test_profiles_through_a_tuned_lens_match_the_float64_oracle(model_type):
    loaded = load_model(register_tiny_model(model_type))
    ids = encode_prompts(loaded, PROMPTS, n_tokens=3)
    translators = _random_translators(loaded)
    result = profile_token_ids(loaded, ids, n_tokens=3, statistics=ALL_STATISTICS, include_embedding=True,
                               lens=translators.lens(loaded.adapter))
    expected, _ = reference_profiles(
        loaded, ids, 3, statistics=ALL_STATISTICS, include_embedding=True, model=float64_copy(loaded.model),
        continuations=result.tokens, head_paths=loaded.adapter.paths["head"],
        translators=(translators.weights.astype(np.float64), translators.biases.astype(np.float64)),
    )
    for name in ("entropy", "kl_to_final"):
        np.testing.assert_allclose(result[name], expected[name], atol=2e-4)
    agree = np.isclose(result["final_token_rank"], expected["final_token_rank"])
    assert agree.mean() > 0.99  # a rank can flip on a float32 near-tie


@pytest.mark.parametrize("model_type", ["llama", "gemma2"])
def test_the_training_divergence_equals_a_float64_bruteforce(model_type):
    loaded = load_model(register_tiny_model(model_type))
    streams = residual_streams(loaded, TEXTS[:2], max_length=16)
    translators = _random_translators(loaded, seed=1)
    trainer = _Trainer(loaded, streams, streams, TunedLens(training_vocab=None), np.random.RandomState(0))
    got = trainer.divergence(streams, torch.as_tensor(translators.weights), torch.as_tensor(translators.biases))

    model64 = float64_copy(loaded.model)
    head = [model64.get_submodule(path) for path in loaded.adapter.paths["head"]]
    unembedding = model64.get_output_embeddings()
    softcap = getattr(model64.config, "final_logit_softcapping", None)

    def log_probs(hidden):
        for module in head:
            hidden = module(hidden)
        logits = unembedding(hidden)
        if softcap:
            logits = softcap * torch.tanh(logits / softcap)
        return torch.log_softmax(logits, dim=-1)

    rows = streams.double()
    n_layers = loaded.n_layers
    with torch.no_grad():
        final = log_probs(rows[:, n_layers])
        translated = rows[:, :n_layers] + torch.einsum("bld,led->ble", rows[:, :n_layers],
                                                       torch.as_tensor(translators.weights, dtype=torch.float64))
        translated = translated + torch.as_tensor(translators.biases, dtype=torch.float64)
        expected = (final.exp()[:, None] * (final[:, None] - log_probs(translated))).sum(-1).sum(0)
    np.testing.assert_allclose(got.detach().double().numpy(), expected.numpy(), rtol=1e-4)


def test_a_fitted_tuned_lens_lowers_held_out_kl_at_every_block_but_the_last(fitted_tiny):
    _, lens = fitted_tiny
    held_out = TEXTS[100:112]  # never seen in fit, neither trained on nor used for early stopping
    tuned, logit = lens.kl_divergence(held_out), lens.kl_divergence(held_out, lens="logit")
    assert tuned.shape == logit.shape == (lens.n_layers_ + 1,)
    assert np.all(tuned[:-1] < logit[:-1])
    assert tuned[-1] == logit[-1] == pytest.approx(0, abs=1e-6)
    assert np.all(lens.validation_kl_[:-1] < lens.logit_lens_validation_kl_[:-1])
    assert lens.score(held_out) == pytest.approx(-tuned[:-1].mean())
    assert lens.best_epoch_.min() >= 1 and lens.history_.shape == (lens.n_epochs_ + 1, lens.n_layers_)


def test_fit_is_seeded(fitted_tiny):
    name, lens = fitted_tiny
    again = clone(lens).set_params(max_epochs=1).fit(TEXTS[:40])
    once_more = TunedLens(name, max_length=48, max_epochs=1, training_vocab=None).fit(TEXTS[:40])
    np.testing.assert_array_equal(again.weights_, once_more.weights_)


def test_the_transformer_profiles_through_a_fitted_tuned_lens_and_caches_it_apart(fitted_tiny, tmp_path):
    name, lens = fitted_tiny
    logit = EntropyProfileTransformer(name, n_tokens=3, statistics=["entropy", "kl_to_final"], memory=str(tmp_path))
    tuned = clone(logit).set_params(lens=lens)
    logit_features, tuned_features = logit.fit_transform(PROMPTS), tuned.fit_transform(PROMPTS)
    assert tuned.lens_hash_ == lens.lens_hash_ and logit.lens_hash_ is None
    assert not np.allclose(logit_features, tuned_features)  # a different lens, a different cache entry
    np.testing.assert_array_equal(tuned.transform(PROMPTS), tuned_features)  # served from the cache
    np.testing.assert_array_equal(clone(tuned).fit_transform(PROMPTS), tuned_features)  # clones keep the lens
    kl = tuned_features[:, tuned.n_layers_:]
    assert kl[:, -1] == pytest.approx(0, abs=1e-6)


def test_a_tuned_lens_is_refused_where_it_does_not_apply(fitted_tiny):
    name, lens = fitted_tiny
    with pytest.raises(NotFittedError, match="fitted TunedLens"):
        EntropyProfileTransformer(name, lens=TunedLens(name)).fit(PROMPTS)
    with pytest.raises(ValueError, match="block site only"):
        EntropyProfileTransformer(name, lens=lens, sites=("block", "mlp")).fit(PROMPTS)
    other = register_tiny_model("gpt2")
    with pytest.raises(ValueError, match=f"fitted on {name!r}.*not on {other!r}"):
        EntropyProfileTransformer(other, lens=lens).fit(PROMPTS)
    with pytest.raises(ValueError, match="lens"):
        EntropyProfileTransformer(name, lens="tuned").fit(PROMPTS)


def test_the_revision_is_recorded_and_checked():
    model, tokenizer = make_tiny_model("llama"), make_byte_tokenizer()
    register_model("tiny-revised", model, tokenizer, revision="v1")
    lens = TunedLens("tiny-revised", max_length=16, max_epochs=1, training_vocab=None).fit(TEXTS[:4])
    assert lens.model_revision_ == "v1"
    register_model("tiny-revised", model, tokenizer, revision="v2")
    with pytest.raises(ValueError, match="revision 'v1'.*revision 'v2'"):
        EntropyProfileTransformer("tiny-revised", lens=lens).fit(PROMPTS)


def test_skops_round_trip_of_a_tuned_lens_and_of_a_pipeline_that_uses_it(fitted_tiny, tmp_path):
    name, lens = fitted_tiny
    pipeline = make_pipeline(EntropyProfileTransformer(name, n_tokens=2, lens=lens)).fit(PROMPTS)
    for estimator, file in ((lens, tmp_path / "lens.skops"), (pipeline, tmp_path / "pipeline.skops")):
        dump(estimator, file)
        with pytest.raises(Exception, match="[Uu]ntrusted|trusted"):
            skops.io.load(file)
        assert not any("torch" in type_name for type_name in skops.io.get_untrusted_types(file=file))
    restored = load(tmp_path / "lens.skops")
    np.testing.assert_array_equal(restored.weights_, lens.weights_)
    assert restored.lens_hash_ == lens.lens_hash_ == restored.translators().content_hash()
    restored_pipeline = skops.io.load(tmp_path / "pipeline.skops", trusted=get_trusted_types())
    np.testing.assert_array_equal(restored_pipeline.transform(PROMPTS), pipeline.transform(PROMPTS))


def test_bad_input_is_refused_with_a_clear_error():
    name = register_tiny_model("llama")
    with pytest.raises(ValueError, match="at least 2 texts"):
        TunedLens(name).fit(["only one"])
    with pytest.raises(ValueError, match="string object received"):
        TunedLens(name).fit("a bare string")
    with pytest.raises(ValueError, match="validation_fraction"):
        TunedLens(name, validation_fraction=1.5).fit(TEXTS[:4])
    with pytest.raises(NotFittedError):
        TunedLens(name).kl_divergence(PROMPTS)
