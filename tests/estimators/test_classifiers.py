
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import BaggingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_entropylens import (
    CorrectnessClassifier,
    EntropyProfileTransformer,
    FormatClassifier,
    TaskClassifier,
    answer_correctness,
    evaluate_profile_classifier,
    get_profile_counters,
    load_model,
    reset_profile_counters,
)
from sklearn_entropylens.lens._encoding import encode_prompts
from tests._helpers import float64_copy

PROMPTS = [f"{word} {k}" for k in range(6) for word in ("apple", "zebra")]
LABELS = np.array([0, 1] * 6)


@pytest.mark.parametrize(
    "cls, n_tokens, k", [(TaskClassifier, 8, 29), (FormatClassifier, 256, 5), (CorrectnessClassifier, 8, 29)]
)
def test_paper_defaults_are_built_in_fit(cls, n_tokens, k):
    steps = cls()._unfitted_pipeline().named_steps
    assert steps["profiler"].n_tokens == n_tokens and steps["classifier"].n_neighbors == k
    assert isinstance(steps["scaler"], StandardScaler)


@pytest.mark.parametrize("cls", [TaskClassifier, FormatClassifier, CorrectnessClassifier])
def test_a_default_step_has_no_nested_parameters(cls):
    clf = cls()
    assert clf.get_params(deep=True) == clf.get_params(deep=False) == {
        "profiler": None, "scaler": None, "classifier": None
    }
    # scikit-learn's own answer to a nested parameter of a None step, e.g. BaggingClassifier(estimator=None):
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'set_params'"):
        BaggingClassifier().set_params(estimator__max_depth=3)
    for nested in ({"profiler__n_tokens": 8}, {"scaler__with_mean": False}, {"classifier__n_neighbors": 3}):
        with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'set_params'"):
            clf.set_params(**nested)
    assert clf.get_params(deep=False) == {"profiler": None, "scaler": None, "classifier": None}


@pytest.mark.parametrize("cls", [TaskClassifier, FormatClassifier, CorrectnessClassifier])
def test_nested_parameters_of_explicit_steps(cls):
    clf = cls(profiler=EntropyProfileTransformer(n_tokens=8), classifier=KNeighborsClassifier())
    clf.set_params(profiler__n_tokens=3, classifier__n_neighbors=2)
    assert clf.profiler.n_tokens == 3 and clf.classifier.n_neighbors == 2 and clf.scaler is None
    params = clone(clf).get_params(deep=True)
    assert params["profiler__n_tokens"] == 3 and params["classifier__n_neighbors"] == 2
    assert not any(key.startswith("scaler__") for key in params)


def test_fit_predict_on_a_tiny_model(tiny_llama):
    clf = TaskClassifier(
        profiler=EntropyProfileTransformer(tiny_llama, n_tokens=3),
        classifier=LogisticRegression(),
    ).fit(PROMPTS, np.array(["fruit", "animal"] * 6))
    assert list(clf.classes_) == ["animal", "fruit"]
    assert clf.predict(PROMPTS).shape == (12,) and set(clf.predict(PROMPTS)) <= {"animal", "fruit"}
    np.testing.assert_allclose(clf.predict_proba(PROMPTS).sum(axis=1), 1)
    assert clf.profiler_.n_layers_ == 3
    # The pipeline is exactly profile -> scale -> classify.
    manual = make_pipeline(EntropyProfileTransformer(tiny_llama, n_tokens=3), StandardScaler(), LogisticRegression())
    manual.fit(PROMPTS, np.array(["fruit", "animal"] * 6))
    np.testing.assert_allclose(clf.predict_proba(PROMPTS), manual.predict_proba(PROMPTS))


def test_passthrough_scaler(tiny_llama):
    clf = CorrectnessClassifier(
        profiler=EntropyProfileTransformer(tiny_llama, n_tokens=2), scaler="passthrough",
        classifier=KNeighborsClassifier(n_neighbors=1),
    ).fit(PROMPTS, LABELS)
    # The classifier sees the raw profiles: its input is the profiler's output, unscaled.
    raw = EntropyProfileTransformer(tiny_llama, n_tokens=2).fit_transform(PROMPTS)
    np.testing.assert_array_equal(clf.pipeline_[:-1].transform(PROMPTS), raw)
    np.testing.assert_array_equal(clf.pipeline_[-1]._fit_X, raw)


@pytest.mark.parametrize("X, message", [("one prompt", "string object received"), ([1, 2], "str")])
def test_bad_prompts(tiny_llama, X, message):
    with pytest.raises((TypeError, ValueError), match=message):
        TaskClassifier(profiler=EntropyProfileTransformer(tiny_llama, n_tokens=2)).fit(X, [0, 1])


