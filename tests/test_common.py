"""scikit-learn's common checks: the data-free ones on the text transformer itself, and every check
through an adapter pipeline that renders numeric rows as prompts (research/sklearn_conventions.md, A6)."""

import pytest
import sklearn.utils.estimator_checks as checks
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn.neighbors import KNeighborsClassifier

from sklearn_entropylens import (
    CorrectnessClassifier,
    DepthRescaler,
    EntropyProfileTransformer,
    ExpansionPruningTransformer,
    FormatClassifier,
    InterventionScorer,
    ModelFamilyClassifier,
    TaskClassifier,
    TunedLens,
)
from sklearn_entropylens.testing import register_tiny_model
from tests._helpers import rows_to_text

TINY = register_tiny_model("llama")

DATA_FREE_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
]


TEXT_ESTIMATORS = [
    EntropyProfileTransformer(TINY, n_tokens=2),
    TaskClassifier(),
    FormatClassifier(),
    CorrectnessClassifier(),
    ModelFamilyClassifier(),
    InterventionScorer(),
    TunedLens(TINY),
]


@pytest.mark.parametrize("check_name", DATA_FREE_CHECKS)
@pytest.mark.parametrize("estimator", TEXT_ESTIMATORS, ids=lambda estimator: type(estimator).__name__)
def test_data_free_checks_on_the_text_estimators(check_name, estimator):
    getattr(checks, check_name)(type(estimator).__name__, clone(estimator))


def _adapter_pipeline(aggregate):
    return make_pipeline(
        FunctionTransformer(rows_to_text, validate=True),
        EntropyProfileTransformer(TINY, n_tokens=2, aggregate=aggregate),
    )


def _adapter_classifier():
    return make_pipeline(
        FunctionTransformer(rows_to_text, validate=True),
        TaskClassifier(profiler=EntropyProfileTransformer(TINY, n_tokens=2), classifier=KNeighborsClassifier(n_neighbors=3)),
    )


def _pipeline_xfails(estimator):
    if not hasattr(estimator, "steps"):
        return {}
    # Pipeline rewrites its own `steps` in fit; scikit-learn xfails these for Pipeline too.
    xfails = {
        "check_estimators_overwrite_params": "Pipeline replaces its steps with fitted clones",
        "check_dont_overwrite_parameters": "Pipeline replaces its steps with fitted clones",
    }
    if isinstance(estimator.steps[-1][1], TaskClassifier):
        # The check asks for 83 % training accuracy on Gaussian blobs; numbers rendered as text and read
        # through a random 3-block model keep too little of the blobs' geometry for that.
        xfails["check_classifiers_train"] = "blobs rendered as text lose their geometry in a random tiny model"
    return xfails


@parametrize_with_checks(
    [
        _adapter_pipeline("mean"),
        _adapter_pipeline("concat"),
        _adapter_classifier(),
        EntropyProfileTransformer(TINY, n_tokens=2),
        DepthRescaler(),
        DepthRescaler(n_points=7, kind="cubic"),
        DepthRescaler(kind="pad"),
        ExpansionPruningTransformer(),
    ],
    expected_failed_checks=_pipeline_xfails,
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)
