"""Loading one model into memory: ``from_pretrained`` (or the converted bundled copy), then its lens adapter
found by tracing and verified against its own logits, and the decode loop's checks measured.

No state lives here: the per-process cache and the registry of in-memory models are :mod:`._spec`'s.
"""

import inspect
import json
import pathlib
import threading
import warnings
from dataclasses import dataclass, field

from ..lens import UnsupportedArchitectureError, check_decoding, get_adapter, probe_ids, verify_adapter
from ._catalogue import BUNDLED_MODELS, ModelLoadError
from ._devices import dtype_name, resolve_device
from ._conversion import convert_bundled, local_fingerprint, quiet_transformers
from ._hub import hub_reachable, known_names, looks_like_path, suggestion


@dataclass
class LoadedModel:
    """A model, its tokenizer and lens adapter, as held by the per-process cache.

    It is what :func:`~sklearn_entropylens.load_model` returns and what estimators profile: hold one to run
    the model or its tokenizer yourself on the same weights, to read its lens adapter (where the lens reads
    the model), or to see the ``revision`` that fitted estimators record. Treat it as read-only: the cache
    hands this same object to every caller and estimator with the same model, so changing its weights or
    modules in place changes their profiles too, under an unchanged ``revision``. To study a modified model,
    change a copy and give it to :func:`~sklearn_entropylens.register_model` under its own name or revision.

    Parameters
    ----------
    name : str
        The model identifier.
    revision : str
        The revision it resolved to: a hub commit; ``sha256-`` and the GGUF file's hash for a bundled
        model; ``local-`` and a hash of a local directory's ``config.json`` and its files' names and sizes;
        the caller's string for a registered model.
    model : transformers.PreTrainedModel
        The model, in eval mode.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    adapter : LensAdapter
        Where the lens reads it.
    dtype : torch.dtype
        The weight dtype.
    device : torch.device
        Where inputs go (the device of the input embeddings).
    context_length : int or None, default=None
        The longest sequence the model takes.
    forward_parameters : frozenset of str
        The names ``model.forward`` accepts.
    decoding : DecodingChecks or None, default=None
        What the decode loop may rely on (key-value cache, left padding), measured at load.
    lock : threading.RLock
        The engine hooks the model's blocks while it runs: threads sharing a model take turns.

    See Also
    --------
    sklearn_entropylens.load_model : Loads one by identifier.
    ModelSpec.load : Where loaded models come from.
    sklearn_entropylens.lens.LensAdapter : Its ``adapter``.

    Examples
    --------
    >>> from sklearn_entropylens import load_model
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> loaded = load_model(register_tiny_model("llama"), device="cpu")
    >>> loaded.name, loaded.revision
    ('tiny-llama', 'tiny-llama-seed0')
    >>> loaded.n_layers, loaded.vocab_size, loaded.dtype_name, loaded.device_type
    (3, 259, 'float32', 'cpu')
    >>> inputs = loaded.tokenizer(["The cat"], return_tensors="pt").to(loaded.device)
    >>> loaded.model(**inputs).logits.shape  # the BOS token, then one token per byte
    torch.Size([1, 8, 259])
    """

    name: str
    revision: str
    model: object
    tokenizer: object
    adapter: object
    dtype: object
    device: object
    context_length: object = None
    forward_parameters: frozenset = field(default_factory=frozenset)
    # What the decode loop may rely on (key-value cache, left padding), measured at load.
    decoding: object = None
    # The engine hooks the model's blocks while it runs: threads sharing a model take turns.
    lock: object = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def dtype_name(self):
        """The weight dtype's short name (``"float32"``)."""
        return dtype_name(self.dtype)

    @property
    def device_type(self):
        """Where the inputs go: ``"cpu"`` or ``"cuda"``."""
        return self.device.type

    @property
    def n_layers(self):
        """The number of decoder blocks the lens reads."""
        return self.adapter.n_layers

    @property
    def vocab_size(self):
        """The number of rows of the unembedding: the length of a lens distribution."""
        return self.adapter.vocab_size



def _causal_or_multimodal_lm(source, **kwargs):
    """A causal LM, or a multimodal model whose text part is one (Mistral-3, Qwen-VL, LLaVA, PaliGemma, ...).

    Text prompts run through the multimodal model's language model; the lens is found in it by tracing.
    """
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    try:
        return AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except ValueError as exc:
        if "Unrecognized configuration class" not in str(exc):
            raise
        return AutoModelForImageTextToText.from_pretrained(source, **kwargs)



