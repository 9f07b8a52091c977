"""The pre-registered feature study of one experiment, scored by nested cross-validation.

Grid (fixed before any score was seen): features {entropy; Renyi entropies of orders 0.5, 1, 5;
those plus KL to the final layer, log rank of the final token and log top-p set size} x aggregation
{mean over positions; windows} x classifier {kNN (the paper's k), logistic regression}, standardised.
Every setting is scored on the same grouped folds (the whole table: descriptive, and optimistic if one
picks its maximum); the honest number is the nested estimate, where each outer training part picks its
setting by an inner grouped search. All settings read one cached profile per prompt. For tasks, the
most chosen setting is also scored on the held-out wording (trained on one question of each class,
tested on the other, on unseen stories). For formats, an exploratory read after the study (not
pre-registered, so not a claim of the study): the most chosen features and classifier on each window of
the generation alone, to show where in the generated text the format is read.

Usage::

    python examples/feature_study.py tasks|formats|correctness [--model smollm2-135m] [--paper-scale]

CPU scale (default): tasks on 24 stories x 8 sampled tokens, formats 32 greedy tokens in 4 windows,
correctness 8 greedy tokens on the 206 questions. ``--paper-scale``: tasks on all 120 stories (2,880
prompts), formats 256 greedy tokens in 8 windows (the paper's), correctness unchanged. Profiles are
cached in ``examples_cache``; the study prints its run time. Run times on this 2-core CPU are in the
README.
"""

import argparse
import time

import numpy as np
import pandas as pd

from sklearn_entropylens import EntropyProfileTransformer, answer_correctness, evaluate_profile_classifier
from sklearn_entropylens.datasets import PAPER_FORMATS, load_formats, load_multiple_choice, load_story_tasks
from sklearn_entropylens.experiments import held_out_condition_folds
from sklearn_entropylens.experiments._study import default_classifiers, run_feature_study, study_pipeline, study_profiler

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("experiment", choices=["tasks", "formats", "correctness"])
parser.add_argument("--model", default="smollm2-135m")
parser.add_argument("--paper-scale", action="store_true")
args = parser.parse_args()

started = time.perf_counter()
base = {"model": args.model, "memory": "examples_cache", "progress": True}
if args.experiment == "tasks":
    stories = load_story_tasks(n_stories=120 if args.paper_scale else 24, as_frame=True)
    X, y, groups = list(stories.data), stories.target.to_numpy(), stories.frame["story_id"].to_numpy()
    profiler = EntropyProfileTransformer(n_tokens=8, temperature=1.0, random_state=0, **base)
    aggregates, k = ("mean", 4), 29
elif args.experiment == "formats":
    formats = load_formats(formats=PAPER_FORMATS, as_frame=True)
    X, y, groups = list(formats.data), formats.target.to_numpy(), formats.frame["topic"].to_numpy()
    n_tokens, windows = (256, 8) if args.paper_scale else (32, 4)
    profiler = EntropyProfileTransformer(n_tokens=n_tokens, **base)
    aggregates, k = ("mean", windows), 5
else:
    questions = load_multiple_choice()
    X, groups = list(questions.data), None
    y = answer_correctness(X, questions.target, options=questions.options, method="options",
                           profiler=EntropyProfileTransformer(args.model)).correct
    profiler = EntropyProfileTransformer(n_tokens=8, **base)
    aggregates, k = ("mean", 4), 29

result = run_feature_study(X, y, profiler=profiler, aggregates=aggregates, classifiers=default_classifiers(k),
                           groups=groups, n_splits=10)
pd.set_option("display.width", 200)
print(f"{args.experiment} on {args.model}, {len(X)} prompts ({'paper' if args.paper_scale else 'CPU'} scale), "
      f"{profiler.n_tokens} tokens; folds {'grouped' if groups is not None else 'stratified'}")
print(result.table.sort_values("auc", ascending=False).round(3).to_string(index=False))
print("chosen by each outer fold:")
print(result.chosen.round(3).to_string(index=False))
print(result.summary)
features, aggregate, classifier = result.chosen[["features", "aggregate", "classifier"]].value_counts().index[0]
aggregate = int(aggregate) if aggregate.isdigit() else aggregate
if args.experiment == "tasks":
    # The most chosen setting, trained on one wording of each task question and tested on the other.
    pipeline = study_pipeline(profiler, features, aggregate, default_classifiers(k)[classifier])
    wording = held_out_condition_folds(y, groups, stories.frame["wording"].to_numpy(), n_splits=8)
    held_out = evaluate_profile_classifier(pipeline, X, y, cv=wording).summary
    print(f"held-out wording, most chosen setting ({features}, {aggregate}, {classifier}): ROC-AUC "
          f"{held_out['auc_mean']:.3f} [{held_out['auc_ci_low']:.3f}, {held_out['auc_ci_high']:.3f}] (dummy "
          f"{held_out['dummy_auc_mean']:.3f}, corrected p {held_out['corrected_p_value']:.2g})")
if args.experiment == "formats":
    # Each window alone, averaged over its positions: the study's selection, scaling and classifier on
    # frames named as the profiler names its columns. Read from the cache; no prompt is profiled again.
    fitted = study_profiler(profiler).fit(X)
    matrices = fitted.statistic_matrices(X)
    head = study_pipeline(profiler, features, aggregate, default_classifiers(k)[classifier])[1:]
    span = profiler.n_tokens // windows
    print(f"exploratory, each window of {span} tokens alone ({features}, mean over the window, {classifier}):")
    for start in range(0, profiler.n_tokens, span):
        frame = pd.DataFrame({f"{name}_layer{layer:02d}": values[:, start : start + span, column].mean(axis=1)
                              for name, values in matrices.items() for column, layer in enumerate(fitted.layers_)})
        window = evaluate_profile_classifier(head, frame, y, groups=groups).summary
        print(f"  tokens {start}-{start + span}: ROC-AUC {window['auc_mean']:.3f} [{window['auc_ci_low']:.3f}, "
              f"{window['auc_ci_high']:.3f}]")
print(f"class balance: {np.bincount(y).tolist()}; [{time.perf_counter() - started:.0f} s]")
