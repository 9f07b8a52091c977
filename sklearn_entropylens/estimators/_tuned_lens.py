"""TunedLens: one affine translator per layer, trained so that the lens reads each layer faithfully."""

import numbers
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.base import clone as sklearn_clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._param_validation import Boolean, Checked, InstanceOf, Interval, Options, validate_parameters
from .._validation import check_prompts
from ..lens._adapters import block_input, block_output
from ..lens._layer_statistics import lens_statistics
from ..lens._lens import LogitLens
from ..lens._runner import make_lens
from ..lens._tuned import Translators
from ..models._loading import DEFAULT_MODEL, check_model_kwargs, load_model

# Positions per chunk of the exact (whole-vocabulary) KL: a (chunk x layers, vocabulary) tile at most.
_EVALUATION_POSITIONS = 64


class TunedLens(BaseEstimator):
    """The tuned lens: an affine translator per layer, fitted to read the model's final distribution.

    The logit lens reads early layers badly: their residual streams are not in the basis the final norm
    and unembedding expect. The tuned lens (Belrose et al., arXiv 2303.08112) inserts, before the
    model's head, one translator per layer ``l`` (the embedding layer and blocks ``1 .. L-1``):
    ``h -> h + h A_l^T + b_l``, initialised at ``A_l = 0``, ``b_l = 0`` (the logit lens), and trained to
    minimise ``KL(final || lens)``, the divergence of the layer's distribution from the model's own, at
    every position of ordinary text. Block ``L`` needs no translator: its lens is the model's output.

    Training reads each text once through the model (teacher forcing: no generation), keeps every layer's
    residual stream at every position, and fits all translators at once with Adam. To stay within
    minutes on a CPU, the training loss compares the two distributions renormalised over the
    ``training_vocab`` tokens that carry the most final-layer probability on the training text; that
    approximation is for training only: every KL this estimator reports is computed over the whole
    vocabulary, and the profiles of :class:`EntropyProfileTransformer` ``(lens=...)`` are exact. Early
    stopping keeps, per layer, the translator of the epoch with the lowest divergence on a held-out share
    of the texts (whole texts, so no text is split between training and validation).

    Parameters
    ----------
    model : str, default="smollm2-135m"
        The model, as in :class:`EntropyProfileTransformer`.
    revision : str or None, default=None
        Its revision. The fitted lens records the revision it was fitted on and refuses any other.
    max_length : int, default=256
        Tokens read from each text (longer texts are truncated).
    validation_fraction : float, default=0.1
        Share of the texts held out for early stopping and for ``validation_kl_``.
    learning_rate : float, default=1e-3
        Adam's step size.
    batch_size : int, default=128
        Positions per optimisation step.
    max_epochs : int, default=6
        Passes over the training positions at most.
    n_iter_no_change : int, default=2
        Stop after this many epochs in which no layer's held-out divergence fell by more than ``tol``.
    tol : float, default=1e-3
        Improvement of a layer's held-out divergence, in nats, that counts.
    training_vocab : int or None, default=4096
        Tokens of the training loss's vocabulary (see above); None trains on the whole vocabulary.
    dtype, device, model_kwargs
        As in :class:`EntropyProfileTransformer`.
    random_state : int, RandomState instance or None, default=0
        Seeds the validation split and the order of positions.
    progress : bool, default=False
        Show progress bars (reading the texts, epochs).

    Attributes
    ----------
    weights_ : ndarray of shape (n_layers_, width_, width_), float32
        ``A_l`` of layers ``0 .. L-1``.
    biases_ : ndarray of shape (n_layers_, width_), float32
        ``b_l``.
    model_name_, model_revision_ : str
        The model the lens was fitted on.
    n_layers_ : int
        Blocks ``L`` of the model.
    width_ : int
        Width of its residual stream.
    validation_kl_ : ndarray of shape (n_layers_ + 1,)
        Mean ``KL(final || tuned lens)`` in nats over the held-out positions, for layers ``0 .. L`` (the
        embedding layer first; block ``L``'s is 0), over the whole vocabulary.
    logit_lens_validation_kl_ : ndarray of shape (n_layers_ + 1,)
        The same for the logit lens, on the same positions.
    best_epoch_ : ndarray of shape (n_layers_,)
        The epoch whose translator each layer kept (0: the identity, the logit lens).
    lens_hash_ : str
        SHA-256 of the translators and the model: the profile cache's key for this lens.
    history_ : ndarray of shape (n_epochs_ + 1, n_layers_)
        Held-out training-vocabulary divergence per layer after each epoch (row 0: before training).
    n_epochs_ : int
        Epochs run.
    n_training_positions_, n_validation_positions_ : int
        Positions trained on and held out.
    fit_time_ : float
        Seconds ``fit`` took.

    See Also
    --------
    EntropyProfileTransformer : ``lens=TunedLens(...).fit()`` profiles through the tuned lens.

    Notes
    -----
    Differences from the tuned-lens package's recipe: Adam on a few thousand positions, not SGD with
    Nesterov momentum on 2^18 tokens per step for 250 steps; early stopping on held-out text; the
    sampled training vocabulary. The default training text is the 120 built-in stories, which the
    bundled model generated itself (see :func:`~sklearn_entropylens.datasets.load_story_texts`).

    Examples
    --------
    >>> from sklearn_entropylens import TunedLens
    >>> from sklearn_entropylens.datasets import load_story_texts
    >>> lens = TunedLens(max_epochs=1, max_length=32).fit(load_story_texts()[:12])
    >>> lens.weights_.shape
    (30, 576, 576)
    >>> bool(lens.validation_kl_[10] <= lens.logit_lens_validation_kl_[10])
    True
    """

    _parameter_constraints = {
        "max_length": [Interval(numbers.Integral, 2, None)],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "max_epochs": [Interval(numbers.Integral, 1, None)],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None)],
        "tol": [Interval(numbers.Real, 0, None)],
        "training_vocab": [Options(None), Interval(numbers.Integral, 1, None)],
        "model_kwargs": [Checked(check_model_kwargs)],
        "random_state": [Options(None), Interval(numbers.Integral, 0, None), InstanceOf(np.random.RandomState)],
        "progress": [Boolean()],
    }

    def __init__(
        self,
        model=DEFAULT_MODEL,
        *,
        revision=None,
        max_length=256,
        validation_fraction=0.1,
        learning_rate=1e-3,
        batch_size=128,
        max_epochs=6,
        n_iter_no_change=2,
        tol=1e-3,
        training_vocab=4096,
        dtype="auto",
        device="auto",
        model_kwargs=None,
        random_state=0,
        progress=False,
    ):
        self.model = model
        self.revision = revision
        self.max_length = max_length
        self.validation_fraction = validation_fraction
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.training_vocab = training_vocab
        self.dtype = dtype
        self.device = device
        self.model_kwargs = model_kwargs
        self.random_state = random_state
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags

    def __sklearn_clone__(self):
        # Like FrozenEstimator: a pipeline or search that clones the profiler keeps its fitted lens.
        # Fitting the clone again retrains from scratch, so nothing stale can leak.
        params = {name: sklearn_clone(value, safe=False) for name, value in self.get_params(deep=False).items()}
        clone = type(self)(**params)
        clone.__dict__.update({key: value for key, value in vars(self).items() if key.endswith("_")})
        return clone

    def load(self):
        """The model this lens reads, from the per-process cache."""
        return load_model(name=self.model, revision=self.revision, dtype=self.dtype, device=self.device,
                          model_kwargs=self.model_kwargs)

    def fit(self, X=None, y=None):
        """Fit one translator per layer on the positions of ``X``.

        Parameters
        ----------
        X : iterable of str or None, default=None
            Ordinary text (at least two texts: one share is held out); None reads the built-in stories
            (:func:`~sklearn_entropylens.datasets.load_story_texts`).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted lens.
        """
        validate_parameters(self)
        from ..datasets import load_story_texts

        texts = load_story_texts() if X is None else check_prompts(X)
        if len(texts) < 2:
            raise ValueError(f"TunedLens needs at least 2 texts (one share is held out), got {len(texts)}.")
        return self._fit(texts)

    def _fit(self, texts):
        started = time.perf_counter()
        loaded = self.load()
        rng = check_random_state(self.random_state)
        order = rng.permutation(len(texts))
        n_validation = min(len(texts) - 1, max(1, int(round(self.validation_fraction * len(texts)))))
        validation = residual_streams(loaded, [texts[i] for i in order[:n_validation]], self.max_length,
                                      progress=self.progress and "Reading held-out texts")
        training = residual_streams(loaded, [texts[i] for i in order[n_validation:]], self.max_length,
                                    progress=self.progress and "Reading training texts")
        self.model_name_, self.model_revision_ = loaded.name, loaded.revision
        self.n_layers_, self.width_ = loaded.n_layers, int(training.shape[-1])
        fitted = _Trainer(loaded, training, validation, self, rng).run()
        self.weights_, self.biases_, self.best_epoch_, self.history_ = fitted
        self.n_epochs_ = self.history_.shape[0] - 1
        self.n_training_positions_, self.n_validation_positions_ = training.shape[0], validation.shape[0]
        self.lens_hash_ = self.translators().content_hash()
        self.validation_kl_ = kl_to_final(loaded, validation, self.translators())
        self.logit_lens_validation_kl_ = kl_to_final(loaded, validation, None)
        self.fit_time_ = time.perf_counter() - started
        return self

    def translators(self):
        """The fitted translators as a :class:`~sklearn_entropylens.lens.Translators` (plain arrays)."""
        check_is_fitted(self)
        return Translators(self.weights_, self.biases_, self.model_name_, self.model_revision_)

    def kl_divergence(self, X, *, lens="tuned"):
        """Mean ``KL(final || lens)`` in nats per layer over every position of texts ``X``.

        Parameters
        ----------
        X : iterable of str
            Texts, read as in ``fit``.
        lens : {"tuned", "logit"}, default="tuned"
            This tuned lens, or the logit lens for comparison.

        Returns
        -------
        kl : ndarray of shape (n_layers_ + 1,)
            Layers ``0 .. L``: the embedding layer first, block ``L`` (0) last; over the whole vocabulary.
        """
        check_is_fitted(self)
        if lens not in ("tuned", "logit"):
            raise ValueError(f"lens must be 'tuned' or 'logit', got {lens!r}.")
        loaded = self.load()
        translators = self.translators()
        translators.check_model(loaded)
        streams = residual_streams(loaded, check_prompts(X), self.max_length)
        return kl_to_final(loaded, streams, translators if lens == "tuned" else None)

    def score(self, X, y=None):
        """Minus the mean ``KL(final || tuned lens)`` over layers ``0 .. L-1`` on texts ``X`` (higher is better).

        Parameters
        ----------
        X : iterable of str
            Texts.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``-kl_divergence(X)[:-1].mean()``; see :meth:`kl_divergence` for the per-layer values.
        """
        return -float(self.kl_divergence(X)[:-1].mean())


