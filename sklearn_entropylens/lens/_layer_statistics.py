"""Statistics of the lens at every buffered layer and position, and of the model's own final layer.

The decode loop hands over raw residual streams of several positions and layers at once; here they go
through the lens in tiles of rows x vocabulary columns, each reduced at once by
:class:`~._statistics.LensStatistics`, so the matmul works on large row tiles and no
(rows, vocabulary) matrix exists, except whole rows for the top-p candidate sets, bounded in bytes.
"""

import math

import torch

from ._kernels import LensStatistics
from ._registry import declaration, needs_whole_rows, required_passes


def _overlap(membership, previous):
    """``|S ∩ S_prev| / |S_prev|`` for boolean memberships of the same shape, along the last axis."""
    shared = (membership & previous).sum(dim=-1, dtype=torch.float64)
    return shared / previous.sum(dim=-1, dtype=torch.float64)


def _streamed_names(statistics):
    """The statistics the streaming pass computes: every one it can read, the set sizes of comparisons with
    the previous layer, and the top-1 agreement that ``top1_settled`` is formed from."""
    names = tuple(name for name in statistics if declaration(name).read is not None)
    if _compares_sets(statistics) and "top_p_size" not in names:
        names += ("top_p_size",)
    if any(declaration(name).compares_later_layers for name in statistics) and "top1_agreement" not in names:
        names += ("top1_agreement",)
    return names


def _compares_sets(statistics):
    """Whether a statistic compares the candidate sets of consecutive layers (so the sets must be kept)."""
    return any(declaration(name).compares_previous_layer for name in statistics)


def _settled(values, statistics):
    """Add ``top1_settled``: agreement with the final top-1 token at this layer and every later one."""
    if "top1_settled" in statistics:
        values["top1_settled"] = values["top1_agreement"].flip(1).cumprod(1).flip(1)
        if "top1_agreement" not in statistics:
            del values["top1_agreement"]
    return values


