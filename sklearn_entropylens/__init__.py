"""sklearn_entropylens: Entropy-Lens as scikit-learn estimators.

Entropy-Lens (Ali, Caso, Irwin, Lio; arXiv 2502.16570) reads a frozen causal language model through the
logit lens and records, for every block and generated token, the entropy of the next-token
distribution. The per-layer entropy profiles fingerprint model families, tasks, output formats and
answer correctness.
"""

from . import datasets, experiments, lens, metrics, models, persistence, plotting
from ._validation import EmptyPromptWarning
from .estimators import (
    CorrectnessClassifier,
    DepthRescaler,
    EntropyProfileTransformer,
    ExpansionPruningTransformer,
    FormatClassifier,
    InterventionScorer,
    ModelFamilyClassifier,
    TaskClassifier,
    TunedLens,
    answer_correctness,
    expansion_set_size_correlation,
    skip_layers,
)
from .experiments import EXPERIMENTS, evaluate_profile_classifier, run_experiment
from .lens import get_profile_counters, reset_profile_counters, token_frequencies
from .models import (
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    SUPPORTED_MODEL_TYPES,
    ModelLoadError,
    UnsupportedArchitectureError,
    clear_model_cache,
    load_model,
    model_cache_dir,
    register_model,
)
from .persistence import dump, get_trusted_types, load
from .plotting import EntropyHeatmapDisplay, EntropyProfileDisplay, ProfileEmbeddingDisplay

__version__ = "0.1.0.dev0"

__all__ = [
    "CorrectnessClassifier",
    "FormatClassifier",
    "InterventionScorer",
    "TaskClassifier",
    "TunedLens",
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
    "token_frequencies",
]
