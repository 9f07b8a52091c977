"""Model-family fingerprints: unconditional entropy profiles, depth-rescaled, classified."""

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..models import ModelSpec
from ._depth import DepthRescaler, _is_collection_of_tables
from ._profile import EntropyProfileTransformer
from .._param_validation import HasMethods, InstanceOf, Interval, InvalidParameterError, Options, ValidatedParametersMixin
from .._validation import EmptyPromptWarning
from .._public_names import public_module


def _check_models(X, what="X"):
    """X is either a list of model identifiers or a list of per-model profile tables."""
    if isinstance(X, str):
        raise TypeError(f"{what} must be a list of model identifiers (or of profile tables), not a single string.")
    try:
        models = list(X)
    except TypeError:
        raise TypeError(f"{what} must be a list of model identifiers or of per-model profile tables.") from None
    if _is_collection_of_tables(models):
        return models, False
    if not models:
        raise ValueError(f"{what} is empty: give at least one model.")
    for model in models:
        if isinstance(model, ModelSpec):
            model.check()
    bad = [model for model in models if not isinstance(model, (str, ModelSpec))]
    if bad:
        raise TypeError(
            f"{what} must hold model identifiers (str or ModelSpec) or per-model 2-D profile tables, got "
            f"{type(bad[0]).__name__}."
        )
    return models, True


