"""scikit-learn's conventions: parameter checks that run, clone of a fitted lens, FrozenEstimator."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted
from sklearn.exceptions import NotFittedError

import sklearn_entropylens as sel
from sklearn_entropylens import EntropyProfileTransformer, TunedLens

TEXTS = ["one two three four five six seven", "a b c d e f g h i j", "the cat sat on the mat again", "x y z w"] * 2

ESTIMATORS = [
    sel.EntropyProfileTransformer(), sel.TunedLens(), sel.DepthRescaler(), sel.ExpansionPruningTransformer(),
    sel.TaskClassifier(), sel.FormatClassifier(), sel.CorrectnessClassifier(), sel.ModelFamilyClassifier(),
    sel.InterventionScorer(),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda estimator: type(estimator).__name__)
def test_every_estimators_validate_params_runs(estimator):
    # scikit-learn's name for the parameter check; the inherited one would read _parameter_constraints.
    assert not hasattr(type(estimator), "_parameter_constraints")
    assert isinstance(estimator._validate_params(), dict)
    bad = clone(estimator)
    name = next(iter(type(bad)._entropylens_constraints))
    bad.set_params(**{name: object()})
    with pytest.raises((ValueError, TypeError), match=name):
        bad._validate_params()


@pytest.fixture(scope="module")
def fitted_lens(tiny_llama):
    return TunedLens(tiny_llama, max_length=16, max_epochs=1, training_vocab=None).fit(TEXTS)


def test_clone_of_a_fitted_tuned_lens_is_unfitted(fitted_lens):
    check_is_fitted(fitted_lens)
    copy = clone(fitted_lens)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    assert copy.get_params() == fitted_lens.get_params()


def test_a_frozen_lens_stays_fitted_through_a_grid_search(fitted_lens, tiny_llama):
    from sklearn.linear_model import LogisticRegression

    frozen = FrozenEstimator(fitted_lens)
    pipe = make_pipeline(EntropyProfileTransformer(tiny_llama, n_tokens=2, lens=frozen), LogisticRegression())
    X, y = ["a b", "c d", "e f", "g h", "i j", "k l"], [0, 1, 0, 1, 0, 1]
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(X, y)
    profiler = search.best_estimator_[0]
    assert profiler.lens_hash_ == fitted_lens.lens_hash_
    direct = EntropyProfileTransformer(tiny_llama, n_tokens=2, lens=fitted_lens).fit(X)
    np.testing.assert_array_equal(profiler.transform(X), direct.transform(X))
    # Unfrozen, the clone of the profiler holds an unfitted lens, and says what to do.
    with pytest.raises(NotFittedError, match="fitted TunedLens"):
        clone(EntropyProfileTransformer(tiny_llama, n_tokens=2, lens=fitted_lens)).fit(X)


def test_a_frozen_estimator_of_anything_else_is_refused(tiny_llama):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="FrozenEstimator\\(TunedLens\\)"):
        EntropyProfileTransformer(tiny_llama, lens=FrozenEstimator(LogisticRegression())).fit(["a"])
