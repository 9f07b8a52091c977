"""Adapters: where a causal LM keeps the modules the logit lens needs, found by tracing the model itself.

The logit lens of block ``l`` is ``finish(unembed(head(h_l)))`` (see :mod:`._lens`), where ``head`` is
whatever the model applies between its last block and its unembedding (a final norm, OPT's
``project_out``, nothing in a post-LN model) and ``finish`` is its post-processing of the unembedding's
output (Gemma-2's soft-cap, Granite's ``logits_scaling``, Cohere's ``logit_scale``). No table of model
types says where these live: :func:`get_adapter` runs one short forward pass with a hook on every module
and reads them off the calls:

- the **blocks** are the ModuleList whose elements are called once each, in order, each taking the
  previous one's output (the residual stream), one per hidden layer;
- the **head** is the chain of modules called between the last block and the unembedding, each taking
  the previous one's output, the first the last block's output, the last feeding the unembedding;
- the **unembedding** is ``get_output_embeddings()``, a linear map (with its bias, if any);
- the **post-processing** is identity, or the scaling and soft-cap the configuration declares, or a
  constant factor, whichever maps the unembedding's output onto the model's logits.

Anything else (a stream changed between blocks, a head fed by more than the stream, logits that are no
fixed function of the unembedding's output) is refused with an error that says what did not match.
:func:`verify_adapter` then checks, through the lens itself, that the last block reproduces the model's
logits: the lens never returns a silently wrong number.
"""

import re
from dataclasses import dataclass, field

import torch

# Model types whose tiny random-initialised models the test suite profiles and checks against a float64
# lens (tests/test_architectures.py); other model types are discovered and verified the same way at load.
SUPPORTED_MODEL_TYPES = (
    'afmoe', 'apertus', 'arcee', 'aria_text', 'axk1', 'axk2', 'bart', 'beam', 'bert', 'bert-generation',
    'bigbird_pegasus', 'biogpt', 'bitnet', 'blenderbot-small', 'bloom', 'codegen', 'cohere', 'cohere2',
    'cohere2_moe', 'ctrl', 'cwm', 'deepseek_v2', 'deepseek_v3', 'deepseek_v32', 'diffllama', 'doge',
    'dots1', 'electra', 'emu3', 'ernie', 'ernie4_5', 'ernie4_5_moe', 'exaone4', 'exaone_moe', 'falcon',
    'falcon_h1', 'falcon_mamba', 'flex_olmo', 'flint', 'fuyu', 'gemma', 'gemma2', 'gemma3',
    'gemma3_text', 'gemma4_unified_text', 'git', 'glm', 'glm4', 'glm4_moe', 'glm4_moe_lite',
    'glm_moe_dsa', 'got_ocr2', 'gpt-sw3', 'gpt2', 'gpt_bigcode', 'gpt_neo', 'gpt_neox',
    'gpt_neox_japanese', 'gpt_oss', 'gptj', 'granite', 'granite_swa', 'granitemoe', 'granitemoe_swa',
    'granitemoeshared', 'helium', 'hunyuan_v1_dense', 'hunyuan_v1_moe', 'hy_v3', 'hyperclovax',
    'internlm3', 'iquestcoder', 'jais2', 'jamba', 'jetmoe', 'kolibri1', 'laguna', 'lfm2', 'lfm3',
    'llama', 'llama4_text', 'mamba', 'marian', 'mbart', 'megatron-bert', 'mellum', 'mimo_v2_flash',
    'minimax', 'minimax_m2', 'minimax_m3_vl_text', 'ministral', 'ministral3', 'mistral', 'mixtral',
    'mllama', 'modernbert-decoder', 'moshi', 'moss_transcribe_diarize', 'mpt', 'mvp', 'nanochat',
    'nemotron', 'nemotron_h', 'olmo', 'olmo2', 'olmo3', 'olmo_hybrid', 'olmoe', 'openai-gpt', 'opt',
    'pegasus', 'persimmon', 'phi', 'phi3', 'phi4_multimodal', 'phimoe', 'qwen2', 'qwen2_moe', 'qwen3',
    'qwen3_5', 'qwen3_5_moe', 'qwen3_5_moe_text', 'qwen3_5_text', 'qwen3_moe', 'qwen3_next',
    'qwen4_exp', 'qwen4_exp_text', 'recurrent_gemma', 'rembert', 'roc_bert', 'roformer', 'rwkv',
    'seed_oss', 'smollm3', 'solar_open', 'stablelm', 'starcoder2', 'trocr', 'vaultgemma', 'xlstm',
    'youtu',
)