@public_module("sklearn_entropylens")
class ModelFamilyClassifier(ValidatedParametersMixin, ClassifierMixin, BaseEstimator):
    """Tell the family of a language model from its entropy-profile fingerprint.

    Each model is profiled on the paper's protocol: the empty prompt (the BOS token alone) continued
    ``n_samples`` times by sampling (the profiler's ``temperature``, 0.7 by default) for ``n_tokens``
    tokens, each sample giving the per-layer mean entropy profile. Profiles are resampled onto a common grid of relative depth
    (:class:`DepthRescaler`), so models of different depth compare, and a classifier is fitted on the
    samples of every training model, labelled with its family. A new model's family is the class of
    highest mean probability over its samples.

    Parameters
    ----------
    classifier : classifier or None, default=None
        Any scikit-learn classifier for the rescaled sample profiles; None is
        ``KNeighborsClassifier(n_neighbors=5)``.
    profiler : EntropyProfileTransformer or None, default=None
        How every model is profiled: its ``model`` is replaced by each identifier of ``X`` and its
        ``random_state`` by this classifier's, and everything else (``n_tokens``, ``temperature`` > 0,
        ``statistics``, ``alpha``, ``dtype``, ``device``, ``model_kwargs``, ``batch_size``, ``n_jobs``,
        ``memory``, ``progress``) applies to every model. None is
        ``EntropyProfileTransformer(n_tokens=32, temperature=0.7)``. To tune its parameters
        (``profiler__n_tokens``), pass it explicitly: a None step has no nested parameters.
    n_samples : int, default=64
        Sampled continuations per model.
    prompt : str, default=""
        The prompt continued (the empty prompt is the BOS token alone).
    n_points : int or None, default=None
        Points of the relative-depth grid; None takes the deepest training model's number of blocks.
    kind : {"linear", "cubic", "pad"}, default="linear"
        Resampling (see :class:`DepthRescaler`; ``"pad"`` is the reference's zero padding).
    random_state : int, RandomState instance or None, default=0
        Seeds the sampled continuations; a model's samples depend only on it and the model.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The families.
    models_ : list
        The training models (identifiers, or ``"model<k>"`` for profile tables).
    fingerprints_ : dict of str -> ndarray of shape (n_features,)
        Mean rescaled profile of each training model.
    profiles_ : ndarray of shape (n_models * n_samples, n_features)
        The rescaled training sample profiles.
    sample_models_ : ndarray of shape (n_models * n_samples,)
        Index into ``models_`` of each row of ``profiles_``.
    rescaler_ : DepthRescaler
        The fitted depth rescaler.
    classifier_ : classifier
        The fitted classifier.
    sampling_seed_ : int
        Base seed of the sampled continuations (from ``random_state``).

    See Also
    --------
    DepthRescaler : The rescaling onto relative depth.
    sklearn_entropylens.models.ModelSpec : A model given with its revision, dtype and device.

    Examples
    --------
    Precomputed profile tables (one per model) work as well as model identifiers:

    >>> import numpy as np
    >>> from sklearn_entropylens import ModelFamilyClassifier
    >>> rng = np.random.default_rng(0)
    >>> rising = [np.linspace(0, 5, L) + rng.normal(0, 0.1, (8, L)) for L in (12, 24)]
    >>> falling = [np.linspace(5, 0, L) + rng.normal(0, 0.1, (8, L)) for L in (16, 30)]
    >>> clf = ModelFamilyClassifier(n_points=10).fit(rising + falling, ["up", "up", "down", "down"])
    >>> clf.predict([np.linspace(0, 5, 18)[None, :], np.linspace(5, 0, 20)[None, :]])
    array(['up', 'down'], dtype='<U4')
    """

    def __init__(
        self,
        classifier=None,
        *,
        profiler=None,
        n_samples=64,
        prompt="",
        n_points=None,
        kind="linear",
        random_state=0,
    ):
        self.classifier = classifier
        self.profiler = profiler
        self.n_samples = n_samples
        self.prompt = prompt
        self.n_points = n_points
        self.kind = kind
        self.random_state = random_state

    _entropylens_constraints = {
        "classifier": [Options(None), HasMethods("fit", "predict", description="a classifier (fit and predict)")],
        "profiler": [Options(None), InstanceOf(EntropyProfileTransformer)],
        "n_samples": [Interval(numbers.Integral, 1, None)],
        "prompt": [InstanceOf(str)],
        "n_points": [Options(None), Interval(numbers.Integral, 1, None)],
        "kind": [Options("linear", "cubic", "pad")],
        "random_state": [Options(None), Interval(numbers.Integral, 0, None), InstanceOf(np.random.RandomState)],
    }

    def _sampling_seed(self):
        if hasattr(self, "sampling_seed_"):
            return self.sampling_seed_
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _validate_params(self):
        values = super()._validate_params()
        temperature = self._base_profiler().temperature
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or temperature <= 0:
            raise InvalidParameterError(
                f"The profiler's temperature must be > 0: the fingerprint samples continuations, got {temperature!r}."
            )
        return values

    def _profiler(self, model, seed):
        """The base profiler on one model: an identifier replaces its ``model``, a ModelSpec all five model parameters."""
        model = model.params() if isinstance(model, ModelSpec) else {"model": model}
        return clone(self._base_profiler()).set_params(random_state=seed, **model)

    def _base_profiler(self):
        return EntropyProfileTransformer(n_tokens=32, temperature=0.7) if self.profiler is None else self.profiler

    def model_profiles(self, X):
        """Per-layer sample profiles of each model, before depth rescaling.

        Parameters
        ----------
        X : list of str or ModelSpec
            Model identifiers (see :class:`EntropyProfileTransformer`) or specifications; profile tables are returned
            as they are.

        Returns
        -------
        tables : list of DataFrame of shape (n_samples, n_features_model)
            One table per model, columns named by layer (``entropy_layer07``). Samples are seeded by
            ``sampling_seed_`` once fitted, else by ``random_state``.
        """
        self._validate_params()
        return self._model_profiles(*_check_models(X))

    def _model_profiles(self, models, are_identifiers):
        if not are_identifiers:
            return [table if isinstance(table, pd.DataFrame) else np.asarray(table, dtype=np.float64) for table in models]
        n_samples = self.n_samples
        seed = self._sampling_seed()
        tables = []
        for model in models:
            profiler = self._profiler(model, seed)
            prompts = [self.prompt] * n_samples
            with warnings.catch_warnings():
                # The protocol's unconditional input is the empty prompt, on purpose.
                warnings.simplefilter("ignore", EmptyPromptWarning)
                values = profiler.fit(prompts).transform(prompts)
            tables.append(pd.DataFrame(values, columns=profiler.get_feature_names_out()))
        return tables

    def fit(self, X, y):
        """Profile every model and fit the classifier on their depth-rescaled samples.

        Parameters
        ----------
        X : list of str or ModelSpec, or list of array-like of shape (n_samples_model, n_features_model)
            Model identifiers or specifications (:class:`~sklearn_entropylens.models.ModelSpec`), or precomputed per-model profile tables (rows are samples).
        y : array-like of shape (n_models,)
            Family of each model.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._validate_params()
        models, are_identifiers = _check_models(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(models):
            raise ValueError(f"y must give one family per model: {len(models)} models, y of shape {y.shape}.")
        check_classification_targets(y)
        if hasattr(self, "sampling_seed_"):
            del self.sampling_seed_  # a refit draws its seed from random_state again
        seed = self._sampling_seed()
        tables = self._model_profiles(models, are_identifiers)
        self.sampling_seed_ = seed
        self.rescaler_ = DepthRescaler(n_points=self.n_points, kind=self.kind).fit(tables)
        self.profiles_ = self.rescaler_.transform(tables)
        self.sample_models_ = np.repeat(np.arange(len(tables)), [len(table) for table in tables])
        self.models_ = list(models) if are_identifiers else [f"model{k}" for k in range(len(models))]
        self.fingerprints_ = {
            name: self.profiles_[self.sample_models_ == k].mean(axis=0) for k, name in enumerate(self.models_)
        }
        classifier = KNeighborsClassifier(n_neighbors=5) if self.classifier is None else self.classifier
        self.classifier_ = clone(classifier).fit(self.profiles_, y[self.sample_models_])
        self.classes_ = self.classifier_.classes_
        return self

    def sample_predict_proba(self, X):
        """Class probabilities of every rescaled sample profile of each model.

        Parameters
        ----------
        X : list of str, or list of array-like
            Model identifiers or per-model profile tables.

        Returns
        -------
        probabilities : list of ndarray of shape (n_samples_model, n_classes)
            One array per model.
        """
        check_is_fitted(self)
        tables = self.model_profiles(X)
        return [self.classifier_.predict_proba(self.rescaler_.transform([table])) for table in tables]

    def predict_proba(self, X):
        """Family probabilities of each model: the mean over its samples.

        Parameters
        ----------
        X : list of str, or list of array-like
            Model identifiers or per-model profile tables.

        Returns
        -------
        probabilities : ndarray of shape (n_models, n_classes)
            Columns follow ``classes_``.
        """
        return np.vstack([probabilities.mean(axis=0) for probabilities in self.sample_predict_proba(X)])

    def predict(self, X):
        """Family of each model.

        Parameters
        ----------
        X : list of str, or list of array-like
            Model identifiers or per-model profile tables.

        Returns
        -------
        families : ndarray of shape (n_models,)
            Taken from ``classes_``.
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags
