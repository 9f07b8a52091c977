"""A pre-registered feature study, scored by nested cross-validation.

The paper reads one statistic (the entropy, or three Renyi orders for formats) averaged over positions
and classifies it with kNN. Which features and which classifier work best is a question a test fold
must never answer: here every setting of a fixed grid is scored on grouped folds (the whole table, a
description), and the honest estimate of "take the best setting" comes from nested cross-validation,
where each outer training part chooses its setting by an inner grouped search.

Every setting reads one cached profile per prompt: the profiler computes all the study's statistics
(entropy at Renyi orders 0.5, 1 and 5, KL to the final layer, the final token's rank and the top-p set
size) in one pass, a setting's aggregate is applied after the cache, and its features are chosen by
name; so the grid, the folds and the searches never run a prompt through the model twice.
"""

import itertools

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import Bunch

from ._protocol import evaluate_profile_classifier, held_out_condition_folds

STUDY_STATISTICS = ("entropy", "kl_to_final", "final_token_rank", "top_p_size")
STUDY_ORDERS = (0.5, 1, 5)
# Statistics in nats enter as they are; ranks and set sizes (counts >= 1, heavy-tailed) as logarithms.
FEATURE_SETS = {
    "entropy": {"nats": ("entropy_alpha1_",), "counts": ()},
    "Renyi 0.5, 1, 5": {"nats": ("entropy_alpha",), "counts": ()},
    "Renyi + KL + rank + top-p": {"nats": ("entropy_alpha", "kl_to_final_"), "counts": ("final_token_rank_", "top_p_size_")},
}


def feature_selector(feature_set):
    """The ColumnTransformer that keeps a feature set's columns of a study profile (a pandas table).

    Parameters
    ----------
    feature_set : str
        A key of :data:`FEATURE_SETS`.

    Returns
    -------
    selector : ColumnTransformer
        Keeps the columns whose names start with the set's prefixes; counts go through ``log``.
    """
    prefixes = FEATURE_SETS[feature_set]
    parts = [("nats", "passthrough", prefixes["nats"])]
    if prefixes["counts"]:
        parts.append(("log_counts", FunctionTransformer(np.log, feature_names_out="one-to-one"), prefixes["counts"]))
    return ColumnTransformer(
        [(name, transformer, make_column_selector(pattern="^(?:" + "|".join(p) + ")")) for name, transformer, p in parts],
        remainder="drop", verbose_feature_names_out=False,
    )


def _selector_patterns(selector):
    return tuple(columns.pattern for _, _, columns in selector.transformers)


def _feature_set_name(selector):
    """The name of the feature set a (possibly copied) selector keeps."""
    patterns = _selector_patterns(selector)
    return next(name for name in FEATURE_SETS if _selector_patterns(feature_selector(name)) == patterns)


def study_profiler(profiler):
    """A copy of ``profiler`` that computes every statistic of the study, for every setting to read."""
    return clone(profiler).set_params(statistics=list(STUDY_STATISTICS), alpha=list(STUDY_ORDERS), log_base=None,
                                      normalize=False)


def study_pipeline(profiler, feature_set, aggregate, classifier):
    """Profile (study statistics, ``aggregate``), keep a feature set, standardise, classify."""
    pipeline = Pipeline([
        ("profiler", study_profiler(profiler).set_params(aggregate=aggregate)),
        ("select", feature_selector(feature_set)),
        ("scaler", StandardScaler()),
        ("classifier", clone(classifier)),
    ])
    return pipeline.set_output(transform="pandas")


def default_classifiers(n_neighbors):
    """The study's two classifiers: the paper's kNN and a regularised logistic regression."""
    return {"kNN": KNeighborsClassifier(n_neighbors=n_neighbors), "logistic regression": LogisticRegression(max_iter=5000)}


