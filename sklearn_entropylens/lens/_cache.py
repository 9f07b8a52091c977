"""Per-prompt profile cache on disk, and process-wide counters of profiling work.

A profile depends on the prompt and on what :class:`~._spec.ProfileSpec` holds: its
:meth:`~._spec.ProfileSpec.cache_key` names the folder, the prompt (and its occurrence number, for sampled
continuations) the file. Caching each prompt separately lets every fold and every candidate of a grid
search share one computation per prompt.
"""

import hashlib
import os
import pathlib
import tempfile
import threading
import time

import joblib
import numpy as np

_COUNTER_NAMES = ("computed", "cache_hits", "cache_misses")
_COUNTERS = dict.fromkeys(_COUNTER_NAMES, 0)
_LOCK = threading.Lock()

# A staging file older than this was left by a writer that died mid-write (a write takes milliseconds).
STALE_TEMPORARY_SECONDS = 600


def array_digest(*arrays, text=""):
    """A SHA-256 of arrays (their shapes and float32 or int64 bytes) and a text: a cache key of their content."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        array = np.ascontiguousarray(array, dtype=np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    digest.update(text.encode())
    return digest.hexdigest()


def count(name, amount):
    with _LOCK:
        _COUNTERS[name] += amount


def get_profile_counters():
    """Profiling work done in this process since start or the last reset.

    Use them to see what a run really cost: whether a grid search or a second ``transform`` was served from
    an estimator's ``memory`` cache (``cache_hits``) or ran the model again (``computed``). A greedy prompt
    that repeats in one call's input is computed and counted once, as its repeats share one profile (sampled
    repeats are computed each). Prompts decoded on joblib's worker processes (``n_jobs`` > 1) count too: the
    process that called the estimator counts them as their results return. The counters are process-wide
    and shared by every thread and estimator, so reset them (:func:`reset_profile_counters`) before the run
    you measure.

    Returns
    -------
    counters : dict
        ``computed``: prompts run through a model; ``cache_hits`` and ``cache_misses``: per-prompt
        look-ups in ``memory`` caches.

    See Also
    --------
    reset_profile_counters : Sets them back to zero.
    EntropyProfileTransformer : Profiles prompts, with a per-prompt cache under ``memory``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_entropylens import EntropyProfileTransformer, get_profile_counters, reset_profile_counters
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> cache = tempfile.TemporaryDirectory()
    >>> profiler = EntropyProfileTransformer(register_tiny_model("llama"), n_tokens=2, memory=cache.name)
    >>> reset_profile_counters()
    >>> X = profiler.fit_transform(["The cat", "The dog", "The cat"])  # two distinct prompts
    >>> get_profile_counters()
    {'computed': 2, 'cache_hits': 0, 'cache_misses': 2}
    >>> X = profiler.transform(["The dog", "The cat"])  # both served from the cache
    >>> get_profile_counters()
    {'computed': 2, 'cache_hits': 2, 'cache_misses': 2}
    >>> cache.cleanup()
    """
    with _LOCK:
        return dict(_COUNTERS)


def reset_profile_counters():
    """Set every counter of :func:`get_profile_counters` back to zero.

    The counters add up every profiling call in the process since it started; call this just before the
    run you want to measure (a ``fit_transform``, a grid search) so that they count that run alone. It
    resets the counts only: profiles already in a ``memory`` cache stay there and are served as before.

    See Also
    --------
    get_profile_counters : Reads them.
    EntropyProfileTransformer : Profiles prompts, which the counters count.

    Examples
    --------
    >>> from sklearn_entropylens import EntropyProfileTransformer, get_profile_counters, reset_profile_counters
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> profiler = EntropyProfileTransformer(register_tiny_model("llama"), n_tokens=2)
    >>> reset_profile_counters()
    >>> X = profiler.fit_transform(["The cat", "The dog"])
    >>> get_profile_counters()
    {'computed': 2, 'cache_hits': 0, 'cache_misses': 0}
    >>> reset_profile_counters()
    >>> get_profile_counters()
    {'computed': 0, 'cache_hits': 0, 'cache_misses': 0}
    """
    with _LOCK:
        for name in _COUNTER_NAMES:
            _COUNTERS[name] = 0


class ProfileStore:
    """Per-prompt ``.npy`` files under ``<location>/sklearn_entropylens/profiles/<settings hash>/``.

    Parameters
    ----------
    location : str or path-like
        A ``joblib.Memory`` location.
    spec_key : str
        The :meth:`~._spec.ProfileSpec.cache_key` of the profiles stored.
    """

    def __init__(self, location, spec_key):
        self.directory = pathlib.Path(location).expanduser() / "sklearn_entropylens" / "profiles" / spec_key
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, max_age=STALE_TEMPORARY_SECONDS):
        """Delete staging files that a killed writer left behind; return how many were removed.

        Only files older than ``max_age`` seconds go, so a write in progress in another process is safe.
        """
        removed, now = 0, time.time()
        for staging in self.directory.glob("*/*.tmp"):
            try:
                if now - staging.stat().st_mtime > max_age:
                    staging.unlink()
                    removed += 1
            except OSError:  # another process removed or renamed it first
                continue
        return removed

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
