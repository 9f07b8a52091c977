"""The lens engine: architecture adapters, the lens, streamed statistics, the decode loop and the runner.

Data flow: prompts -> token ids (``_encoding``) -> runner (de-duplication, cache, shards; ``_runner``)
-> decode loop (``_decode``) -> lens (``_lens``) -> statistics (``_statistics``) -> a
:class:`ProfileResult`, which the transformer aggregates into features.
"""

from ._adapters import SUPPORTED_MODEL_TYPES, UnsupportedArchitectureError
from ._cache import get_profile_counters, reset_profile_counters

__all__ = ["SUPPORTED_MODEL_TYPES", "UnsupportedArchitectureError", "get_profile_counters", "reset_profile_counters"]
