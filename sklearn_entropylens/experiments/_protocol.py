"""The paper's evaluation protocol: stratified k-fold ROC-AUC against a stratified dummy, paired t-test."""

import numpy as np
import pandas as pd
from scipy.stats import ttest_rel
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from ..estimators._classifiers import _ProfileClassifier
from ..estimators._profile import EntropyProfileTransformer
from .._validation import check_int, check_prompts


def _split_off_profiler(estimator):
    """(profiler, rest) when the estimator starts with a profile step, else (None, estimator)."""
    pipeline = estimator._unfitted_pipeline() if isinstance(estimator, _ProfileClassifier) else estimator
    if isinstance(pipeline, Pipeline) and isinstance(pipeline.steps[0][1], EntropyProfileTransformer):
        pipeline = clone(pipeline)
        return pipeline.steps[0][1], Pipeline(pipeline.steps[1:])
    return None, estimator


def _auc(y_true, probabilities, classes):
    if len(classes) == 2:
        return roc_auc_score(y_true, probabilities[:, 1])
    return roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=classes)


def evaluate_profile_classifier(estimator, X, y, *, n_splits=10, random_state=42):
    """Cross-validated ROC-AUC and accuracy of a prompt classifier against a stratified dummy.

    The protocol of the paper's code: ``StratifiedKFold(n_splits, shuffle=True, random_state)``; per
    fold, the ROC-AUC (one-vs-rest macro average for several classes) and the accuracy of the estimator
    and of ``DummyClassifier(strategy="stratified")``, seeded per fold; a paired t-test
    (``scipy.stats.ttest_rel``) between the two series of fold AUCs.

    When the estimator starts with an :class:`EntropyProfileTransformer` (a :class:`TaskClassifier`,
    :class:`FormatClassifier`, :class:`CorrectnessClassifier`, or a Pipeline whose first step is one),
    the profiles are computed once for all folds: the profile step is unsupervised and its ``fit`` only
    loads the model, so profiling every prompt up front changes no fold's result.

    Parameters
    ----------
    estimator : classifier
        Takes prompts (or whatever ``X`` holds) and has ``predict_proba``.
    X : iterable of str or array-like
        Prompts (or features).
    y : array-like of shape (n_samples,)
        Labels.
    n_splits : int, default=10
        Folds.
    random_state : int, default=42
        Seed of the fold shuffle and of the dummies: each fold's dummy gets its own seed drawn from it,
        so the baseline varies across folds as a random guess does (one shared seed would give every
        fold the same guesses, and the paired t-test a baseline without variance).

    Returns
    -------
    result : Bunch
        ``folds``: DataFrame with one row per fold (``fold``, ``n_test``, ``auc``, ``accuracy``,
        ``dummy_auc``, ``dummy_accuracy``); ``summary``: dict with the means and standard deviations of
        those, ``t_statistic``, ``p_value`` and ``significant`` (p < 0.05).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_entropylens import evaluate_profile_classifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 3)), rng.normal(1.5, 1, (40, 3))]
    >>> y = np.r_[np.zeros(40), np.ones(40)]
    >>> result = evaluate_profile_classifier(KNeighborsClassifier(), X, y, n_splits=5)
    >>> result.summary["auc_mean"] > 0.8, result.summary["significant"]
    (True, True)
    """
    n_splits = check_int(n_splits, "n_splits")
    y = np.asarray(y)
    profiler, model = _split_off_profiler(estimator)
    if profiler is not None:
        prompts = check_prompts(X)
        features = profiler.fit(prompts).transform(prompts)
    else:
        features = X
    if len(y) != (len(features) if not hasattr(features, "shape") else features.shape[0]):
        raise ValueError(f"X and y have different lengths: {len(features)} and {len(y)}.")
    classes = np.unique(y)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    dummy_seeds = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=n_splits)
    rows = []
    subset = (lambda data, index: data[index]) if hasattr(features, "shape") else (lambda data, index: [data[i] for i in index])
    for fold, (train, test) in enumerate(folds.split(np.zeros(len(y)), y)):
        row = {"fold": fold, "n_test": len(test)}
        dummy = DummyClassifier(strategy="stratified", random_state=int(dummy_seeds[fold]))
        for prefix, candidate in (("", model), ("dummy_", dummy)):
            fitted = clone(candidate).fit(subset(features, train), y[train])
            probabilities = fitted.predict_proba(subset(features, test))
            row[f"{prefix}auc"] = _auc(y[test], probabilities, classes)
            row[f"{prefix}accuracy"] = accuracy_score(y[test], fitted.classes_[probabilities.argmax(axis=1)])
        rows.append(row)
    table = pd.DataFrame(rows)
    test = ttest_rel(table["auc"], table["dummy_auc"])
    summary = {}
    for column in ("auc", "accuracy", "dummy_auc", "dummy_accuracy"):
        summary[f"{column}_mean"] = float(table[column].mean())
        summary[f"{column}_std"] = float(table[column].std(ddof=1))
    summary.update(t_statistic=float(test.statistic), p_value=float(test.pvalue), significant=bool(test.pvalue < 0.05))
    return Bunch(folds=table, summary=summary)
