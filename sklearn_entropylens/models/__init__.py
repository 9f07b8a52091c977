"""Model access: load a causal LM for the lens, register an in-memory one, manage the local cache.

Estimators hold a model *identifier* (a bundled name, a registered name, a directory or a hub id) and
load it here, into a per-process cache shared by every clone; weights are never pickled.
"""

from ..lens import SUPPORTED_MODEL_TYPES, UnsupportedArchitectureError
from ._loading import (
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    LoadedModel,
    ModelLoadError,
    clear_model_cache,
    load_model,
    model_cache_dir,
    register_model,
)

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "LoadedModel",
    "ModelLoadError",
    "SUPPORTED_MODEL_TYPES",
    "UnsupportedArchitectureError",
    "clear_model_cache",
    "load_model",
    "model_cache_dir",
    "register_model",
]