@torch.no_grad()
def residual_streams(loaded, texts, max_length, progress=False):
    """The residual stream of layers ``0 .. L`` at every position of each text, read with teacher forcing.

    Returns
    -------
    streams : torch.Tensor of shape (n_positions, L + 1, width), float32, on the CPU
        Row ``l`` is the input of block 1 (``l = 0``) or the raw output of block ``l``.
    """
    adapter = loaded.adapter
    layers = [None] * (adapter.n_layers + 1)
    handles = [adapter.blocks[0].register_forward_pre_hook(
        lambda module, args, kwargs: layers.__setitem__(0, block_input(args, kwargs)[0].float().cpu()), with_kwargs=True)]
    for index, block in enumerate(adapter.blocks):
        handles.append(block.register_forward_hook(
            lambda module, args, output, index=index: layers.__setitem__(index + 1, block_output(output)[0].float().cpu())))
    device = loaded.model.get_input_embeddings().weight.device
    streams = []
    try:
        with loaded.lock:
            for text in tqdm(texts, disable=not progress, desc=progress or None, unit="text"):
                ids = loaded.tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
                if len(ids) < 1:
                    continue
                loaded.model(input_ids=torch.tensor([ids], device=device), use_cache=False)
                streams.append(torch.stack(layers, dim=1))
    finally:
        for handle in handles:
            handle.remove()
    if not streams:
        raise ValueError("None of the texts has a token to read.")
    return torch.cat(streams)


