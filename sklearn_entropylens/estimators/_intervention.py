"""Interventions: skip decoder blocks, and score the damage skipping expansion or pruning layers does."""

import contextlib
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..lens import block_input, get_adapter
from ._correctness import answer_correctness
from ..models import LoadedModel, ModelSpec, load_model
from ._profile import EntropyProfileTransformer
from .._param_validation import InstanceOf, Interval, Options, ValidatedParametersMixin
from .._validation import check_prompts
from .._public_names import public_module

_STRATEGIES = ("expansion", "pruning", "random", "none")
_OPTION_COLUMNS = ("A", "B", "C", "D")


@contextlib.contextmanager
def skip_layers(model, layers):
    """Make chosen decoder blocks act as the identity inside a ``with`` block.

    A skipped block adds nothing to the residual stream: its output hidden state is its input. The
    block still runs (and fills its own KV-cache entries, which nothing reads), so generation with the
    KV cache composes with skipping. On exit, also on error, the hooks are removed and the model is
    exactly as before; weights are never touched.

    Parameters
    ----------
    model : torch.nn.Module, LoadedModel, ModelSpec or str
        A supported causal LM, a loaded model, or a model identifier or specification (loaded through
        the per-process cache).
    layers : iterable of int
        1-based block indices (block ``l`` of ``1 .. L``, as in the profiles' ``layerLL`` names).

    Yields
    ------
    model : torch.nn.Module
        The model, with the blocks skipped.

    See Also
    --------
    InterventionScorer : Chooses the blocks where entropy expands or prunes most and scores the accuracy
        with them skipped.
    ExpansionPruningTransformer : Entropy changes across depth, which locate the expansion and pruning blocks.
    EntropyProfileTransformer : The profiles whose ``layerLL`` features number the blocks as ``layers`` does.

    Examples
    --------
    >>> import torch
    >>> from sklearn_entropylens import load_model, skip_layers
    >>> loaded = load_model("smollm2-135m")
    >>> ids = loaded.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    >>> with torch.no_grad(), skip_layers(loaded, [3, 4]):
    ...     damaged = loaded.model(input_ids=ids).logits
    >>> with torch.no_grad():
    ...     intact = loaded.model(input_ids=ids).logits
    >>> bool((damaged - intact).abs().max() > 0)
    True
    """
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, ModelSpec):
        model = model.load()
    if isinstance(model, LoadedModel):
        model, blocks = model.model, model.adapter.blocks
    else:
        blocks = get_adapter(model).blocks
    chosen = sorted({_check_block(layer, len(blocks)) for layer in layers})
    handles = []

    def identity(module, args, kwargs, output):
        hidden = block_input(args, kwargs)
        if isinstance(output, tuple):
            return (hidden,) + tuple(output[1:])
        if isinstance(output, list):
            return [hidden] + list(output[1:])
        return hidden

    try:
        for layer in chosen:
            handles.append(blocks[layer - 1].register_forward_hook(identity, with_kwargs=True))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _check_block(layer, n_blocks):
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 1 <= layer <= n_blocks:
        raise ValueError(f"Blocks to skip are 1-based indices in [1, {n_blocks}], got {layer!r}.")
    return int(layer)


def _questions(X, scoring):
    """Prompts and, for cloze scoring, option texts from X (a list of prompts or a DataFrame)."""
    if hasattr(X, "columns"):
        if "prompt" not in X.columns:
            raise ValueError("A DataFrame X needs a 'prompt' column (and 'A' to 'D' option columns for cloze scoring).")
        prompts = check_prompts(X["prompt"])
        missing = [column for column in _OPTION_COLUMNS if column not in X.columns]
        options = None if missing else X[list(_OPTION_COLUMNS)].to_numpy(dtype=object)
    else:
        prompts, options, missing = check_prompts(X), None, list(_OPTION_COLUMNS)
    if scoring == "cloze" and options is None:
        raise ValueError(
            "scoring='cloze' needs the option texts: pass X as a DataFrame with columns 'prompt' and "
            f"{list(_OPTION_COLUMNS)} (load_multiple_choice(as_frame=True).frame), or use scoring='letter'."
        )
    return prompts, options


