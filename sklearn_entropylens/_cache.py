"""Per-prompt profile cache on disk, and process-wide counters of profiling work.

A profile depends on the prompt and on the parameters that change the numbers (model and its resolved
revision, dtype, positions, entropy order, decoding, chat template, truncation), never on the batch
size, the device or the progress bar. Caching each prompt separately lets every fold and every
candidate of a grid search share one computation per prompt.
"""

import os
import pathlib
import tempfile
import threading

import joblib
import numpy as np

_COUNTER_NAMES = ("computed", "cache_hits", "cache_misses")
_COUNTERS = dict.fromkeys(_COUNTER_NAMES, 0)
_LOCK = threading.Lock()

# Bump when the stored layout or the engine's numbers change, so stale entries are not reused.
CACHE_FORMAT = 2


def count(name, amount):
    with _LOCK:
        _COUNTERS[name] += amount


def get_profile_counters():
    """Profiling work done in this process since start or the last reset.

    Returns
    -------
    counters : dict
        ``computed``: prompts run through a model; ``cache_hits`` and ``cache_misses``: per-prompt
        look-ups in ``memory`` caches.

    Examples
    --------
    >>> from sklearn_entropylens import get_profile_counters
    >>> sorted(get_profile_counters())
    ['cache_hits', 'cache_misses', 'computed']
    """
    with _LOCK:
        return dict(_COUNTERS)


def reset_profile_counters():
    """Set every counter of :func:`get_profile_counters` back to zero."""
    with _LOCK:
        for name in _COUNTER_NAMES:
            _COUNTERS[name] = 0


class ProfileStore:
    """Per-prompt ``.npy`` files under ``<location>/sklearn_entropylens/profiles/<settings hash>/``.

    Parameters
    ----------
    location : str or path-like
        A ``joblib.Memory`` location.
    settings : dict
        Everything besides the prompt that changes the numbers.
    """

    def __init__(self, location, settings):
        digest = joblib.hash({"format": CACHE_FORMAT, **settings})
        self.directory = pathlib.Path(location).expanduser() / "sklearn_entropylens" / "profiles" / digest

    @staticmethod
    def key(prompt, occurrence=None):
        return joblib.hash((prompt, occurrence))

    def _path(self, key):
        return self.directory / key[:2] / f"{key}.npy"

    def get(self, key):
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put(self, key, profile):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so concurrent readers never see a partial file.
        handle, staging = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, np.ascontiguousarray(profile), allow_pickle=False)
            os.replace(staging, path)
        except BaseException:
            if os.path.exists(staging):
                os.remove(staging)
            raise
