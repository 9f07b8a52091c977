"""Model access: load a causal LM for the lens, register an in-memory one, manage the local cache.

Estimators hold a model *identifier* (a bundled name, a registered name, a directory or a hub id) and
build a :class:`ModelSpec` from it in ``fit``; the model is loaded here, into a per-process cache shared by
every clone and keyed by :meth:`ModelSpec.cache_key`; weights are never pickled.
"""

from ..lens import SUPPORTED_MODEL_TYPES, UnsupportedArchitectureError
from ._catalogue import BUNDLED_MODELS, DEFAULT_MODEL, BundledModel, ModelLoadError, model_cache_dir
from ._devices import resolve_device, resolve_dtype
from ._loading import LoadedModel
from ._spec import (
    MODEL_CONSTRAINTS,
    ModelSpec,
    check_device,
    check_dtype,
    check_model,
    check_model_kwargs,
    check_model_spec,
    check_placement,
    check_revision,
    clear_model_cache,
    is_registered,
    load_model,
    register_model,
)

# The reference API. The parameter checks and constraint entries imported above serve the estimators.
__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "BundledModel",
    "LoadedModel",
    "ModelLoadError",
    "ModelSpec",
    "SUPPORTED_MODEL_TYPES",
    "UnsupportedArchitectureError",
    "clear_model_cache",
    "is_registered",
    "load_model",
    "model_cache_dir",
    "register_model",
]
