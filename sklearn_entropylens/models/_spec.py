"""The model specification, the one home of model identity: which model, at which revision, in which dtype,
on which device, loaded how; and this process's registered and loaded models, keyed by it.

A :class:`ModelSpec` is the one description of a model that estimators, the engine's workers and the
per-process cache share: estimators build it in ``fit`` from their ``model``, ``revision``, ``dtype``,
``device`` and ``model_kwargs`` (checked by the functions below, the one home of those checks), the cache
keys loaded models by :meth:`ModelSpec.cache_key`, and a worker process loads the same model with
:meth:`ModelSpec.load`. Weights are never part of it: it pickles to a few strings.
"""

import json
import threading
from dataclasses import dataclass, field, replace

from .._param_validation import Checked
from ._catalogue import BUNDLED_MODELS, DEFAULT_MODEL, ModelLoadError
from ._devices import dtype_name, resolve_device, resolve_dtype
from ._hub import describe_model_argument
from ._loading import load_from_spec
from .._public_names import public_module

# Loading options that only say where weights go; they never change a number.
PLACEMENT_KWARGS = frozenset({"device_map", "max_memory", "offload_folder", "offload_state_dict", "offload_buffers",
                              "low_cpu_mem_usage"})
# Options that the loader sets itself from the estimator's own parameters.
_RESERVED_KWARGS = {"revision": "revision", "dtype": "dtype", "torch_dtype": "dtype", "gguf_file": "model"}


def check_revision(revision):
    """Validate a hub revision: None or a non-empty string."""
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise ValueError(f"revision must be None or a branch, tag or commit string, got {revision!r}.")
    return revision


def check_model(model):
    """Validate a model identifier: a non-empty string (a loaded model object is refused with what to do)."""
    if not isinstance(model, str) or not model:
        raise ModelLoadError(describe_model_argument(model, registered=_REGISTRY))
    return model


def check_dtype(dtype):
    """Validate a weight dtype: ``"auto"`` or a floating torch dtype (or its name)."""
    import torch

    resolve_dtype(dtype, torch.device("cpu"))
    return dtype


def check_device(device):
    """Validate a device: ``"auto"`` or a torch device string this machine has."""
    resolve_device(device)
    return device


def check_model_kwargs(model_kwargs):
    """Validate ``model_kwargs`` and return it as a dict (empty for None).

    Parameters
    ----------
    model_kwargs : dict or None
        Keyword arguments for ``AutoModelForCausalLM.from_pretrained``.

    Returns
    -------
    model_kwargs : dict
        A shallow copy.
    """
    if model_kwargs is None:
        return {}
    if not isinstance(model_kwargs, dict) or not all(isinstance(key, str) for key in model_kwargs):
        raise ValueError(
            "model_kwargs must be None or a dict of from_pretrained keyword arguments, such as "
            f"{{'device_map': 'auto'}}; got {type(model_kwargs).__name__}."
        )
    for key, parameter in _RESERVED_KWARGS.items():
        if key in model_kwargs:
            raise ValueError(f"model_kwargs must not set {key!r}: use the estimator's {parameter!r} parameter.")
    return dict(model_kwargs)


def check_placement(device, model_kwargs):
    """``device`` and a ``device_map`` in ``model_kwargs`` cannot both place the weights."""
    if (model_kwargs or {}).get("device_map") is not None and device not in (None, "auto"):
        raise ValueError(
            f"device={device!r} conflicts with model_kwargs['device_map']: leave device='auto' and let the "
            "device map place the weights."
        )


def _describe(value):
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        # Quantization configs: their fields, not their (address-bearing) default repr.
        return f"{type(value).__name__}{json.dumps(to_dict(), sort_keys=True, default=str)}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_describe(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    return repr(value)


