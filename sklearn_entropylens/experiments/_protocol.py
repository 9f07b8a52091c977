"""The paper's evaluation protocol, made honest: grouped folds, a dummy on the same folds, corrected tests."""

import numbers

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils.validation import _num_samples

from ..estimators import EntropyProfileTransformer, ProfileClassifier
from ..metrics import corrected_resampled_ttest
from .._param_validation import Interval, validate_arguments
from .._validation import check_prompts


def _check_n_splits(n_splits, owner):
    """The number of folds, checked with the library's one validator (an int of at least 2)."""
    return int(validate_arguments(owner, {"n_splits": [Interval(numbers.Integral, 2, None)]}, n_splits=n_splits)["n_splits"])


def _split_off_profiler(estimator):
    """(profiler, rest) when the estimator starts with a profile step, else (None, estimator)."""
    pipeline = estimator._unfitted_pipeline() if isinstance(estimator, ProfileClassifier) else estimator
    if isinstance(pipeline, Pipeline) and isinstance(pipeline.steps[0][1], EntropyProfileTransformer):
        pipeline = clone(pipeline)
        return pipeline.steps[0][1], Pipeline(pipeline.steps[1:])
    return None, estimator


def _auc(y_true, probabilities, classes):
    if len(classes) == 2:
        return roc_auc_score(y_true, probabilities[:, 1])
    return roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=classes)


def held_out_condition_folds(y, groups, condition, *, n_splits=5, random_state=42):
    """Folds that test on groups and on a condition the training part never saw.

    For each fold of ``StratifiedGroupKFold(n_splits)`` over ``groups`` and each value ``c`` of
    ``condition``, the training part is the fold's training groups *without* ``c`` and the test part
    the fold's test groups *with* ``c``. With the story tasks, groups the story and condition the
    question's wording: the classifier is trained on one wording of each task and tested on the other,
    on stories it never saw, so neither a story's nor a question's fingerprint can carry the label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels (the group folds are stratified by them).
    groups : array-like of shape (n_samples,)
        Group of each sample; a group is never split across training and test.
    condition : array-like of shape (n_samples,)
        The condition held out in turn (at least two values).
    n_splits : int, default=5
        Group folds; there are ``n_splits x n_conditions`` folds in all.
    random_state : int, default=42
        Seed of the group-fold shuffle.

    Returns
    -------
    folds : list of (train, test) index arrays
        Usable as ``cv=`` anywhere scikit-learn takes an iterable of splits. Every sample is tested once.

    See Also
    --------
    evaluate_profile_classifier : Takes them as ``cv``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_entropylens.experiments import held_out_condition_folds
    >>> y = np.tile([0, 1], 20); groups = np.repeat(np.arange(10), 4); wording = np.tile([1, 1, 2, 2], 10)
    >>> folds = held_out_condition_folds(y, groups, wording, n_splits=5)
    >>> len(folds), all(set(wording[train]) != set(wording[test]) for train, test in folds)
    (10, True)
    """
    y, groups, condition = np.asarray(y), np.asarray(groups), np.asarray(condition)
    if not len(y) == len(groups) == len(condition):
        raise ValueError(f"y, groups and condition must have one value per sample: {len(y)}, {len(groups)}, {len(condition)}.")
    values = np.unique(condition)
    if len(values) < 2:
        raise ValueError(f"condition must take at least two values to hold one out, got {values.tolist()}.")
    splitter = StratifiedGroupKFold(n_splits=_check_n_splits(n_splits, "held_out_condition_folds"), shuffle=True, random_state=random_state)
    folds = []
    for train, test in splitter.split(np.zeros(len(y)), y, groups):
        for value in values:
            folds.append((train[condition[train] != value], test[condition[test] == value]))
    return folds


