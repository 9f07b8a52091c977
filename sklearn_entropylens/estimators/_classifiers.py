"""Prompt classifiers on entropy profiles: a profile step, a scaler and a classifier, one estimator."""

from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._profile import EntropyProfileTransformer
from .._param_validation import HasMethods, InstanceOf, Options, ValidatedParametersMixin
from .._validation import check_prompts
from .._public_names import public_module

_STEPS = ("profiler", "scaler", "classifier")


@public_module("sklearn_entropylens.estimators")
class ProfileClassifier(ValidatedParametersMixin, ClassifierMixin, BaseEstimator):
    """Profile, scale and classify prompts.

    Each step is a parameter; None takes the paper's default for the task, built (as a fresh clone) in
    ``fit``, as scikit-learn's meta-estimators do with ``estimator=None``. A step's own parameters are
    reachable as ``profiler__n_tokens``, ``scaler__with_mean`` or ``classifier__n_neighbors`` only when
    the step is given explicitly: a None step has no nested parameters, so ``get_params(deep=True)``
    lists the step alone and ``set_params`` fails on them, as for scikit-learn's ``estimator=None``.

    Parameters
    ----------
    profiler : EntropyProfileTransformer or None, default=None
        The profile step; None is the task's default.
    scaler : transformer, "passthrough" or None, default=None
        The scaling step; None is the task's default.
    classifier : classifier or None, default=None
        The classifier; None is the task's default.

    See Also
    --------
    TaskClassifier, FormatClassifier, CorrectnessClassifier : The three prompt classifiers.

    Examples
    --------
    The three prompt classifiers are its subclasses. A step left as None has no nested parameters:

    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_entropylens import EntropyProfileTransformer, FormatClassifier
    >>> from sklearn_entropylens.estimators import ProfileClassifier
    >>> issubclass(FormatClassifier, ProfileClassifier)
    True
    >>> FormatClassifier().get_params()
    {'classifier': None, 'profiler': None, 'scaler': None}

    A step given explicitly has tunable parameters. Here the profiler reads a tiny random-initialised
    model (three blocks, a byte tokenizer), which profiles in milliseconds:

    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> model = register_tiny_model("llama")
    >>> clf = FormatClassifier(profiler=EntropyProfileTransformer(model, n_tokens=2),
    ...                        classifier=KNeighborsClassifier(n_neighbors=1))
    >>> clf.get_params()["profiler__n_tokens"]
    2
    >>> X = ["Write a poem about the sea", "Simulate a chat log about tea",
    ...      "Write a poem about rain", "Simulate a chat log about maps"]
    >>> clf.fit(X, ["poem", "chat log", "poem", "chat log"]).classes_
    array(['chat log', 'poem'], dtype='<U8')
    >>> clf.profiler_.get_feature_names_out()
    array(['entropy_layer01', 'entropy_layer02', 'entropy_layer03'], dtype=object)
    """

    _entropylens_constraints = {
        "profiler": [Options(None), InstanceOf(EntropyProfileTransformer)],
        "scaler": [
            Options(None, "passthrough"), HasMethods("fit", "transform", description="a transformer (fit and transform)")
        ],
        "classifier": [Options(None), HasMethods("fit", "predict", description="a classifier (fit and predict)")],
    }

    def __init__(self, profiler=None, scaler=None, classifier=None):
        self.profiler = profiler
        self.scaler = scaler
        self.classifier = classifier

    def _default_steps(self):
        raise NotImplementedError

    def _steps(self):
        defaults = self._default_steps()
        return {name: defaults[name] if getattr(self, name) is None else getattr(self, name) for name in _STEPS}

    def _unfitted_pipeline(self):
        """The profiler, scaler and classifier steps, as fresh clones, in a Pipeline."""
        return clone(Pipeline(list(self._steps().items())))

    def fit(self, X, y):
        """Profile the prompts and fit the scaler and classifier.

        Parameters
        ----------
        X : iterable of str
            Prompts.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._validate_params()
        prompts = check_prompts(X)
        y = column_or_1d(y, warn=True)
        if len(y) != len(prompts):
            raise ValueError(f"y must hold one label per prompt: {len(prompts)} prompts, {len(y)} labels.")
        check_classification_targets(y)
        self.pipeline_ = self._unfitted_pipeline().fit(prompts, y)
        self.classes_ = self.pipeline_.classes_
        return self

    @property
    def profiler_(self):
        """The fitted profile step."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.named_steps["profiler"]

    def predict(self, X):
        """Predicted class of each prompt.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.pipeline_.predict(check_prompts(X))

    def predict_proba(self, X):
        """Class probabilities of each prompt.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self.pipeline_.predict_proba(check_prompts(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


_SHARED_DOC = """
    Parameters
    ----------
    profiler : EntropyProfileTransformer or None, default=None
        The profile step; None is ``{profiler}``, built in ``fit``. To change one of its parameters,
        pass the step, e.g. ``{name}(profiler={tuned})``: it replaces the default as a whole, so repeat
        any other default parameter you want to keep. A None step has no nested parameters: a grid over
        ``profiler__n_tokens`` needs an explicit profiler. Give it ``memory=`` to share profiles across
        the folds and candidates of a search.
    scaler : transformer, "passthrough" or None, default=None
        Applied to the profiles before the classifier; None is ``StandardScaler()``. Pass it
        explicitly to tune its parameters (``scaler__with_mean``).
    classifier : classifier or None, default=None
        None is ``{classifier}``. Pass it explicitly to tune its parameters, e.g.
        ``classifier=KNeighborsClassifier()`` for a grid over ``classifier__n_neighbors``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    pipeline_ : Pipeline
        The fitted ``profiler``, ``scaler`` and ``classifier`` steps.
    profiler_ : EntropyProfileTransformer
        The fitted profile step (``pipeline_["profiler"]``).

    See Also
    --------
{see_also}
"""


@public_module("sklearn_entropylens")
class TaskClassifier(ProfileClassifier):
    __doc__ = (
        """Identify the task a prompt asks for from its entropy profile.

    Paper defaults: the per-layer mean entropy over 8 positions of a continuation sampled at
    temperature 1 (seeded), standardised, and a k-nearest-neighbours classifier with the reference's
    k = 29.
"""
        + _SHARED_DOC.format(
            name="TaskClassifier",
            profiler="EntropyProfileTransformer(n_tokens=8, temperature=1.0, random_state=0)",
            tuned="EntropyProfileTransformer(n_tokens=4, temperature=1.0, random_state=0)",
            classifier="KNeighborsClassifier(n_neighbors=29)",
            see_also="""\
    sklearn_entropylens.datasets.load_story_tasks : Stories with task questions, labelled by task class.
    evaluate_profile_classifier : Cross-validated ROC-AUC against a stratified dummy; pass the story as ``groups``.
    FormatClassifier : Identifies the output format an instruction asks for.
    sklearn_entropylens.estimators.ProfileClassifier : The base class of the three prompt classifiers.""",
        )
        + """
    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_entropylens import EntropyProfileTransformer, TaskClassifier
    >>> from sklearn_entropylens.datasets import load_story_tasks
    >>> X, y = load_story_tasks(n_stories=4, variants=["base"], return_X_y=True)
    >>> profiler = EntropyProfileTransformer(n_tokens=2, temperature=1.0, random_state=0)
    >>> clf = TaskClassifier(profiler=profiler, classifier=KNeighborsClassifier(n_neighbors=3)).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> clf.get_params()["profiler__n_tokens"]  # an explicit step's parameters are tunable
    2
    """
    )

    def _default_steps(self):
        return {
            "profiler": EntropyProfileTransformer(n_tokens=8, temperature=1.0, random_state=0),
            "scaler": StandardScaler(),
            "classifier": KNeighborsClassifier(n_neighbors=29),
        }


@public_module("sklearn_entropylens")
class FormatClassifier(ProfileClassifier):
    __doc__ = (
        """Identify the output format a prompt asks for (poem, chat log, ...) from its entropy profile.

    Paper defaults: greedy continuations of 256 tokens, their entropy averaged in 8 windows of 32
    positions (window-major, ``8 * L`` features), standardised, and k-nearest neighbours with k = 5 (the
    reference's README). 256 tokens per prompt is slow on a CPU:
    ``profiler=EntropyProfileTransformer(n_tokens=32, aggregate=4)`` is a practical start.
"""
        + _SHARED_DOC.format(
            name="FormatClassifier",
            profiler="EntropyProfileTransformer(n_tokens=256, aggregate=8)",
            tuned="EntropyProfileTransformer(n_tokens=32, aggregate=4)",
            classifier="KNeighborsClassifier(n_neighbors=5)",
            see_also="""\
    sklearn_entropylens.datasets.load_formats : Instructions for poems, chat logs and other formats, by topic.
    evaluate_profile_classifier : Cross-validated ROC-AUC against a stratified dummy; pass the topic as ``groups``.
    TaskClassifier : Identifies the task a prompt asks for.
    sklearn_entropylens.estimators.ProfileClassifier : The base class of the three prompt classifiers.""",
        )
        + """
    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_entropylens import EntropyProfileTransformer, FormatClassifier
    >>> from sklearn_entropylens.datasets import load_formats
    >>> formats = load_formats(formats=["poem", "chat log"])
    >>> X, y = formats.data[:3] + formats.data[-3:], formats.target[[0, 1, 2, -3, -2, -1]]
    >>> clf = FormatClassifier(
    ...     profiler=EntropyProfileTransformer(n_tokens=4, aggregate=2), classifier=KNeighborsClassifier(n_neighbors=1)
    ... ).fit(X, y)
    >>> clf.predict_proba(X).shape
    (6, 2)
    """
    )

    def _default_steps(self):
        return {
            "profiler": EntropyProfileTransformer(n_tokens=256, aggregate=8),
            "scaler": StandardScaler(),
            "classifier": KNeighborsClassifier(n_neighbors=5),
        }


@public_module("sklearn_entropylens")
class CorrectnessClassifier(ProfileClassifier):
    __doc__ = (
        """Predict whether the model answers a multiple-choice prompt correctly, from its entropy profile.

    The labels are the model's own correctness, from :func:`answer_correctness` (read from its logits,
    never by parsing text). Paper defaults: the per-layer mean entropy over 8 greedy positions,
    standardised, and k-nearest neighbours with the reference's k = 29.
"""
        + _SHARED_DOC.format(
            name="CorrectnessClassifier",
            profiler="EntropyProfileTransformer(n_tokens=8)",
            tuned="EntropyProfileTransformer(n_tokens=4)",
            classifier="KNeighborsClassifier(n_neighbors=29)",
            see_also="""\
    answer_correctness : Its labels: whether the model answers each prompt right, read from its logits.
    sklearn_entropylens.datasets.load_multiple_choice : Built-in four-option questions to label and classify.
    sklearn_entropylens.metrics.prediction_rejection_ratio : Scores ``predict_proba(X)[:, 1]`` as a confidence
        in the model's answers.
    evaluate_profile_classifier : Cross-validated ROC-AUC against a stratified dummy.""",
        )
        + """
    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_entropylens import CorrectnessClassifier, EntropyProfileTransformer, answer_correctness
    >>> from sklearn_entropylens.datasets import load_multiple_choice
    >>> questions = load_multiple_choice()
    >>> X, answers, options = questions.data[:12], questions.target[:12], questions.options[:12]
    >>> y = answer_correctness(X, answers, options=options, method="options").correct
    >>> clf = CorrectnessClassifier(
    ...     profiler=EntropyProfileTransformer(n_tokens=2), classifier=KNeighborsClassifier(n_neighbors=3)
    ... ).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """
    )

    def _default_steps(self):
        return {
            "profiler": EntropyProfileTransformer(n_tokens=8),
            "scaler": StandardScaler(),
            "classifier": KNeighborsClassifier(n_neighbors=29),
        }