@public_module("sklearn_entropylens.models")
@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Which model to load, and how: the identity estimators hold instead of the weights.

    Build it from checked values (estimators do in ``fit``; :func:`~sklearn_entropylens.load_model`
    checks its arguments): it does not check them again.

    Parameters
    ----------
    model : str, default="smollm2-135m"
        A bundled model, a name given to :func:`~sklearn_entropylens.register_model`, a local directory
        or a Hugging Face model id.
    revision : str or None, default=None
        Hub revision (branch, tag or commit); ignored for bundled and registered models.
    dtype : str or torch.dtype, default="auto"
        Weight dtype; ``"auto"`` is float32 on CPU and bfloat16 on GPU.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU) or a torch device string.
    model_kwargs : dict or None, default=None
        Extra ``from_pretrained`` options.

    See Also
    --------
    load_model : Loads a model from its parameters.
    sklearn_entropylens.lens.ProfileSpec : Holds one, with what changes a profile.

    Examples
    --------
    >>> from sklearn_entropylens.models import ModelSpec
    >>> spec = ModelSpec("smollm2-135m", dtype="float32", device="cpu")
    >>> spec.cache_key()
    "model='smollm2-135m';revision=None;dtype='float32';device='cpu';kwargs=''"
    >>> spec.cache_key(numeric_only=True)
    "model='smollm2-135m';kwargs=''"
    >>> spec == ModelSpec("smollm2-135m", dtype="float32", device="cpu")
    True
    """

    model: str = DEFAULT_MODEL
    revision: object = None
    dtype: object = "auto"
    device: object = "auto"
    model_kwargs: dict = field(default=None)

    def __post_init__(self):
        kwargs = self.model_kwargs
        # A copy of a dict (None: no options); anything else is kept for check() to name.
        object.__setattr__(self, "model_kwargs", {} if kwargs is None else dict(kwargs) if isinstance(kwargs, dict) else kwargs)

    def __eq__(self, other):
        return isinstance(other, ModelSpec) and self.cache_key() == other.cache_key()

    def __hash__(self):
        return hash(self.cache_key())

    def check(self):
        """Check every field (as estimators check their model parameters).

        Returns
        -------
        self : ModelSpec
            The specification, checked.
        """
        check_model(self.model)
        check_revision(self.revision)
        check_dtype(self.dtype)
        check_device(self.device)
        check_placement(self.device, check_model_kwargs(self.model_kwargs))
        return self

    def params(self):
        """The five estimator parameters of this specification: the inverse of :meth:`of`.

        Returns
        -------
        params : dict
            ``model``, ``revision``, ``dtype``, ``device`` and ``model_kwargs``.
        """
        return {"model": self.model, "revision": self.revision, "dtype": self.dtype, "device": self.device,
                "model_kwargs": dict(self.model_kwargs) or None}

    @classmethod
    def of(cls, estimator):
        """The specification of an estimator's ``model``, ``revision``, ``dtype``, ``device`` and ``model_kwargs``.

        Parameters
        ----------
        estimator : object
            An estimator with those five parameters.

        Returns
        -------
        spec : ModelSpec
            Unchecked: estimators check their parameters in ``fit``.
        """
        return cls(estimator.model, revision=estimator.revision, dtype=estimator.dtype, device=estimator.device,
                   model_kwargs=estimator.model_kwargs)

    def resolved(self):
        """The same specification with ``dtype`` and ``device`` resolved here (``"auto"`` made explicit).

        Returns
        -------
        spec : ModelSpec
            With explicit dtype and device names.
        """
        if self.model_kwargs.get("device_map") is not None:
            device = "auto"
        else:
            device = str(resolve_device(self.device))
        dtype = dtype_name(resolve_dtype(self.dtype, resolve_device(self.device)))
        return replace(self, dtype=dtype, device=device)

    def cache_key(self, *, numeric_only=False):
        """The text key of this specification: the per-process model cache's and, with ``numeric_only``, a profile's part.

        ``numeric_only`` keeps the identifier and the loading options that change the numbers (not the
        placement-only ones: ``device_map``, ``max_memory``, ...): the revision, dtype and device type a
        model resolves to are known only once loaded, and a profile's key holds those resolved values
        (:meth:`~sklearn_entropylens.lens.ProfileSpec.cache_key`).

        Parameters
        ----------
        numeric_only : bool, default=False
            Keep only what changes the numbers.

        Returns
        -------
        key : str
            Readable text; equal keys mean the same model, loaded the same way.
        """
        kwargs = sorted(
            (key, value) for key, value in self.model_kwargs.items() if not (numeric_only and key in PLACEMENT_KWARGS)
        )
        loading = ";".join(f"{key}={_describe(value)}" for key, value in kwargs)
        if numeric_only:
            return f"model={self.model!r};kwargs={loading!r}"
        return f"model={self.model!r};revision={self.revision!r};dtype={str(self.dtype)!r};device={str(self.device)!r};kwargs={loading!r}"

    @property
    def local_only(self):
        """Whether the model lives in this process only (given to ``register_model``): never profiled elsewhere."""
        return is_registered(self.model)

    def load(self):
        """The loaded model, from this process's cache (loaded on first use).

        Returns
        -------
        loaded : LoadedModel
            The model in eval mode, its tokenizer, lens adapter and resolved revision.
        """
        spec = self.resolved()
        key = spec.cache_key()
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = load_from_spec(spec, _REGISTRY.get(spec.model), registered_names=tuple(_REGISTRY))
            return _CACHE[key]


# The process's registered in-memory models and its loaded models (keyed by ModelSpec.cache_key()).
_REGISTRY = {}
_CACHE = {}
_LOCK = threading.RLock()


def register_model(name, model, tokenizer, *, revision="registered"):
    """Make an in-memory model available to every estimator under a plain string name.

    Use it for models built in code (tests, models you modified); estimators keep taking
    ``model=name``, so clones and saved pipelines stay light. The registration lives in this process.

    Parameters
    ----------
    name : str
        The identifier estimators will use; must not shadow a bundled model.
    model : transformers.PreTrainedModel
        A causal LM of a supported architecture.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    revision : str, default="registered"
        Recorded as the fitted ``model_revision_``; change it whenever the weights change.

    Returns
    -------
    name : str
        ``name``, so that ``EntropyProfileTransformer(model=register_model("mine", model, tokenizer))``
        profiles a model already in memory (on a GPU, or modified in code) in one line.

    See Also
    --------
    load_model : Loads a model by identifier.
    sklearn_entropylens.models.is_registered : Whether a name is registered here.
    EntropyProfileTransformer : Profiles the registered model given its name.

    Notes
    -----
    A saved estimator (:func:`sklearn_entropylens.persistence.dump`) stores the name and revision, never the
    weights: in another process, register the same model under the same name (and revision) again
    before using it; a different revision is refused at ``transform``.

    Examples
    --------
    Profile a model built in code (here a tiny random-initialised Llama with a byte-level tokenizer):

    >>> from sklearn_entropylens import EntropyProfileTransformer, register_model
    >>> from sklearn_entropylens.testing import make_byte_tokenizer, make_tiny_model
    >>> model, tokenizer = make_tiny_model("llama"), make_byte_tokenizer()
    >>> name = register_model("my-llama", model, tokenizer, revision="seed0")
    >>> profiler = EntropyProfileTransformer(model=name, n_tokens=2)
    >>> profiler.fit_transform(["The capital of France is", "Once upon a time"]).shape
    (2, 3)
    >>> profiler.model_name_, profiler.model_revision_
    ('my-llama', 'seed0')
    """
    if name in BUNDLED_MODELS:
        raise ValueError(f"{name!r} is a bundled model name; register under another name.")
    with _LOCK:
        _REGISTRY[name] = (model, tokenizer, str(revision))
        for key in [key for key, loaded in _CACHE.items() if loaded.name == name]:
            del _CACHE[key]
    return name



def is_registered(name):
    """Whether ``name`` was given to :func:`register_model` in this process.

    A registered model exists only in the process that registered it: estimators profile it there even with
    ``n_jobs`` > 1 (never on joblib's worker processes), and an estimator saved with it needs it registered
    again, under the same name and revision, in the process that loads it. Check it before using a saved
    estimator, or to tell a registered name from a bundled model, a directory or a hub id, which load in any
    process.

    Parameters
    ----------
    name : str
        A model identifier.

    Returns
    -------
    registered : bool
        True for a name given to :func:`register_model` here.

    See Also
    --------
    sklearn_entropylens.register_model : Registers a name.
    sklearn_entropylens.clear_model_cache : Drops loaded models; registered names stay registered.
    sklearn_entropylens.load_model : Loads a registered model, or any other, by name.

    Examples
    --------
    >>> from sklearn_entropylens.models import is_registered
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> is_registered("smollm2-135m")  # a bundled model, loaded from its package, not registered
    False
    >>> name = register_tiny_model("llama")  # register_model with a tiny random Llama
    >>> name, is_registered(name)
    ('tiny-llama', True)
    """
    return isinstance(name, str) and name in _REGISTRY



def clear_model_cache():
    """Drop every loaded model from the per-process cache (registered models stay registered).

    The cache keeps every model loaded in this process, by :func:`load_model` or by an estimator, so that
    estimators with the same model share one copy of its weights; they stay in memory, on the CPU or a GPU,
    until cleared. Call it to free that memory, for example between the models of a sweep over model
    families; the memory is freed only once no other reference to a model remains (a
    :class:`~sklearn_entropylens.models.LoadedModel` you still hold keeps its weights alive). The next use of
    a model loads it again, a bundled model from its converted copy on disk (:func:`model_cache_dir`, which
    this does not touch).

    See Also
    --------
    load_model : Loads a model into the per-process cache.
    register_model : Registers an in-memory model.
    model_cache_dir : The converted bundled models on disk, which stay.

    Examples
    --------
    >>> from sklearn_entropylens import clear_model_cache, load_model
    >>> from sklearn_entropylens.models import is_registered
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> name = register_tiny_model("llama")
    >>> loaded = load_model(name)
    >>> load_model(name) is loaded  # served from the cache
    True
    >>> clear_model_cache()
    >>> load_model(name) is loaded  # loaded again
    False
    >>> is_registered(name)
    True
    """
    with _LOCK:
        _CACHE.clear()



def load_model(name=DEFAULT_MODEL, *, revision=None, dtype="auto", device="auto", model_kwargs=None):
    """Return the loaded model for an identifier, from the per-process cache when possible.

    Use it to work with a model outside the estimators (its tokenizer, its modules, its lens adapter), or
    to check that an identifier loads before fitting on it. Estimators load through the same cache, keyed by
    the identifier, revision, dtype, device and loading options (``"auto"`` resolved), so an estimator
    with the same model reuses the weights loaded here rather than loading a second copy. Loading traces
    the model to find where the lens reads it (:func:`~sklearn_entropylens.lens.get_adapter`) and checks
    that the lens of the last block reproduces the model's own logits
    (:func:`~sklearn_entropylens.lens.verify_adapter`): a model that loads is one the lens reads exactly.
    The first load of a bundled model converts its GGUF file once into :func:`model_cache_dir`.

    Parameters
    ----------
    name : str, default="smollm2-135m"
        A bundled model name, a name given to :func:`register_model`, a local directory, or a Hugging
        Face model id (read from the local Hugging Face cache when offline).
    revision : str or None, default=None
        Hub revision (branch, tag or commit); ignored for bundled and registered models.
    dtype : str or torch.dtype, default="auto"
        Weight dtype: ``"auto"`` is float32 on CPU and bfloat16 on GPU. Lens statistics are always
        computed in float32.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU) or any torch device string. Must stay ``"auto"``
        when ``model_kwargs`` has a ``device_map``, which then places the weights.
    model_kwargs : dict or None, default=None
        Extra keyword arguments of ``AutoModelForCausalLM.from_pretrained``: ``{"device_map":
        "auto"}`` spreads a model over every visible GPU (with accelerate), ``{"quantization_config":
        BitsAndBytesConfig(load_in_4bit=True)}`` loads 4-bit weights where bitsandbytes is installed,
        ``{"attn_implementation": "sdpa"}`` picks the attention kernel. Not for registered models.

    Returns
    -------
    loaded : LoadedModel
        The model in eval mode, its tokenizer, lens adapter and resolved revision. ``device`` is where
        inputs go (the device of the input embeddings).

    Raises
    ------
    ModelLoadError
        If the identifier is unknown, cannot be loaded offline, is not a causal LM, its architecture is
        not supported by the logit lens, or its unembedding is not usable (offloaded or quantized).

    See Also
    --------
    sklearn_entropylens.models.ModelSpec : The specification it loads.
    register_model : Makes an in-memory model loadable by name.
    clear_model_cache : Drops the loaded models.

    Examples
    --------
    >>> from sklearn_entropylens import load_model
    >>> loaded = load_model("smollm2-135m")
    >>> loaded.n_layers, loaded.vocab_size
    (30, 49152)
    >>> loaded.adapter.describe()
    'llama: 30 blocks at model.layers, head model.norm, unembedding lm_head'
    >>> loaded.revision  # a content hash of the bundled GGUF file
    'sha256-b179c9523d0e6a0f'
    >>> load_model("smollm2-135m") is loaded  # the per-process cache: loaded once
    True
    """
    return ModelSpec(name, revision=revision, dtype=dtype, device=device, model_kwargs=model_kwargs).check().load()


def check_model_spec(model):
    """Validate a model given as an identifier or a :class:`ModelSpec`; return the checked ModelSpec."""
    if isinstance(model, ModelSpec):
        return model.check()
    return ModelSpec(check_model(model))


# The constraint-table entries of an estimator's five model parameters (see ModelSpec.of).
MODEL_CONSTRAINTS = {
    "model": [Checked(check_model)],
    "revision": [Checked(check_revision)],
    "dtype": [Checked(check_dtype)],
    "device": [Checked(check_device)],
    "model_kwargs": [Checked(check_model_kwargs)],
}
