import inspect

import pytest

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
from sklearn_entropylens._param_validation import InvalidParameterError



ESTIMATORS = [
    EntropyProfileTransformer, DepthRescaler, ExpansionPruningTransformer, InterventionScorer, ModelFamilyClassifier,
    TaskClassifier, FormatClassifier, CorrectnessClassifier, TunedLens,
]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_parameter_is_declared(estimator):
    parameters = set(inspect.signature(estimator).parameters)
    assert set(estimator._entropylens_constraints) == parameters  # every parameter, the model's included


@pytest.mark.parametrize("estimator, parameter, value, expected", [
    (EntropyProfileTransformer(), "n_tokens", 0, r"'n_tokens' parameter of EntropyProfileTransformer must be an int in \[1, inf\); got 0"),
    (EntropyProfileTransformer(), "batch_size", "big", r"'batch_size' .* must be 'auto' or an int in \[1, inf\); got 'big'"),
    (DepthRescaler(), "kind", "spline", r"'kind' parameter of DepthRescaler must be 'linear' or 'cubic' or 'pad'"),
    (InterventionScorer(), "confidence", 1.0, r"'confidence' .* a number in \(0, 1\); got 1.0"),
    (ModelFamilyClassifier(), "profiler", "smollm2-135m", r"'profiler' .* an instance of EntropyProfileTransformer"),
    (ModelFamilyClassifier(), "classifier", "knn", r"'classifier' .* a classifier \(fit and predict\); got 'knn'"),
    (TaskClassifier(), "profiler", "smollm2-135m", r"'profiler' parameter of TaskClassifier must be None or an instance"),
    (FormatClassifier(), "classifier", 3, r"'classifier' parameter of FormatClassifier must be None or a classifier"),
    (CorrectnessClassifier(), "scaler", "standard", r"'scaler' .* a transformer \(fit and transform\)"),
    (TunedLens(), "training_vocab", 0, r"'training_vocab' parameter of TunedLens must be None or an int in \[1, inf\); got 0"),
    (EntropyProfileTransformer(), "lens", "tuned", r"'lens' parameter of EntropyProfileTransformer must be 'logit', a fitted TunedLens, or FrozenEstimator\(TunedLens\)"),
])
def test_a_bad_value_names_the_parameter_the_estimator_and_what_it_accepts(estimator, parameter, value, expected):
    estimator.set_params(**{parameter: value})
    with pytest.raises(InvalidParameterError, match=expected):
        estimator.fit(["a"], ["x"]) if hasattr(estimator, "predict") else estimator.fit(["a"])


def test_our_constraint_table_does_not_take_scikit_learns_name():
    # scikit-learn reads `_parameter_constraints` with its own constraint types (BaseEstimator._validate_params,
    # check_param_validation); ours are other objects, so under that name they made it raise
    # "Unknown constraint type". Ours is `_entropylens_constraints`, checked by validate_parameters.
    for estimator in ESTIMATORS:
        assert not hasattr(estimator, "_parameter_constraints"), estimator.__name__
        assert hasattr(estimator, "_entropylens_constraints"), estimator.__name__