def test_grid_search_over_nested_parameters_profiles_each_prompt_once_per_setting(tiny_llama, tmp_path):
    reset_profile_counters()
    base = TaskClassifier(profiler=EntropyProfileTransformer(tiny_llama, memory=str(tmp_path)),
                          classifier=KNeighborsClassifier())
    search = GridSearchCV(
        base,
        {"profiler__n_tokens": [2, 3], "classifier__n_neighbors": [1, 3]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(PROMPTS, LABELS)
    assert search.best_params_["profiler__n_tokens"] in (2, 3)
    assert get_profile_counters()["computed"] == 2 * len(PROMPTS)


def test_evaluation_protocol_profiles_once_and_matches_a_manual_run(tiny_llama):
    clf = TaskClassifier(profiler=EntropyProfileTransformer(tiny_llama, n_tokens=3), classifier=LogisticRegression())
    reset_profile_counters()
    result = evaluate_profile_classifier(clf, PROMPTS * 2, np.r_[LABELS, LABELS], n_splits=4, random_state=0)
    assert get_profile_counters()["computed"] == len(PROMPTS)  # duplicates share a profile; once for all folds
    folds = result.folds
    assert list(folds.columns) == ["fold", "n_train", "n_test", "auc", "accuracy", "dummy_auc", "dummy_accuracy"]
    assert len(folds) == 4 and folds["n_test"].sum() == 24
    manual = cross_val_score(
        make_pipeline(EntropyProfileTransformer(tiny_llama, n_tokens=3), StandardScaler(), LogisticRegression()),
        PROMPTS * 2, np.r_[LABELS, LABELS], cv=StratifiedKFold(4, shuffle=True, random_state=0), scoring="roc_auc",
    )
    np.testing.assert_allclose(folds["auc"], manual)
    assert set(result.summary) >= {"auc_mean", "dummy_auc_mean", "t_statistic", "p_value", "significant"}


def test_evaluation_multiclass_uses_one_vs_rest_macro_auc():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (30, 2)), rng.normal(2, 1, (30, 2)), rng.normal(4, 1, (30, 2))]
    y = np.repeat([0, 1, 2], 30)
    result = evaluate_profile_classifier(KNeighborsClassifier(), X, y, n_splits=3)
    from sklearn.metrics import roc_auc_score

    first_train, first_test = next(StratifiedKFold(3, shuffle=True, random_state=42).split(X, y))
    expected = roc_auc_score(
        y[first_test], KNeighborsClassifier().fit(X[first_train], y[first_train]).predict_proba(X[first_test]),
        multi_class="ovr", average="macro",
    )
    assert result.folds["auc"][0] == pytest.approx(expected)
    assert 0.3 < result.summary["dummy_auc_mean"] < 0.7


def test_evaluation_seeds_each_folds_dummy_differently():
    # Balanced classes of 20 per fold: a dummy seeded the same in every fold guesses the same sequence,
    # so its AUC and accuracy would be identical across folds (no variance for the paired t-test).
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 2)), np.repeat([0, 1], 100)  # every test fold: 20 zeros, then 20 ones
    result = evaluate_profile_classifier(KNeighborsClassifier(), X, y, n_splits=5, random_state=3)
    assert result.folds["dummy_auc"].nunique() > 1 and result.folds["dummy_accuracy"].nunique() > 1
    again = evaluate_profile_classifier(KNeighborsClassifier(), X, y, n_splits=5, random_state=3)
    pd.testing.assert_frame_equal(result.folds, again.folds)  # still reproducible from random_state
    seeds = np.random.RandomState(3).randint(np.iinfo(np.int32).max, size=5)
    first_train, first_test = next(StratifiedKFold(5, shuffle=True, random_state=3).split(X, y))
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="stratified", random_state=int(seeds[0])).fit(X[first_train], y[first_train])
    assert result.folds["dummy_accuracy"][0] == pytest.approx(np.mean(dummy.predict(X[first_test]) == y[first_test]))


def _brute_force_scores(loaded, prompts, options, letters=("A", "B", "C", "D")):
    model64 = float64_copy(loaded.model)
    ids = encode_prompts(loaded, prompts, n_tokens=1)
    letter_ids = [[loaded.tokenizer(text, add_special_tokens=False)["input_ids"] for text in (l, " " + l)] for l in letters]
    letter_scores, option_scores = [], []
    with torch.no_grad():
        for prompt_ids, row in zip(ids, options):
            logits = model64(input_ids=torch.tensor([prompt_ids])).logits[0, -1]
            letter_scores.append([max(float(logits[t[0]]) for t in spell if len(t) == 1) for spell in letter_ids])
            scores = []
            for option in row:
                continuation = loaded.tokenizer(" " + option, add_special_tokens=False)["input_ids"]
                full = torch.tensor([prompt_ids + continuation])
                log_probs = torch.log_softmax(model64(input_ids=full).logits[0], -1)
                n = len(prompt_ids)
                scores.append(np.mean([float(log_probs[n - 1 + j, t]) for j, t in enumerate(continuation)]))
            option_scores.append(scores)
    return np.array(letter_scores), np.array(option_scores)


