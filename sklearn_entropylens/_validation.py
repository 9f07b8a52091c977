"""Input and parameter validation shared by the estimators that take prompts."""

import sys
import warnings
from collections.abc import Iterable

import numpy as np


class EmptyPromptWarning(UserWarning):
    """An empty prompt was profiled: it is the BOS token alone, the model-family protocol's input.

    Filter it (``warnings.simplefilter("ignore", EmptyPromptWarning)``) where empty prompts are meant.

    See Also
    --------
    EntropyProfileTransformer : Profiles prompts; the empty prompt is the BOS token alone.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_entropylens import EmptyPromptWarning, EntropyProfileTransformer
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> profiler = EntropyProfileTransformer(register_tiny_model("llama"), n_tokens=1)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     X = profiler.fit_transform([""])
    >>> [warning.category.__name__ for warning in caught], X.shape
    (['EmptyPromptWarning'], (1, 3))

    Where empty prompts are meant, as in a family fingerprint, filter it:

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error")
    ...     warnings.simplefilter("ignore", EmptyPromptWarning)
    ...     X = profiler.fit_transform([""])
    """


# Frames of these packages sit between a user's call and our warning (Pipeline runs steps through joblib).
_LIBRARY_PACKAGES = ("sklearn_entropylens", "sklearn", "joblib")


def user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first caller outside this library, scikit-learn and joblib.

    Call it in the function that calls :func:`warnings.warn`. A fixed number breaks whenever a wrapper
    (``set_output``, a Pipeline, a public method calling a private one) adds or removes a frame.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in _LIBRARY_PACKAGES:
        frame, level = frame.f_back, level + 1
    return level


def warn_empty_prompts(prompts):
    """One :class:`EmptyPromptWarning` per call when any prompt is ``""`` (it profiles the BOS token alone)."""
    empty = [index for index, prompt in enumerate(prompts) if prompt == ""]
    if empty:
        warnings.warn(
            f"{len(empty)} empty prompt(s) (first at index {empty[0]}): each is profiled as the BOS token alone, "
            "the unconditional input of the model-family protocol. Filter EmptyPromptWarning if that is intended.",
            EmptyPromptWarning,
            stacklevel=user_stacklevel(),
        )


def check_prompts(X, *, allow_empty=False):
    """Return prompts as a list of str, or raise an error that names the problem.

    Parameters
    ----------
    X : iterable of str
        A list, tuple, 1-D array or pandas Series of prompts.
    allow_empty : bool, default=False
        Accept an empty iterable.

    Returns
    -------
    prompts : list of str
        The prompts, in order.

    Examples
    --------
    >>> from sklearn_entropylens._validation import check_prompts
    >>> check_prompts(("a", "b"))
    ['a', 'b']
    """
    if X is None:
        raise TypeError("X is None; expected an iterable of prompt strings, e.g. ['The capital of France is'].")
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "Iterable over raw text documents expected, string object received. "
            "Wrap a single prompt in a list: [prompt]."
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        raise ValueError(
            "X is a DataFrame; pass the column of prompts (a Series), or use a ColumnTransformer "
            "with a scalar column name."
        )
    if isinstance(X, np.ndarray) and X.ndim != 1:
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        else:
            raise ValueError(f"Expected a 1-D sequence of prompts, got an array of shape {X.shape}.")
    if not isinstance(X, Iterable):
        raise TypeError(f"Expected an iterable of prompt strings, got {type(X).__name__}.")
    prompts = list(X)
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise TypeError(
                f"Every prompt must be a str; item {index} is {type(prompt).__name__} ({prompt!r:.60})."
            )
    if not prompts and not allow_empty:
        raise ValueError("X contains no prompts (0 samples); at least one is required.")
    return prompts
