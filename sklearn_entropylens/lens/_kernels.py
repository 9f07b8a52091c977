"""Entropy of next-token distributions, streamed over chunks of the vocabulary.

Every statistic here is computed from logits, never from probabilities, with the shift by the running
row maximum that makes ``exp`` safe for logits of any magnitude. A row's logits may arrive in several
chunks (slices of the vocabulary); the accumulators are rescaled when a later chunk raises the maximum,
as in an online log-sum-exp, so no full-vocabulary probability vector is ever held.

With ``M`` the running maximum, ``S = sum(exp(z - M))`` and ``T = sum(exp(z - M) * (z - M))``:

- Shannon: ``H = log S - T / S`` (that is ``logsumexp(z) - E_p[z]``);
- Renyi of order alpha: ``H_a = (log S_a - a log S) / (1 - a)`` with ``S_a = sum(exp(a (z - M)))``;
  the ``a M`` terms of ``logsumexp(a z) - a logsumexp(z)`` cancel exactly;
- min-entropy (alpha = inf): ``H_inf = logsumexp(z) - max z = log S``;
- Hartley (alpha = 0): ``log`` of the support, the number of logits that are not ``-inf`` (``log V``
  unless tokens are masked), since a softmax gives every other token positive probability.

:class:`LensStatistics` adds, in the same pass over each chunk, the statistics that compare a layer's
distribution with the final one: ``KL(final || layer) = -H(final) - sum(p_final * z) + logsumexp(z)``,
the rank of the final top-1 token (a count of larger logits, no sort), and the smallest top-p candidate
set, which needs whole rows (a sort of the tokens that can belong to it).
"""

import math

import numpy as np
import torch

from ._registry import declaration, renyi_order, required_passes
from ._spec import check_alpha


# Near alpha = 1 the Renyi numerator is a difference of two nearly equal logs divided by (1 - alpha):
# in float32 that loses |1 - alpha|^-1 * 1e-7 nats, so such orders accumulate in float64 instead.
_FLOAT64_ALPHA_WINDOW = 0.05


# torch's CPU exp is 10 to 30 times slower where its result would be below the smallest normal float
# (and at -inf): in a float32 pass over a 262k-token row with alpha = 5 that is most of the row. Every
# exponent is clamped here first: each such term becomes exp(floor) (floor * exp(floor) in Shannon's sum)
# instead of something smaller. Beside the row maximum's term of 1 that moves an entropy by at most
# V * 1.5e-36 nats (V * 2.4e-305 in float64): on the bundled models' logits not by one bit.
_EXP_FLOOR = {torch.float32: -87.0, torch.float64: -708.0}


def accumulates_in_float64(alpha):
    """Whether a Renyi order is accumulated in float64 (an order close to, but not, 1)."""
    return 0 < abs(alpha - 1.0) < _FLOAT64_ALPHA_WINDOW


