"""The lens engine: batched KV-cache generation with per-block logit-lens entropies.

Positions follow the reference: position 0 is the last prompt token, position ``t`` the ``t``-th
generated token, so ``n_tokens`` positions take ``n_tokens`` generated tokens and ``n_tokens - 1``
decoding steps (the last generated token is never run through the model).

At each step forward hooks copy, for the newest position only, the residual stream leaving blocks
``1 .. L-1`` (and entering block 1 when the embedding layer is asked for) into a small ring buffer.
Block ``L`` needs no lens: its distribution is the model's own output, whose logits are already
final-normed (and soft-capped). Every few steps the buffered rows, from several steps, layers and
prompts at once, go through the final norm and the unembedding in tiles of rows x vocabulary columns,
each tile reduced at once by :class:`StreamingEntropy`; large row tiles keep the matmul efficient and no
(tokens, layers, vocab) tensor ever exists.

Batches are left-padded with explicit position ids and attention masks, so a profile does not depend on
the batch size or on the other prompts of its batch.
"""

import math
import warnings

import numpy as np
import torch

from ._adapters import block_input, block_output
from ._memory import plan_engine
from ._statistics import TOP_P_STATISTICS, LensStatistics

# Whether this process's torch can multiply bfloat16/float16 matrices into float32 on CUDA.
_MIXED_MM = {}


def encode_prompts(loaded, prompts, *, n_tokens, chat_template=False, truncation=None):
    """Tokenize prompts for profiling.

    Parameters
    ----------
    loaded : LoadedModel
        The model and tokenizer.
    prompts : list of str
        Validated prompts.
    n_tokens : int
        Number of profiled positions; the prompt plus ``n_tokens - 1`` generated tokens must fit the
        model's context.
    chat_template : bool, default=False
        Wrap each prompt as a user message with the tokenizer's chat template.
    truncation : {None, "left"}, default=None
        What to do with a prompt too long for the context: raise (None) or keep its end (``"left"``).

    Returns
    -------
    token_ids : list of list of int
        Token ids of each prompt; an empty prompt is the BOS token alone (EOS without a BOS).
    """
    tokenizer = loaded.tokenizer
    if chat_template and not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"chat_template=True, but the tokenizer of {loaded.name!r} has no chat template.")
    limit = None
    if loaded.context_length is not None:
        limit = loaded.context_length - (n_tokens - 1)
        if limit < 1:
            raise ValueError(
                f"n_tokens={n_tokens} does not fit the context of {loaded.name!r} "
                f"({loaded.context_length} tokens)."
            )
    start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    encoded, truncated = [], []
    for index, prompt in enumerate(prompts):
        if chat_template:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
            )
            if not isinstance(ids, list):
                ids = ids["input_ids"]
        else:
            ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        ids = list(ids)
        if not ids:
            if start_id is None:
                raise ValueError(f"Prompt {index} is empty and the tokenizer has neither a BOS nor an EOS token.")
            ids = [start_id]
        if limit is not None and len(ids) > limit:
            if truncation != "left":
                raise ValueError(
                    f"Prompt {index} has {len(ids)} tokens; with n_tokens={n_tokens} it exceeds the "
                    f"{loaded.context_length}-token context of {loaded.name!r}. Shorten it, lower "
                    "n_tokens, or pass truncation='left' to keep its last tokens."
                )
            ids = ids[-limit:]
            truncated.append(index)
        encoded.append(ids)
    if truncated:
        warnings.warn(
            f"{len(truncated)} prompt(s) (first: index {truncated[0]}) were longer than the context "
            f"allows and were truncated from the left to {limit} tokens.",
            UserWarning,
            stacklevel=3,
        )
    return encoded


