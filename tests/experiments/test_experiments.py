import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sklearn_entropylens import dump, get_trusted_types, load, load_model, run_experiment, token_frequencies  # noqa: E402
from sklearn_entropylens.datasets import FACT_RECALL, load_story_texts  # noqa: E402
from sklearn_entropylens.lens import frequency_ranks  # noqa: E402
from sklearn_entropylens.lens._encoding import encode_prompts  # noqa: E402
from sklearn_entropylens.lens._reference import reference_profiles  # noqa: E402
from sklearn_entropylens.testing import save_tiny_model  # noqa: E402
from tests._helpers import entropies_of, float64_copy  # noqa: E402


@pytest.fixture(scope="module")
def tiny_directory(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.mark.parametrize("name, columns", [
    ("formats", {"auc", "dummy_auc"}),
    ("correctness", {"auc", "dummy_auc"}),
    ("intervention", {"accuracy", "difference", "ci_low", "ci_high"}),
    ("guess-then-refine", {"study", "lens", "measure", "value", "ci_low", "ci_high", "n_prompts"}),
])
def test_experiments_run_end_to_end_on_a_tiny_model(tmp_path, tiny_directory, name, columns):
    result = run_experiment(name, model=tiny_directory, memory=str(tmp_path / "cache"), quick=True)
    assert columns <= set(result.table.columns)
    assert result.summary and result.paper and len(result.figure.axes) >= 2
    dump(result.estimator, tmp_path / "estimator.skops")
    assert type(load(tmp_path / "estimator.skops", trusted=get_trusted_types())) is type(result.estimator)


def test_correctness_experiment_reports_its_baselines_and_selective_scores(tmp_path, tiny_directory, capsys):
    result = run_experiment("correctness", model=tiny_directory, memory=str(tmp_path / "cache"), quick=True,
                            progress=True)
    assert "Entropy profiles" in capsys.readouterr().err  # a bar over the prompts each profiling run computes
    table = result.table.set_index("setting")
    assert list(table.index) == ["profile, standardised", "profile, raw nats (no scaler, as the paper)",
                                 "answer position only (n_tokens=1)", "category only (logistic regression)",
                                 "profile + category (logistic regression)",
                                 "answer position + category (logistic regression)"]
    assert table[["prr", "aurc"]].notna().all().all() and table["aurc"].between(0, 1).all()
    assert set(result.per_category["category"]) == {"capitals", "opposites"}  # the first 80 questions
    assert result.versus_category.ci_low <= result.versus_category.mean_difference <= result.versus_category.ci_high
    assert "category-only baseline" in result.summary
    versus = result.versus_category_table.set_index("setting")
    assert "category only (logistic regression)" not in versus.index and len(versus) == 5
    assert (versus["ci_low"] <= versus["minus_category"]).all() and (versus["minus_category"] <= versus["ci_high"]).all()


def _first_settled_block(agreement):
    """By hand: the first block (1-based) from which the top-1 token is the final one at every later block."""
    n_layers = len(agreement)
    return next(block for block in range(1, n_layers + 1) if np.all(agreement[block - 1:] == 1))


def test_guess_then_refine_values_match_a_float64_recomputation_on_the_tiny_model(tiny_directory):
    result = run_experiment("guess-then-refine", model=tiny_directory, quick=True)
    table, curves = result.table, result.curves
    assert set(table["study"]) == {"frequency_guesses", "function_words", "fact_recall", "multiple_choice"}
    assert set(table["lens"]) == set(curves["lens"]) == {"logit", "tuned"}
    assert table.groupby("lens").size().nunique() == 1  # the same measures through each lens

    def value(lens, measure):
        [row] = table[(table["lens"] == lens) & table["measure"].str.startswith(measure)]["value"]
        return row

    # Recomputed independently for the logit lens: the quick run reads the openings (first 12 words) of
    # built-in stories 100-105, 8 generated tokens each, and ranks tokens by their counts in stories 0-99.
    loaded = load_model(tiny_directory)
    stories = load_story_texts()
    openings = [" ".join(story.split()[:12]) for story in stories[100:106]]
    ranks = frequency_ranks(token_frequencies(stories[:100], loaded.tokenizer, vocab_size=loaded.vocab_size),
                            loaded.vocab_size)
    ids = encode_prompts(loaded, openings, n_tokens=8)
    _, tokens = entropies_of(loaded, ids, n_tokens=8)  # the greedy continuations, forced on the float64 copy
    model64 = float64_copy(loaded.model)
    expected, _ = reference_profiles(loaded, ids, 8, statistics=("top1_frequency_rank", "top1_agreement"),
                                     model=model64, continuations=tokens, frequency_ranks=ranks)
    n_layers = loaded.n_layers
    top10 = (expected["top1_frequency_rank"] <= 10).mean(axis=(0, 1))
    top100 = (expected["top1_frequency_rank"] <= 100).mean(axis=(0, 1))
    refinement = 1 - expected["top1_agreement"].mean(axis=(0, 1))
    logit = curves[curves["lens"] == "logit"]
    # Exact: on these inputs the tiny model's top-1 logit leads the second by at least 2.6e-3 at every
    # block and position, far beyond float32's error, so no top-1 can flip between the two computations.
    np.testing.assert_allclose(logit["relative_depth"], np.arange(1, n_layers + 1) / n_layers)
    np.testing.assert_allclose(logit["top10_share"], top10, rtol=0, atol=1e-12)
    np.testing.assert_allclose(logit["top100_share"], top100, rtol=0, atol=1e-12)
    np.testing.assert_allclose(logit["refinement_rate"], refinement, rtol=0, atol=1e-12)
    assert value("logit", "block 1: share") == pytest.approx(top10[0], abs=1e-12)
    assert value("logit", "last block: share") == pytest.approx(top10[-1], abs=1e-12)
    # Three blocks: the first quarter is block 1.
    assert value("logit", "first quarter of blocks: refinement rate") == pytest.approx(refinement[0], abs=1e-12)

    # Fact recall: 12 facts in the quick run, every answer two or more byte tokens; the first answer
    # token's decision depth is the first settled block, worked out by hand from the top-1 agreement.
    prompts = [prompt for prompt, _ in FACT_RECALL[:12]]
    fact_ids = encode_prompts(loaded, prompts, n_tokens=3)
    _, fact_tokens = entropies_of(loaded, fact_ids, n_tokens=3)
    facts, _ = reference_profiles(loaded, fact_ids, 3, statistics=("top1_agreement",), model=model64,
                                  continuations=fact_tokens)
    first_depths = [_first_settled_block(facts["top1_agreement"][i, 0]) / n_layers for i in range(len(prompts))]
    assert table[table["measure"].str.startswith("all facts")]["n_prompts"].eq(12).all()
    assert value("logit", "all facts: first token decision depth") == pytest.approx(np.mean(first_depths), abs=1e-12)

    # Invariants of both lenses.
    for lens, part in curves.groupby("lens"):
        assert part[["top10_share", "top100_share", "refinement_rate"]].apply(lambda c: c.between(0, 1).all()).all()
        assert (part["top100_share"] >= part["top10_share"]).all()
        assert part["refinement_rate"].iloc[-1] == 0  # the last block is the model's own prediction
        # Each table row is the mean of per-prompt values over prompts of equally many positions: the
        # curve's value at its block.
        first_quarter = part["relative_depth"] <= max(1, n_layers // 4) / n_layers
        assert value(lens, "block 1: share") == pytest.approx(part["top10_share"].iloc[0])
        assert value(lens, "last block: share") == pytest.approx(part["top10_share"].iloc[-1])
        assert value(lens, "block 1 minus last block") == pytest.approx(
            part["top10_share"].iloc[0] - part["top10_share"].iloc[-1])
        assert value(lens, "first quarter of blocks: refinement rate") == pytest.approx(
            part.loc[first_quarter, "refinement_rate"].mean())
        depths = table[(table["lens"] == lens) & table["measure"].str.contains("decision depth")]["value"].dropna()
        assert depths.between(1 / n_layers, 1).all()  # relative depths of blocks 1 .. L
        # An answer that settles on a letter is a letter from then on: the letter comes no later.
        n_answered = table[(table["lens"] == lens) & (table["study"] == "multiple_choice")]["n_prompts"].iloc[0]
        assert 0 <= n_answered <= 40
        if n_answered:
            assert value(lens, "answer minus letter") >= 0
            assert value(lens, "answer minus letter") == pytest.approx(
                value(lens, "top-1 becomes the final answer") - value(lens, "top-1 becomes an option letter"))


def test_unknown_experiment():
    with pytest.raises(ValueError, match="Unknown experiment 'mmlu'"):
        run_experiment("mmlu")


@pytest.mark.slow
def test_families_experiment_on_the_bundled_models(smollm2, gemma3, tmp_path):
    result = run_experiment("families", memory=str(tmp_path), quick=True)
    identity = result.table[result.table["test"] == "model identity"]
    assert identity["accuracy"].min() >= 0.9
    assert {"llama", "gemma3"} <= set(result.estimator.classes_)


def test_correctness_folds_shrink_to_the_rarer_class_and_refuse_below_two():
    from sklearn_entropylens.experiments._paper import _folds_for_rare_class

    assert _folds_for_rare_class([1] * 100 + [0] * 30, 10) == 10
    assert _folds_for_rare_class([1] * 201 + [0] * 5, 10) == 5  # every test fold still holds a wrong answer
    with pytest.raises(ValueError, match="1 questions right and 40 wrong"):
        _folds_for_rare_class([1] + [0] * 40, 10)


def test_fact_correctness_compares_the_profile_with_the_outputs_own_confidence(tmp_path, tiny_directory):
    import numpy as np

    from sklearn_entropylens.datasets import load_fact_questions
    from sklearn_entropylens.experiments._fact_correctness import COMPARISONS, run_fact_correctness

    frame = load_fact_questions(as_frame=True).frame
    questions = frame.groupby("category", group_keys=False).head(12)  # 96 questions, every category
    result = run_fact_correctness(model=tiny_directory, questions=questions, memory=str(tmp_path / "cache"), n_splits=3)
    table = result.table.set_index("setting")
    assert {"(a) category + difficulty", "(b) output confidence", "profile", "(c) profile + output confidence",
            "(a) + (b)", "(a) + (b) + profile"} <= set(table.index)
    assert table.loc["profile", "n_features"] == 3  # one entropy per block of the tiny model (n_tokens=1)
    assert table.loc["(c) profile + output confidence", "n_features"] == 3 + 6
    assert (table["auc_ci_low"] <= table["auc"]).all() and (table["auc"] <= table["auc_ci_high"]).all()
    comparisons = result.comparisons.set_index("setting")
    assert list(zip(comparisons.index, comparisons["baseline"])) == list(COMPARISONS)
    for metric in ("auc", "prr", "aurc"):  # each difference is the difference of the fold means
        setting, baseline = COMPARISONS[0]
        expected = table.loc[setting, metric] - table.loc[baseline, metric]
        assert comparisons.loc[setting, f"{metric}_difference"] == pytest.approx(expected)
    # Folds grouped by entity: every question about one country or city is on one side.
    entity = questions["entity"].to_numpy()
    for train, test in result.folds:
        assert not set(entity[train]) & set(entity[test])
    assert set(result.accuracy.index) == set(questions["category"])
    assert np.isfinite(result.answers[["answer_entropy", "sequence_log_likelihood"]].to_numpy()).all()
    again = run_fact_correctness(model=tiny_directory, questions=questions, answers=result.answers,
                                 memory=str(tmp_path / "cache"), n_splits=3)
    assert again.table.equals(result.table)  # answers given = answers asked
