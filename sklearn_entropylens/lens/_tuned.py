"""The tuned lens (Belrose et al., arXiv 2303.08112): the logit lens read after one affine translator per layer.

Layer ``l`` (0 the embedding layer, ``l`` the output of block ``l``, for ``l < L``) is read as
``finish(unembed(head(h + h A_l^T + b_l)))``. With ``A_l = 0`` and ``b_l = 0`` this is the logit lens
exactly; block ``L`` is never translated, since its lens is the model's own output. The translators are
plain float32 arrays (:class:`Translators`): they travel to joblib workers, into skops files and into the
profile cache's key (by their content hash) without any torch object.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ._cache import array_digest
from ._lens import LogitLens


@dataclass(frozen=True, eq=False)
class Translators:
    """The fitted affine translators of a tuned lens, and the model they were fitted on.

    A tuned lens as plain float32 arrays, with no torch object: what a fitted
    :class:`~sklearn_entropylens.TunedLens` gives through its ``translators()`` method, what a profile
    specification carries to joblib workers, and what the profile cache keys a tuned-lens profile by
    (:meth:`content_hash`). :meth:`lens` turns them into the :class:`TunedLogitLens` that reads a model
    through them. Translators apply only to the model and revision they name (:meth:`check_model`
    refuses any other), and zero weights and biases give the logit lens exactly.

    Parameters
    ----------
    weights : ndarray of shape (n_layers, width, width), float32
        ``A_l`` for layers ``0 .. n_layers - 1``: the translator maps ``h`` to ``h + h @ A_l.T + b_l``.
    biases : ndarray of shape (n_layers, width), float32
        ``b_l``.
    model : str
        The identifier of the model.
    revision : str
        Its revision; a lens is only applied to the same revision.

    See Also
    --------
    sklearn_entropylens.TunedLens : Fits them.
    TunedLogitLens : Reads through them.
    LogitLens : The lens that zero translators reproduce.

    Examples
    --------
    Zero translators for a tiny random three-block model (width 32) read exactly as the logit lens:

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import LogitLens, Translators, get_adapter
    >>> translators = Translators(
    ...     weights=np.zeros((3, 32, 32), dtype=np.float32), biases=np.zeros((3, 32), dtype=np.float32),
    ...     model="tiny-llama", revision="tiny-llama-seed0",
    ... )
    >>> translators.n_layers, translators.width
    (3, 32)
    >>> len(translators.content_hash())  # a hex SHA-256
    64
    >>> adapter = get_adapter(make_tiny_model("llama"))
    >>> hidden = torch.randn(4, 32, generator=torch.Generator().manual_seed(0))
    >>> tuned_logits = translators.lens(adapter).logits(hidden, layers=[1])
    >>> torch.equal(tuned_logits, LogitLens(adapter).logits(hidden, layers=[1]))
    True
    """

    weights: np.ndarray
    biases: np.ndarray
    model: str
    revision: str

    @property
    def n_layers(self):
        """Number of translators: one per layer ``0 .. L-1``, so the model's number of blocks ``L``."""
        return self.weights.shape[0]

    @property
    def width(self):
        """Width of the residual stream the translators act on."""
        return self.weights.shape[-1]

    def content_hash(self):
        """A SHA-256 of the arrays and the model they belong to: the lens's part of a profile's cache key.

        Returns
        -------
        digest : str
            A hex SHA-256.
        """
        return array_digest(self.weights, self.biases, text=f"{self.model}@{self.revision}")

    def check_model(self, loaded):
        """Raise a ValueError unless ``loaded`` is the model, revision and width these translators fit.

        Parameters
        ----------
        loaded : LoadedModel
            The model as loaded.
        """
        if (self.model, self.revision) != (loaded.name, loaded.revision):
            raise ValueError(
                f"This tuned lens was fitted on {self.model!r} at revision {self.revision!r}, not on {loaded.name!r} "
                f"at revision {loaded.revision!r}; fit a TunedLens on that model (or use lens='logit')."
            )
        if (self.n_layers, self.width) != (loaded.n_layers, loaded.adapter.width):
            raise ValueError(
                f"This tuned lens has {self.n_layers} translators of width {self.width}; {loaded.name!r} has "
                f"{loaded.n_layers} blocks of width {loaded.adapter.width}."
            )

    def lens(self, adapter):
        """The :class:`TunedLogitLens` of these translators on a model's adapter.

        Parameters
        ----------
        adapter : LensAdapter
            The model's adapter.

        Returns
        -------
        lens : TunedLogitLens
            The lens that reads through these translators.
        """
        return TunedLogitLens(adapter, self)


