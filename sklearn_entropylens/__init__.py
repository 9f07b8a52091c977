"""sklearn_entropylens: Entropy-Lens as scikit-learn estimators.

Entropy-Lens (Ali, Caso, Irwin, Lio; arXiv 2502.16570) reads a frozen causal language model through the
logit lens and records, for every block and generated token, the entropy of the next-token
distribution. The per-layer entropy profiles fingerprint model families, tasks, output formats and
answer correctness.
"""

from ._adapters import SUPPORTED_MODEL_TYPES, UnsupportedArchitectureError
from ._cache import get_profile_counters, reset_profile_counters
from ._classifiers import CorrectnessClassifier, FormatClassifier, TaskClassifier
from ._correctness import answer_correctness
from ._evaluation import evaluate_profile_classifier
from ._experiments import EXPERIMENTS, run_experiment
from ._depth import DepthRescaler, ExpansionPruningTransformer, expansion_set_size_correlation
from ._family import ModelFamilyClassifier
from ._intervention import InterventionScorer, skip_layers
from ._models import (
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    ModelLoadError,
    clear_model_cache,
    load_model,
    model_cache_dir,
    register_model,
)
from ._persistence import dump, get_trusted_types, load
from ._plotting import EntropyHeatmapDisplay, EntropyProfileDisplay, ProfileEmbeddingDisplay
from ._profile import EntropyProfileTransformer
from ._validation import EmptyPromptWarning

__version__ = "0.1.0.dev0"

__all__ = [
    "CorrectnessClassifier",
    "FormatClassifier",
    "InterventionScorer",
    "TaskClassifier",
    "answer_correctness",
    "evaluate_profile_classifier",
    "EXPERIMENTS",
    "run_experiment",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "DepthRescaler",
    "EntropyHeatmapDisplay",
    "EntropyProfileDisplay",
    "ProfileEmbeddingDisplay",
    "EntropyProfileTransformer",
    "EmptyPromptWarning",
    "ExpansionPruningTransformer",
    "ModelFamilyClassifier",
    "ModelLoadError",
    "SUPPORTED_MODEL_TYPES",
    "UnsupportedArchitectureError",
    "clear_model_cache",
    "dump",
    "expansion_set_size_correlation",
    "get_profile_counters",
    "get_trusted_types",
    "load",
    "load_model",
    "model_cache_dir",
    "register_model",
    "reset_profile_counters",
    "skip_layers",
]
