"""Evaluation scores beyond scikit-learn's: selective prediction (PRR, AURC) and the corrected t-test.

- :func:`prediction_rejection_ratio`, :func:`aurc_score`, :func:`rejection_curve` and the scorers
  :data:`prr_scorer`, :data:`aurc_scorer` score a confidence in an answer (for example a
  :class:`~sklearn_entropylens.CorrectnessClassifier`'s probability that the model is right) by what it
  buys when the least confident answers are withheld, with LM-Polygraph's conventions;
- :func:`corrected_resampled_ttest`: Nadeau and Bengio's test of two learners over shared-data folds.
"""

from ._resampling import corrected_resampled_ttest
from ._uncertainty import aurc_score, aurc_scorer, prediction_rejection_ratio, prr_scorer, rejection_curve

__all__ = [
    "aurc_score",
    "aurc_scorer",
    "corrected_resampled_ttest",
    "prediction_rejection_ratio",
    "prr_scorer",
    "rejection_curve",
]