def lens_statistics(lens, residuals, layers, final_logits, *, statistics, alpha, top_p, vocab_chunk,
                    max_block_bytes, frequency_ranks=None):
    """Statistics of the lens of buffered residuals and of the final layer, for several positions.

    Parameters
    ----------
    lens : Lens
        The lens (the model's final norm and unembedding, for the logit lens).
    residuals : torch.Tensor of shape (positions, n_lens, batch, d_model)
        Raw residual streams of the lens layers (every layer but the last).
    layers : sequence of int
        The layer of each of the ``n_lens`` entries (0 is the embedding layer).
    final_logits : torch.Tensor of shape (positions, batch, vocab_size)
        The model's own output logits (the last layer), float32.
    statistics : tuple of str
        Statistic names; ``top_p_overlap`` of lens layer 0 is left to the caller (no predecessor).
    alpha, top_p : float
        Renyi order and candidate-set mass.
    vocab_chunk : int
        Columns per tile; with whole rows (top-p), columns per slice of the other statistics.
    max_block_bytes : int
        Bound on the whole-row logits held at once for the top-p statistics.
    frequency_ranks : torch.Tensor of shape (vocab_size,) or None, default=None
        Frequency rank of each token, for ``top1_frequency_rank``.

    Returns
    -------
    values : dict of str -> torch.Tensor of shape (positions, n_lens + 1, batch)
        Float64 statistics, the final layer last. For ``top_p_overlap`` entry ``k`` compares layer ``k``
        with layer ``k - 1``; entry 0 is NaN.
    """
    n_positions, n_lens, batch, _ = residuals.shape
    device = residuals.device
    passes = required_passes(statistics)
    targets = final_logits.argmax(dim=-1)  # (P, B)
    extra = {}
    if "final_distribution" in passes:
        final_log_probs = torch.log_softmax(final_logits, dim=-1)
        final_probabilities = final_log_probs.exp()
        extra["final_probabilities"] = final_probabilities[:, None]
        # sum(p log p) skips tokens of probability 0 (masked by -inf, where 0 * -inf would be NaN).
        products = final_probabilities.double() * final_log_probs.double()
        extra["final_negative_entropy"] = torch.where(final_probabilities > 0, products, 0.0).sum(-1)[:, None]
    prepared = lens.prepare(residuals, layers)
    if "final_top1" in passes:
        extra["targets"] = targets[:, None]
        extra["target_logits"] = lens.target_logits(prepared, targets)
    lens_names = _streamed_names(statistics)

    values = {}
    if not needs_whole_rows(statistics):
        accumulator = LensStatistics((n_positions, n_lens, batch), lens_names, alpha=alpha, device=device,
                                     frequency_ranks=frequency_ranks, **extra)
        lens.stream(prepared.reshape(-1, prepared.shape[-1]), accumulator, vocab_chunk)
        lens_values = accumulator.result()
        final_values = final_statistics(final_logits, statistics, alpha, None, frequency_ranks)[0]
        for name in lens_names:
            values[name] = torch.cat([lens_values[name], final_values[name][:, None, :]], dim=1)
        return _settled(values, statistics)

    # Whole rows: one position and a slice of the batch at a time, all its layers together, so that the
    # candidate sets of consecutive layers can be compared.
    vocab_size = final_logits.shape[-1]
    per_prompt = (n_lens + 1) * vocab_size * 4
    step = max(1, min(batch, max_block_bytes // per_prompt))
    names = tuple(statistics) + tuple(name for name in lens_names if name not in statistics)
    keep_sets = _compares_sets(statistics)
    out = {name: torch.empty((n_positions, n_lens + 1, batch), dtype=torch.float64) for name in names}
    for position in range(n_positions):
        for first in range(0, batch, step):
            members = slice(first, min(batch, first + step))
            width = members.stop - members.start
            block_extra = {key: value[position : position + 1, :, members] for key, value in extra.items()}
            accumulator = LensStatistics(
                (1, n_lens, width), lens_names, alpha=alpha, device=device, top_p=top_p, keep_sets=keep_sets,
                frequency_ranks=frequency_ranks, column_chunk=vocab_chunk, **block_extra
            )
            rows = prepared[position, :, members].reshape(-1, prepared.shape[-1])
            lens.stream(rows, accumulator, vocab_size)
            lens_values = accumulator.result()
            final_values, final_membership = final_statistics(
                final_logits[position : position + 1, members], statistics, alpha, top_p, frequency_ranks
            )
            for name in names:
                if declaration(name).compares_later_layers:
                    continue
                if declaration(name).compares_previous_layer:
                    membership = torch.cat([
                        accumulator.membership.reshape(n_lens, width, vocab_size),
                        final_membership.reshape(1, width, vocab_size),
                    ])
                    overlap = torch.full((n_lens + 1, width), math.nan, dtype=torch.float64)
                    overlap[1:] = _overlap(membership[1:], membership[:-1]).cpu()
                    out[name][position, :, members] = overlap
                else:
                    out[name][position, :n_lens, members] = lens_values[name][0]
                    out[name][position, n_lens, members] = final_values[name][0]
    return _settled(out, statistics)


def final_statistics(final_logits, statistics, alpha, top_p, frequency_ranks=None):
    """Statistics of the model's own distribution, of shape ``final_logits.shape[:-1]``.

    Returns the values and the top-p memberships (None unless a statistic needs the sets). A statistic
    whose final value is fixed by definition (the final layer is its own reference) is not computed.
    """
    shape = final_logits.shape[:-1]
    computed = tuple(name for name in _streamed_names(statistics) if declaration(name).final_value is None)
    accumulator = LensStatistics(shape, computed, alpha=alpha, device=final_logits.device, top_p=top_p,
                                 keep_sets=_compares_sets(statistics), frequency_ranks=frequency_ranks)
    rows = final_logits.reshape(-1, final_logits.shape[-1])
    # The entropy pass shifts its chunk in place: the caller's logits are still needed.
    accumulator.update(rows.clone() if "normalizer" in required_passes(computed) else rows, 0)
    values = accumulator.result()
    for name in set(statistics) | set(_streamed_names(statistics)):
        if declaration(name).final_value is not None:
            values[name] = torch.full(shape, declaration(name).final_value, dtype=torch.float64)
    return values, accumulator.membership
