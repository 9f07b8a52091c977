"""The pre-registered feature study of one experiment, scored by nested cross-validation.

Grid (fixed before any score was seen): features {entropy; Renyi entropies of orders 0.5, 1, 5;
those plus KL to the final layer, log rank of the final token and log top-p set size} x aggregation
{mean over positions; windows} x classifier {kNN (the paper's k), logistic regression}, standardised.
Every setting is scored on the same grouped folds (the whole table: descriptive, and optimistic if one
picks its maximum); the honest number is the nested estimate, where each outer training part picks its
setting by an inner grouped search. All settings read one cached profile per prompt.

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

from sklearn_entropylens import EntropyProfileTransformer, answer_correctness
from sklearn_entropylens.datasets import PAPER_FORMATS, load_formats, load_multiple_choice, load_story_tasks
from sklearn_entropylens.experiments._study import default_classifiers, run_feature_study

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
print(f"class balance: {np.bincount(y).tolist()}; [{time.perf_counter() - started:.0f} s]")