def load_pretrained(name, revision, dtype, model_kwargs, registered=()):
    """Load a tokenizer and causal LM from a hub id or a directory, and the revision they came from."""
    from transformers import AutoTokenizer

    if name in BUNDLED_MODELS:
        directory = convert_bundled(BUNDLED_MODELS[name])
        source, revision_arg = str(directory), None
        resolved = "sha256-" + json.loads((directory / "sklearn_entropylens.json").read_text())["sha256"][:16]
    else:
        source, revision_arg = name, revision
        resolved = None
    local = pathlib.Path(name).expanduser()
    if resolved is None and not local.is_dir() and (local.exists() or looks_like_path(name)):
        raise ModelLoadError(
            f"model={name!r} is a path but not a model directory (one with config.json and the weights); "
            f"give the directory that save_pretrained wrote, or a bundled model ({known_names(registered)})."
        )
    # Bundled copies and local directories load from disk; a hub id is tried in the local Hugging Face
    # cache first, and on the hub only when it answers, so a typo fails in a second, not after retries.
    from_disk = resolved is not None or local.is_dir()
    attempts = [True] if from_disk else [True, False]
    for local_only in attempts:
        if not local_only and not hub_reachable():
            raise ModelLoadError(
                f"Unknown model {name!r}: it is not a bundled model ({known_names(registered)}), a registered name, a "
                "local directory or a Hugging Face id in the local cache, and the Hugging Face hub is not "
                f"reachable from this machine.{suggestion(name, registered)} An estimator saved with a model given to "
                "register_model needs it registered again in this process: register_model(name, model, "
                "tokenizer, revision=...) before using it."
            )
        try:
            with warnings.catch_warnings(), quiet_transformers():
                warnings.simplefilter("ignore")
                tokenizer = AutoTokenizer.from_pretrained(source, revision=revision_arg, local_files_only=local_only)
                model = _causal_or_multimodal_lm(
                    source, revision=revision_arg, dtype=dtype, local_files_only=local_only, **model_kwargs
                )
            break
        except (OSError, ValueError, KeyError, ImportError, EnvironmentError, TypeError) as exc:
            # Not usable from the local cache (whatever transformers' wording): try the hub next.
            if local_only and not from_disk and isinstance(exc, OSError):
                continue
            raise ModelLoadError(
                f"Could not load {name!r} as a causal language model: {str(exc).splitlines()[0]} "
                f"Use a bundled model ({known_names(registered)}), a local directory, or a Hugging Face id.{suggestion(name, registered)}"
            ) from exc
    if resolved is None:
        if local.is_dir():
            resolved = local_fingerprint(local)
        else:
            resolved = getattr(model.config, "_commit_hash", None) or revision or "unknown"
    return tokenizer, model, str(resolved)



def context_length(model, tokenizer):
    config = model.config
    lengths = [getattr(config, attr, None) for attr in ("max_position_embeddings", "n_positions")]
    lengths = [n for n in lengths if isinstance(n, int) and n > 0]
    if not lengths:
        limit = getattr(tokenizer, "model_max_length", None)
        lengths = [limit] if isinstance(limit, int) and 0 < limit < 10**8 else []
    return min(lengths) if lengths else None



def check_unembedding(name, adapter):
    """The lens multiplies by the unembedding directly: it must be a plain floating matrix in memory."""
    weight = adapter.unembedding.weight
    if weight.device.type == "meta":
        raise ModelLoadError(
            f"The unembedding of {name!r} is offloaded (its weights are not in memory), which the logit "
            "lens cannot stream over: give it a device in model_kwargs['device_map'] or more max_memory."
        )
    if not weight.dtype.is_floating_point or weight.dtype.itemsize < 2:
        raise ModelLoadError(
            f"The unembedding of {name!r} is quantized ({weight.dtype}); keep it in full precision, for "
            "example BitsAndBytesConfig(..., llm_int8_skip_modules=['lm_head'])."
        )


def load_from_spec(spec, registered=None, registered_names=()):
    """Load the model a resolved :class:`~._spec.ModelSpec` describes, find and verify its lens adapter.

    Parameters
    ----------
    spec : ModelSpec
        Resolved (explicit dtype and device).
    registered : tuple or None
        ``(model, tokenizer, revision)`` of a model given to ``register_model`` under ``spec.model``.
    registered_names : sequence of str
        The registered names, for error messages.

    Returns
    -------
    loaded : LoadedModel
    """
    import copy

    import torch

    name, model_kwargs = spec.model, spec.model_kwargs
    placed = model_kwargs.get("device_map") is not None
    device = resolve_device(spec.device)
    dtype = getattr(torch, spec.dtype)
    if registered is not None:
        if model_kwargs:
            raise ValueError(
                f"model_kwargs cannot apply to the registered in-memory model {name!r}; save it with "
                "save_pretrained and pass the directory to load it with options."
            )
        registered_model, tokenizer, resolved = registered
        weight = next(registered_model.parameters())
        model = registered_model
        if weight.dtype != dtype or weight.device != device:
            # Module.to works in place: convert a copy so the registered model stays as given.
            model = copy.deepcopy(registered_model).to(device=device, dtype=dtype)
    else:
        tokenizer, model, resolved = load_pretrained(name, spec.revision, dtype, model_kwargs, registered_names)
        if not placed and not getattr(model, "is_quantized", False):
            model = model.to(device)
    model.eval()
    probe = probe_ids(model, tokenizer)  # one probe for discovery, verification and the decoding checks
    try:
        adapter = get_adapter(model, probe)
    except UnsupportedArchitectureError as exc:
        raise ModelLoadError(f"Cannot use {name!r}: {exc}") from exc
    check_unembedding(name, adapter)
    input_device = model.get_input_embeddings().weight.device
    try:
        verify_adapter(model, adapter, probe)
    except UnsupportedArchitectureError as exc:
        raise ModelLoadError(f"Cannot use {name!r}: {exc}") from exc
    loaded = LoadedModel(
        name=name,
        revision=resolved,
        model=model,
        tokenizer=tokenizer,
        adapter=adapter,
        dtype=dtype,
        device=input_device if input_device.type != "meta" else device,
        context_length=context_length(model, tokenizer),
        forward_parameters=frozenset(inspect.signature(model.forward).parameters),
    )
    loaded.decoding = check_decoding(loaded, probe[0].tolist())
    return loaded
