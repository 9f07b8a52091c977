"""The estimators: the profile transformer, the tuned lens, depth transformers, classifiers and the layer-skipping scorer.

All are re-exported at the top level of :mod:`sklearn_entropylens`.
"""

from ._classifiers import CorrectnessClassifier, FormatClassifier, ProfileClassifier, TaskClassifier
from ._correctness import answer_correctness
from ._depth import DepthRescaler, ExpansionPruningTransformer, expansion_set_size_correlation
from ._family import ModelFamilyClassifier
from ._intervention import InterventionScorer, skip_layers
from ._profile import EntropyProfileTransformer
from ._tuned_lens import TunedLens

__all__ = [
    "CorrectnessClassifier",
    "DepthRescaler",
    "EntropyProfileTransformer",
    "ExpansionPruningTransformer",
    "FormatClassifier",
    "InterventionScorer",
    "ModelFamilyClassifier",
    "ProfileClassifier",
    "TaskClassifier",
    "TunedLens",
    "answer_correctness",
    "expansion_set_size_correlation",
    "skip_layers",
]
