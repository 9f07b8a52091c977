import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_entropylens import (
    EntropyProfileTransformer,
    InterventionScorer,
    answer_correctness,
    load_model,
    skip_layers,
)
from sklearn_entropylens.lens._adapters import get_adapter
from sklearn_entropylens.testing import TINY_MODEL_TYPES, register_tiny_model
from tests._helpers import float64_copy, reference_entropies

IDS = torch.tensor([[1, 5, 9, 200, 17, 33, 4], [1, 70, 71, 72, 73, 74, 75]])


def _logits(model, ids=IDS, **kwargs):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False, **kwargs).logits


@pytest.mark.parametrize("model_type", TINY_MODEL_TYPES)
def test_skipping_a_block_equals_removing_it(model_type):
    model = load_model(register_tiny_model(model_type)).model
    intact = _logits(model)
    with skip_layers(model, []):
        np.testing.assert_array_equal(_logits(model), intact)
    for block in (1, 2):
        with skip_layers(model, [block]):
            skipped = _logits(model)
        pruned = copy.deepcopy(model)
        blocks = get_adapter(pruned).blocks
        del blocks[block - 1]
        np.testing.assert_allclose(skipped, _logits(pruned), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(skipped, intact)
    np.testing.assert_array_equal(_logits(model), intact)  # restored exactly


def test_skipping_composes_with_kv_cache_generation():
    loaded = load_model(register_tiny_model("llama"))
    model = loaded.model
    with torch.no_grad(), skip_layers(loaded, [2]):
        generated = model.generate(input_ids=IDS[:1], max_new_tokens=6, do_sample=False, use_cache=True)
        sequence = IDS[:1]
        for _ in range(6):  # the same greedy continuation without the cache
            next_token = model(input_ids=sequence, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_token], dim=1)
    np.testing.assert_array_equal(generated.numpy(), sequence.numpy())


def test_model_is_restored_on_error_and_bad_blocks_are_refused():
    loaded = load_model(register_tiny_model("gpt2"))
    intact = _logits(loaded.model)
    with pytest.raises(RuntimeError, match="boom"):
        with skip_layers(loaded.model, [1, 3]):
            raise RuntimeError("boom")
    assert all(not block._forward_hooks for block in get_adapter(loaded.model).blocks)
    np.testing.assert_array_equal(_logits(loaded.model), intact)
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="1-based"):
            with skip_layers(loaded.model, [bad]):
                pass


def _questions():
    rows = []
    for k in range(12):
        options = [f"opt{k}a", f"opt{k}b", f"opt{k}c", f"opt{k}d"]
        rows.append({"prompt": f"Question {k}: pick one?\nAnswer:", **dict(zip("ABCD", options)), "target": "ABCD"[k % 4]})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("min_block", [1, 2])
def test_intervention_scorer_chooses_layers_from_delta_entropy(min_block):
    # The expectation comes from the float64 oracle, layer by layer, not from the profiler under test.
    model = register_tiny_model("llama")
    loaded = load_model(model)
    questions = _questions()
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=3), n_skip=2, min_block=min_block).fit(questions)
    ids = [loaded.tokenizer(prompt)["input_ids"] for prompt in questions["prompt"]]
    model64 = float64_copy(loaded.model)
    reference, _ = reference_entropies(loaded, ids, 3, include_embedding=True, model=model64)
    mean_profile = reference.mean(axis=(0, 1))  # layers 0 .. L, averaged over prompts and positions
    np.testing.assert_allclose(scorer.mean_profile_, mean_profile, atol=1e-5)
    rises = {layer: mean_profile[layer] - mean_profile[layer - 1] for layer in range(min_block, loaded.n_layers + 1)}
    assert scorer.candidate_blocks_.tolist() == list(range(min_block, loaded.n_layers + 1))
    assert scorer.expansion_layers_.tolist() == sorted(rises, key=lambda layer: -rises[layer])[:2]
    assert scorer.pruning_layers_.tolist() == sorted(rises, key=lambda layer: rises[layer])[:2]


