"""The lens engine: architecture adapters, the lens, streamed statistics, the decode loop and the runner.

Data flow: prompts -> token ids (``_encoding``) -> runner (de-duplication, cache, shards, plan;
``_runner``) -> decode loop (``_decode``) -> lens (``_lens``) -> statistics (``_layer_statistics``,
``_statistics``) -> a :class:`ProfileResult`, which the transformer aggregates into features laid out
as its :class:`FeatureLayout`.
"""

from ._adapters import SUPPORTED_MODEL_TYPES, LensAdapter, UnsupportedArchitectureError, get_adapter
from ._cache import get_profile_counters, reset_profile_counters
from ._frequencies import frequency_ranks, token_frequencies
from ._lens import Lens, LogitLens
from ._result import FeatureLayout, ProfileResult
from ._statistics import STATISTICS, Statistic, entropy_from_logits
from ._tuned import Translators, TunedLogitLens

__all__ = [
    "FeatureLayout",
    "Lens",
    "LensAdapter",
    "LogitLens",
    "ProfileResult",
    "STATISTICS",
    "SUPPORTED_MODEL_TYPES",
    "Statistic",
    "Translators",
    "TunedLogitLens",
    "UnsupportedArchitectureError",
    "entropy_from_logits",
    "frequency_ranks",
    "get_adapter",
    "get_profile_counters",
    "reset_profile_counters",
    "token_frequencies",
]
