"""Correctness prediction from entropy profiles on the bundled SmolLM2, with the paper's protocol
(10-fold stratified ROC-AUC against a stratified dummy, paired t-test), and a grid search over the
number of profiled tokens and of neighbours that profiles each prompt once per setting.

The labels are the model's own answers, read from its logits (answer_correctness), never parsed from
text. Run: ``python examples/correctness_prediction.py`` (about 3 minutes on 2 CPU cores the first
time; profiles are cached in ``examples_cache``). Saves ``examples/figures/correctness.png``.
"""

import pathlib
import time

from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_entropylens import (
    CorrectnessClassifier,
    answer_correctness,
    get_profile_counters,
    reset_profile_counters,
    run_experiment,
)
from sklearn_entropylens.datasets import load_multiple_choice

CACHE = "examples_cache"


started = time.perf_counter()
result = run_experiment("correctness", memory=CACHE)
print(result.table.round(3).to_string(index=False))
print(f"correctness: {result.summary}\npaper: {result.paper}   [{time.perf_counter() - started:.0f} s]")
result.figure.savefig(pathlib.Path(__file__).parent / "figures" / "correctness.png", dpi=110)

questions = load_multiple_choice()
answers = answer_correctness(questions.data, questions.target, options=questions.options, method="options")
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
