"""Verification of an adapter through the lens itself: the last block must reproduce the model's logits."""

import torch

from ._adapters import UnsupportedArchitectureError
from ._lens import LogitLens
from ._tracing import block_output, relative_tolerance


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

    See Also
    --------
    get_adapter : Finds the adapter.
    """
    captured = []
    handle = adapter.blocks[-1].register_forward_hook(lambda m, a, out: captured.append(block_output(out)))
    try:
        logits = model(input_ids=input_ids.to(model.device), use_cache=False).logits[0, -1].float()
    finally:
        handle.remove()
    lens = LogitLens(adapter).logits(captured[-1][0, -1:], layers=[adapter.n_layers])[0]
    error = float((lens - logits).abs().max())
    scale = float(logits.abs().max()) + 1.0
    if not error <= relative_tolerance(adapter.unembedding.weight.dtype) * scale:
        raise UnsupportedArchitectureError(
            f"The logit lens of the last block of {type(model).__name__} does not reproduce the "
            f"model's logits (max abs difference {error:.3g}): the model applies something after its "
            "final norm that the adapter does not know."
        )
    return error
