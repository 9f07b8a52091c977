"""The disk cache of converted models: a bundled GGUF converted once to a safetensors copy, and the
content fingerprint of a local model directory (its revision).
"""

import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import warnings

from ._catalogue import ModelLoadError


@contextlib.contextmanager
def quiet_transformers():
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



def convert_bundled(bundled):
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
    with warnings.catch_warnings(), quiet_transformers():
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



def local_fingerprint(path):
    """Content fingerprint of a local model directory: its config and its files' names and sizes."""
    digest = hashlib.sha256()
    config = path / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    for file in sorted(path.iterdir()):
        if file.is_file():
            digest.update(f"{file.name}:{file.stat().st_size};".encode())
    return "local-" + digest.hexdigest()[:16]
