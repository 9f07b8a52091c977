"""Brute-force references: the checks the fast paths are tested and benchmarked against.

:func:`entropy_bruteforce` is the textbook definition on float64 probabilities.
:func:`reference_profiles` reimplements the reference Entropy-Lens algorithm on token ids: one prompt at a
time, a full forward pass over the whole sequence at every step (no KV cache, every hidden state kept),
then the lens of every (position, layer) materialised as a (positions, layers, vocabulary) tensor and a
full-vocabulary softmax. It is deliberately slow; run it on a float64 copy of a model for an exact answer.
"""

import math

import numpy as np
import torch

from ._layout import site_statistic
from ._registry import renyi_order


def entropy_bruteforce(logits, alpha=1.0):
    """Renyi entropy (nats) of ``softmax(logits)`` along the last axis, from float64 probabilities.

    Parameters
    ----------
    logits : array-like of shape (..., vocab_size)
        Logits.
    alpha : float, default=1.0
        Renyi order; 1 is Shannon, ``inf`` min-entropy, 0 the log of the support size (``log V``
        without masked, ``-inf``, logits).

    Returns
    -------
    entropy : ndarray of shape logits.shape[:-1]
        Float64 entropies.
    """
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    log_p = torch.log_softmax(z, dim=-1)
    p = log_p.exp()
    if alpha == 1:
        return (-torch.special.xlogy(p, p).sum(-1)).numpy()
    if alpha == 0:
        # Every token not masked by a -inf logit has positive probability under a softmax, even where
        # float64 underflows: the support is the finite logits.
        return torch.log(torch.isfinite(z).sum(-1).double()).numpy()
    if math.isinf(alpha):
        return (-log_p.amax(-1)).numpy()
    return (torch.logsumexp(alpha * log_p, dim=-1) / (1 - alpha)).numpy()


@torch.inference_mode()
def statistics_bruteforce(logits, statistics, *, alpha=1.0, top_p=0.6, frequency_ranks=None):
    """Every lens statistic of a stack of layers, from float64 probabilities and full sorts.

    Parameters
    ----------
    logits : array-like of shape (..., n_layers, vocab_size)
        Logits of consecutive layers; the last layer is the final one (the reference of the KL and
        rank statistics).
    statistics : sequence of str
        Names among :data:`~sklearn_entropylens.lens.STATISTICS`.
    alpha : float, default=1.0
        Renyi order of ``"entropy"``.
    top_p : float, default=0.6
        Mass of the candidate sets.
    frequency_ranks : array-like of shape (vocab_size,) or None, default=None
        Frequency rank of each token, for ``top1_frequency_rank``.

    Returns
    -------
    values : dict of str -> ndarray of shape (..., n_layers)
        ``top_p_overlap`` of the first layer, which has no predecessor, is 1.
    """
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    log_p = torch.log_softmax(z, dim=-1)
    p = log_p.exp()
    final_log_p, final_p = log_p[..., -1:, :], p[..., -1:, :]
    target = z[..., -1:, :].argmax(dim=-1, keepdim=True)  # (..., 1, 1)
    target_logit = torch.take_along_dim(z, target.expand(*z.shape[:-1], 1), dim=-1)
    rank = 1 + (z > target_logit).sum(-1)
    order = torch.argsort(p, dim=-1, descending=True)
    cumulative = torch.take_along_dim(p, order, dim=-1).cumsum(-1)
    sizes = torch.clamp((cumulative < top_p).sum(-1) + 1, max=p.shape[-1])
    if top_p >= 1:
        sizes = torch.full_like(sizes, p.shape[-1])  # every token has positive probability
    membership = torch.zeros_like(p, dtype=torch.bool)
    membership.scatter_(-1, order, torch.arange(p.shape[-1]) < sizes[..., None])
    overlap = torch.ones(sizes.shape, dtype=torch.float64)
    shared = (membership[..., 1:, :] & membership[..., :-1, :]).sum(-1)
    overlap[..., 1:] = shared / sizes[..., :-1]
    agreement = (rank == 1).double()
    # Settled at layer l: agreement at l and at every later layer, checked layer by layer.
    settled = torch.stack([agreement[..., k:].min(dim=-1).values for k in range(agreement.shape[-1])], dim=-1)
    top1 = z.argmax(dim=-1)
    values = {
        "top1_settled": settled.numpy(),
        "top1_frequency_rank": None if frequency_ranks is None else np.asarray(frequency_ranks)[top1.numpy()].astype(np.float64),
        "entropy": entropy_bruteforce(z.numpy(), alpha),
        # Terms of final probability 0 are 0 (the limit of p log(p / q) as p -> 0), not 0 * inf = NaN.
        "kl_to_final": torch.where(final_p > 0, final_p * (final_log_p - log_p), 0.0).sum(-1).numpy(),
        "final_token_rank": rank.double().numpy(),
        "top1_agreement": agreement.numpy(),
        "top_p_size": sizes.double().numpy(),
        "top_p_overlap": overlap.numpy(),
    }
    return {name: values[name] if name in values else entropy_bruteforce(z.numpy(), renyi_order(name))
            for name in statistics}