class StreamingEntropy:
    """Accumulate the Renyi (or Shannon) entropy of rows of logits given chunk by chunk.

    Parameters
    ----------
    n_rows : int
        Number of distributions (rows) accumulated at once.
    alpha : float or tuple of float
        Renyi order; ``1`` is Shannon entropy, ``numpy.inf`` min-entropy, ``0`` Hartley entropy. A tuple
        of orders accumulates all of them over the same chunks, sharing the row maximum and the
        normalizer ``S``; they must agree on the accumulation dtype (see
        :func:`accumulates_in_float64`).
    device : torch.device or str, default="cpu"
        Device of the accumulators; chunks must live there too.

    Notes
    -----
    Call :meth:`update` with every chunk of columns of the same rows (any split of the vocabulary, in
    any order), then :meth:`result`. Chunks are modified in place (shifted by the row maximum), which
    saves one full pass over the logits. Each order's numbers are those it gets alone: the shared
    maximum, shift and ``S`` are the same operations on the same values.
    """

    def __init__(self, n_rows, alpha, device="cpu"):
        # Orders arrive checked (by the profile's specification, or by entropy_from_logits).
        orders = tuple(float(order) for order in alpha) if isinstance(alpha, tuple) else (float(alpha),)
        if len({accumulates_in_float64(order) for order in orders}) != 1:
            raise ValueError(f"Orders {orders} need different accumulation dtypes; accumulate them apart.")
        self.orders = orders
        self.alpha = orders[0] if len(orders) == 1 else orders
        # Hartley entropy counts each row's support: the columns whose logit is not -inf (masked).
        self._support = torch.zeros(n_rows, dtype=torch.float64, device=device) if 0.0 in orders else None
        self._streamed = any(order != 0.0 for order in orders)
        self.dtype = torch.float64 if accumulates_in_float64(orders[0]) else torch.float32
        self._max = torch.full((n_rows,), -math.inf, dtype=self.dtype, device=device)
        self._sum = torch.zeros(n_rows, dtype=self.dtype, device=device)
        # Shannon: sum of exp(z - M) * (z - M); each finite Renyi order: sum of exp(alpha * (z - M)).
        self._shannon = torch.zeros(n_rows, dtype=self.dtype, device=device) if 1.0 in orders else None
        self._powers = {order: torch.zeros(n_rows, dtype=self.dtype, device=device)
                        for order in orders if math.isfinite(order) and order not in (0.0, 1.0)}

    def update(self, logits):
        """Add a chunk of columns.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_rows, n_chunk_columns)
            Logits of a slice of the vocabulary; cast to the accumulation dtype and shifted in place.
        """
        if self._support is not None:
            self._support += (logits > -math.inf).sum(dim=-1)
        if not self._streamed:
            return
        z = logits if logits.dtype == self.dtype else logits.to(self.dtype)
        new_max = torch.maximum(self._max, z.amax(dim=-1))
        # A row masked so far (every logit -inf) keeps -inf as its maximum but is shifted by 0: its terms
        # are then exp(-inf) = 0, where -inf - (-inf) would give NaN.
        shift_by = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
        # exp(-inf - finite) = 0 makes the very first rescale a no-op on the zero accumulators.
        shift = self._max - shift_by
        scale = torch.exp(shift)
        if self._shannon is not None:
            finite_shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
            self._shannon = scale * (self._shannon + finite_shift * self._sum)
        for order, power in self._powers.items():
            self._powers[order] = power * torch.exp(order * shift)
        self._sum = self._sum * scale
        self._max = new_max

        z.sub_(shift_by[:, None])
        floor = _EXP_FLOOR[self.dtype]
        e = z.clamp(min=floor).exp_()
        self._sum += e.sum(dim=-1)
        orders = list(self._powers)
        for k, order in enumerate(orders):
            # The last use of z may scale it in place; Shannon's term still needs it unscaled.
            in_place = k == len(orders) - 1 and self._shannon is None
            scaled = z.mul_(order) if in_place else z * order
            self._powers[order] += scaled.clamp_(min=floor).exp_().sum(dim=-1)
        if self._shannon is not None:
            # The clamp also keeps a masked logit's term finite (exp(floor) * floor, not 0 * -inf = NaN).
            self._shannon += e.mul_(z.clamp_(min=floor)).sum(dim=-1)

    def log_normalizer(self):
        """Return ``logsumexp`` of every row's logits seen so far (not available for alpha = 0 alone)."""
        if not self._streamed:
            raise ValueError("Hartley entropy (alpha=0) does not accumulate the log-normalizer.")
        return self._max.double() + torch.log(self._sum.double())

    def result(self, alpha=None):
        """Return the entropies of order ``alpha`` (the only one when None), in nats, of shape (n_rows,).

        Float32, or float64 for orders close to 1.
        """
        if alpha is None:
            if len(self.orders) != 1:
                raise ValueError(f"Name the order: this accumulator holds {self.orders}.")
            alpha = self.orders[0]
        alpha = float(alpha)
        if alpha == 0.0:
            return torch.log(self._support).to(self.dtype)
        # A row whose logits were all -inf has no terms: its clamped ones counted exp(floor) each. (A row
        # masked only so far loses them at the first finite maximum, whose rescale by exp(-inf) is 0.)
        masked = torch.isneginf(self._max)
        total = self._sum.masked_fill(masked, 0.0)
        log_sum = torch.log(total)
        if alpha == 1.0:
            return log_sum - self._shannon.masked_fill(masked, 0.0) / total
        if math.isinf(alpha):
            return log_sum
        return (torch.log(self._powers[alpha].masked_fill(masked, 0.0)) - alpha * log_sum) / (1.0 - alpha)