def evaluate_profile_classifier(estimator, X, y, *, groups=None, cv=None, n_splits=10, random_state=42,
                                confidence=0.95, return_estimators=False):
    """Cross-validated ROC-AUC and accuracy of a prompt classifier against a stratified dummy.

    The protocol of the paper's code, ``StratifiedKFold(n_splits, shuffle=True, random_state)``, with
    what a sceptical reader needs: when prompts share text (the variants of one story, the wordings of
    one question), pass ``groups`` and the folds become ``StratifiedGroupKFold``, so no group is both
    trained and tested on; or pass any ``cv`` (for example :func:`held_out_condition_folds`). A
    ``GridSearchCV`` (or any search) as the estimator is nested cross-validation: each training part is
    searched with the training groups, and no test fold chooses a setting. Per fold,
    the ROC-AUC (one-vs-rest macro average for several classes) and the accuracy of the estimator and of
    ``DummyClassifier(strategy="stratified")``, seeded per fold. The folds share training data, so the
    plain paired t-test between the two series of fold AUCs (``scipy.stats.ttest_rel``, the paper's) is
    over-confident; Nadeau and Bengio's corrected resampled t-test
    (:func:`~sklearn_entropylens.metrics.corrected_resampled_ttest`) is reported beside it, gives the
    confidence intervals, and decides ``significant``.

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
    groups : array-like of shape (n_samples,) or None, default=None
        Group of each prompt (for example the story it contains); a group stays in one fold.
    cv : cross-validation splitter, iterable of (train, test) or None, default=None
        The folds; None is ``StratifiedGroupKFold`` when ``groups`` is given, else ``StratifiedKFold``
        (both ``n_splits``, shuffled with ``random_state``). A splitter receives ``groups``.
    n_splits : int, default=10
        Folds, when ``cv`` is None.
    random_state : int, default=42
        Seed of the fold shuffle and of the dummies: each fold's dummy gets its own seed drawn from it,
        so the baseline varies across folds as a random guess does (one shared seed would give every
        fold the same guesses, and the paired t-test a baseline without variance).
    confidence : float, default=0.95
        Level of the intervals.
    return_estimators : bool, default=False
        Keep each fold's fitted estimator (without its profile step, which is shared) as ``estimators``:
        with a search, ``estimators[k].best_params_`` is what fold ``k`` chose.

    Returns
    -------
    result : Bunch
        ``folds``: DataFrame with one row per fold (``fold``, ``n_train``, ``n_test``, ``auc``,
        ``accuracy``, ``dummy_auc``, ``dummy_accuracy``); ``summary``: dict with the means and standard
        deviations of those, ``auc_ci_low``/``auc_ci_high`` (corrected t interval of the mean AUC, clipped to [0, 1]),
        ``difference_mean``/``difference_ci_low``/``difference_ci_high`` (AUC minus the dummy's),
        ``corrected_t_statistic``/``corrected_p_value``, the plain ``t_statistic``/``p_value``,
        ``significant`` (corrected p < 0.05), ``n_folds`` and ``cv`` (the splitter's name);
        ``predictions``: DataFrame of the test predictions (``fold``, ``sample``, ``y_true`` and one
        ``proba_<class>`` column per class), for scores of one's own (per-category AUC, PRR, AURC).

    See Also
    --------
    sklearn_entropylens.experiments.held_out_condition_folds : Folds that hold a condition out.
    sklearn_entropylens.metrics.corrected_resampled_ttest : The test of the difference.

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
    >>> groups = np.tile(np.arange(20), 4)  # four samples share each group
    >>> grouped = evaluate_profile_classifier(KNeighborsClassifier(), X, y, groups=groups, n_splits=5)
    >>> grouped.summary["cv"], round(grouped.summary["auc_ci_low"], 2) < grouped.summary["auc_mean"]
    ('StratifiedGroupKFold', True)
    """
    y = np.asarray(y)
    profiler, model = _split_off_profiler(estimator)
    if profiler is not None:
        prompts = check_prompts(X)
        features = profiler.fit(prompts).transform(prompts)
    else:
        features = X
    n_samples = _num_samples(features)
    if len(y) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} and {len(y)}.")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n_samples:
            raise ValueError(f"groups must give one group per sample: {n_samples} samples, {len(groups)} groups.")
    if cv is None:
        n_splits = _check_n_splits(n_splits, "evaluate_profile_classifier")
        splitter = StratifiedKFold if groups is None else StratifiedGroupKFold
        cv = splitter(n_splits=n_splits, shuffle=True, random_state=random_state)
    cv = check_cv(cv, y, classifier=True)
    splits = list(cv.split(np.zeros((n_samples, 1)), y, groups))
    classes = np.unique(y)
    dummy_seeds = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=len(splits))
    rows, predictions, estimators = [], [], []
    # A search inside the folds (nested cross-validation) splits its training part by the same groups.
    nested_search = groups is not None and isinstance(model, BaseSearchCV)
    for fold, (train, test) in enumerate(splits):
        if len(np.unique(y[test])) < 2:
            raise ValueError(f"Fold {fold} tests on one class only ({np.unique(y[test]).tolist()}): its ROC-AUC is "
                             "undefined. Use fewer folds or folds stratified by the label.")
        row = {"fold": fold, "n_train": len(train), "n_test": len(test)}
        dummy = DummyClassifier(strategy="stratified", random_state=int(dummy_seeds[fold]))
        for prefix, candidate in (("", model), ("dummy_", dummy)):
            groups_of_search = {"groups": groups[train]} if nested_search and not prefix else {}
            fitted = clone(candidate).fit(_safe_indexing(features, train), y[train], **groups_of_search)
            probabilities = fitted.predict_proba(_safe_indexing(features, test))
            row[f"{prefix}auc"] = _auc(y[test], probabilities, classes)
            row[f"{prefix}accuracy"] = accuracy_score(y[test], fitted.classes_[probabilities.argmax(axis=1)])
            if not prefix:
                if return_estimators:
                    estimators.append(fitted)
                columns = {f"proba_{label}": probabilities[:, k] for k, label in enumerate(fitted.classes_)}
                predictions.append(pd.DataFrame({"fold": fold, "sample": test, "y_true": y[test], **columns}))
        rows.append(row)
    table = pd.DataFrame(rows)
    summary = {}
    for column in ("auc", "accuracy", "dummy_auc", "dummy_accuracy"):
        summary[f"{column}_mean"] = float(table[column].mean())
        summary[f"{column}_std"] = float(table[column].std(ddof=1))
    summary.update(_fold_tests(table, confidence))
    name = type(cv).__name__
    summary.update(n_folds=len(splits), cv="given folds" if name.startswith("_") else name)
    result = Bunch(folds=table, summary=summary, predictions=pd.concat(predictions, ignore_index=True))
    if return_estimators:
        result.estimators = estimators
    return result


