import numpy as np
import pytest
import torch

from sklearn_entropylens import ModelLoadError, load_model, register_model
from sklearn_entropylens.lens import LogitLens
from sklearn_entropylens.lens import UnsupportedArchitectureError, get_adapter, verify_adapter
from sklearn_entropylens.testing import TINY_MODEL_TYPES, make_byte_tokenizer, make_tiny_model, register_tiny_model

EXPECTED_NORM = {
    "gpt2": "transformer.ln_f",
    "gpt_neo": "transformer.ln_f",
    "gpt_neox": "gpt_neox.final_layer_norm",
    "opt": "model.decoder.final_layer_norm",
    "phi": "model.final_layernorm",
}


@pytest.mark.parametrize("model_type", TINY_MODEL_TYPES)
def test_adapter_picks_the_right_modules(model_type):
    model = make_tiny_model(model_type)
    adapter = get_adapter(model)
    modules = dict(model.named_modules())
    assert adapter.head == (modules[EXPECTED_NORM.get(model_type, "model.norm")],)
    assert adapter.paths["head"] == (EXPECTED_NORM.get(model_type, "model.norm"),)
    assert adapter.unembedding is model.get_output_embeddings()
    assert adapter.n_layers == model.config.num_hidden_layers
    assert adapter.vocab_size == 259
    verify_adapter(model, adapter, torch.tensor([[1, 40, 41, 42]]))


@pytest.mark.parametrize("model_type", TINY_MODEL_TYPES)
def test_lens_of_last_block_reproduces_logits(model_type):
    model = make_tiny_model(model_type)
    adapter = get_adapter(model)
    captured = []
    handle = adapter.blocks[-1].register_forward_hook(lambda m, a, out: captured.append(out[0] if isinstance(out, tuple) else out))
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 50, 60, 70, 80]])).logits
        lens = LogitLens(adapter).logits(captured[0][0], [adapter.n_layers])[None]
    handle.remove()
    torch.testing.assert_close(lens, logits, atol=1e-5, rtol=1e-5)


def test_gemma2_softcap_is_applied():
    model = make_tiny_model("gemma2", final_logit_softcapping=0.5)
    adapter = get_adapter(model)
    assert adapter.softcap == 0.5
    hidden = torch.randn(4, 32) * 10
    with torch.no_grad():
        capped = LogitLens(adapter).logits(hidden, [1])
        raw = adapter.unembedding(LogitLens(adapter).prepare(hidden, [1]))
    assert float(capped.abs().max()) <= 0.5
    assert float(raw.abs().max()) > 0.5
    torch.testing.assert_close(capped, 0.5 * torch.tanh(raw / 0.5))
    # Without the cap the lens would not reproduce the model's capped logits.
    verify_adapter(model, adapter, torch.tensor([[1, 2, 3]]))
    adapter.softcap = None
    with pytest.raises(UnsupportedArchitectureError, match="does not reproduce"):
        verify_adapter(model, adapter, torch.tensor([[1, 40, 50, 60]]))


def test_a_final_norm_the_lens_cannot_see_is_refused():
    model = make_tiny_model("llama")
    norm = model.model.norm
    # The norm's work moves into a plain function between the blocks and the head: no module to apply.
    model.model.norm = torch.nn.Identity()
    hidden_forward = model.lm_head.forward
    model.lm_head.forward = lambda hidden: hidden_forward(norm(hidden))
    with pytest.raises(UnsupportedArchitectureError, match="'llama'.*output embedding is not the linear map of its weight"):
        get_adapter(model)
    register_model("tiny-hidden-norm", model, make_byte_tokenizer())
    with pytest.raises(ModelLoadError, match="Cannot use 'tiny-hidden-norm'.*not the linear map"):
        load_model("tiny-hidden-norm")


def test_registered_model_keeps_its_dtype_when_loaded_in_another():
    name = register_tiny_model("llama", name="tiny-llama-dtype")
    as_float64 = load_model(name, dtype="float64")
    as_float32 = load_model(name)
    assert next(as_float64.model.parameters()).dtype == torch.float64
    assert next(as_float32.model.parameters()).dtype == torch.float32
    assert as_float32 is load_model(name, dtype="float32")


def test_opt_projection_is_used():
    model = make_tiny_model("opt", word_embed_proj_dim=16)
    adapter = get_adapter(model)
    assert adapter.head == (model.model.decoder.final_layer_norm, model.model.decoder.project_out)
    verify_adapter(model, adapter, torch.tensor([[1, 2, 3]]))
    assert LogitLens(adapter).prepare(torch.randn(2, 32), [1]).shape == (2, 16)
    np.testing.assert_equal(adapter.vocab_size, 259)