def _lens_matmul(normed, rows, out):
    """``normed @ rows.T`` in float32 whatever the weights' dtype; returns the result (``out`` or new).

    Products of bfloat16 or float16 numbers are exact in float32, so accumulating them in float32 loses
    nothing: on CUDA the low-precision GEMM writes float32 directly, elsewhere both sides are upcast.
    """
    if normed.dtype == torch.float32 and rows.dtype == torch.float32:
        return torch.mm(normed, rows.t(), out=out)
    if normed.device.type == "cuda" and _MIXED_MM.get(normed.dtype, True):
        try:
            return torch.mm(normed, rows.t(), out_dtype=torch.float32)
        except (TypeError, RuntimeError, NotImplementedError):
            _MIXED_MM[normed.dtype] = False
    return torch.mm(normed.float(), rows.float().t(), out=out)


class _RowWriter:
    """An accumulator that keeps the streamed logits: whole float32 rows of the lens."""

    def __init__(self, out):
        self.out = out

    def update(self, logits, start):
        self.out[:, start : start + logits.shape[1]].copy_(logits)


def _stream_lens(adapter, normed, accumulator, vocab_chunk):
    """Feed float32 ``softcap(unembed(normed))`` to an accumulator in tiles of ``vocab_chunk`` columns."""
    weight = adapter.unembedding.weight
    bias = getattr(adapter.unembedding, "bias", None)
    n_rows, vocab_size = normed.shape[0], weight.shape[0]
    if normed.device.type != "cuda" and normed.dtype != torch.float32:
        normed = normed.float()  # once, not per tile
    tile = torch.empty(n_rows, min(vocab_chunk, vocab_size), dtype=torch.float32, device=normed.device)
    for start in range(0, vocab_size, vocab_chunk):
        rows = weight[start : start + vocab_chunk]
        out = tile if rows.shape[0] == tile.shape[1] else torch.empty(
            n_rows, rows.shape[0], dtype=torch.float32, device=normed.device
        )
        logits = _lens_matmul(normed, rows, out)
        if bias is not None:
            logits += bias[start : start + vocab_chunk].float()
        accumulator.update(adapter.cap(logits), start)


def full_lens_logits(adapter, hidden, vocab_chunk):
    """Float32 lens logits of raw residual streams ``hidden`` (rows, d), computed in vocabulary tiles."""
    normed = adapter.normalize(hidden)
    out = torch.empty(normed.shape[0], adapter.vocab_size, dtype=torch.float32, device=normed.device)
    _stream_lens(adapter, normed, _RowWriter(out), vocab_chunk)
    return out


def _target_logits(adapter, normed, targets):
    """Lens logits of the final top-1 tokens: ``normed`` (P, K, B, d), ``targets`` (P, B) -> (P, K, B)."""
    weight = adapter.unembedding.weight[targets]  # (P, B, d)
    logits = torch.einsum("pkbd,pbd->pkb", normed.float(), weight.float())
    bias = getattr(adapter.unembedding, "bias", None)
    if bias is not None:
        logits += bias[targets][:, None, :].float()
    return adapter.cap(logits)


def _overlap(membership, previous):
    """``|S ∩ S_prev| / |S_prev|`` for boolean memberships of the same shape, along the last axis."""
    shared = (membership & previous).sum(dim=-1, dtype=torch.float64)
    return shared / previous.sum(dim=-1, dtype=torch.float64)


def _records_embedding(include_embedding, statistics):
    """Whether the embedding layer is recorded: asked for, or the predecessor of block 1's overlap."""
    return include_embedding or "top_p_overlap" in statistics


def _needs_whole_rows(statistics):
    """Whether the statistics need whole-vocabulary rows (the top-p candidate sets)."""
    return bool(set(TOP_P_STATISTICS) & set(statistics))


