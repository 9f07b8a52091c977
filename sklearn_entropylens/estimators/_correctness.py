"""The model's own answer to multiple-choice prompts, read from the option-letter logits."""

import numbers

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

from ..lens import default_batch_size, encode_prompts, left_padded_batch, threads_for
from ..models import DEFAULT_MODEL, check_model_spec
from .._param_validation import Boolean, Checked, Interval, Options, validate_arguments
from .._validation import check_prompts

LETTERS = ("A", "B", "C", "D")


def _letter_token_ids(tokenizer, letters):
    """Single-token spellings of each letter (``"A"`` and ``" A"``), as lists of token ids."""
    spellings = []
    for letter in letters:
        ids = set()
        for text in (letter, " " + letter):
            encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(encoded) == 1:
                ids.add(encoded[0])
        if not ids:
            raise ValueError(f"The tokenizer has no single token for the option letter {letter!r}.")
        spellings.append(sorted(ids))
    return spellings


@torch.inference_mode()
def _letter_scores(loaded, token_ids, letters, batch_size):
    """Next-token logit of each letter (its best single-token spelling) right after each prompt."""
    spellings = _letter_token_ids(loaded.tokenizer, letters)
    scores = np.empty((len(token_ids), len(letters)))
    extra = {"logits_to_keep": 1} if "logits_to_keep" in loaded.forward_parameters else {}
    for start in range(0, len(token_ids), batch_size):
        input_ids, attention_mask, position_ids = left_padded_batch(loaded, token_ids[start : start + batch_size])
        logits = loaded.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **extra
        ).logits[:, -1].float()
        for k, ids in enumerate(spellings):
            scores[start : start + len(input_ids), k] = logits[:, ids].amax(dim=-1).double().cpu().numpy()
    return scores


@torch.inference_mode()
def _option_scores(loaded, token_ids, options, batch_size):
    """Each option's text (after a space) scored as the prompt's continuation, with the answer position read.

    Returns ``(mean_log_probability, sum_log_probability, first_token_log_probability)``, each of shape
    (n_prompts, n_options), and ``(entropy, max_probability)`` of shape (n_prompts,): the next-token
    distribution right after the prompt (the answer position, the same for every option of a prompt).
    """
    n_prompts, n_options = options.shape
    sequences, lengths = [], []
    for ids, row in zip(token_ids, options):
        for option in row:
            continuation = loaded.tokenizer(" " + str(option).strip(), add_special_tokens=False)["input_ids"]
            sequences.append(list(ids) + list(continuation))
            lengths.append(len(continuation))
    mean, total, first = (np.empty(len(sequences)) for _ in range(3))
    entropy, max_probability = np.empty(len(sequences)), np.empty(len(sequences))
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start : start + batch_size]
        chunk_lengths = lengths[start : start + batch_size]
        keep = max(chunk_lengths) + 1
        input_ids, attention_mask, position_ids = left_padded_batch(loaded, chunk)
        extra = {"logits_to_keep": keep} if "logits_to_keep" in loaded.forward_parameters else {}
        logits = loaded.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **extra).logits
        log_probs = torch.log_softmax(logits[:, -keep:].double(), dim=-1)  # positions W-keep .. W-1
        for row, length in enumerate(chunk_lengths):
            targets = input_ids[row, -length:]
            predicted_by = log_probs[row, keep - 1 - length : keep - 1]  # logits at j predict token j + 1
            token_log_probs = predicted_by.gather(1, targets[:, None])[:, 0]
            mean[start + row] = float(token_log_probs.mean())
            total[start + row] = float(token_log_probs.sum())
            first[start + row] = float(token_log_probs[0])
            if (start + row) % n_options == 0:
                # The distribution right after the prompt: the same for every option, so read it once.
                answer_position = predicted_by[0]
                probabilities = answer_position.exp()  # 0 log 0 = 0 where a logit is -inf
                entropy[start + row] = float(-(probabilities * answer_position).where(probabilities > 0, 0.0).sum())
                max_probability[start + row] = float(answer_position.max().exp())
    shape = (n_prompts, n_options)
    return (mean.reshape(shape), total.reshape(shape), first.reshape(shape), entropy.reshape(shape)[:, 0],
            max_probability.reshape(shape)[:, 0])


def _confidence_table(probabilities, chosen, sequence_scores=None):
    """The output's own confidence in its answer (the baselines of LM-Polygraph), one row per prompt."""
    rows = np.arange(len(probabilities))
    table = {"option_probability": probabilities[rows, chosen]}
    if sequence_scores is not None:
        mean, total, first, entropy, max_probability = sequence_scores
        table.update(
            sequence_log_likelihood=total[rows, chosen],
            mean_token_log_probability=mean[rows, chosen],
            first_token_probability=np.exp(first[rows, chosen]),
            answer_entropy=entropy,
            answer_max_probability=max_probability,
        )
    return pd.DataFrame(table)


_ANSWER_CORRECTNESS_CONSTRAINTS = {
    "method": [Options("letters", "options")],
    "model": [Checked(check_model_spec)],
    "chat_template": [Boolean()],
    "batch_size": [Options("auto"), Interval(numbers.Integral, 1, None)],
}