@torch.inference_mode()
def reference_profiles(
    loaded,
    token_ids,
    n_tokens,
    *,
    alpha=1.0,
    statistics=("entropy",),
    top_p=0.6,
    include_embedding=False,
    model=None,
    continuations=None,
    exact=True,
    cache_all_activations=False,
    head_paths=None,
    hidden_states_start=0,
    site_paths=None,
    translators=None,
    frequency_ranks=None,
):
    """Lens profiles the slow, reference way, one prompt at a time.

    Parameters
    ----------
    loaded : LoadedModel
        The model, tokenizer and adapter.
    token_ids : list of list of int
        Prompt token ids.
    n_tokens : int
        Profiled positions.
    alpha : float, default=1.0
        Renyi order.
    statistics : sequence of str, default=("entropy",)
        Statistics (see :func:`statistics_bruteforce`); only ``"entropy"`` when ``exact`` is False.
    top_p : float, default=0.6
        Mass of the candidate sets.
    include_embedding : bool, default=False
        Also return layer 0 (the embedding output). Candidate-set overlaps of block 1 are always
        taken with layer 0.
    model : torch.nn.Module or None, default=None
        A copy of ``loaded.model`` to run instead (for example in float64); its adapter is rebuilt.
    continuations : ndarray of shape (n_prompts, n_tokens) or None, default=None
        Force these generated tokens (teacher forcing) instead of greedy choices, so that two
        computations are compared on the same sequence.
    exact : bool, default=True
        True: float64 logits and :func:`entropy_bruteforce`. False: the reference's own arithmetic,
        float32 ``softmax`` then ``-sum(p * log(p + 1e-20))`` (Shannon only), as benchmarked.
    cache_all_activations : bool, default=False
        Copy the output of every module at every step, as the reference's ``run_with_cache`` without
        a ``names_filter`` does (it keeps every hook's activation, then reads one position of one).
    head_paths : sequence of str or None, default=None
        Paths of the modules applied between the last block and the unembedding, in order (for
        example an adapter's ``paths["head"]``, to check a discovered layout); None finds the final
        norm and projection by their usual names.
    hidden_states_start : {0, 1}, default=0
        The layer of ``output_hidden_states[0]``: 0 where it is the embedding output (most models), 1
        where it is already block 1's output (transformers' Mamba and RWKV); with 1 the embedding layer
        is unavailable, so ``include_embedding`` must be False.
    site_paths : dict or None, default=None
        ``{site: paths of its module in each block}`` (an adapter's ``paths["attention"]``, for example):
        also return the statistics of those modules' outputs, as ``<site>_<statistic>``, read with
        forward hooks at every full forward pass.
    translators : tuple of (ndarray, ndarray) or None, default=None
        A tuned lens's ``(weights, biases)`` of shapes (L, d, d) and (L, d): layer ``l``'s stream ``h``
        is read as ``h + h @ weights[l].T + biases[l]``, in the model's dtype (float64 for a float64 copy).
    frequency_ranks : array-like of shape (vocab_size,) or None, default=None
        Frequency rank of each token, for ``top1_frequency_rank``.

    Returns
    -------
    values : dict of str -> ndarray of shape (n_prompts, n_tokens, n_layers)
        Statistics (entropies in nats) of layers ``[0,] 1 .. L``.
    tokens : ndarray of shape (n_prompts, n_tokens)
        The greedy (or forced) tokens.
    """
    model = loaded.model if model is None else model
    device = next(model.parameters()).device
    activations, handles = [], []
    if cache_all_activations:
        def keep(module, args, output):
            for value in output if isinstance(output, (tuple, list)) else (output,):
                if torch.is_tensor(value):
                    activations.append(value.detach().clone())

        handles = [module.register_forward_hook(keep) for module in model.modules()]
    # The newest position's output of each site's module in each block, from the latest forward pass.
    site_outputs = {site: [None] * len(paths) for site, paths in (site_paths or {}).items()}
    for site, paths in (site_paths or {}).items():
        for block, path in enumerate(paths):
            def keep_site(module, args, output, site=site, block=block):
                output = output[0] if isinstance(output, (tuple, list)) else output
                output = output.reshape(1, -1, output.shape[-1])  # a mixture of experts may flatten positions
                site_outputs[site][block] = output[0, -1].clone()  # the model may add to it in place (Falcon)

            handles.append(model.get_submodule(path).register_forward_hook(keep_site))
    try:
        settings = {
            "alpha": alpha, "statistics": tuple(statistics), "top_p": top_p, "include_embedding": include_embedding,
            "head_paths": head_paths, "hidden_states_start": hidden_states_start, "translators": translators,
            "frequency_ranks": frequency_ranks,
        }
        if hidden_states_start and include_embedding:
            raise ValueError("include_embedding needs output_hidden_states that start at the embedding layer.")
        return _reference_loop(model, device, token_ids, n_tokens, continuations, exact, activations, site_outputs, settings)
    finally:
        for handle in handles:
            handle.remove()


