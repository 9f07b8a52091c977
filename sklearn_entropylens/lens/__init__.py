"""The lens engine: architecture adapters, the lens, streamed statistics, the decode loop and the runner.

Data flow: prompts -> token ids (``_encoding``) -> runner (de-duplication, cache, shards, plan;
``_runner``) -> decode loop (``_decode``) -> lens (``_lens``) -> statistics (``_layer_statistics``,
``_kernels``, declared in ``_registry``) -> a :class:`ProfileResult`, which the transformer aggregates
into features laid out as its :class:`FeatureLayout` (``_layout``).

This package sits below :mod:`sklearn_entropylens.models` in the import order: it never imports it. The
engine receives a loaded model and a :class:`ProfileSpec`; a worker process reloads the model through
the spec's model specification, which it is handed, not imported.
"""

from ._adapters import SUPPORTED_MODEL_TYPES, LensAdapter, UnsupportedArchitectureError, get_adapter, probe_ids
from ._decode import check_decoding
from ._cache import ProfileStore, get_profile_counters, reset_profile_counters
from ._encoding import encode_prompts, left_padded_batch, readable_token, token_text
from ._frequencies import frequency_ranks, token_frequencies
from ._kernels import entropy_from_logits
from ._layout import SITES, FeatureLayout, site_statistic, split_site
from ._layer_statistics import lens_statistics
from ._lens import Lens, LogitLens
from ._memory import default_batch_size
from ._registry import STATISTICS, Statistic, decision_depth, expand_statistics
from ._reference import reference_profiles
from ._result import ProfileResult
from ._spec import (
    ProfileSpec,
    check_alpha,
    check_alphas,
    check_log_base,
    check_profile_combination,
    check_site_names,
    check_statistics,
    check_temperature,
    check_top_p,
    check_truncation,
)
from ._runner import ProfileRunner, make_lens, profile_token_ids
from ._threads import threads_for
from ._tracing import block_input, block_output, site_stream
from ._tuned import Translators, TunedLogitLens
from ._tuned_lens_files import read_tuned_lens, unembedding_hash, write_tuned_lens
from ._units import convert_statistic, convert_units, feature_unit
from ._verification import verify_adapter

# The reference API. The other names imported above are the engine's interface to the library's own
# packages (estimators, models): importable from here so that no package reaches into lens's private
# modules, but not part of the documented API.
__all__ = [
    "FeatureLayout",
    "Lens",
    "LensAdapter",
    "LogitLens",
    "ProfileResult",
    "ProfileSpec",
    "SITES",
    "STATISTICS",
    "SUPPORTED_MODEL_TYPES",
    "Statistic",
    "Translators",
    "TunedLogitLens",
    "UnsupportedArchitectureError",
    "convert_units",
    "decision_depth",
    "entropy_from_logits",
    "feature_unit",
    "frequency_ranks",
    "get_adapter",
    "get_profile_counters",
    "reset_profile_counters",
    "token_frequencies",
    "verify_adapter",
]
