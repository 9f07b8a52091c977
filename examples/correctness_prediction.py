"""Correctness prediction from entropy profiles on the bundled SmolLM2, with the paper's protocol
(10-fold stratified ROC-AUC against a stratified dummy, paired t-test), and a grid search over the
number of profiled tokens and of neighbours that profiles each prompt once per setting.

The labels are the model's own answers, read from its logits (answer_correctness), never parsed from
text. Run: ``python examples/correctness_prediction.py`` (about 3 minutes on 2 CPU cores the first
time; profiles are cached in ``examples_cache``).
"""

import time

from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_entropylens import (
    CorrectnessClassifier,
    answer_correctness,
    evaluate_profile_classifier,
    get_profile_counters,
    reset_profile_counters,
)
from sklearn_entropylens.datasets import load_multiple_choice

CACHE = "examples_cache"


def report(name, result):
    s = result.summary
    print(
        f"{name}: ROC-AUC {s['auc_mean']:.3f} +/- {s['auc_std']:.3f} (dummy {s['dummy_auc_mean']:.3f}), "
        f"accuracy {s['accuracy_mean']:.3f} (dummy {s['dummy_accuracy_mean']:.3f}), "
        f"paired t = {s['t_statistic']:.1f}, p = {s['p_value']:.1e}"
    )


started = time.perf_counter()
questions = load_multiple_choice()
answers = answer_correctness(questions.data, questions.target, options=questions.options, method="options")
print(f"model accuracy on {len(questions.data)} cloze questions: {answers.accuracy:.3f}")
checker = CorrectnessClassifier().set_params(profiler__memory=CACHE)
report("correctness", evaluate_profile_classifier(checker, questions.data, answers.correct))
print(f"   [{time.perf_counter() - started:.0f} s]")

reset_profile_counters()
search_started = time.perf_counter()
search = GridSearchCV(
    CorrectnessClassifier().set_params(profiler__memory=CACHE),
    {"profiler__n_tokens": [4, 8, 16], "classifier__n_neighbors": [5, 15, 29]},
    scoring="roc_auc",
    cv=StratifiedKFold(5, shuffle=True, random_state=0),
).fit(questions.data, answers.correct)
counters = get_profile_counters()
print(
    f"grid search, 9 candidates x 5 folds: {time.perf_counter() - search_started:.0f} s; best {search.best_params_} "
    f"(ROC-AUC {search.best_score_:.3f}); prompts run through the model: {counters['computed']} "
    f"(each prompt once per setting not already cached), cache hits: {counters['cache_hits']}"
)
print(f"total {time.perf_counter() - started:.0f} s")