def entropy_from_logits(logits, alpha=1.0, chunk_size=None):
    """Renyi (or Shannon) entropy, in nats, of ``softmax(logits)`` along the last axis.

    The accumulator the engine streams over each layer's lens logits, as one function: use it on any
    logits (a model's output, a lens's :meth:`Lens.logits`) to get the entropies a profile records.
    It works from the logits themselves, shifted by each row's maximum, so logits of any magnitude
    are safe and no probability vector is formed; ``chunk_size`` splits the vocabulary as the engine's
    tiles do, which changes the result by float rounding at most. The sums are accumulated in float32
    (float64 for orders within 0.05 of 1, but not 1), so float64 input is not computed in float64.
    ``alpha=0`` is the log of the number of logits that are not ``-inf``.

    Parameters
    ----------
    logits : array-like or torch.Tensor of shape (..., vocab_size)
        Unnormalised log-probabilities. Not modified.
    alpha : float, default=1.0
        Renyi order; ``1`` is Shannon entropy, ``numpy.inf`` min-entropy.
    chunk_size : int or None, default=None
        Number of vocabulary columns processed at once; ``None`` takes them all.

    Returns
    -------
    entropy : torch.Tensor of shape logits.shape[:-1]
        Entropies in nats (float32, or float64 for orders close to 1).

    See Also
    --------
    sklearn_entropylens.EntropyProfileTransformer : Streams it over every layer of a model.
    convert_units : Convert the entropies from nats to bits or fractions of ``log V``.
    Lens : Gives the logits of a layer's residual stream.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_entropylens.lens import entropy_from_logits
    >>> round(float(entropy_from_logits(torch.zeros(4))), 6)  # uniform over 4 tokens: log 4
    1.386294
    >>> logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> entropy_from_logits(logits)  # Shannon, one entropy per row
    tensor([0.6656, 1.0986])
    >>> entropy_from_logits(logits, alpha=np.inf)  # min-entropy: -log of the largest probability
    tensor([0.2395, 1.0986])
    >>> torch.allclose(entropy_from_logits(logits, chunk_size=2), entropy_from_logits(logits))
    True
    """
    alpha = check_alpha(alpha)
    logits = torch.as_tensor(np.asarray(logits) if not torch.is_tensor(logits) else logits)
    batch_shape = logits.shape[:-1]
    rows = logits.reshape(-1, logits.shape[-1])
    acc = StreamingEntropy(rows.shape[0], alpha, device=rows.device)
    step = rows.shape[-1] if chunk_size is None else int(chunk_size)
    for start in range(0, rows.shape[-1], step):
        acc.update(rows[:, start : start + step].to(acc.dtype, copy=True))
    return acc.result().reshape(batch_shape)


# Columns per slice when counting a whole row's candidates: a reduction over a whole (rows, 262k) bool
# matrix first converts it to int64 (6x slower on 2 cores than slices reduced in the CPU's cache).
_COUNT_COLUMNS = 16384


def _count_at_least(values, threshold):
    """Per row, how many of ``values`` (n_rows, n_columns) are ``>= threshold``; int64."""
    counts = torch.zeros(values.shape[0], dtype=torch.int64, device=values.device)
    for start in range(0, values.shape[1], _COUNT_COLUMNS):
        at_least = values[:, start : start + _COUNT_COLUMNS] >= threshold
        counts += at_least.view(torch.uint8).sum(dim=-1, dtype=torch.int32)
    return counts


# For the sizes alone, a group of rows is sorted from its gathered candidates unless a row has more than
# 1 / _GATHER_SHARE of the vocabulary as candidates (a nearly flat row), where a partial sort in place
# costs no more. Measured on Gemma-3's 262k-token lens rows: a quarter off the top-p time of a study
# profile; a tile of mostly flat rows (random logits) takes about a tenth longer than the full sort.
_GATHER_SHARE = 2