def _fold_tests(table, confidence):
    """The plain and the corrected paired t-test of the fold AUCs against the dummy's, and the intervals."""
    plain = stats.ttest_rel(table["auc"], table["dummy_auc"])
    sizes = {"n_train": table["n_train"], "n_test": table["n_test"], "confidence": confidence}
    corrected = corrected_resampled_ttest(table["auc"], table["dummy_auc"], **sizes)
    level = corrected_resampled_ttest(table["auc"], np.zeros(len(table)), **sizes)
    # A t interval is symmetric and knows nothing of the scale: with few or very unequal folds it passes
    # 0 or 1, where no ROC-AUC can lie. Clipped to the scale, its true part is unchanged.
    return {
        "auc_ci_low": max(level.ci_low, 0.0), "auc_ci_high": min(level.ci_high, 1.0),
        "difference_mean": corrected.mean_difference,
        "difference_ci_low": corrected.ci_low, "difference_ci_high": corrected.ci_high,
        "corrected_t_statistic": corrected.statistic, "corrected_p_value": corrected.pvalue,
        "t_statistic": float(plain.statistic), "p_value": float(plain.pvalue),
        "significant": bool(corrected.pvalue < 0.05),
    }


def _within_fold_pairs(parts):
    """Concordant right-over-wrong pairs (ties count one half) and the number of pairs, within each fold only."""
    concordant = pairs = 0.0
    for y_true, scores in parts:
        right, wrong = scores[y_true == 1], scores[y_true == 0]
        if len(right) and len(wrong):
            difference = right[:, None] - wrong[None, :]
            concordant += (difference > 0).sum() + 0.5 * (difference == 0).sum()
            pairs += len(right) * len(wrong)
    return concordant, pairs


