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
- Hartley (alpha = 0): ``log V``, since a softmax gives every token positive probability.
"""

import math
import numbers

import numpy as np
import torch

# Near alpha = 1 the Renyi numerator is a difference of two nearly equal logs divided by (1 - alpha):
# in float32 that loses |1 - alpha|^-1 * 1e-7 nats, so such orders accumulate in float64 instead.
_FLOAT64_ALPHA_WINDOW = 0.05


def check_alpha(alpha):
    """Validate a Renyi order and return it as a float.

    Parameters
    ----------
    alpha : float
        Order of the Renyi entropy: ``1`` for Shannon, any value ``>= 0`` including ``numpy.inf``.

    Returns
    -------
    alpha : float
        The order as a Python float.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number >= 0 (1 for Shannon), got {alpha!r}.")
    alpha = float(alpha)
    if math.isnan(alpha) or alpha < 0:
        raise ValueError(f"alpha must be >= 0 (1 for Shannon, numpy.inf for min-entropy), got {alpha}.")
    return alpha


class StreamingEntropy:
    """Accumulate the Renyi (or Shannon) entropy of rows of logits given chunk by chunk.

    Parameters
    ----------
    n_rows : int
        Number of distributions (rows) accumulated at once.
    alpha : float
        Renyi order; ``1`` is Shannon entropy, ``numpy.inf`` min-entropy, ``0`` Hartley entropy.
    device : torch.device or str, default="cpu"
        Device of the accumulators; chunks must live there too.

    Notes
    -----
    Call :meth:`update` with every chunk of columns of the same rows (any split of the vocabulary, in
    any order), then :meth:`result`. Chunks are modified in place (shifted by the row maximum), which
    saves one full pass over the logits.
    """

    def __init__(self, n_rows, alpha, device="cpu"):
        self.alpha = check_alpha(alpha)
        self.n_columns = 0
        use_float64 = 0 < abs(self.alpha - 1.0) < _FLOAT64_ALPHA_WINDOW
        self.dtype = torch.float64 if use_float64 else torch.float32
        self._max = torch.full((n_rows,), -math.inf, dtype=self.dtype, device=device)
        self._sum = torch.zeros(n_rows, dtype=self.dtype, device=device)
        # Shannon: sum of exp(z - M) * (z - M); finite Renyi orders: sum of exp(alpha * (z - M)).
        self._second = torch.zeros(n_rows, dtype=self.dtype, device=device)

    def update(self, logits):
        """Add a chunk of columns.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_rows, n_chunk_columns)
            Logits of a slice of the vocabulary; cast to the accumulation dtype and shifted in place.
        """
        self.n_columns += logits.shape[-1]
        if self.alpha == 0.0:
            return
        z = logits if logits.dtype == self.dtype else logits.to(self.dtype)
        new_max = torch.maximum(self._max, z.amax(dim=-1))
        # exp(-inf - finite) = 0 makes the very first rescale a no-op on the zero accumulators.
        shift = self._max - new_max
        scale = torch.exp(shift)
        finite_shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        if self.alpha == 1.0:
            self._second = scale * (self._second + finite_shift * self._sum)
        elif math.isfinite(self.alpha):
            self._second = self._second * torch.exp(self.alpha * shift)
        self._sum = self._sum * scale
        self._max = new_max

        z.sub_(new_max[:, None])
        if self.alpha == 1.0:
            e = torch.exp(z)
            self._sum += e.sum(dim=-1)
            self._second += e.mul_(z).sum(dim=-1)
        elif math.isinf(self.alpha):
            self._sum += torch.exp(z).sum(dim=-1)
        else:
            self._sum += torch.exp(z).sum(dim=-1)
            self._second += z.mul_(self.alpha).exp_().sum(dim=-1)

    def result(self):
        """Return the entropies, in nats, as a float32 or float64 tensor of shape (n_rows,)."""
        if self.alpha == 0.0:
            return torch.full_like(self._sum, math.log(self.n_columns))
        log_sum = torch.log(self._sum)
        if self.alpha == 1.0:
            return log_sum - self._second / self._sum
        if math.isinf(self.alpha):
            return log_sum
        return (torch.log(self._second) - self.alpha * log_sum) / (1.0 - self.alpha)


def entropy_from_logits(logits, alpha=1.0, chunk_size=None):
    """Renyi (or Shannon) entropy, in nats, of ``softmax(logits)`` along the last axis.

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

    Examples
    --------
    >>> import torch
    >>> from sklearn_entropylens._statistics import entropy_from_logits
    >>> round(float(entropy_from_logits(torch.zeros(4))), 6)  # uniform over 4 tokens: log 4
    1.386294
    """
    logits = torch.as_tensor(np.asarray(logits) if not torch.is_tensor(logits) else logits)
    batch_shape = logits.shape[:-1]
    rows = logits.reshape(-1, logits.shape[-1])
    acc = StreamingEntropy(rows.shape[0], alpha, device=rows.device)
    step = rows.shape[-1] if chunk_size is None else int(chunk_size)
    for start in range(0, rows.shape[-1], step):
        acc.update(rows[:, start : start + step].to(acc.dtype, copy=True))
    return acc.result().reshape(batch_shape)


def convert_units(entropy_nats, *, log_base=None, normalize=False, vocab_size=None):
    """Convert entropies from nats to another logarithm base, or normalise them by ``log V``.

    Parameters
    ----------
    entropy_nats : ndarray
        Entropies in nats.
    log_base : float or None, default=None
        Base of the logarithm; ``None`` (or ``e``) keeps nats, ``2`` gives bits.
    normalize : bool, default=False
        Divide by the maximum entropy ``log V``, giving values in ``[0, 1]`` (independent of the base).
    vocab_size : int or None, default=None
        ``V``; required when ``normalize`` is True.

    Returns
    -------
    entropy : ndarray
        The converted entropies.
    """
    if normalize:
        return entropy_nats / math.log(vocab_size)
    if log_base is None or log_base == math.e:
        return entropy_nats
    return entropy_nats / math.log(log_base)