@public_module("sklearn_entropylens")
class InterventionScorer(ValidatedParametersMixin, BaseEstimator):
    """An estimator that skips the layers where entropy expands (or prunes) most, and scores the damage.

    Its ``fit`` chooses layers and its ``score`` is the accuracy with them skipped, so it tunes and
    evaluates like any estimator (``GridSearchCV`` over ``n_skip`` and ``strategy``).

    ``fit`` profiles calibration prompts and averages their per-layer entropy profiles (the embedding
    layer included, so block 1 has a change too); ``Delta H_l = H_l - H_(l-1)`` chooses the ``n_skip``
    expansion layers (largest rises) and pruning layers (largest falls). ``score`` answers
    multiple-choice questions with the chosen layers skipped (:func:`skip_layers`) and returns the
    accuracy; :meth:`score_table` compares no skipping, expansion, pruning and a random control of the
    same size, with bootstrap confidence intervals.

    Parameters
    ----------
    profiler : EntropyProfileTransformer or None, default=None
        The model and how to profile the calibration prompts; its model is also the one scored (loaded
        the same way), and its ``batch_size`` sets the sequences per scoring pass (``"auto"``: 8 on CPU,
        64 on a GPU). The embedding layer is always included. None is
        ``EntropyProfileTransformer(n_tokens=8)``. To tune its parameters (``profiler__n_tokens``), pass it
        explicitly: a None step has no nested parameters.
    n_skip : int, default=1
        Number of blocks skipped.
    min_block : int, default=2
        The first block that may be chosen, by every strategy and by the random control alike. The
        default leaves out block 1 for two reasons: its entropy change is measured against the
        embedding layer, whose lens reads the input token itself (near-zero entropy with tied
        embeddings: 0.01 nats on SmolLM2), so block 1 always looks like the largest expansion; and the
        first block of a transformer is critical whatever its entropy does, so "skip an expansion
        layer" would mean "skip the first block". ``min_block=1`` reproduces the paper's choice.
    strategy : {"expansion", "pruning", "random", "none"}, default="expansion"
        Which blocks :meth:`score` skips: the ``n_skip`` largest rises, largest falls, a seeded random
        draw, or none.
    scoring : {"cloze", "letter"}, default="cloze"
        How the model's answer is read (:func:`answer_correctness`): the options' log-likelihood
        (``X`` a DataFrame with ``prompt`` and ``A`` to ``D`` columns) or the option letters' logits
        (the paper's rule; models under 1B parameters answer at chance with it).
    n_random : int, default=10
        Random draws of the control in :meth:`score_table`.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the questions for the confidence intervals.
    confidence : float, default=0.95
        Level of the confidence intervals.
    random_state : int, RandomState instance or None, default=0
        Seeds the random control and the bootstrap.

    Attributes
    ----------
    mean_profile_ : ndarray of shape (n_layers + 1,)
        Mean entropy (nats) of layers ``0 .. L`` over the calibration prompts and positions.
    delta_entropy_ : ndarray of shape (n_layers,)
        ``Delta H`` of blocks ``1 .. L``.
    candidate_blocks_ : ndarray
        The blocks ``min_block .. L`` that every strategy chooses from.
    expansion_layers_ : ndarray of shape (n_skip,)
        Candidate blocks with the largest rises, largest first.
    pruning_layers_ : ndarray of shape (n_skip,)
        Candidate blocks with the largest falls, largest first.
    n_layers_ : int
        Number of blocks.
    profiler_ : EntropyProfileTransformer
        The fitted calibration profiler.

    See Also
    --------
    skip_layers : Skip blocks of a model for the length of a block of code.
    ExpansionPruningTransformer : The expansion and pruning layers of a profile.

    Examples
    --------
    >>> from sklearn_entropylens import EntropyProfileTransformer, InterventionScorer
    >>> from sklearn_entropylens.datasets import load_multiple_choice
    >>> questions = load_multiple_choice(as_frame=True).frame.head(12)
    >>> scorer = InterventionScorer(EntropyProfileTransformer(n_tokens=2), n_skip=2).fit(questions)
    >>> scorer.expansion_layers_.shape
    (2,)
    >>> 0 <= scorer.score(questions, questions["target"]) <= 1
    True
    """

    def __init__(
        self,
        profiler=None,
        *,
        n_skip=1,
        min_block=2,
        strategy="expansion",
        scoring="cloze",
        n_random=10,
        n_bootstrap=1000,
        confidence=0.95,
        random_state=0,
    ):
        self.profiler = profiler
        self.n_skip = n_skip
        self.min_block = min_block
        self.strategy = strategy
        self.scoring = scoring
        self.n_random = n_random
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.random_state = random_state

    _entropylens_constraints = {
        "profiler": [Options(None), InstanceOf(EntropyProfileTransformer)],
        "n_skip": [Interval(numbers.Integral, 1, None)],
        "min_block": [Interval(numbers.Integral, 1, None)],
        "strategy": [Options(*_STRATEGIES)],
        "scoring": [Options("cloze", "letter")],
        "n_random": [Interval(numbers.Integral, 1, None)],
        "n_bootstrap": [Interval(numbers.Integral, 1, None)],
        "confidence": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": [Options(None), Interval(numbers.Integral, 0, None), InstanceOf(np.random.RandomState)],
    }

    def fit(self, X, y=None):
        """Profile the calibration prompts and choose the expansion and pruning layers.

        Parameters
        ----------
        X : iterable of str or DataFrame with a ``prompt`` column
            Calibration prompts.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scorer.
        """
        self._validate_params()
        prompts = check_prompts(X["prompt"]) if hasattr(X, "columns") else check_prompts(X)
        profiler = EntropyProfileTransformer(n_tokens=8) if self.profiler is None else self.profiler
        # Block 1's change needs the embedding layer; the entropy, averaged over positions, is the profile.
        profiler = clone(profiler).set_params(include_embedding=True, statistics="entropy", aggregate="mean",
                                              log_base=None, normalize=False)
        profiler.fit(prompts)
        n_layers = profiler.n_layers_
        n_candidates = n_layers - self.min_block + 1
        if self.n_skip > n_candidates:
            raise ValueError(f"n_skip={self.n_skip} exceeds the {max(n_candidates, 0)} blocks {self.min_block}..{n_layers} "
                             f"of {profiler.model_name_!r} that min_block={self.min_block} leaves to choose from.")
        profiles = profiler.transform(prompts)
        self.profiler_ = profiler
        self.n_layers_ = n_layers
        self.mean_profile_ = profiles.mean(axis=0)
        self.delta_entropy_ = np.diff(self.mean_profile_)
        self.candidate_blocks_ = np.arange(self.min_block, n_layers + 1)
        change = self.delta_entropy_[self.candidate_blocks_ - 1]
        self.expansion_layers_ = self.candidate_blocks_[np.argsort(-change, kind="stable")[: self.n_skip]]
        self.pruning_layers_ = self.candidate_blocks_[np.argsort(change, kind="stable")[: self.n_skip]]
        return self

    def _random_layers(self, rng):
        return np.sort(rng.choice(self.candidate_blocks_, size=self.n_skip, replace=False))

    def _layers(self, strategy, rng):
        if strategy == "expansion":
            return self.expansion_layers_
        if strategy == "pruning":
            return self.pruning_layers_
        if strategy == "random":
            return self._random_layers(rng)
        return np.array([], dtype=int)

    def _correct(self, prompts, options, answers, layers):
        """Per-question 0/1 correctness with ``layers`` skipped."""
        profiler = self.profiler_
        with skip_layers(profiler.model_spec_.load(), [int(layer) for layer in layers]):
            result = answer_correctness(
                prompts, answers, options=options, method="options" if self.scoring == "cloze" else "letters",
                model=profiler.model_spec_, chat_template=profiler.chat_template, batch_size=profiler.batch_size,
            )
        return result.correct

    def score(self, X, y, sample_weight=None):
        """Accuracy on multiple-choice questions with the ``strategy`` layers skipped.

        Parameters
        ----------
        X : DataFrame with ``prompt`` and ``A`` to ``D`` columns, or iterable of str (letter scoring)
            Questions.
        y : array-like of shape (n_samples,)
            Correct letters.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Question weights.

        Returns
        -------
        accuracy : float
            Weighted fraction of questions answered correctly.
        """
        check_is_fitted(self)
        prompts, options = _questions(X, self.scoring)
        rng = check_random_state(self.random_state)
        correct = self._correct(prompts, options, np.asarray(y), self._layers(self.strategy, rng))
        return float(np.average(correct, weights=sample_weight))

    def score_table(self, X, y, *, cv=None):
        """Accuracy with no skipping, expansion, pruning and random layers skipped, with their damage.

        The layers must be chosen on prompts other than the ones scored, or the table measures how well
        the choice fits those very questions. Either fit on a separate calibration set and pass the
        evaluation questions here, or pass ``cv``: cross-fitting, where each fold's questions are
        scored with the layers chosen on the other folds' prompts (a fresh clone fitted per fold; this
        estimator's own fitted layers are then not used).

        Parameters
        ----------
        X : DataFrame with ``prompt`` and ``A`` to ``D`` columns, or iterable of str (letter scoring)
            Questions.
        y : array-like of shape (n_samples,)
            Correct letters.
        cv : int, cross-validation splitter, iterable of (train, test) or None, default=None
            Cross-fitting folds (an int is ``KFold(cv, shuffle=True)`` seeded by ``random_state``); None
            scores every question with the layers this estimator was fitted with.

        Returns
        -------
        table : DataFrame
            One row per strategy (``none``, ``expansion``, ``pruning``, ``random``): ``layers`` skipped
            (for ``random``, every draw; with ``cv``, one entry per fold), ``accuracy``,
            ``accuracy_std`` (spread over the random draws; 0 otherwise), ``difference`` (accuracy minus
            that of ``none``) and its bootstrap confidence interval ``ci_low``, ``ci_high`` (questions
            resampled with replacement; the random control averaged over draws per question); for
            ``expansion`` and ``pruning``, ``minus_random`` (accuracy minus the random control's) and its
            interval ``minus_random_ci_low``, ``minus_random_ci_high``, from a bootstrap that resamples the
            questions and the random draws together (NaN in the other rows).
        """
        prompts, options = _questions(X, self.scoring)
        answers = np.asarray(y)
        if len(answers) != len(prompts):
            raise ValueError(f"y must give one letter per question: {len(prompts)} questions, {len(answers)} letters.")
        rng = check_random_state(self.random_state)
        if cv is None:
            check_is_fitted(self)
            fitted = self
            layers, correct = self._skipped(prompts, options, answers, rng)
        else:
            self._validate_params()
            splits = list(check_cv(cv if not isinstance(cv, numbers.Integral) else
                                   KFold(int(cv), shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max)))
                          .split(np.zeros((len(prompts), 1))))
            layers = {strategy: [] for strategy in ("expansion", "pruning", "random")}
            correct = {"expansion": np.zeros((1, len(prompts))), "pruning": np.zeros((1, len(prompts))),
                       "random": np.zeros((self.n_random, len(prompts)))}
            for train, test in splits:
                fitted = clone(self).fit([prompts[i] for i in train])
                fold_layers, fold_correct = fitted._skipped([prompts[i] for i in test],
                                                            None if options is None else options[test], answers[test], rng)
                for strategy in layers:
                    layers[strategy].append(fold_layers[strategy])
                    correct[strategy][:, test] = fold_correct[strategy]
        # Skipping nothing needs no chosen layers: any fitted scorer of this model answers the same.
        baseline = fitted._correct(prompts, options, answers, [])
        per_strategy = {"none": ([], baseline[None, :])}
        per_strategy.update({strategy: (layers[strategy], correct[strategy]) for strategy in ("expansion", "pruning", "random")})
        resamples = rng.randint(0, len(prompts), size=(self.n_bootstrap, len(prompts)))
        tail = (1 - self.confidence) / 2
        # The random control is itself a sample (of draws): a replicate resamples the questions and the
        # draws together, so the interval of a strategy minus random carries both sources of chance.
        draw_resamples = rng.randint(0, self.n_random, size=(self.n_bootstrap, self.n_random))
        random_correct = correct["random"]
        random_per_replicate = np.stack([random_correct[draws].mean(axis=0) for draws in draw_resamples])
        replicate_rows = np.arange(self.n_bootstrap)[:, None]
        rows = []
        for strategy, (skipped, strategy_correct) in per_strategy.items():
            per_question = strategy_correct.mean(axis=0) - baseline  # paired with the baseline question by question
            boot = per_question[resamples].mean(axis=1)
            rows.append(
                {
                    "strategy": strategy,
                    "layers": skipped,
                    "accuracy": float(strategy_correct.mean()),
                    "accuracy_std": float(strategy_correct.mean(axis=1).std(ddof=1)) if len(strategy_correct) > 1 else 0.0,
                    "difference": float(per_question.mean()),
                    "ci_low": float(np.quantile(boot, tail)),
                    "ci_high": float(np.quantile(boot, 1 - tail)),
                    **self._minus_random(strategy, strategy_correct, random_correct, random_per_replicate,
                                         resamples, replicate_rows, tail),
                }
            )
        return pd.DataFrame(rows).set_index("strategy")

    @staticmethod
    def _minus_random(strategy, strategy_correct, random_correct, random_per_replicate, resamples, replicate_rows,
                      tail):
        """Accuracy of a chosen strategy minus the random control's, paired question by question, with its interval."""
        if strategy not in ("expansion", "pruning"):
            return {"minus_random": np.nan, "minus_random_ci_low": np.nan, "minus_random_ci_high": np.nan}
        chosen = strategy_correct[0]
        per_replicate = chosen[resamples] - random_per_replicate[replicate_rows, resamples]
        boot = per_replicate.mean(axis=1)
        return {"minus_random": float(chosen.mean() - random_correct.mean()),
                "minus_random_ci_low": float(np.quantile(boot, tail)),
                "minus_random_ci_high": float(np.quantile(boot, 1 - tail))}

    def _skipped(self, prompts, options, answers, rng):
        """Layers and per-question correctness of the expansion, pruning and random strategies."""
        draws = [self._random_layers(rng) for _ in range(self.n_random)]
        layers = {"expansion": self.expansion_layers_.tolist(), "pruning": self.pruning_layers_.tolist(),
                  "random": [draw.tolist() for draw in draws]}
        correct = {
            "expansion": self._correct(prompts, options, answers, self.expansion_layers_)[None, :],
            "pruning": self._correct(prompts, options, answers, self.pruning_layers_)[None, :],
            "random": np.stack([self._correct(prompts, options, answers, draw) for draw in draws]),
        }
        return layers, correct

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