class TunedLogitLens(LogitLens):
    """The logit lens after each layer's affine translator; block ``L`` is read untranslated.

    The tuned lens of Belrose et al. (arXiv 2303.08112) as the decode loop reads it: layer ``l`` is
    read as the logit lens of ``h + h A_l^T + b_l``, the translation computed in float32. Block ``L``'s
    lens is the model's own output, so it is never translated. Estimators build it themselves from a
    fitted :class:`~sklearn_entropylens.TunedLens` (``EntropyProfileTransformer(lens=...)``); build one
    directly, or with :meth:`Translators.lens`, to read residual streams through given translators.

    Parameters
    ----------
    adapter : LensAdapter
        The model's modules.
    translators : Translators
        One translator per layer ``0 .. L-1``.

    See Also
    --------
    LogitLens : The lens without translators.
    Translators : The translators it reads through.
    sklearn_entropylens.TunedLens : The estimator that fits the translators.

    Examples
    --------
    Translators that add 0.5 to every coordinate, on a tiny random three-block model (width 32):

    >>> import numpy as np
    >>> import torch
    >>> from sklearn_entropylens.testing import make_tiny_model
    >>> from sklearn_entropylens.lens import LogitLens, Translators, TunedLogitLens, get_adapter
    >>> adapter = get_adapter(make_tiny_model("llama"))
    >>> translators = Translators(
    ...     weights=np.zeros((3, 32, 32), dtype=np.float32), biases=np.full((3, 32), 0.5, dtype=np.float32),
    ...     model="tiny-llama", revision="tiny-llama-seed0",
    ... )
    >>> tuned, logit = TunedLogitLens(adapter, translators), LogitLens(adapter)
    >>> hidden = torch.randn(4, 32, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(tuned.translate(hidden, layers=[1]), hidden + 0.5)
    True
    >>> torch.equal(tuned.logits(hidden, layers=[1]), logit.logits(hidden, layers=[1]))  # block 1: translated
    False
    >>> torch.equal(tuned.logits(hidden, layers=[3]), logit.logits(hidden, layers=[3]))  # block L = 3: not
    True
    """

    def __init__(self, adapter, translators):
        super().__init__(adapter)
        self.translators = translators
        self._on_device = {}

    def _arrays(self, device):
        """The translators as tensors on ``device``, with a zero translator appended for block ``L``."""
        if device not in self._on_device:
            weights = torch.as_tensor(self.translators.weights, dtype=torch.float32)
            biases = torch.as_tensor(self.translators.biases, dtype=torch.float32)
            weights = torch.cat([weights, weights.new_zeros((1, *weights.shape[1:]))])
            biases = torch.cat([biases, biases.new_zeros((1, biases.shape[1]))])
            self._on_device[device] = (weights.to(device), biases.to(device))
        return self._on_device[device]

    def translate(self, hidden, layers):
        """``h + h A_l^T + b_l`` in float32.

        Parameters
        ----------
        hidden : torch.Tensor of shape (n_rows, d)
            Raw residual streams, shaped as in :meth:`Lens.prepare`.
        layers : sequence of int
            The layer of each row.

        Returns
        -------
        translated : torch.Tensor of shape (n_rows, d), float32
            The translated residual streams.
        """
        weights, biases = self._arrays(hidden.device)
        index = torch.as_tensor(list(layers), device=hidden.device)
        rows = hidden.float()
        if hidden.ndim == 2:  # rows of the single layer ``layers[0]``
            return rows + rows @ weights[index[0]].T + biases[index[0]]
        moved = torch.einsum("pkbd,ked->pkbe", rows, weights[index])
        return rows + moved + biases[index][None, :, None, :]

    def prepare(self, hidden, layers):
        """Translate each layer's rows, then apply the model's head (final norm, projection).

        Parameters
        ----------
        hidden : torch.Tensor of shape (n_rows, d)
            Raw residual streams.
        layers : sequence of int
            The layer of each row.

        Returns
        -------
        prepared : torch.Tensor of shape (n_rows, d)
            The unembedding's input.
        """
        return super().prepare(self.translate(hidden, layers).to(hidden.dtype), layers)
