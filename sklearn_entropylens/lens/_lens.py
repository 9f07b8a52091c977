"""The lens: a map from the residual stream leaving block ``l`` to next-token logits.

:class:`Lens` is the interface the decode loop talks to. A lens turns raw residual streams into
*prepared* rows (:meth:`Lens.prepare`, the only method a new lens must write), and the model's
unembedding turns prepared rows into logits, tile by tile of vocabulary columns
(:meth:`Lens.stream`), so no (rows, vocabulary) matrix has to exist. :class:`LogitLens` is the logit lens
of nostalgebraist (2020) as Entropy-Lens reads it: the model's own final norm (and projection), its
unembedding, then its logit scaling and soft-capping. A tuned lens or a sublayer lens is another
``prepare``; the decode loop does not change.
"""

import torch

from ._tracing import block_output, module_device

# Whether this process's torch can multiply bfloat16/float16 matrices into float32 on CUDA.
_MIXED_MM = {}


def _lens_matmul(prepared, rows, out):
    """``prepared @ rows.T`` in float32 whatever the weights' dtype; returns the result (``out`` or new).

    Products of bfloat16 or float16 numbers are exact in float32, so accumulating them in float32 loses
    nothing: on CUDA the low-precision GEMM writes float32 directly, elsewhere both sides are upcast.
    """
    if prepared.dtype == torch.float32 and rows.dtype == torch.float32:
        return torch.mm(prepared, rows.t(), out=out)
    if prepared.device.type == "cuda" and _MIXED_MM.get(prepared.dtype, True):
        try:
            return torch.mm(prepared, rows.t(), out_dtype=torch.float32)
        except (TypeError, RuntimeError, NotImplementedError):
            _MIXED_MM[prepared.dtype] = False
    return torch.mm(prepared.float(), rows.float().t(), out=out)


class _RowWriter:
    """An accumulator that keeps the streamed logits: whole float32 rows of the lens."""

    def __init__(self, out):
        self.out = out

    def update(self, logits, start):
        self.out[:, start : start + logits.shape[1]].copy_(logits)