class UnsupportedArchitectureError(ValueError):
    """Raised for a model whose blocks, head or unembedding cannot be found or do not reproduce its logits."""


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
class LensAdapter:
    """The modules of a causal LM that the logit lens needs.

    Attributes
    ----------
    model_type : str
        The ``config.model_type`` of the model.
    blocks : torch.nn.ModuleList
        The decoder blocks, in order.
    head : tuple of torch.nn.Module
        The modules applied, in order, between the last block and the unembedding: the final norm and
        any projection (OPT's ``project_out``); empty for a post-LN model without a final norm.
    unembedding : torch.nn.Module
        The output embedding (``lm_head``), a linear map with an optional bias.
    softcap : float or None
        ``final_logit_softcapping`` of Gemma-2 style models: ``logits = c * tanh(logits / c)``.
    logit_scale : float or None
        A factor the model multiplies its logits by before any soft-cap, or None.
    paths : dict
        Where the modules were found: ``{"blocks": str, "head": tuple of str, "unembedding": str}``.
    width : int or None
        The width of the residual stream between blocks, as traced (not always the configuration's
        ``hidden_size``: some models carry several streams side by side).
    sublayers : dict
        ``{"attention": modules, "mlp": modules}``, one module per block whose output is what the block's
        attention (or other token mixer: Mamba, RWKV time mixing, xLSTM) and its MLP (or mixture of
        experts) add to the residual stream: the attention module, or the norm after it where the model
        normalises its output before adding it (Gemma-2 and 3, OLMo-2), or its output projection where
        the module adds the stream itself (BERT, BLOOM, MPT). A site is absent when the model has no such
        sublayer in every block (Mamba has no MLP; Nemotron-H holds one sublayer per block); see
        ``missing_sublayers``.
    missing_sublayers : dict
        Why each absent site was not found.
    sublayer_reading : {"update", "module output"}
        ``"update"``: each site's module output was checked, on the traced pass, to be what is added to
        the stream (``x + attention + mlp`` is the block's output, or what its norms read in a post-LN
        block). ``"module output"``: the model scales or mixes its sublayers' outputs outside any module
        (Falcon-H1, Beam), so the sites read the output of the block's direct child named like the
        sublayer, before that scaling.
    """

    model_type: str
    blocks: torch.nn.ModuleList
    head: tuple
    unembedding: torch.nn.Module
    softcap: object = None
    logit_scale: object = None
    paths: dict = field(default_factory=dict)
    width: object = None
    sublayers: dict = field(default_factory=dict)
    missing_sublayers: dict = field(default_factory=dict)
    sublayer_reading: str = "update"

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

    def describe(self):
        """One line saying where the lens reads the model."""
        head = " -> ".join(self.paths.get("head", ())) or "no final norm"
        post = []
        if self.logit_scale is not None:
            post.append(f"logits x {self.logit_scale:g}")
        if self.softcap:
            post.append(f"soft-cap {self.softcap:g}")
        return (
            f"{self.model_type}: {self.n_layers} blocks at {self.paths.get('blocks')}, head {head}, "
            f"unembedding {self.paths.get('unembedding')}" + (f", {', '.join(post)}" if post else "")
        )


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


