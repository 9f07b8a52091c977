"""Does the entropy profile know when the model is wrong, beyond what its own output confidence says?

The question the correctness experiment must answer before any ROC-AUC means much: a model's output
already carries its confidence (the probability of its answer, the entropy of its next-token
distribution, the likelihood of the answer's tokens; LM-Polygraph's baselines), and the question's
category and difficulty predict much of its accuracy. The profile is worth something only if it adds
to those, on questions the fit never saw and entities it never saw.
"""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import Bunch

from ..estimators import EntropyProfileTransformer, answer_correctness
from ..metrics import aurc_score, corrected_resampled_ttest, prediction_rejection_ratio
from ..models import DEFAULT_MODEL
from ._protocol import evaluate_profile_classifier, within_fold_category_auc

CONFIDENCE_COLUMNS = ("option_probability", "sequence_log_likelihood", "mean_token_log_probability",
                      "first_token_probability", "answer_entropy", "answer_max_probability")
# The comparisons the experiment exists for: (setting, baseline).
COMPARISONS = (("(c) profile + output confidence", "(b) output confidence"),
               ("profile", "(a) category + difficulty"),
               ("(a) + (b) + profile", "(a) + (b)"))


def _fold_scores(result):
    """Per-fold ROC-AUC, PRR and AURC of the probability of a right answer."""
    rows = []
    for fold, part in result.predictions.groupby("fold"):
        rows.append({"fold": fold, "auc": float(result.folds.loc[result.folds["fold"] == fold, "auc"].iloc[0]),
                     "prr": prediction_rejection_ratio(part["y_true"], part["proba_1"]),
                     "aurc": aurc_score(part["y_true"], part["proba_1"])})
    return pd.DataFrame(rows)