class Lens:
    """Residual stream of block ``l`` -> float32 next-token logits, through the model's unembedding.

    The base class of every lens the decode loop reads. Use it to read the residual stream in a new way
    (a lens that skips the final norm, a probe of its own): subclass it and write :meth:`prepare`, which
    maps raw residual streams to the unembedding's input; the unembedding, the model's logit scaling
    and soft-cap, and the streaming over tiles of vocabulary columns are inherited. ``Lens`` itself is
    abstract (its ``prepare`` raises ``NotImplementedError``); :class:`LogitLens` and
    :class:`TunedLogitLens` are the lenses the estimators use. Logits are float32 whatever the weights'
    dtype.

    Parameters
    ----------
    adapter : LensAdapter
        The model's blocks, final norm, projection and unembedding.

    See Also
    --------
    LogitLens : The model's own head.
    TunedLogitLens : A tuned lens's translators, then the head.
    get_adapter : Finds the modules a lens reads in a causal language model.
    entropy_from_logits : Entropy of the logits a lens gives.

    Notes
    -----
    Subclasses implement :meth:`prepare`. Everything after it (the unembedding in float32 tiles, the
    model's logit scaling and soft-cap) is shared, so every lens is streamed and exact in the same way.

    Examples
    --------
    A lens that applies the unembedding to the raw residual stream, without the final norm, on a tiny
    random three-block model (width 32, 259 tokens):

    >>> import torch
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import Lens, entropy_from_logits, get_adapter
    >>> class UnembeddingLens(Lens):
    ...     def prepare(self, hidden, layers):
    ...         return hidden.to(self.device)
    >>> lens = UnembeddingLens(get_adapter(make_tiny_model("llama")))
    >>> lens.n_layers, lens.vocab_size
    (3, 259)
    >>> logits = lens.logits(torch.zeros(2, 32), layers=[1])
    >>> logits.shape, logits.dtype
    (torch.Size([2, 259]), torch.float32)
    >>> entropy_from_logits(logits)  # a zero stream gives uniform logits: log 259 nats
    tensor([5.5568, 5.5568])
    """

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def n_layers(self):
        """Number of blocks ``L`` of the model."""
        return self.adapter.n_layers

    @property
    def vocab_size(self):
        """Number of columns ``V`` of the unembedding: the length of each row of logits."""
        return self.adapter.vocab_size

    @property
    def device(self):
        """Where the logits are computed: the device of the unembedding."""
        return self.adapter.device

    def prepare(self, hidden, layers):
        """Map raw residual streams to the unembedding's input.

        Parameters
        ----------
        hidden : torch.Tensor of shape (positions, K, batch, d_model) or (n, d_model)
            Raw residual streams: the decode loop's buffer, whose axis 1 runs over ``layers``, or rows
            that all belong to the single layer of ``layers``.
        layers : sequence of int
            The layer of each entry of axis 1 (or the one layer of every row): 0 is the embedding
            layer, ``l`` the output of block ``l``.

        Returns
        -------
        prepared : torch.Tensor of shape hidden.shape[:-1] + (d_unembedding,)
            On :attr:`device`.
        """
        raise NotImplementedError

    def finish(self, logits, *, inplace=True):
        """Apply the model's logit scaling and soft-cap to float32 logits; return them.

        In place by default; ``inplace=False`` leaves ``logits`` alone, for autograd (tuned-lens training).

        Parameters
        ----------
        logits : torch.Tensor
            Float32 logits straight out of the unembedding.
        inplace : bool, default=True
            Modify ``logits`` itself.

        Returns
        -------
        logits : torch.Tensor
            The model's logits.
        """
        scale, softcap = self.adapter.logit_scale, self.adapter.softcap
        if not inplace:
            if scale is not None:
                logits = logits * scale
            return softcap * torch.tanh(logits / softcap) if softcap else logits
        if scale is not None:
            logits.mul_(scale)
        if softcap:
            logits.div_(softcap).tanh_().mul_(softcap)
        return logits

    def stream(self, prepared, accumulator, vocab_chunk):
        """Feed the float32 logits of prepared rows ``(n_rows, d)`` to ``accumulator.update(tile, start)``.

        The tiles are ``vocab_chunk`` vocabulary columns wide; only one exists at a time.

        Parameters
        ----------
        prepared : torch.Tensor of shape (n_rows, d)
            Rows from :meth:`prepare`.
        accumulator : object
            Anything with an ``update(tile, start)`` method (the streamed statistics).
        vocab_chunk : int
            Columns per tile.
        """
        weight = self.adapter.unembedding.weight
        bias = getattr(self.adapter.unembedding, "bias", None)
        n_rows, vocab_size = prepared.shape[0], weight.shape[0]
        if prepared.device.type != "cuda" and prepared.dtype != torch.float32:
            prepared = prepared.float()  # once, not per tile
        tile = torch.empty(n_rows, min(vocab_chunk, vocab_size), dtype=torch.float32, device=prepared.device)
        for start in range(0, vocab_size, vocab_chunk):
            rows = weight[start : start + vocab_chunk]
            out = tile if rows.shape[0] == tile.shape[1] else torch.empty(
                n_rows, rows.shape[0], dtype=torch.float32, device=prepared.device
            )
            logits = _lens_matmul(prepared, rows, out)
            if bias is not None:
                logits += bias[start : start + vocab_chunk].float()
            accumulator.update(self.finish(logits), start)

    @torch.no_grad()
    def logits(self, hidden, layers, vocab_chunk=None):
        """Whole float32 logits of residual streams ``(n_rows, d)``, all of layer ``layers``.

        For checks and for the last block of low-precision models; the engine streams everything else.

        Parameters
        ----------
        hidden : torch.Tensor of shape (n_rows, d)
            Raw residual streams.
        layers : sequence of int
            The layer of each row (or one layer for all).
        vocab_chunk : int or None, default=None
            Columns per tile; None takes the whole vocabulary at once.

        Returns
        -------
        logits : torch.Tensor of shape (n_rows, vocab_size), float32
            The lens logits of each row.
        """
        prepared = self.prepare(hidden, layers)
        out = torch.empty(prepared.shape[0], self.vocab_size, dtype=torch.float32, device=prepared.device)
        self.stream(prepared, _RowWriter(out), vocab_chunk or self.vocab_size)
        return out

    def target_logits(self, prepared, targets):
        """Logits of chosen tokens, float32.

        Parameters
        ----------
        prepared : torch.Tensor of shape (P, K, B, d)
            Prepared rows.
        targets : torch.Tensor of shape (P, B)
            The token of each (P, B) row.

        Returns
        -------
        logits : torch.Tensor of shape (P, K, B)
            The logit of each row's target token.
        """
        weight = self.adapter.unembedding.weight[targets]  # (P, B, d)
        logits = torch.einsum("pkbd,pbd->pkb", prepared.float(), weight.float())
        bias = getattr(self.adapter.unembedding, "bias", None)
        if bias is not None:
            logits += bias[targets][:, None, :].float()
        return self.finish(logits)


class LogitLens(Lens):
    """The logit lens: ``finish(unembed(head(h_l)))`` with the model's own modules (final norm, projection).

    The same map for every layer, so ``layers`` is ignored. For the last block it reproduces the model's
    own logits exactly; :func:`verify_adapter` checks that at load.

    Parameters
    ----------
    adapter : LensAdapter
        The model's blocks, final norm, projection and unembedding.

    See Also
    --------
    TunedLogitLens : Translates each layer first.
    Lens : The interface.

    Examples
    --------
    >>> import torch
    >>> from sklearn_entropylens.models import load_model
    >>> from sklearn_entropylens.lens import LogitLens
    >>> loaded = load_model("smollm2-135m")
    >>> lens = LogitLens(loaded.adapter)
    >>> lens.logits(torch.zeros(1, 576), layers=[3]).shape
    torch.Size([1, 49152])
    """

    def prepare(self, hidden, layers=None):
        """The head modules (final norm, projection) in order, each on its own device; the result on :attr:`device`.

        Parameters
        ----------
        hidden : torch.Tensor of shape (n_rows, d)
            Raw residual streams.
        layers : sequence of int or None, default=None
            Ignored: the logit lens reads every layer the same way.

        Returns
        -------
        prepared : torch.Tensor of shape (n_rows, d)
            The unembedding's input.
        """
        for module in self.adapter.head:
            hidden = block_output(module(hidden.to(module_device(module, hidden.device))))
        return hidden.to(self.device)