def answer_correctness(X, answers, *, options=None, method="letters", model=DEFAULT_MODEL, chat_template=False,
                       batch_size="auto", letters=LETTERS):
    """Whether the model answers each multiple-choice prompt correctly, read from its logits.

    ``method="letters"`` (the paper's rule): the model's answer is the option letter whose next-token
    logit, right after the prompt, is the highest among the letters (each letter at its best
    single-token spelling, ``"A"`` or ``" A"``). ``method="options"``: the option whose text, as the
    continuation of the prompt, has the highest mean log-probability per token (the usual scoring of
    small models, which rarely bind letters to options). Nothing is parsed from generated text, unlike
    the reference implementation, whose regular expressions also match letters inside the prompt.

    Parameters
    ----------
    X : iterable of str
        Prompts that end where the answer is expected (for example with ``"Answer:"``).
    answers : array-like of str of shape (n_samples,)
        The correct letter of each prompt.
    options : array-like of str of shape (n_samples, n_letters) or None, default=None
        The option texts, in letter order; needed for ``method="options"``.
    method : {"letters", "options"}, default="letters"
        How the model's answer is read.
    model : str or ModelSpec, default="smollm2-135m"
        The model asked: an identifier (as ``EntropyProfileTransformer``'s ``model``), or a
        :class:`~sklearn_entropylens.models.ModelSpec` for a revision, dtype, device or loading options
        (a fitted profiler's ``model_spec_`` asks the model it profiles).
    chat_template : bool, default=False
        Wrap each prompt as a user message with the tokenizer's chat template.
    batch_size : int or "auto", default="auto"
        Sequences per forward pass; ``"auto"`` is 8 on CPU and 64 on a GPU.
    letters : sequence of str, default=("A", "B", "C", "D")
        The option letters.

    Returns
    -------
    result : Bunch
        ``correct`` (int array of 0/1, the labels of :class:`CorrectnessClassifier`), ``predicted``
        (the model's letters), ``probabilities`` (softmax over the options' scores, shape
        (n_samples, n_letters)), ``accuracy`` and ``confidence``: the output's own confidence in its
        answer, the baselines of the uncertainty literature (LM-Polygraph's maximum sequence probability
        and its relatives), a DataFrame with one row per prompt: ``option_probability`` (the softmax
        over the options' scores at the chosen option) and, with ``method="options"``,
        ``sequence_log_likelihood`` (the chosen option's summed token log-probabilities),
        ``mean_token_log_probability``, ``first_token_probability`` (of its first token) and
        ``answer_entropy`` / ``answer_max_probability`` (entropy in nats and largest probability of the
        whole-vocabulary next-token distribution right after the prompt, at the final layer).

    See Also
    --------
    CorrectnessClassifier : Learns to predict ``correct`` from the entropy profile of each prompt.
    sklearn_entropylens.datasets.load_multiple_choice : Built-in questions with their options and correct letters.
    sklearn_entropylens.datasets.load_fact_questions : Graded fact questions, answered with ``method="options"``.

    Examples
    --------
    >>> from sklearn_entropylens import answer_correctness
    >>> prompt = "Question: What is the capital of France?\\nAnswer:"
    >>> result = answer_correctness([prompt], ["B"], options=[["Rome", "Paris", "Lima", "Oslo"]], method="options")
    >>> result.predicted, result.accuracy
    (array(['B'], dtype='<U1'), 1.0)
    """
    prompts = check_prompts(X)
    answers = np.asarray(answers)
    letters = tuple(letters)
    if answers.shape != (len(prompts),):
        raise ValueError(f"answers must give one letter per prompt: {len(prompts)} prompts, answers of shape {answers.shape}.")
    unknown = sorted(set(answers.tolist()) - set(letters))
    if unknown:
        raise ValueError(f"answers must be among the letters {letters}, got {unknown[:3]}.")
    arguments = validate_arguments("answer_correctness", _ANSWER_CORRECTNESS_CONSTRAINTS, method=method, model=model,
                                   chat_template=chat_template, batch_size=batch_size)
    if method == "options":
        if options is None:
            raise ValueError("method='options' needs the option texts: pass options of shape (n_samples, n_letters).")
        options = np.asarray(options, dtype=object)
        if options.shape != (len(prompts), len(letters)):
            raise ValueError(f"options must have shape ({len(prompts)}, {len(letters)}), got {options.shape}.")
    loaded = arguments["model"].load()
    batch_size = default_batch_size(loaded.device) if batch_size == "auto" else int(batch_size)
    token_ids = encode_prompts(loaded, prompts, n_tokens=1, chat_template=chat_template)
    sequence_scores = None
    with threads_for(loaded)[0]:  # torch's threads chosen as the profiler chooses them (lens/_threads.py)
        if method == "letters":
            scores = _letter_scores(loaded, token_ids, letters, batch_size)
        else:
            sequence_scores = _option_scores(loaded, token_ids, options, batch_size)
            scores = sequence_scores[0]
    chosen = scores.argmax(axis=1)
    predicted = np.asarray(letters)[chosen]
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    correct = (predicted == answers).astype(int)
    return Bunch(
        correct=correct,
        predicted=predicted,
        probabilities=probabilities,
        accuracy=float(correct.mean()),
        confidence=_confidence_table(probabilities, chosen, sequence_scores),
    )
