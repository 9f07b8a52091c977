"""Architecture adapters: where each supported causal LM keeps its blocks, final norm and unembedding.

The logit lens of block ``l`` is ``softcap(unembed(final_norm(h_l)))`` (see :mod:`._lens`). For the last
block this is exactly the model's own output logits, which the engine reads directly, so the final norm
is never applied twice. :func:`get_adapter` also checks, on a few tokens, that the lens applied to the raw output
of the last block reproduces the model's logits: a wrong module choice fails loudly at load time.
"""

from dataclasses import dataclass

import torch

# model_type -> (attribute path of the block list, attribute path of the final norm, extra projection
# applied after the norm and before the unembedding, or None).
_ARCHITECTURES = {
    "llama": ("model.layers", "model.norm", None),
    "mistral": ("model.layers", "model.norm", None),
    "qwen2": ("model.layers", "model.norm", None),
    "qwen3": ("model.layers", "model.norm", None),
    "gemma": ("model.layers", "model.norm", None),
    "gemma2": ("model.layers", "model.norm", None),
    "gemma3": ("model.layers", "model.norm", None),
    "gemma3_text": ("model.layers", "model.norm", None),
    "gpt2": ("transformer.h", "transformer.ln_f", None),
    "gpt_neo": ("transformer.h", "transformer.ln_f", None),
    "gpt_neox": ("gpt_neox.layers", "gpt_neox.final_layer_norm", None),
    "opt": ("model.decoder.layers", "model.decoder.final_layer_norm", "model.decoder.project_out"),
    "phi": ("model.layers", "model.final_layernorm", None),
    "phi3": ("model.layers", "model.norm", None),
}

SUPPORTED_MODEL_TYPES = tuple(sorted(_ARCHITECTURES))


class UnsupportedArchitectureError(ValueError):
    """Raised for a model whose final norm and unembedding the library does not know."""


def module_device(module, default):
    """The device of a module's first parameter (``default`` for a parameterless one)."""
    parameter = next(module.parameters(), None)
    if parameter is None or parameter.device.type == "meta":
        return default
    return parameter.device


def _get_path(root, path):
    obj = root
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def block_output(output):
    """Return the residual stream from a decoder block's output (a tensor, or a tuple led by one)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def block_input(args, kwargs):
    """Return the residual stream entering a decoder block from its call arguments."""
    return args[0] if args else kwargs["hidden_states"]


@dataclass
class LensAdapter:
    """The modules of a causal LM that the logit lens needs.

    Attributes
    ----------
    model_type : str
        The ``config.model_type`` of the model.
    blocks : torch.nn.ModuleList
        The decoder blocks, in order.
    final_norm : torch.nn.Module or None
        The final norm (None for post-LN models such as OPT-350m that have none).
    projection : torch.nn.Module or None
        A projection between the norm and the unembedding (OPT's ``project_out``), or None.
    unembedding : torch.nn.Linear
        The output embedding (``lm_head``).
    softcap : float or None
        ``final_logit_softcapping`` of Gemma-2 style models: ``logits = c * tanh(logits / c)``.
    logit_scale : float or None
        A factor the model multiplies its logits by before any soft-cap, or None.
    """

    model_type: str
    blocks: torch.nn.ModuleList
    final_norm: object
    projection: object
    unembedding: torch.nn.Module
    softcap: object
    logit_scale: object = None

    @property
    def n_layers(self):
        return len(self.blocks)

    @property
    def vocab_size(self):
        return self.unembedding.weight.shape[0]

    @property
    def device(self):
        """Where the lens runs: the device of the unembedding (the last device of a split model)."""
        return self.unembedding.weight.device


def get_adapter(model):
    """Find the blocks, final norm and unembedding of a supported causal LM.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal language model.

    Returns
    -------
    adapter : LensAdapter
        The modules the logit lens needs.

    Raises
    ------
    UnsupportedArchitectureError
        If the architecture is not one of ``SUPPORTED_MODEL_TYPES`` or its modules are not found.
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in _ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"The logit lens does not know the architecture {model_type!r} "
            f"({type(model).__name__}); supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}."
        )
    blocks_path, norm_path, projection_path = _ARCHITECTURES[model_type]
    blocks = _get_path(model, blocks_path)
    unembedding = model.get_output_embeddings()
    if blocks is None or unembedding is None:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__} (model_type {model_type!r}) has no {blocks_path!r} block list "
            "or no output embedding; is it a causal language model with its LM head?"
        )
    softcap = getattr(model.config, "final_logit_softcapping", None) or None
    return LensAdapter(
        model_type=model_type,
        blocks=blocks,
        final_norm=_get_path(model, norm_path),
        projection=_get_path(model, projection_path) if projection_path else None,
        unembedding=unembedding,
        softcap=float(softcap) if softcap else None,
    )


@torch.inference_mode()
def verify_adapter(model, adapter, input_ids):
    """Check that the lens of the last block's raw output reproduces the model's own logits.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The model.
    adapter : LensAdapter
        Its adapter.
    input_ids : torch.Tensor of shape (1, n)
        A few token ids to run.

    Returns
    -------
    max_abs_error : float
        The largest absolute difference between the lens logits and the model's logits.

    Raises
    ------
    UnsupportedArchitectureError
        If they differ beyond what the model's dtype explains.
    """
    captured = []
    handle = adapter.blocks[-1].register_forward_hook(lambda m, a, out: captured.append(block_output(out)))
    try:
        logits = model(input_ids=input_ids.to(model.device)).logits[0, -1].float()
    finally:
        handle.remove()
    from ._lens import LogitLens

    lens = LogitLens(adapter).logits(captured[-1][0, -1:], layers=[adapter.n_layers])[0]
    error = float((lens - logits).abs().max())
    scale = float(logits.abs().max()) + 1.0
    tolerance = 1e-4 if adapter.unembedding.weight.dtype == torch.float32 else 5e-2
    if not error <= tolerance * scale:
        raise UnsupportedArchitectureError(
            f"The logit lens of the last block of {type(model).__name__} does not reproduce the "
            f"model's logits (max abs difference {error:.3g}): the model applies something after its "
            "final norm that the adapter does not know."
        )
    return error
