"""Tiny random-initialised models and a byte-level tokenizer, built offline, for tests and examples.

Each supported architecture gets a three-block model small enough to profile in milliseconds. The
byte-level tokenizer encodes any text (one token per UTF-8 byte), so numeric rows rendered as text, as
in scikit-learn's common checks, are valid prompts. Use them to try a pipeline, a cache location or a
cluster set-up without downloading a model; their profiles are those of random weights and say nothing
about language models.
"""

import hashlib


from .models import register_model

__all__ = ["TINY_MODEL_TYPES", "make_byte_tokenizer", "make_tiny_config", "make_tiny_model", "register_tiny_model",
           "save_tiny_model"]

#: Model types with hand-sized tiny models in :func:`make_tiny_config` (hidden size 32, three blocks).
TINY_MODEL_TYPES = (
    "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
    "gpt2", "gpt_neo", "gpt_neox", "opt", "phi", "phi3",
)
_SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")
_TINY_CONTEXT = 1024


def make_byte_tokenizer():
    """A fast byte-level tokenizer (259 tokens: pad, bos, eos and the 256 bytes) that adds BOS.

    Every text encodes, one token per UTF-8 byte after the BOS token, so any prompt is valid for a tiny
    model whose vocabulary has 259 entries (the default of :func:`make_tiny_config`). It is built in
    memory, without a download.

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerFast
        Pad id 0, BOS id 1, EOS id 2; the bytes follow.

    See Also
    --------
    make_tiny_model : A tiny random-initialised causal LM that this tokenizer fits.
    register_tiny_model : Both, registered under a name that estimators accept.

    Examples
    --------
    >>> from sklearn_entropylens.testing import make_byte_tokenizer
    >>> tokenizer = make_byte_tokenizer()
    >>> len(tokenizer), tokenizer("hi")["input_ids"]
    (259, [1, 74, 75])
    >>> tokenizer.decode([74, 75])
    'hi'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(_SPECIAL_TOKENS)}
    for character in sorted(alphabet):
        vocab[character] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
        model_max_length=_TINY_CONTEXT,
    )


def make_tiny_config(model_type, vocab_size=259, n_layers=3, **overrides):
    """Configuration of a tiny model of a supported architecture (hidden size 32, 4 heads).

    The sizes are set by hand for each type in ``TINY_MODEL_TYPES`` so that every architectural feature
    the lens must handle (grouped-query attention, Gemma's scaled embeddings and soft-capping, sliding
    windows, GPT-2's fused projections) is present at a width of 32.

    Parameters
    ----------
    model_type : str
        A transformers model type, one of ``TINY_MODEL_TYPES``.
    vocab_size : int, default=259
        Vocabulary size; 259 matches :func:`make_byte_tokenizer`.
    n_layers : int, default=3
        Number of blocks.
    **overrides
        Any other configuration field, set last.

    Returns
    -------
    config : transformers.PretrainedConfig
        The configuration, for ``AutoModelForCausalLM.from_config``.

    See Also
    --------
    make_tiny_model : The model of this configuration, with seeded random weights.

    Examples
    --------
    >>> from sklearn_entropylens.testing import make_tiny_config
    >>> config = make_tiny_config("gemma2", n_layers=2)
    >>> config.num_hidden_layers, config.hidden_size, config.vocab_size, config.final_logit_softcapping
    (2, 32, 259, 30.0)
    """
    from transformers import AutoConfig

    common = {"vocab_size": vocab_size, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
              "initializer_range": 0.2}
    if model_type == "gpt2":
        params = dict(n_layer=n_layers, n_embd=32, n_head=4, n_positions=_TINY_CONTEXT)
    elif model_type == "gpt_neo":
        params = dict(num_layers=n_layers, hidden_size=32, num_heads=4, max_position_embeddings=_TINY_CONTEXT,
                      # Exactly n_layers layers (global, local, global, ...): transformers 5.0 checks the count.
                      attention_types=[[["global", "local"], n_layers // 2]] + [[["global"], n_layers % 2]],
                      window_size=16)
        params["attention_layers"] = (["global", "local"] * n_layers)[:n_layers]
    elif model_type == "opt":
        params = dict(hidden_size=32, num_hidden_layers=n_layers, ffn_dim=64, num_attention_heads=4,
                      word_embed_proj_dim=32, max_position_embeddings=_TINY_CONTEXT)
    else:
        params = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers, num_attention_heads=4,
                      max_position_embeddings=_TINY_CONTEXT)
        if model_type in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3"):
            params["num_key_value_heads"] = 2
        if model_type in ("gemma", "gemma2", "gemma3_text", "qwen3"):
            params["head_dim"] = 8
        if model_type in ("gemma2", "gemma3_text"):
            params["sliding_window"] = 16
    params.update(common)
    params.update(overrides)
    return AutoConfig.for_model(model_type, **params)


def make_tiny_model(model_type, *, seed=0, **overrides):
    """A tiny random-initialised causal LM of ``model_type``, in eval mode, float32.

    The weights are drawn with ``torch.manual_seed(seed)``, so two calls with the same arguments give the
    same model. Pass it to :func:`~sklearn_entropylens.register_model` with a tokenizer, or use
    :func:`register_tiny_model`, which does both.

    Parameters
    ----------
    model_type : str
        A transformers model type, one of ``TINY_MODEL_TYPES``.
    seed : int, default=0
        Seed of the random weights.
    **overrides
        Passed to :func:`make_tiny_config` (``vocab_size``, ``n_layers`` or any configuration field).

    Returns
    -------
    model : transformers.PreTrainedModel
        The model, in eval mode, float32, on the CPU.

    See Also
    --------
    make_tiny_config : Its configuration.
    register_tiny_model : Build one and register it under a name.
    sklearn_entropylens.lens.get_adapter : Trace the lens's modules in it.

    Examples
    --------
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> model = make_tiny_model("llama")
    >>> type(model).__name__, model.config.num_hidden_layers, model.dtype
    ('LlamaForCausalLM', 3, torch.float32)
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = make_tiny_config(model_type, **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model.eval()


def register_tiny_model(model_type="llama", name=None, **overrides):
    """Build and register a tiny model with the byte tokenizer; return its name (``tiny-<type>``).

    The name is then accepted wherever a model name is (``EntropyProfileTransformer(model=name)``,
    ``load_model(name)``), in this process only: joblib and Dask workers do not see it, so use
    :func:`save_tiny_model` for ``n_jobs`` above 1. Registering the same name again replaces the model.

    Parameters
    ----------
    model_type : str, default="llama"
        A transformers model type, one of ``TINY_MODEL_TYPES``.
    name : str, optional
        The name to register; ``"tiny-<model_type>"`` by default.
    **overrides
        Passed to :func:`make_tiny_model`.

    Returns
    -------
    name : str
        The registered name. Its revision is ``"<name>-seed<seed>"``; under another name than
        ``"tiny-<model_type>"``, or with configuration overrides, a hash of the model's whole configuration
        follows, so that two tiny models registered under one name never share a revision (the profile
        cache's key holds the name and the revision, not the weights).

    See Also
    --------
    sklearn_entropylens.register_model : Register any model and tokenizer under a name.
    save_tiny_model : A tiny model in a directory, which loads in any process.
    make_tiny_model : The model alone.

    Examples
    --------
    >>> from sklearn_entropylens import EntropyProfileTransformer
    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> name = register_tiny_model("qwen2")
    >>> name
    'tiny-qwen2'
    >>> EntropyProfileTransformer(name, n_tokens=2).fit_transform(["a prompt"]).shape
    (1, 3)
    """
    name = name or f"tiny-{model_type}"
    seed = overrides.get("seed", 0)
    revision = f"{name}-seed{seed}"
    configuration = {key: value for key, value in overrides.items() if key != "seed"}
    if configuration or name != f"tiny-{model_type}":
        built = make_tiny_config(model_type, **configuration).to_json_string(use_diff=False)
        revision += "-" + hashlib.sha256(built.encode()).hexdigest()[:12]
    register_model(name, make_tiny_model(model_type, **overrides), make_byte_tokenizer(), revision=revision)
    return name


def save_tiny_model(directory, model_type="llama", **overrides):
    """Save a tiny model and the byte tokenizer to ``directory``; return it as a str (a model id).

    Unlike a registered model, a directory loads in any process: joblib and Dask workers included, so
    use it to try ``n_jobs`` or a cluster set-up offline.

    Parameters
    ----------
    directory : str or path-like
        Where to save; created if needed.
    model_type : str, default="llama"
        A transformers model type, one of ``TINY_MODEL_TYPES``.
    **overrides
        Passed to :func:`make_tiny_model`.

    Returns
    -------
    model_id : str
        ``directory`` as a string, a model identifier for estimators and ``load_model``.

    See Also
    --------
    register_tiny_model : A tiny model registered in this process only.
    sklearn_entropylens.load_model : Load a model by name or directory.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_entropylens import load_model
    >>> from sklearn_entropylens.testing import save_tiny_model
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     loaded = load_model(save_tiny_model(folder, "gpt2"))
    ...     print(loaded.n_layers, loaded.vocab_size)
    3 259
    """
    make_tiny_model(model_type, **overrides).save_pretrained(directory)
    make_byte_tokenizer().save_pretrained(directory)
    return str(directory)
