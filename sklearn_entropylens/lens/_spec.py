"""The profile specification: everything that changes a raw profile, and the checks of those parameters.

A :class:`ProfileSpec` is what the engine receives besides the prompts (the runner, the decode loop and
the cache read nothing else), and :meth:`ProfileSpec.cache_key` is the profile cache's only key. The
profile transformer builds it in ``fit`` from parameters its constraint table checked once with the
``check_*`` functions below (the one home of those checks); the spec trusts them and checks only what
depends on the loaded model (:meth:`ProfileSpec.check_model`).
"""

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

import joblib
import numpy as np

from ._cache import array_digest
from ._layout import SITES, site_statistic
from ._registry import STATISTICS, expand_statistics, is_statistic, needs_whole_rows
from .._public_names import public_module

# The engine's numeric version: bump when the stored layout or the engine's numbers change (a numeric
# fix, a new accumulation order), so that profiles cached before are not served again.
CACHE_FORMAT = 4


def check_alpha(alpha):
    """Validate a Renyi order and return it as a float.

    Parameters
    ----------
    alpha : float
        Order of the Renyi entropy: ``1`` for Shannon, any value ``>= 0`` including ``numpy.inf``.

    Returns
    -------
    alpha : float
        The order as a Python float.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number >= 0 (1 for Shannon), got {alpha!r}.")
    alpha = float(alpha)
    if math.isnan(alpha) or alpha < 0:
        raise ValueError(f"alpha must be >= 0 (1 for Shannon, numpy.inf for min-entropy), got {alpha}.")
    return alpha


def check_alphas(alpha):
    """Validate ``alpha``: one Renyi order (a float) or a non-empty list of distinct orders (a tuple)."""
    if isinstance(alpha, (list, tuple, np.ndarray)):
        orders = tuple(check_alpha(order) for order in alpha)
        if not orders or len(set(orders)) != len(orders):
            raise ValueError(f"alpha must be one Renyi order or a non-empty list of distinct orders, got {list(alpha)!r}.")
        return orders
    return check_alpha(alpha)


def check_site_names(sites):
    """Validate a ``sites`` parameter: one name or distinct names among :data:`SITES`; return a tuple."""
    if isinstance(sites, str):
        sites = (sites,)
    if not isinstance(sites, (list, tuple)):
        raise ValueError(f"sites must be a list or tuple of names among {SITES}, got {sites!r}; for example ('block', 'mlp').")
    unknown = [site for site in sites if site not in SITES]
    if unknown or not sites or len(set(sites)) != len(sites):
        raise ValueError(f"sites must be distinct names among {SITES}, got {tuple(sites)!r}.")
    return tuple(sites)


def check_statistics(statistics):
    """Validate the ``statistics`` parameter and return it as a tuple of unique names.

    Parameters
    ----------
    statistics : str or sequence of str
        Names among :data:`STATISTICS`, or ``entropy_alpha<order>`` (a Renyi entropy of that order).

    Returns
    -------
    statistics : tuple of str
        The names, in the order given.
    """
    if isinstance(statistics, str):
        statistics = (statistics,)
    try:
        names = tuple(statistics)
    except TypeError:
        raise TypeError(
            f"statistics must be a name or a list of names among {tuple(STATISTICS)}, got {statistics!r}."
        ) from None
    if not names:
        raise ValueError(f"statistics must name at least one of {tuple(STATISTICS)}.")
    for name in names:
        if not is_statistic(name):
            raise ValueError(f"Unknown statistic {name!r}; choose among {tuple(STATISTICS)} (or 'entropy_alpha<order>').")
    if len(set(names)) != len(names):
        raise ValueError(f"statistics must not repeat a name, got {list(names)}.")
    return names


def check_log_base(log_base):
    """Validate a logarithm base: None (nats) or a finite number > 0 other than 1."""
    if log_base is not None and (
        isinstance(log_base, bool)
        or not isinstance(log_base, numbers.Real)
        or not math.isfinite(log_base)
        or log_base <= 0
        or log_base == 1
    ):
        raise ValueError(f"log_base must be None (nats) or a number > 0 other than 1, got {log_base!r}.")
    return log_base


def check_top_p(top_p):
    """Validate a top-p mass in (0, 1] and return it as a float."""
    if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a probability mass in (0, 1], got {top_p!r}.")
    return float(top_p)


def check_truncation(truncation):
    """Validate ``truncation``: None (raise for a prompt too long) or ``"left"`` (keep its end)."""
    if truncation not in (None, "left"):
        raise ValueError(f"truncation must be None or 'left', got {truncation!r}.")
    return truncation


def check_temperature(temperature):
    """Validate a temperature: 0 (greedy) or a finite positive number."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not (
        math.isfinite(temperature) and temperature >= 0
    ):
        raise ValueError(f"temperature must be 0 (greedy) or a finite positive number, got {temperature!r}.")
    return float(temperature)