@torch.no_grad()
def kl_to_final(loaded, streams, translators):
    """Exact mean ``KL(final || lens)`` per layer ``0 .. L`` over positions, through the streamed statistics."""
    lens = make_lens(loaded.adapter, translators)
    n_layers = loaded.n_layers
    layers = list(range(n_layers))
    total = torch.zeros(n_layers + 1, dtype=torch.float64)
    for start in range(0, streams.shape[0], _EVALUATION_POSITIONS):
        chunk = streams[start : start + _EVALUATION_POSITIONS].to(lens.device)
        final = lens.logits(chunk[:, n_layers], [n_layers], vocab_chunk=8192)
        values = lens_statistics(
            lens, chunk[:, :n_layers, None], layers, final[:, None], statistics=("kl_to_final",), alpha=1.0,
            top_p=0.6, vocab_chunk=8192, max_block_bytes=1 << 28,
        )["kl_to_final"]
        total += values[:, :, 0].sum(0).cpu()
    return (total / streams.shape[0]).numpy()


class _Trainer:
    """Adam on all translators at once; per layer, the translator of its best held-out epoch is kept."""

    def __init__(self, loaded, training, validation, params, rng):
        self.lens = LogitLens(loaded.adapter)
        self.n_layers = loaded.n_layers
        self.training, self.validation, self.params, self.rng = training, validation, params, rng
        unembedding = loaded.adapter.unembedding
        self.vocab = _training_vocabulary(self.lens, training, self.n_layers, params.training_vocab)
        weight = unembedding.weight.detach()
        bias = getattr(unembedding, "bias", None)
        self.rows = (weight if self.vocab is None else weight[self.vocab]).float().to(self.lens.device)
        self.bias = None if bias is None else (bias if self.vocab is None else bias[self.vocab]).detach().float()

    def log_probs(self, prepared):
        logits = prepared.float() @ self.rows.T
        if self.bias is not None:
            logits = logits + self.bias
        return torch.log_softmax(self.lens.finish(logits, inplace=False), dim=-1)

    def divergence(self, streams, weights, biases):
        """Training-vocabulary ``KL(final || lens)`` per layer, summed over the positions of ``streams``."""
        device = self.lens.device
        streams = streams.to(device)
        final = self.log_probs(self.lens.prepare(streams[:, self.n_layers]))  # (B, V_s)
        rows = streams[:, : self.n_layers]
        translated = rows + torch.einsum("bld,led->ble", rows, weights) + biases
        lens = self.log_probs(self.lens.prepare(translated.to(streams.dtype)))  # (B, L, V_s)
        return (final.exp()[:, None] * (final[:, None] - lens)).sum(-1).sum(0)

    def held_out(self, weights, biases):
        with torch.no_grad():
            total = sum(
                self.divergence(self.validation[start : start + 256], weights, biases).double()
                for start in range(0, self.validation.shape[0], 256)
            )
        return (total / self.validation.shape[0]).cpu().numpy()

    def run(self):
        # The head's own parameters stay out of autograd: only the translators learn.
        head_parameters = [parameter for module in self.lens.adapter.head for parameter in module.parameters()]
        flags = [parameter.requires_grad for parameter in head_parameters]
        for parameter in head_parameters:
            parameter.requires_grad_(False)
        try:
            return self._run()
        finally:
            for parameter, flag in zip(head_parameters, flags):
                parameter.requires_grad_(flag)

    def _run(self):
        p, device = self.params, self.lens.device
        width = self.training.shape[-1]
        torch.manual_seed(int(self.rng.randint(np.iinfo(np.int32).max)))
        weights = torch.zeros(self.n_layers, width, width, device=device, requires_grad=True)
        biases = torch.zeros(self.n_layers, width, device=device, requires_grad=True)
        optimizer = torch.optim.Adam([weights, biases], lr=p.learning_rate)
        best_weights, best_biases = weights.detach().clone(), biases.detach().clone()
        history = [self.held_out(weights.detach(), biases.detach())]
        best = history[0].copy()
        best_epoch = np.zeros(self.n_layers, dtype=np.int64)
        stale = 0
        n_positions = self.training.shape[0]
        with tqdm(total=p.max_epochs, disable=not p.progress, desc="Tuned lens epochs", unit="epoch") as bar:
            for epoch in range(1, p.max_epochs + 1):
                order = torch.as_tensor(self.rng.permutation(n_positions))
                for start in range(0, n_positions, p.batch_size):
                    batch = self.training[order[start : start + p.batch_size]]
                    loss = self.divergence(batch, weights, biases).sum() / batch.shape[0]
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                history.append(self.held_out(weights.detach(), biases.detach()))
                improved = history[-1] < best - p.tol
                if improved.any():
                    stale = 0
                    index = torch.as_tensor(np.flatnonzero(improved), device=device)
                    best_weights[index] = weights.detach()[index]
                    best_biases[index] = biases.detach()[index]
                    best[improved] = history[-1][improved]
                    best_epoch[improved] = epoch
                else:
                    stale += 1
                bar.update(1)
                bar.set_postfix(held_out_kl=f"{float(np.mean(history[-1])):.3f}")
                if stale >= p.n_iter_no_change:
                    break
        return (best_weights.cpu().numpy(), best_biases.cpu().numpy(), best_epoch, np.array(history))


@torch.no_grad()
def _training_vocabulary(lens, training, n_layers, size):
    """The ``size`` tokens with the most final-layer probability over the training positions (None: all)."""
    if size is None or size >= lens.vocab_size:
        return None
    mass = torch.zeros(lens.vocab_size, dtype=torch.float64, device=lens.device)
    for start in range(0, training.shape[0], _EVALUATION_POSITIONS):
        final = lens.logits(training[start : start + _EVALUATION_POSITIONS, n_layers].to(lens.device), [n_layers])
        mass += torch.softmax(final, dim=-1).sum(0)
    return torch.topk(mass, size).indices.sort().values