def _find_blocks(model, calls, n_layers, input_ids):
    """The ModuleList whose elements pass the residual stream on, one to the next; its path and calls."""
    by_module = {}
    for call in calls:
        by_module.setdefault(id(call.module), []).append(call)
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.ModuleList) or len(module) < 1:
            continue
        if n_layers is not None and len(module) != n_layers:
            continue
        block_calls = [by_module.get(id(block), []) for block in module]
        if any(len(each) != 1 for each in block_calls):
            continue
        block_calls = [each[0] for each in block_calls]
        in_order = all(a.end < b.start for a, b in zip(block_calls, block_calls[1:]))
        chained = all(_same(a.stream_out, b.stream_in) for a, b in zip(block_calls, block_calls[1:]))
        if in_order and chained and all(_is_stream(call.stream_out, input_ids) for call in block_calls):
            found.append((sum(p.numel() for p in module.parameters()), name, module, block_calls))
    if not found:
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)}: no list of {n_layers or 'decoder'} blocks whose outputs, one "
            "(batch, positions, width) residual stream each, feed each other in turn was found: the model "
            "changes its hidden state between blocks, runs them more than once, or carries several streams."
        )
    _, name, module, block_calls = max(found, key=lambda entry: entry[0])
    return name, module, block_calls


def _find_head(model, calls, last_block, unembedding_call):
    """The chain of top-level module calls from the last block's output to the unembedding's input."""
    between = [call for call in calls if call.start > last_block.end and call.end < unembedding_call.start]
    top = [call for call in between if not any(o.start < call.start and call.end < o.end for o in between)]
    stream = last_block.stream_out
    for call in top:
        if not _same(call.stream_in, stream):
            raise UnsupportedArchitectureError(
                f"{_describe_model(model)}: {call.name!r}, called between the last block and the unembedding, "
                "does not take the residual stream as its input, so the lens cannot apply it to an earlier block."
            )
        stream = call.stream_out
    if not _same(unembedding_call.stream_in, stream):
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)}: the unembedding's input is not the output of the modules after the last "
            f"block ({', '.join(call.name for call in top) or 'none'}): something the lens cannot see changes it."
        )
    return tuple(call.name for call in top), tuple(call.module for call in top)


@torch.inference_mode()
def _check_linear(model, unembedding, call):
    """The lens multiplies by the unembedding's weight: its output must be exactly that product (plus bias)."""
    if unembedding.weight.device.type == "meta":
        return  # offloaded: the loader refuses it, saying so
    bias = getattr(unembedding, "bias", None)
    expected = call.stream_in.double() @ unembedding.weight.double().t()
    if bias is not None:
        expected = expected + bias.double()
    error = float((expected - call.stream_out.double()).abs().max()) if call.stream_out is not None else float("inf")
    if not error <= relative_tolerance(unembedding.weight.dtype) * (float(expected.abs().max()) + 1.0):
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)}: its output embedding is not the linear map of its weight (max abs "
            f"difference {error:.3g}): it computes more than the lens can stream."
        )


# Configuration fields that soft-cap the logits: Gemma-2/3 and Cohere-2, RecurrentGemma, xLSTM.
_SOFTCAP_NAMES = ("final_logit_softcapping", "logits_soft_cap", "output_logit_soft_cap")


def _find_post_processing(model, raw, logits):
    """``(logit_scale, softcap)`` mapping the unembedding's output ``raw`` onto the model's ``logits``."""
    config = text_config(model.config)
    tolerance = relative_tolerance(raw.dtype) * (float(logits.abs().max()) + 1.0)
    raw, logits = raw.double(), logits.double()
    softcap = next((getattr(config, name) for name in _SOFTCAP_NAMES if getattr(config, name, None)), None)
    scales = [None]
    if getattr(config, "logit_scale", None):  # Cohere multiplies
        scales.append(float(config.logit_scale))
    if getattr(config, "logits_scaling", None):  # Granite divides
        scales.append(1.0 / float(config.logits_scaling))

    def apply(scale, cap):
        out = raw * scale if scale is not None else raw
        return cap * torch.tanh(out / cap) if cap else out

    for cap in ([softcap, None] if softcap else [None]):
        for scale in scales:
            if float((apply(scale, cap) - logits).abs().max()) <= tolerance:
                return scale, (float(cap) if cap else None)
    # A constant factor the configuration does not name (verified, so never a guess that sticks).
    denominator = float((raw * raw).sum())
    if denominator > 0:
        factor = float((raw * logits).sum()) / denominator
        if float((raw * factor - logits).abs().max()) <= tolerance:
            return factor, None
    raise UnsupportedArchitectureError(
        f"{_describe_model(model)}: the model's logits are not its unembedding's output, nor that output "
        "scaled or soft-capped as its configuration says (max abs difference "
        f"{float((raw - logits).abs().max()):.3g}); the lens would not reproduce them."
    )