def run_feature_study(X, y, *, profiler, aggregates, classifiers, groups=None, n_splits=10, inner_splits=5,
                      random_state=42):
    """Score every setting of the grid on grouped folds, and the choice of the best one by nested CV.

    Parameters
    ----------
    X : list of str
        Prompts.
    y : array-like of shape (n_samples,)
        Labels.
    profiler : EntropyProfileTransformer
        How prompts are profiled (model, tokens, sampling, ``memory`` for the cache); its statistics,
        orders and aggregate are set by the study.
    aggregates : sequence of {"mean", int}
        The aggregations compared (the mean over positions; windows).
    classifiers : dict of str -> classifier
        The classifiers compared (see :func:`default_classifiers`).
    groups : array-like of shape (n_samples,) or None, default=None
        Groups of prompts sharing text; kept in one fold, outer and inner.
    n_splits, inner_splits : int, default=10, 5
        Outer and inner folds.
    random_state : int, default=42
        Seed of the outer folds (every setting is scored on the same ones) and the inner searches.

    Returns
    -------
    result : Bunch
        ``table`` (one row per setting: ``features``, ``aggregate``, ``classifier``, ``auc`` with its
        corrected interval ``auc_ci_low``/``auc_ci_high``, ``dummy_auc``, ``corrected_p_value``),
        ``nested`` (the protocol's result for the nested search: the honest estimate of taking the best
        setting), ``chosen`` (the setting each outer fold chose) and ``summary`` (one line).
    """
    y = np.asarray(y)
    profiler = study_profiler(profiler)
    profiler.fit(X).transform(X)  # fills the cache once; every setting below reads it
    rows = []
    folds = {"groups": groups, "n_splits": n_splits, "random_state": random_state}
    for feature_set, aggregate, (classifier_name, classifier) in itertools.product(FEATURE_SETS, aggregates, classifiers.items()):
        summary = evaluate_profile_classifier(study_pipeline(profiler, feature_set, aggregate, classifier), X, y,
                                              **folds).summary
        rows.append({"features": feature_set, "aggregate": str(aggregate), "classifier": classifier_name,
                     "auc": summary["auc_mean"], "auc_ci_low": summary["auc_ci_low"],
                     "auc_ci_high": summary["auc_ci_high"], "dummy_auc": summary["dummy_auc_mean"],
                     "corrected_p_value": summary["corrected_p_value"]})
    table = pd.DataFrame(rows)
    search = study_search(profiler, aggregates, classifiers, groups=groups, inner_splits=inner_splits,
                          n_classes=len(np.unique(y)), random_state=random_state)
    nested = evaluate_profile_classifier(search, X, y, return_estimators=True, **folds)
    chosen = _chosen_settings(nested, classifiers)
    best = table.loc[table["auc"].idxmax()]
    line = (f"nested estimate (best setting chosen inside each training part): ROC-AUC {nested.summary['auc_mean']:.3f} "
            f"[{nested.summary['auc_ci_low']:.3f}, {nested.summary['auc_ci_high']:.3f}] (dummy "
            f"{nested.summary['dummy_auc_mean']:.3f}); best single setting, optimistic: {best['features']}, "
            f"{best['aggregate']}, {best['classifier']} {best['auc']:.3f}")
    return Bunch(table=table, nested=nested, chosen=chosen, summary=line)


def _chosen_settings(nested, classifiers):
    """The setting each outer fold's search chose, as a table."""
    chosen = []
    for fold, fitted in enumerate(nested.estimators):
        params = fitted.best_params_
        chosen.append({"fold": fold, "features": _feature_set_name(params["select"]),
                       "aggregate": str(params["profiler__aggregate"]),
                       "classifier": next(name for name, c in classifiers.items() if type(c) is type(params["classifier"])),
                       "inner_auc": fitted.best_score_})
    return pd.DataFrame(chosen)


def study_search(profiler, aggregates, classifiers, *, groups, inner_splits=5, n_classes=2, random_state=42):
    """The study's grid as a ``GridSearchCV`` over the study pipeline (inner folds grouped when ``groups`` is given)."""
    grid = {"profiler__aggregate": list(aggregates), "select": [feature_selector(name) for name in FEATURE_SETS],
            "classifier": [clone(classifier) for classifier in classifiers.values()]}
    inner = (StratifiedGroupKFold if groups is not None else StratifiedKFold)(inner_splits, shuffle=True,
                                                                               random_state=random_state)
    scoring = "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    return GridSearchCV(study_pipeline(profiler, next(iter(FEATURE_SETS)), aggregates[0],
                                       next(iter(classifiers.values()))), grid, cv=inner, scoring=scoring)


def run_held_out_condition_study(X, y, *, profiler, aggregates, classifiers, groups, condition, n_splits=5,
                                 inner_splits=5, random_state=42):
    """The study's grid searched inside folds that hold out a condition (a wording) and groups (topics).

    Each outer fold of :func:`~sklearn_entropylens.experiments.held_out_condition_folds` trains on the
    other conditions' prompts of its training groups, searches the grid there (inner folds grouped by
    ``groups``), and tests the chosen setting on the held-out condition's prompts of its test groups. No
    prompt of an outer test part is seen by the search that scores it: the estimate is nested.

    Returns
    -------
    result : Bunch
        ``nested`` (the protocol's result), ``chosen`` (each outer fold's setting) and ``summary``.
    """
    y = np.asarray(y)
    profiler = study_profiler(profiler)
    profiler.fit(X).transform(X)  # fills the cache once; every search below reads it
    folds = held_out_condition_folds(y, groups, condition, n_splits=n_splits, random_state=random_state)
    search = study_search(profiler, aggregates, classifiers, groups=groups, inner_splits=inner_splits,
                          n_classes=len(np.unique(y)), random_state=random_state)
    nested = evaluate_profile_classifier(search, X, y, groups=groups, cv=folds, return_estimators=True)
    line = (f"nested, condition held out: ROC-AUC {nested.summary['auc_mean']:.3f} [{nested.summary['auc_ci_low']:.3f}, "
            f"{nested.summary['auc_ci_high']:.3f}] (dummy {nested.summary['dummy_auc_mean']:.3f}, corrected p "
            f"{nested.summary['corrected_p_value']:.2g}), {nested.summary['n_folds']} folds")
    return Bunch(nested=nested, chosen=_chosen_settings(nested, classifiers), summary=line)
