"""Verification of an adapter through the lens itself: the last block must reproduce the model's logits."""

import torch

from ._adapters import UnsupportedArchitectureError
from ._lens import LogitLens
from ._tracing import block_output, relative_tolerance


@torch.inference_mode()
def verify_adapter(model, adapter, input_ids):
    """Check that the lens of the last block's raw output reproduces the model's own logits.

    :func:`~sklearn_entropylens.load_model` calls it, after :func:`get_adapter`, on every model it loads: a
    model loads only when the lens of its last block, at the last position of ``input_ids``, matches the
    model's logits to within ``rtol * (max |logit| + 1)``, where ``rtol`` is 1e-4 for a float32 or float64
    unembedding and 5e-2 for a bfloat16 or float16 one. Call it yourself after building or changing an
    adapter, or after changing a model in place (a hook, an edited module), to check that the lens still
    reads it exactly. Only the last block can be checked this way, since it alone has the model's logits to
    compare with; the lens applies the same modules to every block.

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
    LensAdapter : What it checks.
    sklearn_entropylens.UnsupportedArchitectureError : Raised when the check fails.

    Examples
    --------
    >>> import dataclasses
    >>> import torch
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import get_adapter, verify_adapter
    >>> model = make_tiny_model("llama")
    >>> adapter = get_adapter(model)
    >>> input_ids = torch.tensor([[1, 3, 5, 7]])
    >>> verify_adapter(model, adapter, input_ids) < 1e-4  # float32: equal up to rounding
    True

    An adapter that leaves out the final norm does not reproduce the logits:

    >>> verify_adapter(model, dataclasses.replace(adapter, head=()), input_ids)
    Traceback (most recent call last):
    ...
    sklearn_entropylens.lens._adapters.UnsupportedArchitectureError: The logit lens of the last block of
    LlamaForCausalLM does not reproduce the model's logits (max abs difference ...): the model applies something
    after its final norm that the adapter does not know.
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