def lens_statistics(adapter, residuals, final_logits, *, statistics, alpha, top_p, vocab_chunk, max_block_bytes):
    """Statistics of the lens of buffered residuals and of the final layer, for several positions.

    Parameters
    ----------
    adapter : LensAdapter
        The model's final norm and unembedding.
    residuals : torch.Tensor of shape (positions, n_lens, batch, d_model)
        Raw residual streams of the lens layers (every layer but the last).
    final_logits : torch.Tensor of shape (positions, batch, vocab_size)
        The model's own output logits (the last layer), float32.
    statistics : tuple of str
        Statistic names; ``top_p_overlap`` of lens layer 0 is left to the caller (no predecessor).
    alpha, top_p : float
        Renyi order and candidate-set mass.
    vocab_chunk : int
        Columns per tile when whole rows are not needed.
    max_block_bytes : int
        Bound on the whole-row logits held at once for the top-p statistics.

    Returns
    -------
    values : dict of str -> torch.Tensor of shape (positions, n_lens + 1, batch)
        Float64 statistics, the final layer last. For ``top_p_overlap`` entry ``k`` compares layer ``k``
        with layer ``k - 1``; entry 0 is NaN.
    """
    n_positions, n_lens, batch, _ = residuals.shape
    device = residuals.device
    wants = set(statistics)
    targets = final_logits.argmax(dim=-1)  # (P, B)
    extra = {}
    final_log_probs = None
    if "kl_to_final" in wants:
        final_log_probs = torch.log_softmax(final_logits, dim=-1)
        final_probabilities = final_log_probs.exp()
        extra["final_probabilities"] = final_probabilities[:, None]
        extra["final_negative_entropy"] = (final_probabilities.double() * final_log_probs.double()).sum(-1)[:, None]
    normed = adapter.normalize(residuals)
    if "final_token_rank" in wants or "top1_agreement" in wants:
        extra["targets"] = targets[:, None]
        extra["target_logits"] = _target_logits(adapter, normed, targets)
    lens_names = tuple(name for name in statistics if name != "top_p_overlap")
    if "top_p_overlap" in wants and "top_p_size" not in wants:
        lens_names += ("top_p_size",)

    values = {}
    if not _needs_whole_rows(statistics):
        accumulator = LensStatistics((n_positions, n_lens, batch), lens_names, alpha=alpha, device=device, **extra)
        _stream_lens(adapter, normed.reshape(-1, normed.shape[-1]), accumulator, vocab_chunk)
        lens_values = accumulator.result()
        final_values = _final_statistics(final_logits, statistics, alpha, None)[0]
        for name in statistics:
            values[name] = torch.cat([lens_values[name], final_values[name][:, None, :]], dim=1)
        return values

    # Whole rows: one position and a slice of the batch at a time, all its layers together, so that the
    # candidate sets of consecutive layers can be compared.
    vocab_size = final_logits.shape[-1]
    per_prompt = (n_lens + 1) * vocab_size * 4
    step = max(1, min(batch, max_block_bytes // per_prompt))
    out = {name: torch.empty((n_positions, n_lens + 1, batch), dtype=torch.float64) for name in statistics}
    for position in range(n_positions):
        for first in range(0, batch, step):
            members = slice(first, min(batch, first + step))
            width = members.stop - members.start
            block_extra = {key: value[position : position + 1, :, members] for key, value in extra.items()}
            accumulator = LensStatistics(
                (1, n_lens, width), lens_names, alpha=alpha, device=device, top_p=top_p, **block_extra
            )
            rows = normed[position, :, members].reshape(-1, normed.shape[-1])
            _stream_lens(adapter, rows, accumulator, vocab_size)
            lens_values = accumulator.result()
            final_values, final_membership = _final_statistics(
                final_logits[position : position + 1, members], statistics, alpha, top_p
            )
            for name in statistics:
                if name == "top_p_overlap":
                    continue
                out[name][position, :n_lens, members] = lens_values[name][0].cpu()
                out[name][position, n_lens, members] = final_values[name][0].cpu()
            if "top_p_overlap" in wants:
                membership = torch.cat(
                    [accumulator.membership.reshape(n_lens, width, vocab_size), final_membership.reshape(1, width, vocab_size)]
                )
                overlap = torch.full((n_lens + 1, width), math.nan, dtype=torch.float64)
                overlap[1:] = _overlap(membership[1:], membership[:-1]).cpu()
                out["top_p_overlap"][position, :, members] = overlap
    return out


def _final_statistics(final_logits, statistics, alpha, top_p):
    """Statistics of the model's own distribution, of shape ``final_logits.shape[:-1]``."""
    shape = final_logits.shape[:-1]
    names = tuple(name for name in statistics if name in ("entropy", "top_p_size", "top_p_overlap"))
    names = tuple(dict.fromkeys("top_p_size" if name == "top_p_overlap" else name for name in names))
    accumulator = LensStatistics(shape, names, alpha=alpha, device=final_logits.device, top_p=top_p)
    rows = final_logits.reshape(-1, final_logits.shape[-1])
    accumulator.update(rows.clone() if "entropy" in names else rows, 0)
    values = accumulator.result()
    # The final layer is its own reference.
    values["kl_to_final"] = torch.zeros(shape, dtype=torch.float64)
    values["final_token_rank"] = torch.ones(shape, dtype=torch.float64)
    values["top1_agreement"] = torch.ones(shape, dtype=torch.float64)
    return values, accumulator.membership


class _ResidualRecorder:
    """Forward hooks that copy the newest position's residual stream of chosen blocks into a buffer.

    The buffer may sit on another device than the blocks (a model split by ``device_map``): the copies
    move the rows there. ``last``, when given, receives the last block's output at each step.
    """

    def __init__(self, adapter, include_embedding, buffer, last=None):
        self.buffer = buffer  # (n_slots, n_lens_layers, batch, d_model)
        self.slot = 0
        self.handles = []
        offset = 1 if include_embedding else 0
        if include_embedding:
            self.handles.append(
                adapter.blocks[0].register_forward_pre_hook(self._entering_hook(), with_kwargs=True)
            )
        for index, block in enumerate(adapter.blocks[:-1]):
            self.handles.append(block.register_forward_hook(self._leaving_hook(offset + index)))
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


def left_padded_batch(loaded, batch_ids):
    """Left-pad token ids into ``(input_ids, attention_mask, position_ids)`` on the model's device.

    Position ids count real tokens only, so a prompt's numbers do not depend on its batch mates.
    """
    batch = len(batch_ids)
    width = max(len(ids) for ids in batch_ids)
    pad_id = loaded.tokenizer.pad_token_id
    pad_id = pad_id if pad_id is not None else (loaded.tokenizer.eos_token_id or 0)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    for row, ids in enumerate(batch_ids):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    input_ids, attention_mask = input_ids.to(loaded.device), attention_mask.to(loaded.device)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


@torch.inference_mode()
def _profile_batch(loaded, batch_ids, *, plan, n_tokens, alpha, include_embedding, temperature, seeds, statistics,
                   top_p):
    model, adapter = loaded.model, loaded.adapter
    lens_device = adapter.device
    batch = len(batch_ids)
    input_ids, attention_mask, position_ids = left_padded_batch(loaded, batch_ids)

    record_embedding = _records_embedding(include_embedding, statistics)
    n_lens = adapter.n_layers - 1 + int(record_embedding)
    vocab_size = adapter.vocab_size
    slots = math.ceil(plan.row_tile / max(1, n_lens * batch))
    slots = max(1, min(n_tokens, slots, plan.whole_row_bytes // (batch * vocab_size * 4)))
    hidden_size = _hidden_size(model)
    buffer = torch.empty((slots, n_lens, batch, hidden_size), dtype=loaded.dtype, device=lens_device)
    final_buffer = torch.empty((slots, batch, vocab_size), dtype=torch.float32, device=lens_device)
    # Low-precision output logits are rounded to the weights' dtype; the final layer's statistics are
    # then taken from the lens of the last block in float32, like every other layer.
    last_hidden = None
    if loaded.dtype != torch.float32:
        last_hidden = torch.empty((batch, hidden_size), dtype=loaded.dtype, device=lens_device)
    values = {name: torch.empty((n_tokens, n_lens + 1, batch), dtype=torch.float64) for name in statistics}
    tokens = torch.empty((batch, n_tokens), dtype=torch.long)
    generators = None
    if temperature > 0:
        generators = [torch.Generator(device=lens_device).manual_seed(int(seed)) for seed in seeds]

    extra = {"use_cache": True}
    if "logits_to_keep" in loaded.forward_parameters:
        extra["logits_to_keep"] = 1
    recorder = _ResidualRecorder(adapter, record_embedding, buffer, last_hidden)
    try:
        output = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **extra)
        flushed = 0
        for step in range(n_tokens):
            slot = step - flushed
            if last_hidden is None:
                final_buffer[slot].copy_(output.logits[:, -1])
                chosen = _next_tokens(final_buffer[slot], temperature, generators)
            else:
                final_buffer[slot].copy_(full_lens_logits(adapter, last_hidden, plan.vocab_chunk))
                chosen = _next_tokens(output.logits[:, -1].to(lens_device, torch.float32), temperature, generators)
            tokens[:, step] = chosen.cpu()
            if slot + 1 == slots or step == n_tokens - 1:
                computed = lens_statistics(
                    adapter,
                    buffer[: slot + 1],
                    final_buffer[: slot + 1],
                    statistics=statistics,
                    alpha=alpha,
                    top_p=top_p,
                    vocab_chunk=plan.vocab_chunk,
                    max_block_bytes=plan.whole_row_bytes,
                )
                for name, value in computed.items():
                    values[name][flushed : step + 1] = value.cpu()
                flushed = step + 1
            if step == n_tokens - 1:
                break
            recorder.slot = (step + 1) % slots
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((batch, 1))], dim=1)
            position_ids = position_ids[:, -1:] + 1
            output = model(
                input_ids=chosen[:, None].to(loaded.device),
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=output.past_key_values,
                **extra,
            )
    finally:
        recorder.remove()
    dropped = int(record_embedding and not include_embedding)
    out = {}
    for name, value in values.items():
        if name == "top_p_overlap" and include_embedding:
            value[:, 0] = 1.0  # the embedding layer has no predecessor: a set overlaps itself fully
        # (n_tokens, layers, batch) -> (batch, n_tokens, layers)
        out[name] = value[:, dropped:].permute(2, 0, 1).numpy()
    return out, tokens.numpy()


def _hidden_size(model):
    config = model.config
    for attr in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, attr, None)
        if isinstance(value, int):
            return value
    return model.get_input_embeddings().weight.shape[1]