# Names under which transformers' decoders keep their final norm and the projection after it. The oracle
# looks them up itself, independently of the engine's adapters, so a wrong adapter entry cannot hide.
_FINAL_NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm")
_PROJECTION_NAMES = ("project_out",)
_SOFTCAP_NAMES = ("final_logit_softcapping", "logits_soft_cap", "output_logit_soft_cap")


def _own_lens(model, head_paths=None):
    """``hidden -> logits`` of the model's own head modules, unembedding, logit scaling and soft-cap."""
    if head_paths is None:
        decoder = getattr(model.base_model, "decoder", model.base_model)
        head = [getattr(decoder, name) for name in _FINAL_NORM_NAMES + _PROJECTION_NAMES if getattr(decoder, name, None) is not None]
    else:
        head = [model.get_submodule(path) for path in head_paths]
    unembedding = model.get_output_embeddings()
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    softcap = next((getattr(config, name) for name in _SOFTCAP_NAMES if getattr(config, name, None)), None)
    scale = getattr(config, "logit_scale", None) or (1 / config.logits_scaling if getattr(config, "logits_scaling", None) else None)

    def lens(hidden):
        for module in head:
            hidden = module(hidden)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        logits = unembedding(hidden)
        if scale:
            logits = logits * scale
        if softcap:
            logits = softcap * torch.tanh(logits / softcap)
        return logits

    return lens


def _reference_loop(model, device, token_ids, n_tokens, continuations, exact, activations, site_outputs, settings):
    lens = _own_lens(model, settings["head_paths"])
    all_values, all_tokens = [], []
    for index, ids in enumerate(token_ids):
        sequence = list(ids)
        residuals, final_logits, tokens = [], [], []
        site_rows = {site: [] for site in site_outputs}
        for step in range(n_tokens):
            activations.clear()
            output = model(input_ids=torch.tensor([sequence], device=device), output_hidden_states=True, use_cache=False)
            for site, rows in site_outputs.items():
                site_rows[site].append(torch.stack(rows))
            hidden = output.hidden_states
            # hidden[0] enters block 1, hidden[l] leaves block l for l < L; the last block's distribution is
            # the model's own output logits (hidden[L] is already normed, and projected in OPT-350m).
            start = settings["hidden_states_start"]
            layers = [hidden[layer - start][0, -1] for layer in range(start, len(hidden) - 1)]
            if start:  # the embedding layer (dropped below) is not among these hidden states
                layers.insert(0, torch.zeros_like(hidden[0][0, -1]))
            residuals.append(torch.stack(layers))
            final_logits.append(output.logits[0, -1])
            if continuations is not None:
                token = int(continuations[index][step])
            else:
                logits = output.logits[0]
                if not exact:
                    # As the reference: a softmax over every position's logits, then the last one's argmax.
                    logits = torch.softmax(logits.float(), dim=-1)
                token = int(logits[-1].argmax())
            tokens.append(token)
            sequence.append(token)
        stacked = torch.stack(residuals)  # (T, L, d), layer 0 the embedding output
        if settings["translators"] is not None:
            weights, biases = (torch.as_tensor(array, dtype=stacked.dtype) for array in settings["translators"])
            stacked = stacked + torch.einsum("tld,led->tle", stacked, weights) + biases
        logits = torch.cat([lens(stacked), torch.stack(final_logits)[:, None]], dim=1)  # (T, L + 1, V)
        if exact:
            values = statistics_bruteforce(
                logits.to(torch.float64), settings["statistics"], alpha=settings["alpha"], top_p=settings["top_p"],
                frequency_ranks=settings["frequency_ranks"],
            )
        else:
            if settings["statistics"] != ("entropy",):
                raise ValueError("exact=False reproduces the reference's Shannon entropy only.")
            # The reference's own arithmetic: float32 softmax, then -sum(p * log(p + 1e-20)).
            probabilities = torch.softmax(logits.float(), dim=-1)
            entropy = -(probabilities * torch.log(probabilities + 1e-20)).sum(-1)
            values = {"entropy": entropy.double().numpy()}
        if not settings["include_embedding"]:
            values = {name: value[:, 1:] for name, value in values.items()}
        for site, rows in site_rows.items():
            # Every block's sublayer output through the lens, the model's own distribution last (the
            # reference of the KL and rank statistics), then dropped.
            site_logits = torch.cat([lens(torch.stack(rows)), torch.stack(final_logits)[:, None]], dim=1)
            site_values = statistics_bruteforce(
                site_logits.to(torch.float64), settings["statistics"], alpha=settings["alpha"], top_p=settings["top_p"],
                frequency_ranks=settings["frequency_ranks"],
            )
            values.update({site_statistic(site, name): value[:, :-1] for name, value in site_values.items()})
        all_values.append(values)
        all_tokens.append(tokens)
    stacked_values = {name: np.stack([values[name] for values in all_values]) for name in all_values[0]}
    return stacked_values, np.asarray(all_tokens)