def test_answer_correctness_reads_the_logits(tiny_llama):
    loaded = load_model(tiny_llama)
    prompts = ["Q: 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", "Q: sky?\nA. red\nB. blue\nC. green\nD. tall\nAnswer:", "x"]
    options = [["3", "4", "5", "6"], ["red", "blue", "green", "tall"], ["a", "bb", "ccc d", "e"]]
    answers = np.array(["B", "B", "D"])
    letter_scores, option_scores = _brute_force_scores(loaded, prompts, options)
    by_letters = answer_correctness(prompts, answers, model=tiny_llama, batch_size=2)
    np.testing.assert_array_equal(by_letters.predicted, np.array(list("ABCD"))[letter_scores.argmax(1)])
    by_options = answer_correctness(
        prompts, answers, options=options, method="options", model=tiny_llama, batch_size=3
    )
    np.testing.assert_array_equal(by_options.predicted, np.array(list("ABCD"))[option_scores.argmax(1)])
    expected = np.exp(option_scores - option_scores.max(1, keepdims=True))
    np.testing.assert_allclose(by_options.probabilities, expected / expected.sum(1, keepdims=True), atol=1e-4)
    np.testing.assert_array_equal(by_options.correct, by_options.predicted == answers)
    assert by_options.accuracy == by_options.correct.mean()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"answers": ["E"]}, "among the letters"),
        ({"answers": ["A", "B"]}, "one letter per prompt"),
        ({"method": "options"}, "needs the option texts"),
        ({"method": "options", "options": [["a", "b"]]}, "shape"),
        ({"method": "regex"}, "method"),
    ],
)
def test_answer_correctness_bad_input(tiny_llama, kwargs, message):
    arguments = {"answers": ["A"], **kwargs}
    with pytest.raises(ValueError, match=message):
        answer_correctness(["Question?"], model=tiny_llama, **arguments)


def test_answer_correctness_reports_the_outputs_own_confidence_against_float64(tiny_llama):
    loaded = load_model(tiny_llama)
    prompts = ["Q: sky?\nAnswer:", "Q: 2+2?\nAnswer:", "x"]
    options = [["red", "blue", "green", "tall"], ["3", "4", "5", "6"], ["a", "bb", "ccc d", "e"]]
    result = answer_correctness(prompts, ["B", "B", "D"], options=options, method="options",
                                model=tiny_llama, batch_size=3)
    model64 = float64_copy(loaded.model)
    ids = encode_prompts(loaded, prompts, n_tokens=1)
    with torch.no_grad():
        for row, (prompt_ids, texts) in enumerate(zip(ids, options)):
            answer_log_probs = torch.log_softmax(model64(input_ids=torch.tensor([prompt_ids])).logits[0, -1], -1)
            per_option = []
            for text in texts:
                continuation = loaded.tokenizer(" " + text, add_special_tokens=False)["input_ids"]
                log_probs = torch.log_softmax(model64(input_ids=torch.tensor([prompt_ids + continuation])).logits[0], -1)
                n = len(prompt_ids)
                per_option.append([float(log_probs[n - 1 + j, t]) for j, t in enumerate(continuation)])
            means = np.array([np.mean(tokens) for tokens in per_option])
            chosen = int(means.argmax())
            got = result.confidence.iloc[row]
            assert result.predicted[row] == "ABCD"[chosen]
            assert got["sequence_log_likelihood"] == pytest.approx(sum(per_option[chosen]), abs=1e-4)
            assert got["mean_token_log_probability"] == pytest.approx(means[chosen], abs=1e-4)
            assert got["first_token_probability"] == pytest.approx(np.exp(per_option[chosen][0]), abs=1e-5)
            softmax = np.exp(means - means.max())
            assert got["option_probability"] == pytest.approx(softmax[chosen] / softmax.sum(), abs=1e-5)
            p = answer_log_probs.exp()
            assert got["answer_entropy"] == pytest.approx(float(-(p * answer_log_probs).sum()), abs=1e-4)
            assert got["answer_max_probability"] == pytest.approx(float(p.max()), abs=1e-5)
    letters = answer_correctness(prompts, ["B", "B", "D"], model=tiny_llama)
    assert list(letters.confidence.columns) == ["option_probability"]
