"""TunedLens: one affine translator per layer, trained so that the lens reads each layer faithfully."""

import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._param_validation import Boolean, InstanceOf, Interval, Options, ValidatedParametersMixin
from .._validation import check_prompts
from .._public_names import public_module
from ..lens import LogitLens, Translators, block_input, block_output, lens_statistics, make_lens, threads_for
from ..models import DEFAULT_MODEL, MODEL_CONSTRAINTS, ModelSpec

# Positions per chunk of the exact (whole-vocabulary) KL: a (chunk x layers, vocabulary) tile at most.
_EVALUATION_POSITIONS = 64
# Size of the top-token set the lens's outside mass is reported against when training_vocab is None.
_REPORTED_TOP_TOKENS = 4096
# Positions per chunk of the held-out evaluation, one layer at a time: (chunk, vocabulary) float32 tiles.
_HELD_OUT_POSITIONS = 256


@public_module("sklearn_entropylens")
class TunedLens(ValidatedParametersMixin, BaseEstimator):
    """The tuned lens: an affine translator per layer, fitted to read the model's final distribution.

    The logit lens reads early layers badly: their residual streams are not in the basis the final norm
    and unembedding expect. The tuned lens (Belrose et al., arXiv 2303.08112) inserts, before the
    model's head, one translator per layer ``l`` (the embedding layer and blocks ``1 .. L-1``):
    ``h -> h + h A_l^T + b_l``, initialised at ``A_l = 0``, ``b_l = 0`` (the logit lens), and trained to
    minimise ``KL(final || lens)``, the divergence of the layer's distribution from the model's own, at
    every position of ordinary text. Block ``L`` needs no translator: its lens is the model's output.

    Training reads each text once through the model (teacher forcing: no generation), keeps every layer's
    residual stream at every position, and fits all translators at once with Adam.

    **The objective** is ``KL(final || lens)`` with both distributions normalised over the *whole*
    vocabulary, so the lens is charged for every bit of probability it puts anywhere. Computing it
    exactly costs a (positions x layers, vocabulary) product per step, several times the CPU budget of a
    fit, so by default each step *estimates* it, sampled-softmax style: the ``training_vocab`` tokens that
    carry the most final-layer probability on the training text are always in the loss, and a fresh
    uniform sample of ``sampled_vocab`` of the other tokens stands for the rest, each sampled token
    weighted by ``n_rest / sampled_vocab`` in both the lens's normaliser and the final distribution's
    cross-entropy. The final distribution's log-probabilities are exact (its whole-vocabulary normaliser
    is computed once per position). Every term of the estimate but the lens's log-normaliser is unbiased;
    the log-normaliser is the log of an unbiased estimate of the normaliser, so the estimate converges to
    the exact KL as the sample grows and equals it when the sample is the whole rest of the vocabulary
    (``training_vocab=None`` computes it exactly). Never a renormalisation over the kept tokens alone: a
    lens trained that way is free to move probability onto the other tokens, and does (an earlier version
    of this estimator did so, and its lens put 0.75 of its probability outside the 4,096 kept tokens at
    SmolLM2's block 5, against the logit lens's 0.00). The estimate's weak spot: probability the lens piles
    on a few tokens outside the kept set is charged only when they are drawn, and then through the log of
    a sum, so on average less than the exact KL charges it (Jensen's inequality). The exact held-out
    numbers that early stopping reads, and ``validation_mass_outside_``, show whether that happened: on
    SmolLM2 the default fit puts about as much probability outside the kept tokens as the model's own
    output does.

    Early stopping keeps, per layer, the translator of the epoch with the lowest *exact* whole-vocabulary
    divergence on a held-out share of the texts (whole texts, so no text is split between training and
    validation); every KL and mass this estimator reports is exact, and the profiles of
    :class:`EntropyProfileTransformer` ``(lens=...)`` are exact.

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
        Tokens always in the training loss: those with the most final-layer probability on the training
        text (see above). None computes the whole-vocabulary loss exactly at every step (several times
        slower on a large vocabulary).
    sampled_vocab : int, default=2048
        Tokens drawn afresh at every step, uniformly from the rest of the vocabulary, to stand for it in
        the loss (ignored when ``training_vocab`` is None or when the rest is no larger: then exact).
    dtype : str, default="auto"
        Weight dtype, as in :class:`EntropyProfileTransformer`.
    device : str, default="auto"
        Device, as in :class:`EntropyProfileTransformer`.
    model_kwargs : dict or None, default=None
        Extra ``from_pretrained`` options, as in :class:`EntropyProfileTransformer`.
    random_state : int, RandomState instance or None, default=0
        Seeds the validation split and the order of positions.
    progress : bool, default=False
        Show progress bars (reading the texts, epochs).

    Attributes
    ----------
    weights_ : ndarray of shape (`n_layers_`, `width_`, `width_`), float32
        ``A_l`` of layers ``0 .. L-1``.
    biases_ : ndarray of shape (`n_layers_`, `width_`), float32
        ``b_l``.
    model_name_, model_revision_ : str
        The model the lens was fitted on.
    n_layers_ : int
        Blocks ``L`` of the model.
    width_ : int
        Width of its residual stream.
    validation_kl_ : ndarray of shape (`n_layers_` + 1,)
        Mean ``KL(final || tuned lens)`` in nats over the held-out positions, for layers ``0 .. L`` (the
        embedding layer first; block ``L``'s is 0), over the whole vocabulary.
    logit_lens_validation_kl_ : ndarray of shape (`n_layers_` + 1,)
        The same for the logit lens, on the same positions.
    best_epoch_ : ndarray of shape (`n_layers_`,)
        The epoch whose translator each layer kept (0: the identity, the logit lens).
    lens_hash_ : str
        SHA-256 of the translators and the model: the profile cache's key for this lens.
    history_ : ndarray of shape (`n_epochs_` + 1, `n_layers_`)
        Held-out exact ``KL(final || lens)`` per layer after each epoch (row 0: before training, the logit
        lens), over the whole vocabulary: what early stopping reads.
    top_tokens_ : ndarray of shape (min(training_vocab, vocabulary),), int64
        The tokens with the most final-layer probability over the training positions (4,096 of them when
        ``training_vocab`` is None): the training loss's kept tokens, and the set the masses below are
        measured against.
    validation_mass_outside_ : ndarray of shape (`n_layers_` + 1,)
        Mean probability the tuned lens puts outside ``top_tokens_`` at the held-out positions, layers
        ``0 .. L`` (block ``L``'s is the final distribution's own). A faithful lens puts about as much
        there as the final distribution does; a lens that hides probability outside the training loss's
        tokens shows it here.
    logit_lens_validation_mass_outside_ : ndarray of shape (`n_layers_` + 1,)
        The same for the logit lens, on the same positions.
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
    sampled estimate of the whole-vocabulary loss. :meth:`from_tuned_lens` reads that package's lens
    files and :meth:`to_tuned_lens` writes them. The default training text is the 120 built-in stories, which the
    bundled model generated itself (see :func:`~sklearn_entropylens.datasets.load_story_texts`).

    A fitted lens follows scikit-learn's ``clone``: the clone is unfitted. To keep a fitted lens through
    the clones of a grid search or cross-validation, freeze it:
    ``EntropyProfileTransformer(lens=FrozenEstimator(lens))`` (:class:`sklearn.frozen.FrozenEstimator`),
    whose clone is the same fitted lens.

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

    _entropylens_constraints = {
        **MODEL_CONSTRAINTS,
        "max_length": [Interval(numbers.Integral, 2, None)],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "max_epochs": [Interval(numbers.Integral, 1, None)],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None)],
        "tol": [Interval(numbers.Real, 0, None)],
        "training_vocab": [Options(None), Interval(numbers.Integral, 1, None)],
        "sampled_vocab": [Interval(numbers.Integral, 1, None)],
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
        sampled_vocab=2048,
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
        self.sampled_vocab = sampled_vocab
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

    def load(self):
        """The model this lens reads, from the per-process cache.

        Returns
        -------
        loaded : LoadedModel
            The model, its tokenizer and lens adapter.
        """
        return ModelSpec.of(self).load()

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
        self._validate_params()
        from ..datasets import load_story_texts

        texts = load_story_texts() if X is None else check_prompts(X)
        if len(texts) < 2:
            raise ValueError(f"TunedLens needs at least 2 texts (one share is held out), got {len(texts)}.")
        return self._fit(texts)

    def _fit(self, texts):
        started = time.perf_counter()
        loaded = self.load()
        with threads_for(loaded)[0]:  # torch's threads chosen as the profiler chooses them (lens/_threads.py)
            return self._fit_loaded(loaded, texts, started)

    def _fit_loaded(self, loaded, texts, started):
        rng = check_random_state(self.random_state)
        order = rng.permutation(len(texts))
        n_validation = min(len(texts) - 1, max(1, int(round(self.validation_fraction * len(texts)))))
        validation = residual_streams(loaded, [texts[i] for i in order[:n_validation]], self.max_length,
                                      progress=self.progress and "Reading held-out texts")
        training = residual_streams(loaded, [texts[i] for i in order[n_validation:]], self.max_length,
                                    progress=self.progress and "Reading training texts")
        self.model_name_, self.model_revision_ = loaded.name, loaded.revision
        self.n_layers_, self.width_ = loaded.n_layers, int(training.shape[-1])
        self.__dict__.pop("tuned_lens_config_", None)  # refitting a lens read from a file: no longer that file's
        fitted = _Trainer(loaded, training, validation, self, rng).run()
        self.weights_, self.biases_, self.best_epoch_ = fitted.weights, fitted.biases, fitted.best_epoch
        self.history_ = fitted.history
        self.n_epochs_ = self.history_.shape[0] - 1
        self.n_training_positions_, self.n_validation_positions_ = training.shape[0], validation.shape[0]
        self.lens_hash_ = self.translators().content_hash()
        self.top_tokens_ = fitted.top_tokens
        self.validation_kl_ = fitted.validation_kl
        self.logit_lens_validation_kl_ = fitted.logit_lens_validation_kl
        self.validation_mass_outside_ = fitted.validation_mass_outside
        self.logit_lens_validation_mass_outside_ = fitted.logit_lens_validation_mass_outside
        self.fit_time_ = time.perf_counter() - started
        return self

    @classmethod
    def from_tuned_lens(cls, path, *, model=DEFAULT_MODEL, revision=None, dtype="auto", device="auto",
                        model_kwargs=None, check_unembedding=True):
        """Read a lens saved by the tuned-lens package (a folder with ``config.json`` and ``params.pt``).

        Many lenses trained with that package are published for public models; this reads one as a fitted
        ``TunedLens`` of ``model``, to profile through it like a lens fitted here. ``params.pt`` is read with
        ``torch.load(weights_only=True)``: tensors only, never an arbitrary pickled object.

        Parameters
        ----------
        path : str or path-like
            The lens folder.
        model : str, default="smollm2-135m"
            The model the lens belongs to, as in :class:`EntropyProfileTransformer` (its identifier here,
            which need not be the ``base_model_name_or_path`` the file names).
        revision : str or None, default=None
            As in :class:`EntropyProfileTransformer`.
        dtype : str, default="auto"
            As in :class:`EntropyProfileTransformer`.
        device : str, default="auto"
            As in :class:`EntropyProfileTransformer`.
        model_kwargs : dict or None, default=None
            As in :class:`EntropyProfileTransformer`.
        check_unembedding : bool, default=True
            Refuse a lens whose ``unembed_hash`` (the package's fingerprint of the unembedding matrix) is not
            that of ``model``'s. The fingerprint covers only the matrix's corners at one decimal, so it tells
            models apart, not checkpoints of one model; False skips it, for a model whose unembedding is
            known to be the lens's (for example re-quantised).

        Returns
        -------
        lens : TunedLens
            Fitted: ``weights_``, ``biases_``, ``model_name_``, ``model_revision_``, ``n_layers_``,
            ``width_``, ``lens_hash_``, and ``tuned_lens_config_`` (the file's ``config.json``). It has no
            held-out numbers (``validation_kl_``): score it with :meth:`kl_divergence`.

        Raises
        ------
        FileNotFoundError, ValueError
            A folder that is not such a lens, or a lens whose number of layers, width or unembedding is not
            ``model``'s; the message says which.

        See Also
        --------
        to_tuned_lens : Write a lens in this format.
        """
        from ..lens import read_tuned_lens, unembedding_hash

        weights, biases, config = read_tuned_lens(path)
        lens = cls(model, revision=revision, dtype=dtype, device=device, model_kwargs=model_kwargs)
        lens._validate_params()
        loaded = lens.load()
        if (weights.shape[0], weights.shape[-1]) != (loaded.n_layers, loaded.adapter.width):
            raise ValueError(
                f"The lens in {str(path)!r} has {weights.shape[0]} translators of width {weights.shape[-1]} "
                f"(for {config.get('base_model_name_or_path')!r}); {loaded.name!r} has {loaded.n_layers} blocks of "
                f"width {loaded.adapter.width}. Pass the model the lens was trained on."
            )
        expected_hash = config.get("unembed_hash")
        if check_unembedding and expected_hash:
            found = unembedding_hash(loaded.adapter.unembedding.weight.detach().float().cpu().numpy())
            if found != expected_hash:
                raise ValueError(
                    f"The lens in {str(path)!r} was trained on another unembedding matrix than {loaded.name!r}'s "
                    f"(its unembed_hash differs; the file names {config.get('base_model_name_or_path')!r}). Pass "
                    "the model it was trained on; or, if this model is a re-quantised copy of it (the bundled "
                    "models are dequantised GGUF files, whose rounding can change the hash), "
                    "check_unembedding=False, then check the lens with kl_divergence."
                )
        lens.model_name_, lens.model_revision_ = loaded.name, loaded.revision
        lens.n_layers_, lens.width_ = loaded.n_layers, loaded.adapter.width
        lens.weights_, lens.biases_ = weights, biases
        lens.tuned_lens_config_ = config
        lens.lens_hash_ = lens.translators().content_hash()
        return lens

    def to_tuned_lens(self, path):
        """Write this lens as a tuned-lens package lens folder (``config.json`` and ``params.pt``, float32).

        ``tuned_lens.TunedLens.from_model_and_pretrained(hf_model, path)`` of the package reads it.

        Parameters
        ----------
        path : str or path-like
            The folder to write (created if missing; its two files are overwritten).

        Returns
        -------
        path : pathlib.Path
            The folder.

        See Also
        --------
        from_tuned_lens : Read a lens in this format.
        """
        from ..lens import unembedding_hash, write_tuned_lens

        check_is_fitted(self)
        loaded = self.load()
        self.translators().check_model(loaded)
        weight = loaded.adapter.unembedding.weight.detach().float().cpu().numpy()
        name = getattr(loaded.model.config, "name_or_path", None) or self.model_name_
        return write_tuned_lens(path, self.weights_, self.biases_, base_model_name_or_path=name,
                                revision=self.model_revision_, unembed_hash=unembedding_hash(weight))

    def translators(self):
        """The fitted translators as plain arrays.

        Returns
        -------
        translators : Translators
            What a tuned-lens profile reads (see :class:`~sklearn_entropylens.lens.Translators`).
        """
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
        kl : ndarray of shape (`n_layers_` + 1,)
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
    """Adam on all translators at once; per layer, the translator of its best held-out epoch is kept.

    The loss is ``KL(final || lens)`` with both distributions normalised over the whole vocabulary. With
    ``training_vocab=None`` (or when the kept and sampled tokens cover the vocabulary) it is computed
    exactly. Otherwise each step estimates it from the ``training_vocab`` kept tokens plus a fresh uniform
    sample of ``sampled_vocab`` of the other tokens, each sampled token standing for ``n_rest /
    sampled_vocab`` of them (:meth:`divergence`). Early stopping and every reported number use the exact
    whole-vocabulary divergence (:meth:`held_out`).
    """

    def __init__(self, loaded, training, validation, params, rng):
        self.lens = LogitLens(loaded.adapter)
        self.n_layers = loaded.n_layers
        self.training, self.validation, self.params, self.rng = training, validation, params, rng
        device = self.lens.device
        unembedding = loaded.adapter.unembedding
        self.weight = unembedding.weight.detach().float().to(device)
        bias = getattr(unembedding, "bias", None)
        self.bias = None if bias is None else bias.detach().float().to(device)
        vocab_size = self.weight.shape[0]
        mass, final_log_normalisers = self.final_layer_pass(training)
        size = min(vocab_size, params.training_vocab or _REPORTED_TOP_TOKENS)
        self.top_tokens = torch.topk(mass, size).indices.sort().values
        outside = torch.ones(vocab_size, dtype=torch.bool, device=device)
        outside[self.top_tokens] = False
        self.rest = torch.nonzero(outside).squeeze(1)
        self.sampled = params.training_vocab is not None and params.sampled_vocab < self.rest.numel()
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        if self.sampled:
            # Each sampled token stands for n_rest / sampled_vocab tokens of the rest (importance weight).
            self.log_weights = torch.cat([
                torch.zeros(self.top_tokens.numel(), device=device),
                torch.full((params.sampled_vocab,), float(np.log(self.rest.numel() / params.sampled_vocab)),
                           device=device),
            ])
            self.final_log_normalisers = final_log_normalisers

    def logits(self, prepared, columns=None):
        """float32 logits of ``prepared`` rows over ``columns`` of the vocabulary (None: all of it)."""
        weight = self.weight if columns is None else self.weight[columns]
        logits = prepared.float() @ weight.T
        if self.bias is not None:
            logits = logits + (self.bias if columns is None else self.bias[columns])
        return self.lens.finish(logits, inplace=False)

    @torch.no_grad()
    def final_layer_pass(self, streams):
        """One pass over the final layer's whole-vocabulary logits at every position of ``streams``.

        Returns
        -------
        mass : torch.Tensor of shape (vocabulary,), float64
            Final-layer probability of each token, summed over positions (it ranks the kept tokens).
        log_normalisers : torch.Tensor of shape (n_positions,)
            The exact log-normaliser (logsumexp) at each position, for the sampled estimate.
        """
        mass = torch.zeros(self.weight.shape[0], dtype=torch.float64, device=self.lens.device)
        log_normalisers = []
        for start in range(0, streams.shape[0], _EVALUATION_POSITIONS):
            chunk = streams[start : start + _EVALUATION_POSITIONS, self.n_layers].to(self.lens.device)
            logits = self.logits(self.lens.prepare(chunk))
            log_normalisers.append(torch.logsumexp(logits, dim=-1))
            mass += torch.softmax(logits, dim=-1).sum(0)
        return mass, torch.cat(log_normalisers)

    def translate(self, rows, weights, biases):
        return rows + torch.einsum("bld,led->ble", rows, weights) + biases

    def divergence(self, streams, weights, biases, final_log_normalisers=None):
        """``KL(final || lens)`` per layer, summed over the positions of ``streams``.

        Exact over the whole vocabulary unless this trainer samples; then an estimate whose every term but
        the lens's log-normaliser is unbiased, and whose log-normaliser is the log of an unbiased estimate
        of the normaliser (consistent: exact when the sample is the whole rest of the vocabulary).
        ``final_log_normalisers`` (the final layer's exact ones, one per position) is needed when sampling.
        """
        device = self.lens.device
        streams = streams.to(device)
        final_prepared = self.lens.prepare(streams[:, self.n_layers])
        translated = self.translate(streams[:, : self.n_layers], weights, biases)
        lens_prepared = self.lens.prepare(translated.to(streams.dtype))  # (B, L, d)
        if not self.sampled:
            final = torch.log_softmax(self.logits(final_prepared), dim=-1)  # (B, V)
            lens = torch.log_softmax(self.logits(lens_prepared), dim=-1)  # (B, L, V)
            return (final.exp()[:, None] * (final[:, None] - lens)).sum(-1).sum(0)
        draw = torch.randperm(self.rest.numel(), generator=self.generator, device=device)[: self.params.sampled_vocab]
        columns = torch.cat([self.top_tokens, self.rest[draw]])
        return self.weighted_divergence(final_prepared, lens_prepared, final_log_normalisers.to(device), columns,
                                        self.log_weights)

    def weighted_divergence(self, final_prepared, lens_prepared, final_log_normalisers, columns, log_weights):
        """``sum_v w_v p_v (log p_v - z_v) + log sum_v w_v exp(z_v)`` over ``columns``, per layer, summed over
        positions: ``KL(final || lens)`` when the columns are the whole vocabulary and every weight is 1."""
        final = self.logits(final_prepared, columns) - final_log_normalisers[:, None]  # exact log p
        lens = self.logits(lens_prepared, columns)  # (B, L, columns), unnormalised
        lens_log_normaliser = torch.logsumexp(lens + log_weights, dim=-1)  # (B, L)
        weighted = (final + log_weights).exp()  # w_v p_v
        cross = (weighted[:, None] * (final[:, None] - lens)).sum(-1)  # sum_v w_v p_v (log p_v - z_v)
        return (cross + lens_log_normaliser).sum(0)

    @torch.no_grad()
    def held_out(self, weights, biases):
        """Exact mean ``KL(final || lens)`` and lens mass outside :attr:`top_tokens`, per layer ``0 .. L``."""
        return held_out_statistics(self, self.validation, weights, biases)

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
        kl, outside = self.held_out(weights.detach(), biases.detach())
        logit_kl, logit_outside = kl.copy(), outside.copy()
        history, best, best_outside = [kl[:-1]], kl[:-1].copy(), outside.copy()
        best_epoch = np.zeros(self.n_layers, dtype=np.int64)
        stale = 0
        n_positions = self.training.shape[0]
        with tqdm(total=p.max_epochs, disable=not p.progress, desc="Tuned lens epochs", unit="epoch") as bar:
            for epoch in range(1, p.max_epochs + 1):
                order = torch.as_tensor(self.rng.permutation(n_positions))
                for start in range(0, n_positions, p.batch_size):
                    index = order[start : start + p.batch_size]
                    normalisers = self.final_log_normalisers[index.to(device)] if self.sampled else None
                    loss = self.divergence(self.training[index], weights, biases, normalisers).sum() / index.numel()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                kl, outside = self.held_out(weights.detach(), biases.detach())
                history.append(kl[:-1])
                improved = history[-1] < best - p.tol
                if improved.any():
                    stale = 0
                    index = torch.as_tensor(np.flatnonzero(improved), device=device)
                    best_weights[index] = weights.detach()[index]
                    best_biases[index] = biases.detach()[index]
                    best[improved] = history[-1][improved]
                    best_outside[:-1][improved] = outside[:-1][improved]
                    best_epoch[improved] = epoch
                else:
                    stale += 1
                bar.update(1)
                bar.set_postfix(held_out_kl=f"{float(np.mean(history[-1])):.3f}")
                if stale >= p.n_iter_no_change:
                    break
        return _Fitted(
            weights=best_weights.cpu().numpy(), biases=best_biases.cpu().numpy(), best_epoch=best_epoch,
            history=np.array(history), validation_kl=np.append(best, 0.0), logit_lens_validation_kl=logit_kl,
            validation_mass_outside=best_outside, logit_lens_validation_mass_outside=logit_outside,
            top_tokens=self.top_tokens.cpu().numpy(),
        )


@dataclass(frozen=True)
class _Fitted:
    """What :class:`_Trainer` returns: the kept translators and their exact held-out numbers."""

    weights: np.ndarray
    biases: np.ndarray
    best_epoch: np.ndarray
    history: np.ndarray
    validation_kl: np.ndarray
    logit_lens_validation_kl: np.ndarray
    validation_mass_outside: np.ndarray
    logit_lens_validation_mass_outside: np.ndarray
    top_tokens: np.ndarray


@torch.no_grad()
def held_out_statistics(trainer, streams, weights, biases):
    """Exact mean ``KL(final || lens)`` and lens probability outside ``trainer.top_tokens``, per layer.

    Whole-vocabulary float32 log-softmax of each (position chunk, layer), accumulated in float64.

    Returns
    -------
    kl, outside : ndarray of shape (L + 1,)
        Layers ``0 .. L`` (block ``L`` is the model's own output: KL 0, and the final distribution's own
        mass outside the top tokens).
    """
    lens, n_layers, device = trainer.lens, trainer.n_layers, trainer.lens.device
    kl = torch.zeros(n_layers + 1, dtype=torch.float64)
    inside = torch.zeros(n_layers + 1, dtype=torch.float64)
    weights, biases = weights.to(device), biases.to(device)
    top = trainer.top_tokens
    for start in range(0, streams.shape[0], _HELD_OUT_POSITIONS):
        chunk = streams[start : start + _HELD_OUT_POSITIONS].to(device)
        final = torch.log_softmax(trainer.logits(lens.prepare(chunk[:, n_layers])), dim=-1)
        final_p = final.exp()
        final_entropy_term = torch.linalg.vecdot(final_p, final)  # sum_v p_v log p_v
        inside[n_layers] += final_p[:, top].sum(-1).double().sum().cpu()
        for layer in range(n_layers):
            span = slice(layer, layer + 1)
            translated = trainer.translate(chunk[:, span].float(), weights[span], biases[span])[:, 0]
            log_q = trainer.logits(lens.prepare(translated.to(chunk.dtype)))
            log_q -= torch.logsumexp(log_q, dim=-1, keepdim=True)  # in place: one (rows, vocabulary) tensor
            kl[layer] += (final_entropy_term - torch.linalg.vecdot(final_p, log_q)).double().sum().cpu()
            inside[layer] += log_q[:, top].exp().sum(-1).double().sum().cpu()
    n = streams.shape[0]
    return (kl / n).numpy(), np.clip(1.0 - (inside / n).numpy(), 0.0, 1.0)