def canonical_order(token_ids, seeds=None):
    """The order in which prompts are batched: by length, then content, then seed.

    Similar lengths share a batch, so little compute is spent on padding; ordering by content too makes
    the batches, hence the floating-point rounding, independent of the order of the input.
    """
    seeds = [0] * len(token_ids) if seeds is None else seeds
    return sorted(range(len(token_ids)), key=lambda i: (len(token_ids[i]), token_ids[i], seeds[i]))


def plan_profiling(loaded, token_ids, *, n_tokens, statistics, include_embedding, batch_size="auto",
                   vocab_chunk="auto"):
    """The engine's batch size and lens tile for these prompts (see :func:`~._memory.plan_engine`)."""
    n_lens = loaded.n_layers - 1 + int(_records_embedding(include_embedding, statistics))
    return plan_engine(
        loaded,
        prompt_length=max((len(ids) for ids in token_ids), default=1),
        n_tokens=n_tokens,
        n_lens=n_lens,
        whole_rows=_needs_whole_rows(statistics),
        batch_size=batch_size,
        vocab_chunk=vocab_chunk,
    )


def _profile_members(loaded, token_ids, members, seeds, **settings):
    """Profile prompts ``members`` in one batch; on a device out of memory, in two halves instead.

    Returns a list of ``(members, values, tokens)``, one per batch actually run.
    """
    try:
        values, tokens = _profile_batch(
            loaded, [token_ids[i] for i in members], seeds=[seeds[i] for i in members], **settings
        )
        return [(members, values, tokens)]
    except torch.OutOfMemoryError as exc:
        lengths = max(len(token_ids[i]) for i in members)
        if len(members) == 1:
            raise MemoryError(
                f"Out of memory on {loaded.adapter.device} profiling one prompt of {lengths} tokens with "
                f"n_tokens={settings['n_tokens']}: lower n_tokens or vocab_chunk, load the weights in "
                "bfloat16, or spread the model over more devices with model_kwargs={'device_map': 'auto'}."
            ) from exc
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    half = len(members) // 2
    warnings.warn(
        f"Out of memory with a batch of {len(members)} prompts on {loaded.adapter.device}; retrying in batches "
        f"of {half} and {len(members) - half} (set batch_size lower to avoid the retry).",
        RuntimeWarning,
        stacklevel=4,
    )
    return _profile_members(loaded, token_ids, members[:half], seeds, **settings) + _profile_members(
        loaded, token_ids, members[half:], seeds, **settings
    )