def _without_blocks(model, skipped):
    """A copy of a Llama with the skipped blocks removed: the independent meaning of skipping a block."""
    pruned = copy.deepcopy(model)
    kept = [block for index, block in enumerate(pruned.model.layers, start=1) if index not in set(skipped)]
    pruned.model.layers = torch.nn.ModuleList(kept)
    pruned.config.num_hidden_layers = len(kept)
    if getattr(pruned.config, "layer_types", None):
        pruned.config.layer_types = pruned.config.layer_types[: len(kept)]
    return pruned


@torch.inference_mode()
def _accuracy_one_by_one(model, tokenizer, questions, scoring):
    """Accuracy scored one question and one option at a time, without padding or batching."""
    correct = []
    for _, row in questions.iterrows():
        prompt = tokenizer(row["prompt"])["input_ids"]
        if scoring == "cloze":
            scores = []
            for letter in "ABCD":
                option = tokenizer(" " + row[letter], add_special_tokens=False)["input_ids"]
                log_probs = torch.log_softmax(model(input_ids=torch.tensor([prompt + option]), use_cache=False).logits[0].double(), -1)
                scores.append(np.mean([float(log_probs[len(prompt) - 1 + k, token]) for k, token in enumerate(option)]))
        else:
            logits = model(input_ids=torch.tensor([prompt]), use_cache=False).logits[0, -1]
            scores = [max(float(logits[tokenizer(text, add_special_tokens=False)["input_ids"][0]])
                          for text in (letter, " " + letter) if len(tokenizer(text, add_special_tokens=False)["input_ids"]) == 1)
                      for letter in "ABCD"]
        correct.append("ABCD"[int(np.argmax(scores))] == row["target"])
    return float(np.mean(correct))


def test_score_is_the_accuracy_with_the_chosen_layers_skipped():
    model = register_tiny_model("llama")
    loaded = load_model(model)
    questions = _questions()
    for strategy, scoring in [("expansion", "cloze"), ("pruning", "letter"), ("none", "cloze")]:
        scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=2), n_skip=1, strategy=strategy, scoring=scoring).fit(questions)
        layers = {"expansion": scorer.expansion_layers_, "pruning": scorer.pruning_layers_, "none": []}[strategy]
        expected = _accuracy_one_by_one(_without_blocks(loaded.model, list(layers)), loaded.tokenizer, questions, scoring)
        assert scorer.score(questions, questions["target"]) == pytest.approx(expected)


def test_score_table_and_grid_search():
    model = register_tiny_model("llama")
    questions = _questions()
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=2), n_skip=1, n_random=3, n_bootstrap=200).fit(questions)
    table = scorer.score_table(questions, questions["target"])
    assert list(table.index) == ["none", "expansion", "pruning", "random"]
    assert table.loc["none", "difference"] == 0 and table.loc["none", "ci_low"] == table.loc["none", "ci_high"] == 0
    assert len(table.loc["random", "layers"]) == 3
    for strategy in ("expansion", "pruning", "random"):
        row = table.loc[strategy]
        assert row["ci_low"] <= row["difference"] <= row["ci_high"]
        assert row["difference"] == pytest.approx(row["accuracy"] - table.loc["none", "accuracy"])
    search = GridSearchCV(
        InterventionScorer(EntropyProfileTransformer(model, n_tokens=2)), {"n_skip": [1, 2], "strategy": ["expansion", "pruning"]}, cv=KFold(2)
    ).fit(questions, questions["target"])
    assert set(search.cv_results_["param_strategy"]) == {"expansion", "pruning"}


