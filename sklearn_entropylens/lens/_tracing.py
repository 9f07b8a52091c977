"""Tracing a model's forward pass: every module call with its inputs and outputs, and the tensor helpers
that read a residual stream out of a block's or sublayer's call (used to discover adapters and to hook
blocks while decoding).
"""

from dataclasses import dataclass

import torch


def module_device(module, default):
    """The device of a module's first parameter (``default`` for a parameterless one)."""
    parameter = next(module.parameters(), None)
    if parameter is None or parameter.device.type == "meta":
        return default
    return parameter.device



def block_output(output):
    """Return the residual stream from a decoder block's output (a tensor, or a tuple led by one)."""
    return output[0] if isinstance(output, (tuple, list)) else output



def block_input(args, kwargs):
    """Return the residual stream entering a decoder block from its call arguments."""
    return args[0] if args else kwargs["hidden_states"]



def relative_tolerance(dtype):
    """How far, relative to the largest logit, a recomputation may differ from the model's own numbers.

    Float32 and float64 agree to rounding; bfloat16 and float16 weights round the model's products to
    8 or 11 bits of mantissa.
    """
    return 1e-4 if dtype in (torch.float32, torch.float64) else 5e-2



def text_config(config):
    """The configuration of a model's text decoder (itself for a text-only model)."""
    try:
        return config.get_text_config(decoder=True)
    except (AttributeError, TypeError, ValueError):
        return config



@dataclass
class _Call:
    name: str
    module: torch.nn.Module
    start: int
    end: int
    stream_in: object
    stream_out: object



def _first_tensor(args, kwargs):
    for value in list(args) + [kwargs.get("hidden_states"), kwargs.get("input"), kwargs.get("x")]:
        if torch.is_tensor(value):
            return value
    return None



def _same(a, b):
    return torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and torch.equal(a, b)



def _snapshot(value):
    # A copy: models add to a module's output in place afterwards (Falcon adds attention to the MLP's).
    return value.detach().clone() if torch.is_tensor(value) else None



@torch.inference_mode()
def _trace(model, input_ids):
    """Run ``model`` on ``input_ids`` with every module hooked; return its calls in order and its logits."""
    calls, open_calls, handles, clock = [], {}, [], iter(range(1 << 62))

    def pre(module, args, kwargs):
        open_calls.setdefault(id(module), []).append((next(clock), _snapshot(_first_tensor(args, kwargs))))

    def post_for(name):
        def post(module, args, kwargs, output):
            start, stream_in = open_calls[id(module)].pop()
            out = block_output(output)
            calls.append(_Call(name, module, start, next(clock), stream_in, _snapshot(out)))

        return post

    for name, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post_for(name), with_kwargs=True))
    try:
        output = model(input_ids=input_ids, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    logits = output.logits if hasattr(output, "logits") else output[0]
    return sorted(calls, key=lambda call: call.start), logits



def _describe_model(model):
    return f"{type(model).__name__} (model_type {getattr(model.config, 'model_type', None)!r})"



def _is_stream(value, input_ids):
    """A (batch, positions, width) tensor: one residual-stream vector per token."""
    return torch.is_tensor(value) and value.ndim == 3 and tuple(value.shape[:2]) == tuple(input_ids.shape)



def site_stream(output, batch):
    """A sublayer module's output as a (batch, positions, width) stream (MoE layers may flatten positions)."""
    value = block_output(output)
    return value.view(batch, -1, value.shape[-1]) if value.ndim == 2 else value



def _as_stream(value, shape):
    if not torch.is_tensor(value) or not value.is_floating_point():
        return None
    if tuple(value.shape) == shape:
        return value
    if value.ndim == 2 and value.shape[0] == shape[0] * shape[1] and value.shape[1] == shape[2]:
        return value.view(shape)
    return None



def _close(value, target):
    return bool((value - target).abs().max() <= 1e-5 * target.abs().max())
