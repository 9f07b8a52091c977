"""The tuned lens on SmolLM2: how faithfully it reads each layer, and whether it helps the classifiers.
====================================================================================================

Fits a :class:`~sklearn_entropylens.TunedLens` on the first 100 built-in stories (or loads
``examples_cache/smollm2-135m-tuned-lens.skops``, which ``examples/guess_then_refine.py`` writes too),
then

1. scores it on the other 20 stories, which it never saw: the mean KL(final || lens) per layer for the
   tuned and for the logit lens, over the whole vocabulary;
2. runs the task, format and correctness experiments
   (:func:`~sklearn_entropylens.evaluate_profile_classifier`: 10-fold ROC-AUC, folds grouped by story
   and by topic, corrected intervals) with ``profiler__lens`` set to the logit lens and to the tuned
   lens, on the same folds, and tests the difference with the corrected resampled t-test.

What it does not show: the lens is fitted once, outside the folds, without labels, on story text that
the task prompts also contain (an unsupervised representation shared by the folds, not a fitted
classifier); one small model; the same protocol caveats as the experiments themselves (see the README).

Run: ``python examples/tuned_lens.py`` (about 9 minutes on 2 CPU cores with the lens already fitted and
the logit-lens profiles cached; fitting the lens adds about 9 minutes; a minute once all profiles are in
``examples_cache``).
"""

import pathlib
import time

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator

from sklearn_entropylens import (
    CorrectnessClassifier, EntropyProfileTransformer, FormatClassifier, TaskClassifier, TunedLens, answer_correctness,
    dump, evaluate_profile_classifier, get_trusted_types, load,
)
from sklearn_entropylens.datasets import (
    PAPER_FORMATS, load_formats, load_multiple_choice, load_story_tasks, load_story_texts,
)
from sklearn_entropylens.experiments._guess_refine import N_TRAINING_STORIES
from sklearn_entropylens.metrics import corrected_resampled_ttest

cache = pathlib.Path("examples_cache")
cache.mkdir(exist_ok=True)
lens_file = cache / "smollm2-135m-tuned-lens.skops"
lens = load(lens_file, trusted=get_trusted_types()) if lens_file.exists() else None
if lens is None or not hasattr(lens, "top_tokens_"):  # none yet, or fitted on the renormalised objective
    lens = TunedLens("smollm2-135m", progress=True).fit(load_story_texts()[:N_TRAINING_STORIES])
    dump(lens, lens_file)
print(f"fitted in {lens.fit_time_:.0f} s, {lens.n_epochs_} epochs, {lens.n_training_positions_} positions")

held_out = load_story_texts()[N_TRAINING_STORIES:]
tuned_kl, logit_kl = lens.kl_divergence(held_out), lens.kl_divergence(held_out, lens="logit")
print(pd.DataFrame({"logit lens": logit_kl, "tuned lens": tuned_kl}).round(3).T.to_string())
print("tuned lower at every layer but the last:", bool(np.all(tuned_kl[:-1] < logit_kl[:-1])))

stories = load_story_tasks(n_stories=24, as_frame=True)
formats = load_formats(formats=PAPER_FORMATS, as_frame=True)
questions = load_multiple_choice()
answers = answer_correctness(questions.data, questions.target, options=questions.options, method="options")
# classifier, prompts, labels, groups (prompts that share text stay in one fold); the profilers are the
# paper's defaults (32 tokens in 4 windows for formats), given explicitly so that profiler__lens reaches them
experiments = {
    "tasks": (TaskClassifier(profiler=EntropyProfileTransformer(n_tokens=8, temperature=1.0, random_state=0)),
              list(stories.data), stories.target.to_numpy(), stories.frame["story_id"].to_numpy()),
    "formats": (FormatClassifier(profiler=EntropyProfileTransformer(n_tokens=32, aggregate=4)), list(formats.data),
                formats.target.to_numpy(), formats.frame["topic"].to_numpy()),
    "correctness": (CorrectnessClassifier(profiler=EntropyProfileTransformer(n_tokens=8)), list(questions.data),
                    answers.correct, None),
}
rows = []
for name, (classifier, X, y, groups) in experiments.items():
    folds = {}
    # FrozenEstimator keeps the fitted lens fitted through the protocol's clone of the classifier.
    for lens_name, lens_value in (("logit", "logit"), ("tuned", FrozenEstimator(lens))):
        started = time.perf_counter()
        evaluated = classifier.set_params(profiler__lens=lens_value, profiler__memory=str(cache))
        result = evaluate_profile_classifier(evaluated, X, y, groups=groups, n_splits=10)
        folds[lens_name], summary = result.folds, result.summary
        rows.append({"experiment": name, "lens": lens_name, "auc": summary["auc_mean"],
                     "auc_ci_low": summary["auc_ci_low"], "auc_ci_high": summary["auc_ci_high"],
                     "dummy_auc": summary["dummy_auc_mean"], "seconds": time.perf_counter() - started})
        print(rows[-1], flush=True)
    # The same folds for both lenses: the tuned-minus-logit difference, with the corrected test.
    versus = corrected_resampled_ttest(folds["tuned"]["auc"], folds["logit"]["auc"], n_train=folds["logit"]["n_train"],
                                       n_test=folds["logit"]["n_test"])
    rows[-1].update(tuned_minus_logit=versus.mean_difference, difference_ci_low=versus.ci_low,
                    difference_ci_high=versus.ci_high, difference_p=versus.pvalue)
print(pd.DataFrame(rows).round(3).to_string(index=False))

# %%
# Output of the last recorded run
# -------------------------------
#
# This example is not run when the documentation is built (8 min 26 s on 2 CPU cores in the run below, with
# the lens loaded from ``examples_cache`` and the logit-lens profiles cached; the tuned-lens profiles were
# computed in the run, on a machine shared with the test suite for its first six minutes). The output below is
# from its last recorded run; the first lines say when, at which commit, on which machine and with which
# command.
#
# .. literalinclude:: ../../examples/recorded/tuned_lens.txt
#    :language: text
