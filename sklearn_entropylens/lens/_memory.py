"""How many prompts and vocabulary columns the lens engine takes at once, chosen from free memory.

The engine's memory has two parts. One grows with the batch: each prompt's KV cache over its prompt
and generated tokens, the prefill activations (attention scores grow with the square of the prompt
length) and the model's output logits. The other is the lens itself, which does not grow with the
batch: the buffered residual streams, a tile of (rows x vocabulary columns) float32 logits with its
temporaries, the buffered final-layer logits and, for the top-p statistics, whole-vocabulary rows. Both
are bounded here against a fraction of the memory that is free when profiling starts.
"""

from dataclasses import dataclass

from ._tracing import text_config

# On a CPU the GEMMs are at their peak from about 8 prompts on: bigger batches only pad more.
_MAX_BATCH = {"cpu": 8, "cuda": 64}
# Rows per lens tile and vocabulary columns per tile, before any memory bound. On CPU a tile of about
# 2,000 x 1,024 float32 logits stays in cache while it is reduced; on a GPU larger tiles fill the device.
_ROW_TILE = {"cpu": 2048, "cuda": 8192}
_VOCAB_CHUNK = {"cpu": 1024, "cuda": 16384}
_MIN_VOCAB_CHUNK = 256
# Share of the free memory the engine plans to use: the rest is for the allocator's fragmentation, the
# framework and whatever else runs.
_MEMORY_FRACTION = 0.5
# The buffered final-layer logits and the whole-vocabulary rows of the top-p statistics stay within this.
WHOLE_ROW_BYTES = 256 * 2**20
# Float32 copies a lens tile needs while it is reduced (the logits, their exponentials, a product).
_TILE_COPIES = 3


@dataclass(frozen=True)
class EnginePlan:
    """Batch size, tile shape and buffer bounds of one profiling run."""

    batch_size: int
    row_tile: int
    vocab_chunk: int
    whole_row_bytes: int


def default_batch_size(device):
    """Sequences per forward pass when nothing else decides: 8 on a CPU, 64 on a GPU."""
    return _MAX_BATCH["cuda" if device.type == "cuda" else "cpu"]


def free_memory(device):
    """Bytes free for new tensors on ``device``: CUDA's free memory, or the host's available memory."""
    import torch

    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        # Memory the caching allocator holds but does not use is free to this process too.
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    import psutil

    return int(psutil.virtual_memory().available)


def _config_value(config, *names, default=None):
    for name in names:
        try:
            value = getattr(config, name, None)
        except Exception:  # transformers refuses global reads of per-layer values (Gemma-4): estimate without
            value = None
        if isinstance(value, int) and value > 0:
            return value
    return default


def prompt_bytes(loaded, *, prompt_length, n_tokens):
    """Estimated bytes one prompt adds to a batch: its KV cache, prefill activations and logits."""
    config = text_config(loaded.model.config)
    hidden = _config_value(config, "hidden_size", "n_embd", "d_model", default=1)
    heads = _config_value(config, "num_attention_heads", "n_head", "num_heads", default=1)
    kv_heads = _config_value(config, "num_key_value_heads", default=heads)
    head_dim = _config_value(config, "head_dim", default=max(1, hidden // heads))
    intermediate = _config_value(config, "intermediate_size", "ffn_dim", "n_inner", default=4 * hidden)
    itemsize = loaded.dtype.itemsize
    length = prompt_length + n_tokens
    kv_cache = 2 * loaded.n_layers * kv_heads * head_dim * length * itemsize
    prefill = prompt_length * (8 * hidden + 4 * intermediate) * itemsize + heads * prompt_length**2 * 4
    logits_rows = 1 if "logits_to_keep" in loaded.forward_parameters else prompt_length
    logits = 2 * logits_rows * loaded.vocab_size * 4
    return kv_cache + prefill + logits


def plan_engine(loaded, *, prompt_length, n_tokens, n_lens, whole_rows, batch_size="auto", vocab_chunk="auto",
                available=None):
    """Choose the batch size and lens tile of a run from the memory free on the lens device.

    Parameters
    ----------
    loaded : LoadedModel
        The model.
    prompt_length : int
        The longest prompt, in tokens.
    n_tokens : int
        Profiled positions per prompt.
    n_lens : int
        Lens layers per position (the blocks but the last, and the embedding layer when recorded).
    whole_rows : bool
        Whether top-p statistics need whole-vocabulary rows.
    batch_size, vocab_chunk : int or "auto", default="auto"
        A given int is kept; ``"auto"`` is the largest power of two (at most 8 on CPU, 64 on a GPU)
        whose estimated peak fits, or the largest chunk (at most 1,024 columns on CPU, 16,384 on a GPU)
        whose tile fits.
    available : int or None, default=None
        Free bytes to plan for; measured on the lens device when None.

    Returns
    -------
    plan : EnginePlan
        The batch size, rows per lens tile, vocabulary columns per tile and the bound on whole-row
        buffers.
    """
    device = loaded.adapter.device
    kind = "cuda" if device.type == "cuda" else "cpu"
    if available is None:
        available = free_memory(device)
    budget = max(1, int(available * _MEMORY_FRACTION))
    vocab_size, hidden = loaded.vocab_size, loaded.adapter.unembedding.weight.shape[1]
    # Half of the budget for the lens, whose needs do not grow with the batch.
    lens_budget = budget // 2
    row_tile = _ROW_TILE[kind]
    while row_tile > 256 and row_tile * hidden * loaded.dtype.itemsize > lens_budget // 4:
        row_tile //= 2
    whole_row_bytes = min(WHOLE_ROW_BYTES, max(vocab_size * 4, lens_budget // (4 * _TILE_COPIES)))
    if vocab_chunk == "auto":
        vocab_chunk = min(_VOCAB_CHUNK[kind], vocab_size)
        rows = max(row_tile, n_lens * (1 if batch_size == "auto" else batch_size))
        while vocab_chunk > _MIN_VOCAB_CHUNK and rows * vocab_chunk * 4 * _TILE_COPIES > lens_budget // 2:
            vocab_chunk //= 2
    if batch_size == "auto":
        per_prompt = prompt_bytes(loaded, prompt_length=prompt_length, n_tokens=n_tokens)
        per_prompt += n_lens * vocab_chunk * 4 * _TILE_COPIES  # rows beyond the row tile
        batch_size = _MAX_BATCH[kind]
        while batch_size > 1 and batch_size * per_prompt > budget - lens_budget:
            batch_size //= 2
    return EnginePlan(
        batch_size=int(batch_size), row_tile=row_tile, vocab_chunk=int(vocab_chunk), whole_row_bytes=whole_row_bytes
    )