def check_profile_combination(*, statistics, alpha, include_embedding, sites, aggregate=None, n_tokens=None,
                              tuned=False):
    """The checks that involve several profile parameters at once (each parameter alone is checked already)."""
    expand_statistics(statistics, alpha)
    sublayer_sites = tuple(site for site in sites if site != "block")
    if include_embedding and sublayer_sites:
        raise ValueError(
            "include_embedding=True adds the embedding layer, which has no attention or MLP output: "
            f"profile the sites {sublayer_sites} without it."
        )
    if aggregate is not None and not isinstance(aggregate, str) and n_tokens % aggregate:
        raise ValueError(f"aggregate={aggregate} windows must divide n_tokens={n_tokens} into equal windows.")
    if tuned and sublayer_sites:
        raise ValueError(
            f"A tuned lens reads the block site only (its translators are fitted to the residual stream "
            f"leaving each block); profile the sites {sublayer_sites} with lens='logit'."
        )


@public_module("sklearn_entropylens.lens")
@dataclass(frozen=True, eq=False)
class ProfileSpec:
    """Everything that changes a raw profile: the engine's one input besides the prompts.

    A fitted :class:`~sklearn_entropylens.EntropyProfileTransformer` holds one as ``spec_``, built in
    ``fit`` from its checked parameters and the model as loaded; read it to see exactly what a profile
    depends on. :meth:`cache_key` hashes it into the profile cache's only key, so estimators with the
    same ``memory`` share cached profiles exactly when their keys agree: the output units (aggregation,
    ``log_base``, ``normalize``), the batch size and the number of workers are not part of it. The
    resolved revision, weight dtype and device type are, since they change the numbers. Frozen; its
    fields are trusted as checked (see the ``check_*`` functions of this module), and only what depends
    on the loaded model is checked here (:meth:`check_model`).

    Parameters
    ----------
    model : ModelSpec
        The model (:class:`~sklearn_entropylens.models.ModelSpec`, as the estimator's parameters give it):
        a worker process loads it with its ``load()`` (resolving ``"auto"`` on that machine); the cache key
        holds its ``cache_key(numeric_only=True)`` and the resolved revision, dtype and device type below.
    model_revision : str
        The revision the model resolved to when it was loaded (a hub commit, a content hash).
    dtype : str
        The weight dtype the model was loaded in (``"float32"``, ``"bfloat16"``).
    device_type : str
        Where the model ran when it was loaded (``"cpu"``, ``"cuda"``): CPU and GPU kernels round (and
        sample) differently, so a profile is only served on its device type.
    n_tokens : int
        Profiled positions per prompt.
    statistics : tuple of str
        The statistics computed, expanded: with a list of orders ``alpha``, ``"entropy"`` is one Renyi
        entropy per order.
    alpha : float or tuple of float, default=1.0
        Renyi order of ``"entropy"``, or the orders the expansion used.
    top_p : float, default=0.6
        Mass of the top-p candidate sets.
    include_embedding : bool, default=False
        Record layer 0, the residual stream entering the first block.
    sites : tuple of str, default=("block",)
        Where the lens reads each block.
    temperature : float, default=0.0
        0 for greedy decoding; otherwise the sampling temperature.
    sampling_seed : int or None, default=None
        Base seed of sampled continuations; None for greedy decoding.
    chat_template : bool, default=False
        Wrap each prompt with the tokenizer's chat template.
    truncation : {None, "left"}, default=None
        What to do with a prompt too long for the context.
    frequency_ranks : ndarray of shape (vocab_size,) or None, default=None
        Frequency rank of each token, for ``top1_frequency_rank``.
    translators : Translators or None, default=None
        A tuned lens's translators; None reads the logit lens.

    See Also
    --------
    sklearn_entropylens.models.ModelSpec : The model part of it.
    sklearn_entropylens.EntropyProfileTransformer : Builds it in ``fit`` as ``spec_``.
    ProfileResult : The raw profile the engine returns for it.

    Examples
    --------
    The specification of a profile transformer fitted on a tiny random three-block model:

    >>> from sklearn_entropylens import EntropyProfileTransformer
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> name = register_tiny_model("llama")
    >>> spec = EntropyProfileTransformer(name, n_tokens=4, alpha=[0.5, 1]).fit(["The cat"]).spec_
    >>> spec.model_revision, spec.n_tokens, spec.statistics, spec.alpha
    ('tiny-llama-seed0', 4, ('entropy_alpha0.5', 'entropy_alpha1'), (0.5, 1.0))
    >>> spec.layers(n_blocks=3)  # blocks 1 .. L; layer 0 only with include_embedding=True
    array([1, 2, 3])
    >>> in_bits = EntropyProfileTransformer(name, n_tokens=4, alpha=[0.5, 1], log_base=2).fit(["The cat"]).spec_
    >>> in_bits.cache_key() == spec.cache_key()  # the output units do not change a raw profile
    True
    """

    model: object
    model_revision: str
    dtype: str
    device_type: str
    n_tokens: int
    statistics: tuple = ("entropy",)
    alpha: object = 1.0
    top_p: float = 0.6
    include_embedding: bool = False
    sites: tuple = ("block",)
    temperature: float = 0.0
    sampling_seed: object = None
    chat_template: bool = False
    truncation: object = None
    frequency_ranks: object = field(default=None, repr=False)
    translators: object = field(default=None, repr=False)

    @property
    def entropy_alpha(self):
        """The order of ``"entropy"`` itself: with a list of orders each entropy statistic carries its own."""
        return 1.0 if isinstance(self.alpha, tuple) else self.alpha

    @property
    def sublayer_sites(self):
        """The sites other than ``"block"``, in order."""
        return tuple(site for site in self.sites if site != "block")

    @property
    def result_statistics(self):
        """Names of the profiled quantities: ``<statistic>`` at the block site, ``<site>_<statistic>`` at another."""
        return tuple(site_statistic(site, name) for site in self.sites for name in self.statistics)

    @property
    def encoding(self):
        """The options of :func:`~._encoding.encode_prompts`."""
        return {"n_tokens": self.n_tokens, "chat_template": self.chat_template, "truncation": self.truncation}

    def layers(self, n_blocks):
        """Layer indices of the profile: ``[0,] 1 .. L``.

        Parameters
        ----------
        n_blocks : int
            The model's number of blocks ``L``.

        Returns
        -------
        layers : ndarray of int
            0 first when the embedding layer is recorded.
        """
        return np.arange(0 if self.include_embedding else 1, n_blocks + 1)

    def on(self, loaded):
        """This specification for the model as it is loaded now.

        The numbers (and so the cache key) depend on the dtype and device type where the model runs, not
        where the estimator was fitted.

        Parameters
        ----------
        loaded : LoadedModel
            The model as loaded in this process.

        Returns
        -------
        spec : ProfileSpec
            This specification, or a copy with the loaded model's dtype and device type.
        """
        if (self.dtype, self.device_type) == (loaded.dtype_name, loaded.device_type):
            return self
        return dataclasses.replace(self, dtype=loaded.dtype_name, device_type=loaded.device_type)

    def check_model(self, loaded):
        """Raise a ValueError naming the model and the reason when ``loaded`` cannot give this profile.

        Parameters
        ----------
        loaded : LoadedModel
            The model as loaded.
        """
        for site in self.sublayer_sites:
            if site not in loaded.adapter.sublayers:
                raise ValueError(
                    f"The {site!r} site is not available for {loaded.name!r} (model_type "
                    f"{loaded.adapter.model_type!r}): {loaded.adapter.missing_sublayers.get(site, 'not found')}. "
                    f"Its sites: {['block', *loaded.adapter.sublayers]}."
                )
        if self.translators is not None:
            self.translators.check_model(loaded)

    def cache_key(self):
        """The profile cache's key: a hash of everything but the prompt that changes a raw profile.

        Not the batch size, the lens tiles, the device index, the number of workers, the progress bar or
        the output units (aggregation, ``log_base``, ``normalize``), none of which changes a raw profile
        beyond float rounding.

        Returns
        -------
        key : str
            A hex digest.
        """
        fields = {
            "format": CACHE_FORMAT,
            "model": self.model.cache_key(numeric_only=True),
            "revision": self.model_revision,
            "dtype": self.dtype,
            "device_type": self.device_type,
            "n_tokens": int(self.n_tokens),
            "statistics": list(self.statistics),
            "alpha": list(self.alpha) if isinstance(self.alpha, tuple) else float(self.alpha),
            "top_p": float(self.top_p) if needs_whole_rows(self.statistics) else None,
            "include_embedding": bool(self.include_embedding),
            "sites": list(self.sites),
            "temperature": float(self.temperature),
            "seed": self.sampling_seed,
            "chat_template": bool(self.chat_template),
            "truncation": self.truncation,
            "lens": None if self.translators is None else self.translators.content_hash(),
            "frequency_ranks": None if self.frequency_ranks is None else array_digest(self.frequency_ranks),
        }
        return joblib.hash(fields)