def profile_token_ids(
    loaded,
    token_ids,
    *,
    n_tokens,
    alpha=1.0,
    include_embedding=False,
    temperature=0.0,
    seeds=None,
    batch_size="auto",
    vocab_chunk="auto",
    on_batch=None,
    statistics=("entropy",),
    top_p=0.6,
):
    """Per-position, per-layer logit-lens statistics of generated continuations.

    Parameters
    ----------
    loaded : LoadedModel
        The model, tokenizer and adapter.
    token_ids : list of list of int
        Prompt token ids (see :func:`encode_prompts`).
    n_tokens : int
        Profiled positions per prompt.
    alpha : float, default=1.0
        Renyi order of the entropy (1 = Shannon).
    include_embedding : bool, default=False
        Add layer 0, the residual stream entering the first block.
    temperature : float, default=0.0
        0 for greedy decoding; otherwise the sampling temperature.
    seeds : sequence of int or None, default=None
        One seed per prompt for sampling; a prompt's tokens depend only on its own seed.
    batch_size : int or "auto", default="auto"
        Prompts per forward pass; ``"auto"`` chooses from the free memory (at most 8 on CPU, 64 on a
        GPU). A batch that runs out of GPU memory is retried in halves.
    vocab_chunk : int or "auto", default="auto"
        Vocabulary columns per lens tile; ``"auto"`` chooses from the free memory.
    on_batch : callable or None, default=None
        Called with the number of prompts finished after each batch (a progress bar's ``update``).
    statistics : tuple of str, default=("entropy",)
        Statistics among :data:`~sklearn_entropylens.lens._statistics.STATISTICS`.
    top_p : float, default=0.6
        Mass of the candidate sets of the top-p statistics.

    Returns
    -------
    values : dict of str -> ndarray of shape (n_prompts, n_tokens, n_layers)
        Each statistic (entropies and KL in nats); layers are ``[0,] 1, ..., L``.
    tokens : ndarray of shape (n_prompts, n_tokens)
        The generated token ids (token ``t`` is chosen from position ``t``).
    """
    n_prompts = len(token_ids)
    n_layers = loaded.n_layers + int(include_embedding)
    values = {name: np.empty((n_prompts, n_tokens, n_layers), dtype=np.float64) for name in statistics}
    tokens = np.empty((n_prompts, n_tokens), dtype=np.int64)
    if seeds is None:
        seeds = [0] * n_prompts
    statistics = tuple(statistics)
    plan = plan_profiling(
        loaded, token_ids, n_tokens=n_tokens, statistics=statistics, include_embedding=include_embedding,
        batch_size=batch_size, vocab_chunk=vocab_chunk,
    )
    order = canonical_order(token_ids, seeds)
    with loaded.lock:
        for start in range(0, n_prompts, plan.batch_size):
            batches = _profile_members(
                loaded, token_ids, order[start : start + plan.batch_size], seeds, plan=plan, n_tokens=n_tokens,
                alpha=alpha, include_embedding=include_embedding, temperature=temperature, statistics=statistics,
                top_p=top_p,
            )
            for members, profile, generated in batches:
                for name in statistics:
                    values[name][members] = profile[name]
                tokens[members] = generated
                if on_batch is not None:
                    on_batch(len(members))
    for name, value in values.items():
        if not np.isfinite(value).all():
            bad = int(np.flatnonzero(~np.isfinite(value).all(axis=(1, 2)))[0])
            raise FloatingPointError(
                f"The model produced non-finite logits (first for prompt {bad}, in {name}) with dtype "
                f"{loaded.dtype}; float16 overflows in some models: use dtype='float32' or 'bfloat16'."
            )
    return values, tokens
