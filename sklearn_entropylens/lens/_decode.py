"""The decode loop: batched KV-cache generation that hands residual streams to the lens.

Positions follow the reference: position 0 is the last prompt token, position ``t`` the ``t``-th
generated token, so ``n_tokens`` positions take ``n_tokens`` generated tokens and ``n_tokens - 1``
decoding steps (the last generated token is never run through the model).

At each step forward hooks copy, for the newest position only, the residual stream leaving blocks
``1 .. L-1`` (and entering block 1 when the embedding layer is recorded) into a small ring buffer.
Block ``L`` needs no lens: its distribution is the model's own output. Every few steps the buffered rows,
from several steps, layers and prompts at once, go to :func:`~._layer_statistics.lens_statistics`.

Batches are left-padded with explicit position ids and attention masks, so a profile does not depend on
the batch size or on the other prompts of its batch beyond float rounding.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ._tracing import block_input, block_output, relative_tolerance, site_stream
from ._encoding import left_padded_batch
from ._layer_statistics import lens_statistics
from ._layout import site_statistic, split_site
from ._registry import declaration, records_embedding
from .._validation import user_stacklevel


@dataclass(frozen=True)
class DecodingChecks:
    """What the decode loop may rely on for one model, as measured by :func:`check_decoding` at load.

    Attributes
    ----------
    kv_cache : bool
        One step with the model's key-value cache gives the logits of a full forward pass. False for
        models without one (state-space models) or whose cache needs what a plain call does not build:
        the loop then runs the whole sequence at every step.
    padding : bool
        Left padding, with its attention mask and position ids, leaves a prompt's logits unchanged.
        False for models that ignore the mask (recurrent and state-space models, some encoders): prompts
        then share a batch only with prompts of their own length.
    """

    kv_cache: bool = True
    padding: bool = True


def _agree(logits, expected):
    tolerance = relative_tolerance(expected.dtype) * (float(expected.abs().max()) + 1)
    return logits.shape == expected.shape and float((logits.float() - expected.float()).abs().max()) <= tolerance


def _decode_step(model, output, input_ids, attention_mask, position_ids, chosen, kv_cache, **extra):
    """One decode step: ``chosen`` (batch, 1) joins the sequence, through the key-value cache or not.

    Returns ``(output, input_ids, attention_mask, position_ids)`` for the next step. Without a usable
    cache (see :class:`DecodingChecks`) the whole sequence runs again.
    """
    attention_mask = torch.cat([attention_mask, attention_mask.new_ones(chosen.shape)], dim=1)
    if kv_cache:
        input_ids, position_ids = chosen, position_ids[:, -1:] + 1
        past = {"past_key_values": output.past_key_values}
    else:
        input_ids = torch.cat([input_ids, chosen], dim=1)
        position_ids = torch.cat([position_ids, position_ids[:, -1:] + 1], dim=1)
        past = {}
    output = model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=kv_cache,
        **past, **extra,
    )
    return output, input_ids, attention_mask, position_ids


def _last_logits_after_step(loaded, batch_ids, next_token, kv_cache):
    """Last logits after a prefill and one decode step, taken as the decode loop takes them."""
    input_ids, attention_mask, position_ids = left_padded_batch(loaded, batch_ids)
    output = loaded.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=kv_cache)
    chosen = torch.full((len(batch_ids), 1), next_token, dtype=torch.long, device=input_ids.device)
    output, *_ = _decode_step(loaded.model, output, input_ids, attention_mask, position_ids, chosen, kv_cache)
    return output.logits[:, -1]


@torch.inference_mode()
def check_decoding(loaded, probe_ids):
    """Measure, on a short probe, whether caching and left padding keep a model's logits exact.

    The probe is decoded one step the decode loop's way, with the key-value cache and alone, against the
    whole sequence without a cache; then beside a longer prompt, left-padded.

    Parameters
    ----------
    loaded : LoadedModel
        The model and tokenizer.
    probe_ids : list of int
        At least two token ids.

    Returns
    -------
    checks : DecodingChecks
    """
    next_token = probe_ids[-1]
    expected = _last_logits_after_step(loaded, [probe_ids], next_token, kv_cache=False)
    try:
        kv_cache = _agree(_last_logits_after_step(loaded, [probe_ids], next_token, kv_cache=True), expected)
    except Exception:  # a cache this plain call cannot drive: decode without it
        kv_cache = False
    longer = list(probe_ids) + list(probe_ids[-2:])
    try:
        padding = _agree(_last_logits_after_step(loaded, [probe_ids, longer], next_token, kv_cache)[:1], expected)
    except Exception:
        padding = False
    return DecodingChecks(kv_cache=bool(kv_cache), padding=bool(padding))


def _equal_length_runs(token_ids, members):
    """Split a batch into runs of prompts of one length (members come sorted by length)."""
    runs = {}
    for index in members:
        runs.setdefault(len(token_ids[index]), []).append(index)
    return list(runs.values())


class _ResidualRecorder:
    """Forward hooks that copy the newest position's residual stream of chosen blocks into a buffer.

    The buffer may sit on another device than the blocks (a model split by ``device_map``): the copies
    move the rows there. ``last``, when given, receives the last block's output at each step.
    """

    def __init__(self, adapter, include_embedding, buffer, last=None, sublayer_sites=()):
        self.buffer = buffer  # (n_slots, n_lens_layers + n_sites * L, batch, d_model)
        self.slot = 0
        self.handles = []
        offset = 1 if include_embedding else 0
        if include_embedding:
            self.handles.append(
                adapter.blocks[0].register_forward_pre_hook(self._entering_hook(), with_kwargs=True)
            )
        for index, block in enumerate(adapter.blocks[:-1]):
            self.handles.append(block.register_forward_hook(self._leaving_hook(offset + index)))
        # Each sublayer site fills L further rows, one per block, after the block rows.
        row = offset + adapter.n_layers - 1
        for site in sublayer_sites:
            for module in adapter.sublayers[site]:
                self.handles.append(module.register_forward_hook(self._site_hook(row)))
                row += 1
        if last is not None:

            def keep_last(module, args, output):
                last.copy_(block_output(output)[:, -1])

            self.handles.append(adapter.blocks[-1].register_forward_hook(keep_last))

    def _entering_hook(self):
        def hook(module, args, kwargs):
            self.buffer[self.slot, 0].copy_(block_input(args, kwargs)[:, -1])

        return hook

    def _leaving_hook(self, layer):
        def hook(module, args, output):
            self.buffer[self.slot, layer].copy_(block_output(output)[:, -1])

        return hook

    def _site_hook(self, row):
        def hook(module, args, output):
            self.buffer[self.slot, row].copy_(site_stream(output, self.buffer.shape[2])[:, -1])

        return hook

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _next_tokens(logits, temperature, generators):
    """Greedy argmax, or a sample of softmax(logits / temperature) through the exponential race."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    race = torch.stack([torch.empty_like(row).exponential_(generator=gen) for row, gen in zip(logits, generators)])
    return (logits / temperature - race.log()).argmax(dim=-1)