def top_p_sets(logits, top_p, *, membership=True):
    """Smallest sets of most probable tokens whose probability reaches ``top_p``, row by row.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_rows, vocab_size)
        Whole rows of logits (not modified).
    top_p : float
        Probability mass in (0, 1].
    membership : bool, default=True
        Whether to return the sets themselves (only their sizes otherwise).

    Returns
    -------
    sizes : torch.Tensor of shape (n_rows,)
        ``|S|``: tokens are taken by decreasing probability until their total reaches ``top_p``.
    membership : torch.Tensor of shape (n_rows, vocab_size), bool, or None
        Whether each token is in its row's set; None when ``membership=False``.

    Notes
    -----
    Only tokens with ``p >= (1 - top_p) / V`` are sorted: the others hold less than ``1 - top_p`` in
    all, so the ones above hold more than ``top_p`` and the set never reaches below them. A partial sort
    of ``k`` tokens costs about ``k log k``, and a flat row (an early layer) has tens of thousands of
    candidates where a peaked one has a few: rows are sorted in groups of similar candidate counts, each
    group with its own ``k``, so one flat row does not set the cost of all the others. For the sizes
    alone, the candidates are first gathered out of the rows, so a row's sort costs its candidates rather
    than its vocabulary; the running totals are those of the full sort, bit for bit.
    """
    n_rows, vocab_size = logits.shape
    if top_p >= 1.0:
        # Every token has positive probability under a softmax, however far float rounding leaves it.
        full = torch.full((n_rows,), vocab_size, dtype=torch.int64, device=logits.device)
        return full, torch.ones((n_rows, vocab_size), dtype=torch.bool, device=logits.device) if membership else None
    probabilities = torch.softmax(logits.float(), dim=-1)
    floor = (1.0 - top_p) / vocab_size
    if membership:
        candidates = _count_at_least(probabilities, floor).clamp_(min=1)
    else:
        # Row and column of every candidate, row by row in order (nonzero's order is lexicographic).
        row_of, column_of = torch.nonzero(probabilities >= floor, as_tuple=True)
        found = torch.bincount(row_of, minlength=n_rows)
        candidates = found.clamp(min=1)
    # Groups of rows whose candidate counts share their power of 4 (any grouping gives the same sets: each
    # group takes its own largest count as k); each row then sorts at most 4x the tokens it needs.
    group_of_row = torch.floor(torch.log2(candidates.float()) / 2).long()
    groups = []
    for group in torch.unique(group_of_row).tolist():
        rows = torch.nonzero(group_of_row == group).squeeze(1)
        groups.append((rows, int(candidates[rows].max())))
    if not membership:
        gathered = [(rows, n_candidates) for rows, n_candidates in groups
                    if n_candidates * _GATHER_SHARE <= vocab_size]
        sizes, unsettled = _sizes_of_gathered_candidates(probabilities[row_of, column_of], row_of, found, top_p,
                                                         gathered)
        if not unsettled.any():
            return sizes, None
        # Rows whose candidates fall short of top_p (float rounding, or a row of NaN) take the full sort too.
        groups = [(rows[unsettled[rows]], n_candidates) for rows, n_candidates in groups]
    else:
        sizes = torch.empty(n_rows, dtype=torch.int64, device=logits.device)
    members = torch.zeros((n_rows, vocab_size), dtype=torch.bool, device=logits.device) if membership else None
    for rows, n_candidates in groups:
        if len(rows) == 0:
            continue
        values, indices = probabilities[rows].topk(n_candidates, dim=-1, sorted=True)
        group_sizes = _set_sizes(values, top_p, n_candidates)
        sizes[rows] = group_sizes
        if membership:
            in_set = torch.arange(n_candidates, device=logits.device)[None, :] < group_sizes[:, None]
            members[rows] = torch.zeros((len(rows), vocab_size), dtype=torch.bool, device=logits.device).scatter_(
                1, indices, in_set)
    return sizes, members


def _set_sizes(descending, top_p, n_candidates):
    """Sizes of the sets from each row's most probable values in decreasing order."""
    # float64 running totals: the boundary of a set of thousands of tokens must not drift.
    below = (descending.double().cumsum(dim=-1) < top_p).sum(dim=-1)
    return torch.clamp(below + 1, max=n_candidates)


def _sizes_of_gathered_candidates(values, row_of, found, top_p, groups):
    """Set sizes from each row's candidates alone; also which rows they do not settle.

    ``values`` are the candidates' probabilities, row after row, ``row_of`` their rows and ``found`` how
    many each row has. A row's ``c`` candidates are exactly its ``c`` largest probabilities, so sorted
    they are the first ``c`` values of the full sort, and their running totals (sequential float64 sums)
    are the same bits. Where the total reaches ``top_p`` within them, the size is the full sort's;
    elsewhere (rounding leaves the candidates short of ``top_p``, or a row of NaN) the row is reported
    unsettled.
    """
    first = torch.cumsum(found, 0) - found
    sizes = torch.zeros(len(found), dtype=torch.int64, device=found.device)
    unsettled = torch.ones(len(found), dtype=torch.bool, device=found.device)
    for rows, n_candidates in groups:
        lengths = found[rows]
        # The group's candidates, row after row: each row's run of values starts at ``first``.
        local_row = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
        place = torch.arange(int(lengths.sum()), device=rows.device) - torch.repeat_interleave(
            torch.cumsum(lengths, 0) - lengths, lengths)
        source = torch.repeat_interleave(first[rows], lengths) + place
        gathered = torch.zeros(len(rows) * n_candidates, dtype=values.dtype, device=values.device)
        gathered[local_row * n_candidates + place] = values[source]
        # Zeros pad the shorter rows: they sort last and leave the totals of the candidates unchanged.
        descending = gathered.view(len(rows), n_candidates).sort(dim=-1, descending=True).values
        totals = descending.double().cumsum(dim=-1)
        reached = totals.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1) >= top_p
        sizes[rows] = (totals < top_p).sum(dim=-1) + 1
        unsettled[rows] = ~reached
    return sizes, unsettled