def _logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def run_fact_correctness(*, model=DEFAULT_MODEL, questions=None, answers=None, memory=None, n_splits=10,
                         random_state=0, progress=False):
    """Correctness prediction on fact questions: the profile against the category and the output's own confidence.

    The model answers each question by option likelihood (:func:`answer_correctness`, ``method="options"``);
    the label is whether it chose the right option. Each question is described by (a) its category and
    difficulty grade (one-hot over the category x grade cells), (b) the output's own confidence in its answer (``answer_correctness``'s
    ``confidence``: the options' softmax at the chosen option, the chosen option's summed and mean token
    log-probabilities and its first token's probability, and the entropy and largest probability of the
    final layer's distribution right after the prompt), and the **profile**: the per-layer entropy of
    the logit lens at that same position (``EntropyProfileTransformer(model, n_tokens=1)``), where the
    answer is read; its last entry is the model's own output entropy, (b)'s ``answer_entropy``, so the
    profile alone already holds one output-confidence feature. Every feature set goes to a standardised logistic regression (C = 1, not tuned: no
    setting is chosen anywhere), on the same ``StratifiedGroupKFold`` folds grouped by the question's
    entity (a country's capital, currency and continent questions stay together). Per fold: ROC-AUC,
    PRR and AURC; the corrected resampled t-test for each difference in :data:`COMPARISONS`, the first
    being the headline: does the profile add to the output's own confidence?

    Parameters
    ----------
    model : str, default="smollm2-135m"
        The model asked.
    questions : DataFrame or None, default=None
        The ``frame`` of :func:`~sklearn_entropylens.datasets.load_fact_questions` (or a subset of its
        rows, the evaluation set); None is every question.
    answers : DataFrame or None, default=None
        The model's answers to these questions when already computed: one row per question, in order,
        with ``correct`` and the columns of ``answer_correctness(...).confidence``; None asks the model.
    memory : str or None, default=None
        Profile cache.
    n_splits : int, default=10
        Group folds.
    random_state : int, default=0
        Seed of the folds.
    progress : bool, default=False
        Show the profiler's progress.

    Returns
    -------
    result : Bunch
        ``table`` (one row per setting: ROC-AUC, PRR, AURC and their intervals), ``comparisons`` (the
        differences of :data:`COMPARISONS` in ROC-AUC, PRR and AURC with corrected intervals and
        p-values), ``accuracy`` (the model's share of right answers per category and grade),
        ``per_category`` (the headline setting's per-fold ROC-AUC within each category),
        ``answers`` (the labels, ``correct``, and the confidences), ``folds`` and ``summary``.

    See Also
    --------
    sklearn_entropylens.datasets.load_fact_questions : The fact bank.
    sklearn_entropylens.answer_correctness : The model's answers and confidence.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_fact_questions
    >>> from sklearn_entropylens.experiments import run_fact_correctness
    >>> frame = load_fact_questions(as_frame=True).frame
    >>> some = frame.groupby("category", group_keys=False).head(8)  # 64 questions, a quick look
    >>> result = run_fact_correctness(questions=some, n_splits=3)
    >>> result.table.set_index("setting").loc["(b) output confidence", ["auc", "prr", "aurc"]].shape
    (3,)
    >>> list(result.comparisons["baseline"])[0]
    '(b) output confidence'
    """
    from ..datasets import load_fact_questions

    frame = load_fact_questions(as_frame=True).frame if questions is None else questions.reset_index(drop=True)
    prompts = frame["prompt"].tolist()
    if answers is None:
        asked = answer_correctness(prompts, frame["letter"].to_numpy(), options=frame[list("ABCD")].to_numpy(dtype=object),
                                   method="options", model=model)
        answers = asked.confidence.assign(correct=asked.correct)
    answers = answers.reset_index(drop=True)
    if len(answers) != len(frame):
        raise ValueError(f"answers must have one row per question: {len(frame)} questions, {len(answers)} rows.")
    y = answers["correct"].to_numpy().astype(int)
    profiles = EntropyProfileTransformer(model, n_tokens=1, memory=memory, progress=progress).fit_transform(prompts)
    confidence = answers[list(CONFIDENCE_COLUMNS)].to_numpy()
    # Each (category, grade) cell its own column, so the baseline can fit any pattern of accuracy over them.
    cells = (frame["category"] + " / " + frame["difficulty"].astype(str)).to_frame()
    descriptors = OneHotEncoder(sparse_output=False).fit_transform(cells)
    feature_sets = {
        "(a) category + difficulty": descriptors,
        "(b) output confidence": confidence,
        "profile": profiles,
        "(c) profile + output confidence": np.hstack([profiles, confidence]),
        "(a) + (b)": np.hstack([descriptors, confidence]),
        "(a) + (b) + profile": np.hstack([descriptors, confidence, profiles]),
    }
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    folds = list(splitter.split(np.zeros(len(y)), y, frame["entity"].to_numpy()))
    evaluations = {name: evaluate_profile_classifier(_logistic(), features, y, cv=folds)
                   for name, features in feature_sets.items()}
    scores = {name: _fold_scores(evaluation) for name, evaluation in evaluations.items()}
    sizes = evaluations["profile"].folds
    rows = []
    for name, fold_scores in scores.items():
        row = {"setting": name, "n_features": feature_sets[name].shape[1]}
        for metric in ("auc", "prr", "aurc"):
            level = corrected_resampled_ttest(fold_scores[metric], np.zeros(len(folds)), n_train=sizes["n_train"],
                                              n_test=sizes["n_test"])
            row.update({metric: float(fold_scores[metric].mean()), f"{metric}_ci_low": level.ci_low,
                        f"{metric}_ci_high": level.ci_high})
        rows.append(row)
    # The output's confidence used as it comes (no fit), as the uncertainty literature scores it.
    for column in ("option_probability", "sequence_log_likelihood", "answer_max_probability"):
        values = answers[column].to_numpy()
        per_fold = [roc_auc_score(y[test], values[test]) for _, test in folds]
        level = corrected_resampled_ttest(per_fold, np.zeros(len(folds)), n_train=sizes["n_train"], n_test=sizes["n_test"])
        rows.append({"setting": f"{column} alone (no fit)", "n_features": 1, "auc": float(np.mean(per_fold)),
                     "auc_ci_low": level.ci_low, "auc_ci_high": level.ci_high,
                     "prr": float(np.mean([prediction_rejection_ratio(y[test], values[test]) for _, test in folds])),
                     "aurc": float(np.mean([aurc_score(y[test], values[test]) for _, test in folds]))})
    table = pd.DataFrame(rows)
    comparisons = []
    for setting, baseline in COMPARISONS:
        row = {"setting": setting, "baseline": baseline}
        for metric in ("auc", "prr", "aurc"):
            test = corrected_resampled_ttest(scores[setting][metric], scores[baseline][metric],
                                             n_train=sizes["n_train"], n_test=sizes["n_test"])
            row.update({f"{metric}_difference": test.mean_difference, f"{metric}_ci_low": test.ci_low,
                        f"{metric}_ci_high": test.ci_high, f"{metric}_p_value": test.pvalue})
        comparisons.append(row)
    comparisons = pd.DataFrame(comparisons)
    accuracy = (frame.assign(correct=y).groupby(["category", "difficulty"])["correct"].mean().unstack("difficulty"))
    headline, auc = comparisons.iloc[0], table.set_index("setting")["auc"]
    summary = (f"{model}: {len(y)} questions, accuracy {y.mean():.3f}; profile ROC-AUC {auc['profile']:.3f}, "
               f"output confidence {auc['(b) output confidence']:.3f}, both "
               f"{auc['(c) profile + output confidence']:.3f}: (c) - (b) "
               f"{headline['auc_difference']:+.3f} [{headline['auc_ci_low']:+.3f}, {headline['auc_ci_high']:+.3f}]")
    return Bunch(table=table, comparisons=comparisons, accuracy=accuracy,
                 per_category=within_fold_category_auc(evaluations["(c) profile + output confidence"], frame["category"]),
                 answers=answers, folds=folds, evaluations=evaluations, summary=summary)
