"""Parameter validation declared per estimator: a table of constraints, checked by one helper.

Each estimator declares ``_entropylens_constraints = {name: [constraint, ...]}``; a value is valid when it
satisfies any of its constraints. :func:`validate_parameters` checks the whole table once per public
entry point (``fit``), in the style of scikit-learn's own, which is private and not imported here. The
table has its own name: under scikit-learn's ``_parameter_constraints`` our constraint objects would be
read by the inherited ``BaseEstimator._validate_params`` (and by scikit-learn's common checks), which
does not know them and raised "Unknown constraint type".
Validators with their own, more specific error messages (the statistics, ``model_kwargs``) take part as
:class:`Checked` constraints.
"""

import math
import numbers

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A parameter's value is outside its declared constraints (a ValueError and a TypeError)."""


class Interval:
    """Numbers of a type (``numbers.Integral`` or ``numbers.Real``) between two bounds; bools excluded."""

    def __init__(self, kind, left, right, *, closed="both"):
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if isinstance(value, numbers.Real) and math.isnan(value):
            return False
        left_ok = self.left is None or (value >= self.left if self.closed in ("both", "left") else value > self.left)
        right_ok = self.right is None or (value <= self.right if self.closed in ("both", "right") else value < self.right)
        return left_ok and right_ok

    def __str__(self):
        kind = "an int" if self.kind is numbers.Integral else "a number"
        left = "-inf" if self.left is None else f"{self.left:g}"
        right = "inf" if self.right is None else f"{self.right:g}"
        opening = "[" if self.closed in ("both", "left") and self.left is not None else "("
        closing = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{kind} in {opening}{left}, {right}{closing}"


class Options:
    """One of a fixed set of values (strings, None, ...)."""

    def __init__(self, *values):
        self.values = values

    def is_satisfied_by(self, value):
        return any(value is option or (type(value) is type(option) and value == option) for option in self.values)

    def __str__(self):
        return " or ".join(repr(value) for value in self.values)


class Boolean:
    def is_satisfied_by(self, value):
        return isinstance(value, (bool, np.bool_))

    def __str__(self):
        return "True or False"


class InstanceOf:
    """An instance of one of the given types."""

    def __init__(self, *types, description=None):
        self.types, self.description = types, description

    def is_satisfied_by(self, value):
        return isinstance(value, self.types)

    def __str__(self):
        return self.description or " or ".join(f"an instance of {t.__name__}" for t in self.types)


class HasMethods:
    """An object with the named methods (a classifier, a scaler: duck-typed as scikit-learn does)."""

    def __init__(self, *methods, description=None):
        self.methods, self.description = methods, description

    def is_satisfied_by(self, value):
        return all(callable(getattr(value, method, None)) for method in self.methods)

    def __str__(self):
        return self.description or "an object with methods " + ", ".join(repr(m) for m in self.methods)


class Checked:
    """A validator function that raises its own, specific error for a bad value."""

    def __init__(self, function):
        self.function = function


def validate_parameters(estimator):
    """Check every parameter of ``estimator`` against its class's ``_entropylens_constraints``.

    Returns
    -------
    values : dict
        Each parameter's value, as the check that accepted it returns it: a :class:`Checked` validator's
        result (a tuple for a list of names, a dict for None options, ...), else the value itself. Use
        these rather than checking again.

    Raises
    ------
    InvalidParameterError
        Naming the parameter, the estimator, what it accepts and what it got.
    """
    constraints = type(estimator)._entropylens_constraints
    return validate_arguments(type(estimator).__name__, constraints,
                              **{name: getattr(estimator, name) for name in constraints})


def validate_arguments(owner, constraints, **values):
    """Check the arguments of a public function (or an estimator's parameters) against a constraint table.

    Parameters
    ----------
    owner : str
        The function or estimator, as error messages name it.
    constraints : dict
        ``{name: [constraint, ...]}``; a value is valid when it satisfies any of its constraints.
    **values
        The values, by name.

    Returns
    -------
    values : dict
        As :func:`validate_parameters` returns them.
    """
    checked = {}
    for name, value in values.items():
        plain = [constraint for constraint in constraints[name] if not isinstance(constraint, Checked)]
        if any(constraint.is_satisfied_by(value) for constraint in plain):
            checked[name] = value
            continue
        checks = [constraint for constraint in constraints[name] if isinstance(constraint, Checked)]
        for check in checks:
            checked[name] = check.function(value)
        if checks:
            continue
        accepted = " or ".join(str(constraint) for constraint in plain)
        raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {accepted}; got {value!r}.")
    return checked


class ValidatedParametersMixin:
    """``_validate_params`` (scikit-learn's name for the check of an estimator's parameters) over our table.

    scikit-learn's own ``BaseEstimator._validate_params`` reads ``_parameter_constraints``; ours is named
    ``_entropylens_constraints`` (see the module docstring), so this mixin, placed before ``BaseEstimator``,
    gives every estimator of the library a ``_validate_params`` that runs. Estimators whose parameters
    constrain each other extend it.
    """

    def _validate_params(self):
        """Check the parameters; return their checked values (see :func:`validate_parameters`)."""
        return validate_parameters(self)