class LensStatistics:
    """Per-row statistics of lens logits given chunk by chunk, with the final layer as reference.

    Parameters
    ----------
    row_shape : tuple of int
        Shape of the rows (for example ``(positions, layers, batch)``); chunks arrive flattened to
        ``(prod(row_shape), n_columns)``.
    statistics : tuple of str
        Names among :data:`STATISTICS`; ``top1_agreement`` comes with ``final_token_rank``.
    alpha : float
        Renyi order of ``"entropy"``; ``entropy_alpha<order>`` statistics carry their own orders, all
        accumulated in the same pass over each chunk.
    device : torch.device
        Device of the chunks.
    final_probabilities : torch.Tensor or None
        Probabilities of the final layer, broadcastable to ``row_shape + (V,)``; needed for
        ``"kl_to_final"``.
    final_negative_entropy : torch.Tensor or None
        ``sum(p log p)`` of the final layer, broadcastable to ``row_shape``; needed for ``"kl_to_final"``.
    targets, target_logits : torch.Tensor or None
        The final top-1 token and this row's logit for it, broadcastable to ``row_shape``; needed for
        ``"final_token_rank"``.
    top_p : float or None
        Mass of the candidate sets; chunks must then be whole rows.
    keep_sets : bool, default=False
        Keep the candidate sets themselves (:attr:`membership`), for a statistic that compares them across
        layers; otherwise only their sizes.
    frequency_ranks : torch.Tensor of shape (V,) or None
        Frequency rank of each token (1 = most frequent); needed for ``"top1_frequency_rank"``.
    column_chunk : int or None
        With whole rows (top-p), the other statistics still take them this many columns at a time, so
        each slice is reduced while it is in the CPU's cache; None takes a chunk as it comes.
    """

    def __init__(
        self,
        row_shape,
        statistics,
        *,
        alpha,
        device,
        final_probabilities=None,
        final_negative_entropy=None,
        targets=None,
        target_logits=None,
        top_p=None,
        keep_sets=False,
        frequency_ranks=None,
        column_chunk=None,
    ):
        self.row_shape = tuple(row_shape)
        self.column_chunk = column_chunk
        self.statistics = statistics
        self.alpha = alpha
        n_rows = math.prod(self.row_shape)
        self.vocab_size = 0
        passes = required_passes(statistics)
        self._wants_kl = "final_distribution" in passes
        self._wants_rank = "final_top1" in passes
        self._wants_top_p = "top_p_sets" in passes
        self._orders = {name: alpha if name == "entropy" else renyi_order(name)
                        for name in statistics if declaration(name).read == "entropy"}
        # Hartley entropy (order 0) only counts the support (below); the other orders share one accumulator
        # per dtype: one row maximum, shift and normalizer for all the orders of a list.
        streamed = sorted({order for order in self._orders.values() if order != 0.0})
        self._streams = [StreamingEntropy(n_rows, tuple(order for order in streamed if accumulates_in_float64(order) == wide),
                                          device=device)
                         for wide in (False, True) if any(accumulates_in_float64(order) == wide for order in streamed)]
        self._stream_of = {order: stream for stream in self._streams for order in stream.orders}
        self._normalizer = next(iter(self._streams), None)
        if "normalizer" in passes and self._normalizer is None:
            # KL without an entropy (or with Hartley's alone) needs the log-normalizer of a Shannon pass.
            self._normalizer = StreamingEntropy(n_rows, 1.0, device=device)
            self._streams = [self._normalizer]
        # Hartley entropy counts the columns whose logit is not -inf, and nothing else.
        self._support = torch.zeros(n_rows, dtype=torch.float64, device=device) if 0.0 in self._orders.values() else None
        if self._wants_kl:
            self._final_probabilities = final_probabilities
            # A token the final layer gives probability 0 adds nothing to KL(final || layer), even where the
            # layer's logit is -inf (0 * -inf is NaN in floating point). Finite logits times 0 are 0 already,
            # so the mask is only applied when the final distribution has such tokens.
            self._final_has_zeros = bool((final_probabilities == 0).any())
            self._final_negative_entropy = final_negative_entropy
            self._cross = torch.zeros(self.row_shape, dtype=torch.float64, device=device)
        if self._wants_rank:
            self._targets = targets.expand(self.row_shape).reshape(-1)
            self._target_logits = target_logits.expand(self.row_shape).reshape(-1, 1)
            self._higher = torch.zeros(n_rows, dtype=torch.int64, device=device)
        if "lens_top1" in passes:
            if frequency_ranks is None:
                raise ValueError("top1_frequency_rank needs a token-frequency table (frequency_ranks).")
            self._frequency_ranks = frequency_ranks
            # The first column of the largest logit, as argmax over the whole row would give.
            self._top_logit = torch.full((n_rows,), -math.inf, dtype=torch.float32, device=device)
            self._top_index = torch.zeros(n_rows, dtype=torch.int64, device=device)
        self._wants_top1 = "lens_top1" in passes
        self.top_p = top_p
        self.keep_sets = keep_sets
        self.top_p_sizes = self.membership = None

    def update(self, logits, start):
        """Add the columns ``start : start + logits.shape[1]`` of every row (modified in place)."""
        n_columns = logits.shape[1]
        self.vocab_size += n_columns
        if not self._wants_top_p:
            self._reduce(logits, start)
            return
        if start != 0 or self.vocab_size != n_columns:
            raise ValueError("top-p statistics need whole rows of logits in a single chunk.")
        sizes, self.membership = top_p_sets(logits, self.top_p, membership=self.keep_sets)
        self.top_p_sizes = sizes.reshape(self.row_shape)
        step = self.column_chunk or n_columns
        for first in range(0, n_columns, step):
            self._reduce(logits[:, first : first + step], first)

    def _reduce(self, logits, start):
        """The streamed statistics of columns ``start : start + logits.shape[1]`` (shifted in place)."""
        n_columns = logits.shape[1]
        if self._wants_kl:
            weights = self._final_probabilities[..., start : start + n_columns]
            products = logits.reshape(*self.row_shape, n_columns) * weights
            if self._final_has_zeros:
                products = torch.where(weights > 0, products, 0.0)
            self._cross += products.sum(dim=-1, dtype=torch.float64)
        if self._wants_rank:
            higher = logits > self._target_logits
            # The target's own column never counts, whatever the rounding of its two computations.
            local = self._targets - start
            inside = (local >= 0) & (local < n_columns)
            rows = torch.nonzero(inside).squeeze(1)
            higher[rows, local[rows]] = False
            self._higher += higher.sum(dim=-1)
        if self._wants_top1:
            index = logits.argmax(dim=-1)
            top = logits.gather(1, index[:, None]).squeeze(1).float()
            better = top > self._top_logit
            self._top_logit = torch.where(better, top, self._top_logit)
            self._top_index = torch.where(better, index + start, self._top_index)
        if self._support is not None:
            self._support += (logits > -math.inf).sum(dim=-1)
        # Each accumulator shifts its chunk in place: all but the last get a copy.
        for k, stream in enumerate(self._streams):
            stream.update(logits if k == len(self._streams) - 1 else logits.clone())

    def entropy(self, name="entropy"):
        if self._orders[name] == 0.0:
            return torch.log(self._support).reshape(self.row_shape)
        order = self._orders[name]
        return self._stream_of[order].result(order).double().reshape(self.row_shape)

    def kl_to_final(self):
        log_normalizer = self._normalizer.log_normalizer().reshape(self.row_shape)
        return (self._final_negative_entropy - self._cross + log_normalizer).clamp(min=0.0)

    def final_token_rank(self):
        return (self._higher + 1).double().reshape(self.row_shape)

    def top1_agreement(self):
        return (self._higher == 0).double().reshape(self.row_shape)

    def top_p_size(self):
        return self.top_p_sizes.double()

    def top1_frequency_rank(self):
        ranks = self._frequency_ranks.to(self._top_index.device)
        return ranks[self._top_index].double().reshape(self.row_shape)

    def result(self):
        """Return a dict of statistic name -> float64 tensor of shape ``row_shape`` (on the CPU).

        Statistics that compare layers (``top_p_overlap``) are formed across rows by the engine.
        """
        out = {}
        for name in self.statistics:
            read = declaration(name).read
            if read == "entropy":
                out[name] = self.entropy(name).cpu()
            elif read is not None:
                out[name] = getattr(self, read)().cpu()
        return out
