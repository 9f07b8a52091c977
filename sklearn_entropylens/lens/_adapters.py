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

from dataclasses import dataclass, field

import torch

from ._sublayers import find_sublayers
from ._tracing import _describe_model, _is_stream, _same, _trace, relative_tolerance, text_config


#: Model types whose tiny random-initialised models the project's test suite profiles and checks against a
#: float64 lens; other model types are discovered and verified the same way at load.
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
    """Raised for a model whose blocks, head or unembedding cannot be found or do not reproduce its logits.

    The lens never guesses where a model keeps its blocks, final norm and unembedding:
    :func:`~sklearn_entropylens.lens.get_adapter` finds them by tracing one forward pass, and
    :func:`~sklearn_entropylens.lens.verify_adapter` checks that the lens of the last block reproduces the
    model's logits. Either raises this, naming the model and what did not match, rather than let the lens
    return a silently wrong number. Common causes: a model without its LM head (loaded with ``AutoModel``
    rather than ``AutoModelForCausalLM``), a model that changes its hidden state between blocks, or logits
    post-processed in a way the adapter does not know. :func:`~sklearn_entropylens.load_model` and the
    estimators raise a :class:`~sklearn_entropylens.ModelLoadError` instead, with this error as its
    ``__cause__``; this one reaches you when you call those two functions yourself.

    See Also
    --------
    sklearn_entropylens.lens.get_adapter : Finds where the lens reads a model.
    sklearn_entropylens.lens.verify_adapter : Checks it against the model's logits.
    ModelLoadError : What loading a model by name raises instead.

    Examples
    --------
    A Llama without its LM head has no unembedding for the lens:

    >>> from transformers import AutoModel
    >>> from sklearn_entropylens.testing import make_tiny_config
    >>> from sklearn_entropylens.lens import get_adapter
    >>> base_model = AutoModel.from_config(make_tiny_config("llama"))
    >>> get_adapter(base_model)
    Traceback (most recent call last):
    ...
    sklearn_entropylens.lens._adapters.UnsupportedArchitectureError: LlamaModel (model_type 'llama') has no output
    embedding with a (vocabulary, hidden) weight; is it a causal language model with its LM head?
    """



@dataclass
class LensAdapter:
    """The modules of a causal LM that the logit lens needs.

    Every loaded model carries one (``LoadedModel.adapter``); :func:`get_adapter` finds it by tracing a model
    and :func:`verify_adapter` checks it. Read it to know what a profile reads: the lens of block ``l`` is
    the ``head`` modules applied to the block's output, then the ``unembedding``, then ``logit_scale`` and
    ``softcap``; the ``sublayers`` are what the ``"attention"`` and ``"mlp"`` sites read. Its modules are
    the model's own, not copies: they share its weights, devices and dtype, and a change to the model
    changes them.

    Parameters
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

    See Also
    --------
    get_adapter : Finds it by tracing a model.
    verify_adapter : Checks it against the model's logits.
    LogitLens : The lens it defines.

    Examples
    --------
    Gemma-2 soft-caps its logits and normalises each sublayer's output before adding it to the stream:

    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import get_adapter
    >>> adapter = get_adapter(make_tiny_model("gemma2"))
    >>> adapter.describe()
    'gemma2: 3 blocks at model.layers, head model.norm, unembedding lm_head, soft-cap 30'
    >>> adapter.n_layers, adapter.width, adapter.vocab_size, adapter.softcap
    (3, 32, 259, 30.0)
    >>> adapter.paths["attention"][0]
    'model.layers.0.post_attention_layernorm'
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
        """The number of decoder blocks."""
        return len(self.blocks)

    @property
    def vocab_size(self):
        """The number of rows of the unembedding: the length of a lens distribution."""
        return self.unembedding.weight.shape[0]

    @property
    def device(self):
        """Where the lens runs: the device of the unembedding (the last device of a split model)."""
        return self.unembedding.weight.device

    def describe(self):
        """One line saying where the lens reads the model.

        Returns
        -------
        description : str
            Blocks, head, unembedding and post-processing, by path.
        """
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

    :func:`~sklearn_entropylens.load_model` calls it, then :func:`verify_adapter`, on every model it loads,
    and keeps the result as ``LoadedModel.adapter``. Call it yourself to see whether, and where, the lens
    can read a model you hold in memory before registering it, or to find out why a model fails to load.
    No table of model types is involved: one forward pass with a hook on every module finds the blocks (the
    module list whose elements pass the residual stream on, one to the next), the head (the modules called
    between the last block and the unembedding) and the post-processing (what maps the unembedding's output
    onto the logits). The adapter it returns is not yet verified: check it with :func:`verify_adapter`.

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

    See Also
    --------
    verify_adapter : Checks the adapter against the model's logits.
    LensAdapter : What it returns.
    sklearn_entropylens.UnsupportedArchitectureError : Raised for a model it cannot read.

    Examples
    --------
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import get_adapter
    >>> adapter = get_adapter(make_tiny_model("gpt2"))
    >>> adapter.describe()
    'gpt2: 3 blocks at transformer.h, head transformer.ln_f, unembedding lm_head'
    >>> adapter.paths["mlp"]
    ('transformer.h.0.mlp', 'transformer.h.1.mlp', 'transformer.h.2.mlp')
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
    sublayers, sublayer_paths, missing, sublayer_reading = find_sublayers(calls, blocks_path, block_calls)
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