@torch.inference_mode()
def _profile_batch(loaded, lens, batch_ids, seeds, spec, plan):
    """Decode one batch; return float64 values (batch, statistics, n_tokens, layers) and tokens (batch, n_tokens)."""
    model, adapter = loaded.model, loaded.adapter
    n_tokens, statistics, temperature = spec.n_tokens, spec.statistics, spec.temperature
    lens_device = lens.device
    batch = len(batch_ids)
    input_ids, attention_mask, position_ids = left_padded_batch(loaded, batch_ids)

    record_embedding = records_embedding(spec.include_embedding, statistics)
    lens_layers = list(range(0 if record_embedding else 1, adapter.n_layers))
    n_lens = len(lens_layers)
    sublayer_sites = spec.sublayer_sites
    all_blocks = list(range(1, adapter.n_layers + 1))  # a sublayer site reads every block through the lens
    n_rows = n_lens + len(sublayer_sites) * adapter.n_layers
    vocab_size = lens.vocab_size
    slots = math.ceil(plan.row_tile / max(1, n_rows * batch))
    slots = max(1, min(n_tokens, slots, plan.whole_row_bytes // (batch * vocab_size * 4)))
    hidden_size = adapter.width
    buffer = torch.empty((slots, n_rows, batch, hidden_size), dtype=loaded.dtype, device=lens_device)
    final_buffer = torch.empty((slots, batch, vocab_size), dtype=torch.float32, device=lens_device)
    # Low-precision output logits are rounded to the weights' dtype; the final layer's statistics are
    # then taken from the lens of the last block in float32, like every other layer.
    last_hidden = None
    if loaded.dtype != torch.float32:
        last_hidden = torch.empty((batch, hidden_size), dtype=loaded.dtype, device=lens_device)
    values = {name: torch.empty((n_tokens, n_lens + 1, batch), dtype=torch.float64) for name in statistics}
    for site in sublayer_sites:
        values.update({site_statistic(site, name): torch.empty((n_tokens, adapter.n_layers, batch), dtype=torch.float64)
                       for name in statistics})
    tokens = torch.empty((batch, n_tokens), dtype=torch.long)
    generators = None
    if temperature > 0:
        generators = [torch.Generator(device=lens_device).manual_seed(int(seed)) for seed in seeds]

    frequency_ranks = None
    if spec.frequency_ranks is not None:
        frequency_ranks = torch.as_tensor(np.asarray(spec.frequency_ranks), dtype=torch.int64, device=lens_device)
    kv_cache = (loaded.decoding or DecodingChecks()).kv_cache
    extra = {}
    if "logits_to_keep" in loaded.forward_parameters:
        extra["logits_to_keep"] = 1
    recorder = _ResidualRecorder(adapter, record_embedding, buffer, last_hidden, sublayer_sites)
    try:
        output = model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=kv_cache, **extra
        )
        flushed = 0
        for step in range(n_tokens):
            slot = step - flushed
            if last_hidden is None:
                final_buffer[slot].copy_(output.logits[:, -1])
                chosen = _next_tokens(final_buffer[slot], temperature, generators)
            else:
                final_buffer[slot].copy_(lens.logits(last_hidden, [adapter.n_layers], plan.vocab_chunk))
                chosen = _next_tokens(output.logits[:, -1].to(lens_device, torch.float32), temperature, generators)
            tokens[:, step] = chosen.cpu()
            if slot + 1 == slots or step == n_tokens - 1:
                options = dict(statistics=statistics, alpha=spec.entropy_alpha, top_p=spec.top_p,
                               vocab_chunk=plan.vocab_chunk, max_block_bytes=plan.whole_row_bytes,
                               frequency_ranks=frequency_ranks)
                if "block" in spec.sites:
                    computed = lens_statistics(
                        lens, buffer[: slot + 1, :n_lens], lens_layers, final_buffer[: slot + 1], **options
                    )
                    for name, value in computed.items():
                        values[name][flushed : step + 1] = value.cpu()
                for k, site in enumerate(sublayer_sites):
                    rows = buffer[: slot + 1, n_lens + k * adapter.n_layers : n_lens + (k + 1) * adapter.n_layers]
                    computed = lens_statistics(lens, rows, all_blocks, final_buffer[: slot + 1], **options)
                    for name, value in computed.items():  # every block is a lens row; drop the final layer
                        values[site_statistic(site, name)][flushed : step + 1] = value[:, :-1].cpu()
                flushed = step + 1
            if step == n_tokens - 1:
                break
            recorder.slot = (step + 1) % slots
            output, input_ids, attention_mask, position_ids = _decode_step(
                model, output, input_ids, attention_mask, position_ids, chosen[:, None].to(loaded.device), kv_cache,
                **extra,
            )
    finally:
        recorder.remove()
    dropped = int(record_embedding and not spec.include_embedding)
    names = spec.result_statistics
    out = np.empty((batch, len(names), n_tokens, n_lens + 1 - dropped), dtype=np.float64)
    for k, name in enumerate(names):
        value = values[name]
        site, statistic = split_site(name)
        first_layer_value = declaration(statistic).first_layer_value
        if first_layer_value is not None and (spec.include_embedding or site != "block"):
            # the embedding layer, or a sublayer site's first block, has no predecessor to compare with
            value[:, 0] = first_layer_value
        # (n_tokens, layers, batch) -> (batch, n_tokens, layers)
        out[:, k] = (value[:, dropped:] if site == "block" else value).permute(2, 0, 1).numpy()
    return out, tokens.numpy()


def _profile_members(loaded, lens, token_ids, members, seeds, spec, plan):
    """Profile prompts ``members`` in one batch; on a device out of memory, in two halves instead.

    Returns a list of ``(members, values, tokens)``, one per batch actually run.
    """
    try:
        values, tokens = _profile_batch(
            loaded, lens, [token_ids[i] for i in members], [seeds[i] for i in members], spec, plan
        )
        return [(members, values, tokens)]
    except torch.OutOfMemoryError as exc:
        lengths = max(len(token_ids[i]) for i in members)
        if len(members) == 1:
            raise MemoryError(
                f"Out of memory on {loaded.adapter.device} profiling one prompt of {lengths} tokens with "
                f"n_tokens={spec.n_tokens}: lower n_tokens or vocab_chunk, load the weights in "
                "bfloat16, or spread the model over more devices with model_kwargs={'device_map': 'auto'}."
            ) from exc
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    half = len(members) // 2
    warnings.warn(
        f"Out of memory with a batch of {len(members)} prompts on {loaded.adapter.device}; retrying in batches "
        f"of {half} and {len(members) - half} (set batch_size lower to avoid the retry).",
        RuntimeWarning,
        stacklevel=user_stacklevel(),
    )
    return _profile_members(loaded, lens, token_ids, members[:half], seeds, spec, plan) + _profile_members(
        loaded, lens, token_ids, members[half:], seeds, spec, plan
    )


def decode_batches(loaded, lens, token_ids, seeds, batches, spec, plan, on_batch=None):
    """Run the decode loop over given batches of prompts.

    Parameters
    ----------
    loaded : LoadedModel
        The model and tokenizer.
    lens : Lens
        The lens applied to every block but the last.
    token_ids : list of list of int
        Prompt token ids.
    seeds : list of int
        One sampling seed per prompt (ignored for greedy decoding).
    batches : list of list of int
        Indices into ``token_ids``, one list per forward batch (the runner's order and batch size).
    spec : ProfileSpec
        What to compute.
    plan : EnginePlan
        Lens tiles and buffer bounds.
    on_batch : callable or None, default=None
        Called with the number of prompts finished after each batch.

    Returns
    -------
    values : ndarray of shape (n_prompts, n_statistics, n_tokens, n_layers)
        Float64 statistics.
    tokens : ndarray of shape (n_prompts, n_tokens)
        Generated token ids.
    """
    n_layers = len(spec.layers(loaded.n_layers))
    values = np.empty((len(token_ids), len(spec.result_statistics), spec.n_tokens, n_layers), dtype=np.float64)
    tokens = np.empty((len(token_ids), spec.n_tokens), dtype=np.int64)
    with loaded.lock:
        exact_padding = (loaded.decoding or DecodingChecks()).padding
        for batch in batches:
            for members in [batch] if exact_padding else _equal_length_runs(token_ids, batch):
                for run, profile, generated in _profile_members(loaded, lens, token_ids, members, seeds, spec, plan):
                    values[run] = profile
                    tokens[run] = generated
                    if on_batch is not None:
                        on_batch(len(run))
    finite = np.isfinite(values).all(axis=(2, 3))
    if not finite.all():
        bad, statistic = (int(index) for index in np.argwhere(~finite)[0])
        raise FloatingPointError(
            f"The model produced non-finite logits (first for prompt {bad}, in {spec.result_statistics[statistic]}) "
            f"with dtype {loaded.dtype}; float16 overflows in some models: use dtype='float32' or 'bfloat16'."
        )
    return values, tokens