def test_score_table_cross_fits_the_layers_on_the_other_folds_and_draws_random_blocks_from_the_candidates():
    model = register_tiny_model("llama")
    questions = _questions()
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=2), n_skip=1, n_random=4, n_bootstrap=100)
    folds = list(KFold(3, shuffle=True, random_state=0).split(questions))
    table = scorer.score_table(questions, questions["target"], cv=folds)
    assert not hasattr(scorer, "expansion_layers_")  # cross-fitting leaves the estimator unfitted
    expected_correct = np.zeros(len(questions))
    for k, (train, test) in enumerate(folds):
        fold = clone(scorer).fit(questions.iloc[train])
        assert table.loc["expansion", "layers"][k] == fold.expansion_layers_.tolist()
        assert table.loc["pruning", "layers"][k] == fold.pruning_layers_.tolist()
        expected_correct[test] = fold._correct(questions["prompt"].iloc[test].tolist(),
                                               questions[list("ABCD")].to_numpy(dtype=object)[test],
                                               questions["target"].to_numpy()[test], fold.expansion_layers_)
    assert table.loc["expansion", "accuracy"] == pytest.approx(expected_correct.mean())
    drawn = {layer for fold_draws in table.loc["random", "layers"] for draw in fold_draws for layer in draw}
    assert drawn <= {2, 3} and len(table.loc["random", "layers"]) == 3  # never block 1 (min_block=2)
    with pytest.raises(ValueError, match="one letter per question"):
        scorer.score_table(questions, ["A"], cv=2)


@pytest.mark.parametrize(
    "params, X, message",
    [
        ({"strategy": "middle"}, None, "strategy"),
        ({"scoring": "regex"}, None, "scoring"),
        ({"n_skip": 9}, None, "exceeds"),
        ({"n_skip": 2, "min_block": 3}, None, "leaves to choose from"),
        ({}, ["Question?"], "option texts"),
    ],
)
def test_intervention_scorer_bad_input(params, X, message):
    model = register_tiny_model("llama")
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=2), **params)
    with pytest.raises(ValueError, match=message):
        scorer.fit(_questions()).score(X if X is not None else _questions(), ["A"])


@pytest.mark.slow
def test_intervention_on_the_bundled_model(smollm2):
    from sklearn_entropylens.datasets import load_multiple_choice

    questions = load_multiple_choice(as_frame=True).frame.head(48)
    scorer = InterventionScorer(n_skip=2, n_random=2, n_bootstrap=200).fit(questions)
    assert scorer.n_layers_ == 30 and len(scorer.delta_entropy_) == 30
    table = scorer.score_table(questions, questions["target"])
    assert table.loc["none", "accuracy"] > 0.4  # the intact model, well above chance
    assert table["accuracy"].between(0, 1).all()


class _SyntheticScorer(InterventionScorer):
    """Per-question correctness given by hand, so the table's statistics can be checked without a model."""

    def __init__(self, n_random=10, n_bootstrap=2000, random_state=0):
        super().__init__(EntropyProfileTransformer("unused"), n_skip=1, n_random=n_random, n_bootstrap=n_bootstrap,
                         random_state=random_state)

    def _correct(self, prompts, options, answers, layers):
        return np.ones(len(prompts))

    def _skipped(self, prompts, options, answers, rng):
        n = len(prompts)
        chosen = (np.arange(n) % 2).astype(float)  # half the questions right
        # Half the draws answer every question right, half none: each question's mean over the draws is
        # 0.5, like the chosen strategy's mean, but the control's accuracy depends on which draws came up.
        draws = np.r_[np.ones((self.n_random // 2, n)), np.zeros((self.n_random // 2, n))]
        return ({"expansion": [1], "pruning": [2], "random": [[3]] * self.n_random},
                {"expansion": chosen[None, :], "pruning": chosen[None, :], "random": draws})


def test_minus_random_interval_resamples_the_questions_and_the_random_draws_together():
    questions = pd.DataFrame({"prompt": [f"q{k}" for k in range(400)], **{c: [c] * 400 for c in "ABCD"}})
    scorer = _SyntheticScorer()
    scorer.expansion_layers_ = scorer.pruning_layers_ = np.array([1])
    table = scorer.score_table(questions, ["A"] * 400)
    row = table.loc["expansion"]
    assert row["minus_random"] == pytest.approx(0.0)
    # Questions alone would give about +-0.05 (400 questions, p = 0.5); ten draws of which half fail
    # everything make the control's accuracy itself uncertain by about +-0.3.
    assert row["minus_random_ci_low"] < -0.2 and row["minus_random_ci_high"] > 0.2
    assert np.isnan(table.loc["random", "minus_random"]) and np.isnan(table.loc["none", "minus_random_ci_low"])
