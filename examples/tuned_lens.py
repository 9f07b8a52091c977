"""The tuned lens on SmolLM2: how faithfully it reads each layer, and whether it helps the classifiers.

Fits a :class:`~sklearn_entropylens.TunedLens` on the first 100 built-in stories (or loads
``examples_cache/smollm2-135m-tuned-lens.skops``, which ``examples/guess_then_refine.py`` writes too),
then

1. scores it on the other 20 stories, which it never saw: the mean KL(final || lens) per layer for the
   tuned and for the logit lens, over the whole vocabulary;
2. runs the task, format and correctness experiments (the paper's protocol:
   :func:`~sklearn_entropylens.evaluate_profile_classifier`, stratified 10-fold ROC-AUC) with
   ``profiler__lens`` set to the logit lens and to the tuned lens, on the same folds.

What it does not show: the lens is fitted once, outside the folds, without labels, on story text that
the task prompts also contain (an unsupervised representation shared by the folds, not a fitted
classifier); one small model; the same protocol caveats as the experiments themselves (see the README).

Run: ``python examples/tuned_lens.py`` (about 25 minutes on 2 idle CPU cores; profiles cached in
``examples_cache``).
"""

import pathlib
import time

import numpy as np
import pandas as pd

from sklearn_entropylens import (
    CorrectnessClassifier, FormatClassifier, TaskClassifier, TunedLens, answer_correctness, dump,
    evaluate_profile_classifier, get_trusted_types, load,
)
from sklearn_entropylens.datasets import (
    PAPER_FORMATS, load_formats, load_multiple_choice, load_story_tasks, load_story_texts,
)
from sklearn_entropylens.experiments._guess_refine import N_TRAINING_STORIES

cache = pathlib.Path("examples_cache")
cache.mkdir(exist_ok=True)
lens_file = cache / "smollm2-135m-tuned-lens.skops"
if lens_file.exists():
    lens = load(lens_file, trusted=get_trusted_types())
else:
    lens = TunedLens("smollm2-135m", progress=True).fit(load_story_texts()[:N_TRAINING_STORIES])
    dump(lens, lens_file)
print(f"fitted in {lens.fit_time_:.0f} s, {lens.n_epochs_} epochs, {lens.n_training_positions_} positions")

held_out = load_story_texts()[N_TRAINING_STORIES:]
tuned_kl, logit_kl = lens.kl_divergence(held_out), lens.kl_divergence(held_out, lens="logit")
print(pd.DataFrame({"logit lens": logit_kl, "tuned lens": tuned_kl}).round(3).T.to_string())
print("tuned lower at every layer but the last:", bool(np.all(tuned_kl[:-1] < logit_kl[:-1])))

stories = load_story_tasks(n_stories=24)
formats = load_formats(formats=PAPER_FORMATS)
questions = load_multiple_choice()
answers = answer_correctness(questions.data, questions.target, options=questions.options, method="options")
experiments = {
    "tasks": (TaskClassifier(), stories.data, stories.target),
    "formats": (FormatClassifier().set_params(profiler__n_tokens=32, profiler__aggregate=4), formats.data,
                formats.target),
    "correctness": (CorrectnessClassifier(), questions.data, answers.correct),
}
rows = []
for name, (classifier, X, y) in experiments.items():
    for lens_name, lens_value in (("logit", "logit"), ("tuned", lens)):
        started = time.perf_counter()
        evaluated = classifier.set_params(profiler__lens=lens_value, profiler__memory=str(cache))
        summary = evaluate_profile_classifier(evaluated, list(X), np.asarray(y), n_splits=10).summary
        rows.append({"experiment": name, "lens": lens_name, "auc": summary["auc_mean"], "auc_std": summary["auc_std"],
                     "dummy_auc": summary["dummy_auc_mean"], "seconds": time.perf_counter() - started})
        print(rows[-1], flush=True)
print(pd.DataFrame(rows).round(3).to_string(index=False))