def probe_ids(model, tokenizer=None):
    """Four token ids to run a model on when checking it: its BOS (or EOS) token, then 3, 5 and 7."""
    config = text_config(model.config)
    vocab = getattr(config, "vocab_size", None) or model.get_output_embeddings().weight.shape[0]
    candidates = (
        getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "eos_token_id", None),
        getattr(config, "bos_token_id", None), getattr(model.config, "bos_token_id", None),
    )
    first = next((token for token in candidates if isinstance(token, int)), 0)
    return torch.tensor([[first % vocab, 3 % vocab, 5 % vocab, 7 % vocab]])


def get_adapter(model, input_ids=None):
    """Find the blocks, head, unembedding and logit post-processing of a causal LM by tracing it.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal language model (or a multimodal model whose text part is one), in eval mode.
    input_ids : torch.Tensor of shape (1, n) or None, default=None
        Tokens for the traced forward pass; None is :func:`probe_ids`.

    Returns
    -------
    adapter : LensAdapter
        The modules the logit lens needs.

    Raises
    ------
    UnsupportedArchitectureError
        Naming the model type and what was not found or did not match.
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    unembedding = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(unembedding, "weight", None)
    if unembedding is None or not torch.is_tensor(weight) or weight.ndim != 2:
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)} has no output embedding with a (vocabulary, hidden) weight; is it a causal "
            "language model with its LM head?"
        )
    input_ids = probe_ids(model) if input_ids is None else input_ids
    input_device = model.get_input_embeddings().weight.device
    try:
        calls, logits = _trace(model, input_ids.to(input_device if input_device.type != "meta" else "cpu"))
    except Exception as exc:
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)} could not run on input_ids alone ({type(exc).__name__}: {exc})."
        ) from exc
    n_layers = getattr(text_config(model.config), "num_hidden_layers", None)
    blocks_path, blocks, block_calls = _find_blocks(model, calls, n_layers, input_ids)
    unembedding_calls = [call for call in calls if call.module is unembedding]
    if len(unembedding_calls) != 1 or unembedding_calls[0].start < block_calls[-1].end:
        raise UnsupportedArchitectureError(
            f"{_describe_model(model)}: its output embedding is called {len(unembedding_calls)} time(s) per forward "
            "pass, not once after the last block."
        )
    unembedding_call = unembedding_calls[0]
    head_paths, head = _find_head(model, calls, block_calls[-1], unembedding_call)
    _check_linear(model, unembedding, unembedding_call)
    logit_scale, softcap = _find_post_processing(model, unembedding_call.stream_out, logits)
    sublayers, sublayer_paths, missing, sublayer_reading = _find_sublayers(calls, blocks_path, block_calls)
    return LensAdapter(
        model_type=model_type,
        blocks=blocks,
        head=head,
        unembedding=unembedding,
        softcap=softcap,
        logit_scale=logit_scale,
        paths={"blocks": blocks_path, "head": head_paths, "unembedding": unembedding_call.name, **sublayer_paths},
        width=int(block_calls[-1].stream_out.shape[-1]),
        sublayers=sublayers,
        missing_sublayers=missing,
        sublayer_reading=sublayer_reading,
    )


# Names that say an update to the stream comes from a block's MLP (or mixture of experts) or from its
# attention (or another token mixer: Mamba, RWKV time mixing, convolution, xLSTM).
_MLP_NAMES = re.compile(r"mlp|ffn|feed_?forward|moe|fc2|channel|expert", re.IGNORECASE)
_ATTENTION_NAMES = re.compile(r"attn|attention|mixer|mamba|temporal|lstm|conv|operator|time", re.IGNORECASE)


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


def _residual_updates(calls, prefix, block_call):
    """The calls inside a block whose outputs are what it adds to its residual stream, in order.

    The stream starts as the block's input ``x``. A call's output ``u`` is an update when ``s + u``, for
    the current stream ``s`` (or ``s`` normalised, in a post-LN block), is a stream some later call in the
    block reads, or the block's output: ``h = x + attention(x)`` is what the MLP's norm reads, ``h + mlp(h)``
    the block's output. When no single call does (GPT-J, Falcon, Phi: attention and MLP in parallel), a
    pair of the block's own children with ``x + a + m`` equal to its output is. Of calls with equal
    outputs the outermost is taken (the attention module, not its output projection). Returns None when
    the updates do not lead from the block's input to its output.
    """
    x, y = block_call.stream_in, block_call.stream_out
    if not torch.is_tensor(x) or not torch.is_tensor(y) or x.shape != y.shape:
        return None
    shape = tuple(y.shape)
    inner = [c for c in calls if block_call.start < c.start and c.end < block_call.end and c.name.startswith(prefix)]
    uses = {}
    for call in inner:
        uses[id(call.module)] = uses.get(id(call.module), 0) + 1
    outputs = []  # one call per distinct non-zero output, the outermost, each module called once in the block
    for call in inner:
        value = _as_stream(call.stream_out, shape)
        if value is None or uses[id(call.module)] != 1 or not bool(value.abs().max() > 0):
            continue
        if not any(torch.equal(value, kept) for _, kept in outputs):
            outputs.append((call, value))
    read = [(c, v) for c in inner if (v := _as_stream(c.stream_in, shape)) is not None]

    def normalised(stream, before):
        """The stream, and its norms (a post-LN block's new stream) computed before call ``before``."""
        return [stream, *(_as_stream(c.stream_out, shape) for c, v in read if c.end < before and torch.equal(v, stream))]

    updates, stream = [], x
    for call, value in outputs:
        later = [v for c, v in read if c.start > call.end] + [y]
        for base in normalised(stream, call.start):
            if base is None:
                continue
            reached = next((target for target in later if _close(base + value, target) and not _close(base, target)), None)
            if reached is not None:
                updates.append(call)
                stream = reached
                break
    if updates and any(base is not None and torch.equal(base, y) for base in normalised(stream, block_call.end)):
        return updates
    children = [(c, v) for c, v in outputs if "." not in c.name[len(prefix):]]
    pairs = [(a, b) for i, (a, u) in enumerate(children) for b, w in children[i + 1:] if _close(x + u + w, y)]
    return list(pairs[0]) if len(pairs) == 1 else None


def _sites_of(updates, prefix):
    """Which site each update is: in a two-update block by order (attention, or the token mixer, then the
    MLP) unless the names say the reverse; a single update, or several, by the module's class and path."""
    paths = [call.name[len(prefix):] for call in updates]
    if len(updates) == 2:
        if _MLP_NAMES.search(paths[0]) and _ATTENTION_NAMES.search(paths[1]):
            return ["mlp", "attention"]
        return ["attention", "mlp"]
    sites = []
    for call, path in zip(updates, paths):
        kind = type(call.module).__name__
        for text, pattern, site in ((kind, _ATTENTION_NAMES, "attention"), (kind, _MLP_NAMES, "mlp"),
                                    (path, _MLP_NAMES, "mlp"), (path, _ATTENTION_NAMES, "attention")):
            if pattern.search(text):
                sites.append(site)
                break
        else:
            sites.append(None)
    return sites


# Names of a block's attention sublayer, for blocks whose updates are no module's output (see
# _named_sublayers), and of its MLP (or mixture of experts), in tiers: a block is read
# by the first tier that names a module in it. A hybrid's token mixer is attention in one block and a
# state-space or convolution layer in another; a block that has both (Falcon-H1) is read at its attention.
SUBLAYER_NAMES = {
    "attention": (
        re.compile(r"(self_?attn|attn|attention|self_attention|linear_attn)"),
        re.compile(r"(mixer|token_mixer|temporal_block|mamba|conv)"),
    ),
    # fc2 is the MLP's output layer in blocks that write their MLP inline (BART, BioGPT, ...).
    "mlp": (
        re.compile(r"(mlp|feed_forward|feedforward|ffn|block_sparse_moe|moe|channel_mixer)"),
        re.compile(r"fc2"),
    ),
}


def _named_sublayers(calls, blocks_path, block_calls):
    """Per site, the one direct child of each block, named like the site, that outputs a residual-width stream.

    The reading of blocks whose updates to the stream are no module's output (scaled by a constant or a
    depth-dependent factor outside any module, as in Falcon-H1 and Beam).

    Returns ``(modules, paths, missing)``: ``{site: tuple of modules}``, ``{site: tuple of paths}`` and
    ``{site: why the site is unavailable}``.
    """
    modules, paths, missing = {}, {}, {}
    width = block_calls[-1].stream_out.shape[-1]
    for site, tiers in SUBLAYER_NAMES.items():
        found = []
        for index, block in enumerate(block_calls):
            prefix = f"{blocks_path}.{index}."
            children = [
                call for call in calls
                if block.start < call.start and call.end < block.end and call.name.startswith(prefix)
                and "." not in call.name[len(prefix):]
                and torch.is_tensor(call.stream_out) and call.stream_out.shape == block.stream_out.shape
            ]
            candidates = next(
                (named for pattern in tiers if (named := [c for c in children if pattern.fullmatch(c.name[len(prefix):])])),
                [],
            )
            if len({id(call.module) for call in candidates}) != 1 or len(candidates) != 1:
                missing[site] = (
                    f"block {index + 1} has {len(candidates)} direct submodule(s) named like an {site} sublayer "
                    "that return a residual-width stream, not one"
                )
                break
            found.append(candidates[0])
        if site not in missing:
            modules[site] = tuple(call.module for call in found)
            paths[site] = tuple(call.name for call in found)
    return modules, paths, missing


def _find_sublayers(calls, blocks_path, block_calls):
    """Per site, the module of each block whose output is what its attention (or token mixer) or its MLP
    adds to the residual stream.

    Returns ``(modules, paths, missing)``: ``{site: tuple of modules}``, ``{site: tuple of paths}`` and
    ``{site: why the site is unavailable}``; and how the sites read the blocks: ``"update"`` (what is
    added to the stream) or ``"module output"`` (see :func:`_named_sublayers`).
    """
    per_site = {"attention": [], "mlp": []}
    missing = {}
    for index, block_call in enumerate(block_calls):
        updates = _residual_updates(calls, f"{blocks_path}.{index}.", block_call)
        if updates is None:
            modules, paths, missing = _named_sublayers(calls, blocks_path, block_calls)
            reason = (
                f"no module outputs of block {index + 1} add up to what it adds to its stream (a sublayer "
                "output scaled or gated outside any module, or several streams side by side)"
            )
            return modules, paths, {site: f"{reason}; and {why}" for site, why in missing.items()}, "module output"
        sites = _sites_of(updates, f"{blocks_path}.{index}.")
        for site, found in per_site.items():
            chosen = [call for call, named in zip(updates, sites) if named == site]
            if site in missing:
                continue
            if len(chosen) != 1:
                kinds = ", ".join(f"{call.name[len(blocks_path) + 1:]} ({type(call.module).__name__})" for call in updates)
                missing[site] = f"block {index + 1} adds {len(updates)} update(s) to its stream, {len(chosen)} of them an {site} sublayer: {kinds}"
                continue
            found.append(chosen[0])
    modules, paths = {}, {}
    for site, found in per_site.items():
        if site in missing:
            continue
        if len({id(call.module) for call in found}) != len(found):
            missing[site] = "its modules are shared between blocks"
            continue
        modules[site] = tuple(call.module for call in found)
        paths[site] = tuple(call.name for call in found)
    return modules, paths, missing, "update"


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
        logits = model(input_ids=input_ids.to(model.device), use_cache=False).logits[0, -1].float()
    finally:
        handle.remove()
    from ._lens import LogitLens

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
