"""Helpers of the test suite: float64 oracles, tiny models of any architecture, rows as prompts.

The public tiny models are in ``sklearn_entropylens.testing``; these are the suite's own tools.
"""

import numpy as np

from sklearn_entropylens.testing import _TINY_CONTEXT as TINY_CONTEXT
from sklearn_entropylens.testing import TINY_MODEL_TYPES, make_tiny_config


# Sizes of a tiny model, by the names configurations give them; each is set where a configuration has it.
_TINY_SIZES = {
    "hidden_size": 32, "n_embd": 32, "d_model": 32, "n_embed": 32,
    "intermediate_size": 64, "ffn_dim": 64, "n_inner": 64, "ffn_hidden_size": 64, "d_ff": 64,
    "num_attention_heads": 4, "n_head": 4, "num_heads": 4, "n_heads": 4,
    "num_key_value_heads": 2, "n_kv_heads": 2, "num_kv_heads": 2, "head_dim": 8,
    "max_position_embeddings": TINY_CONTEXT, "n_positions": TINY_CONTEXT, "n_ctx": TINY_CONTEXT,
    "num_experts": 4, "num_local_experts": 4, "n_routed_experts": 4, "moe_num_experts": 4,
    "num_experts_per_tok": 2, "moe_k": 2, "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32,
    "n_shared_experts": 1, "kv_lora_rank": 16, "q_lora_rank": 16, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
    "v_head_dim": 8, "n_group": 1, "topk_group": 1, "first_k_dense_replace": 1, "sliding_window": 16,
    "state_size": 8, "mamba_d_state": 8, "ssm_state_size": 8, "time_step_rank": 4, "rotary_dim": 8,
}


_TINY_LAYER_COUNTS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def _tiny_overrides(config, n_layers, vocab_size):
    keys = config.to_dict()
    overrides = {name: value for name, value in _TINY_SIZES.items() if name in keys}
    overrides.update({name: n_layers for name in _TINY_LAYER_COUNTS if name in keys})
    if "kv_lora_rank" in keys and "num_key_value_heads" in keys:
        overrides["num_key_value_heads"] = overrides["num_attention_heads"]  # multi-head latent attention
    overrides.update({name: value for name, value in [("vocab_size", vocab_size), ("bos_token_id", 1),
                      ("eos_token_id", 2), ("pad_token_id", 0), ("initializer_range", 0.2)] if name in keys})
    return overrides


def make_any_tiny_config(model_type, vocab_size=259, n_layers=3):
    """A tiny configuration of any model type, from its default by shrinking every size it names.

    The text decoder gets ``n_layers`` blocks of width 32; other parts (a vision tower) get one block, so
    a multimodal model stays small. For the architecture sweep of ``tests/lens/test_architectures.py``.
    """
    from transformers import AutoConfig, PretrainedConfig

    default = AutoConfig.for_model(model_type)
    config = AutoConfig.for_model(model_type, **_tiny_overrides(default, n_layers, vocab_size))
    for name, sub in list(vars(config).items()):
        if isinstance(sub, PretrainedConfig):
            is_text = sub is config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else False
            fields = {name: value for name, value in sub.to_dict().items() if name != "layer_types"}  # derived
            shrunk = type(sub)(**{**fields, **_tiny_overrides(sub, n_layers if is_text else 1, vocab_size)})
            setattr(config, name, shrunk)
    return config


def make_any_tiny_model(model_type, *, seed=0, max_parameters=30_000_000):
    """A tiny random-initialised model of any causal-LM type (hand-tuned sizes for ``TINY_MODEL_TYPES``).

    Raises
    ------
    Exception
        Whatever transformers raises when the type does not build, or run on four tokens, from its
        shrunk default configuration; ``MemoryError`` when it would still exceed ``max_parameters``.
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = make_tiny_config(model_type) if model_type in TINY_MODEL_TYPES else make_any_tiny_config(model_type)
    with torch.device("meta"):
        size = sum(parameter.numel() for parameter in AutoModelForCausalLM.from_config(config).parameters())
    if size > max_parameters:
        raise MemoryError(f"{model_type} keeps {size} parameters when shrunk")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    with torch.no_grad():
        # Zero-initialised projections (xLSTM's gates) would leave a random model's sublayer silent.
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                module.weight.normal_(0.0, 0.2)
        model(input_ids=torch.tensor([[1, 5, 9, 20]]), use_cache=False)
    return model


def float64_copy(model):
    """A float64 copy of a model for the oracles, with mixture-of-experts layers on their eager path.

    torch's grouped matrix products, the default path of transformers' expert layers, have no float64
    kernel.
    """
    import copy

    model64 = copy.deepcopy(model).double()
    if getattr(model64, "_can_set_experts_implementation", lambda: False)():
        model64.set_experts_implementation("eager")
    return model64


def rows_to_text(X):
    """Render each numeric row as a prompt (space-joined ``%.3g`` values), for scikit-learn's checks."""
    X = np.asarray(X)
    return [" ".join(f"{value:.3g}" for value in np.ravel(row)) for row in X]


def entropies_of(loaded, token_ids, n_tokens, **kwargs):
    """Entropy profiles and tokens from the engine (:func:`profile_token_ids` with entropy only)."""
    from sklearn_entropylens.lens import profile_token_ids

    result = profile_token_ids(loaded, token_ids, n_tokens=n_tokens, **kwargs)
    return result["entropy"], result.tokens


def reference_entropies(loaded, token_ids, n_tokens, **kwargs):
    """Entropy profiles and tokens from :func:`~sklearn_entropylens.lens._reference.reference_profiles`."""
    from sklearn_entropylens.lens import reference_profiles

    values, tokens = reference_profiles(loaded, token_ids, n_tokens, **kwargs)
    return values["entropy"], tokens