def within_fold_category_auc(result, categories, *, n_bootstrap=1000, confidence=0.95, random_state=0):
    """ROC-AUC within each category, comparing only answers scored by the same fold's model, with its interval.

    Pooling the out-of-fold probabilities of several fold models into one ROC-AUC ranks a question
    scored by one model against a question scored by another, whose scales differ. Here a right and a
    wrong answer of a category are compared only when they were tested in the same fold: the ROC-AUC is
    the share of such within-fold pairs ranked right (the Mann-Whitney statistic summed over folds). The
    interval is a percentile bootstrap that resamples the questions within each fold and category.

    Parameters
    ----------
    result : Bunch
        A result of :func:`evaluate_profile_classifier` for a binary label (``predictions`` with
        ``fold``, ``sample``, ``y_true`` and ``proba_1``).
    categories : array-like of shape (n_samples,)
        Category of each sample.
    n_bootstrap : int, default=1000
        Bootstrap replicates.
    confidence : float, default=0.95
        Level of the interval.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    table : DataFrame
        One row per category: ``n``, ``n_right``, ``share_right``, ``n_pairs`` (within-fold right x wrong
        pairs), ``auc`` (NaN without a pair) and ``ci_low``/``ci_high``.

    See Also
    --------
    evaluate_profile_classifier : The protocol whose folds it reads.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_entropylens.experiments import evaluate_profile_classifier, within_fold_category_auc
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2)); y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    >>> result = evaluate_profile_classifier(LogisticRegression(), X, y, n_splits=4)
    >>> table = within_fold_category_auc(result, np.repeat(["easy", "hard"], 60))
    >>> table[["category", "n"]].values.tolist(), bool((table["ci_low"] < table["auc"]).all())
    ([['easy', 60], ['hard', 60]], True)
    """
    rng = np.random.default_rng(random_state)
    predictions = result.predictions.assign(category=np.asarray(categories)[result.predictions["sample"]])
    tail = (1 - confidence) / 2
    rows = []
    for category, group in predictions.groupby("category"):
        parts = [(part["y_true"].to_numpy().astype(int), part["proba_1"].to_numpy()) for _, part in group.groupby("fold")]
        concordant, pairs = _within_fold_pairs(parts)
        row = {"category": category, "n": len(group), "n_right": int(group["y_true"].sum()),
               "share_right": float(group["y_true"].mean()), "n_pairs": int(pairs), "auc": np.nan,
               "ci_low": np.nan, "ci_high": np.nan}
        if pairs:
            replicates = []
            for _ in range(n_bootstrap):
                drawn = [(y_true[k], scores[k]) for y_true, scores in parts
                         for k in [rng.integers(0, len(y_true), size=len(y_true))]]
                replicate_concordant, replicate_pairs = _within_fold_pairs(drawn)
                if replicate_pairs:
                    replicates.append(replicate_concordant / replicate_pairs)
            row.update(auc=concordant / pairs, ci_low=float(np.quantile(replicates, tail)),
                       ci_high=float(np.quantile(replicates, 1 - tail)))
        rows.append(row)
    return pd.DataFrame(rows)
