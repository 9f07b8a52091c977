import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from sklearn_entropylens import dump, get_trusted_types, load, run_experiment  # noqa: E402
from sklearn_entropylens._testing import save_tiny_model  # noqa: E402


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


def test_guess_then_refine_reports_every_study_through_both_lenses(tmp_path, tiny_directory):
    result = run_experiment("guess-then-refine", model=tiny_directory, quick=True)
    table = result.table
    assert set(table["study"]) == {"frequency_guesses", "function_words", "fact_recall", "multiple_choice"}
    assert set(table["lens"]) == {"logit", "tuned"}
    assert table.groupby("lens").size().nunique() == 1  # the same measures through each lens
    curves = result.curves
    assert set(curves["lens"]) == {"logit", "tuned"}
    assert curves[["top10_share", "top100_share", "refinement_rate"]].apply(lambda c: c.between(0, 1).all()).all()
    assert (curves["top100_share"] >= curves["top10_share"]).all()
    last = curves.groupby("lens").tail(1)
    assert (last["refinement_rate"] == 0).all()  # the last block is the model's own prediction


def test_unknown_experiment():
    with pytest.raises(ValueError, match="Unknown experiment 'mmlu'"):
        run_experiment("mmlu")


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
