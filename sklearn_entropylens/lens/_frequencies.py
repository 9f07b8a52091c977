"""Token frequencies, for the frequency rank of each layer's top-1 token (Guess-then-Refine, arXiv 2510.18871)."""

import numpy as np


def token_frequencies(texts, tokenizer, *, vocab_size=None):
    """How often each token id occurs in ``texts``, tokenized without special tokens.

    The table behind the ``"top1_frequency_rank"`` statistic (Guess-then-Refine, arXiv 2510.18871):
    :func:`~sklearn_entropylens.lens.frequency_ranks` ranks these counts, and the statistic gives each
    layer's top-1 token its rank. Pass the counts of a corpus of your own as the profile transformer's
    ``token_frequencies``; without them it counts the built-in stories with the model's tokenizer, as
    here. Count with the tokenizer of the model you profile: token ids mean nothing across tokenizers.

    Parameters
    ----------
    texts : iterable of str
        Ordinary text.
    tokenizer : transformers tokenizer
        The model's tokenizer.
    vocab_size : int or None, default=None
        Length of the table (the model's vocabulary, which may exceed the tokenizer's); None is
        ``len(tokenizer)``.

    Returns
    -------
    counts : ndarray of shape (vocab_size,), int64
        Occurrences of each token id.

    See Also
    --------
    sklearn_entropylens.lens.frequency_ranks : Ranks from these counts.
    EntropyProfileTransformer : Takes them as ``token_frequencies`` for ``"top1_frequency_rank"``.
    sklearn_entropylens.datasets.load_story_texts : The built-in stories counted by default.

    Examples
    --------
    >>> from sklearn_entropylens import load_model, token_frequencies
    >>> from sklearn_entropylens.datasets import load_story_texts
    >>> loaded = load_model("smollm2-135m")
    >>> counts = token_frequencies(load_story_texts(), loaded.tokenizer, vocab_size=loaded.vocab_size)
    >>> loaded.tokenizer.decode([int(counts.argmax())])
    '.'
    """
    from .._validation import check_prompts

    size = len(tokenizer) if vocab_size is None else int(vocab_size)
    counts = np.zeros(size, dtype=np.int64)
    for text in check_prompts(texts, allow_empty=True):
        ids = np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=np.int64)
        if ids.size and ids.max() >= size:
            raise ValueError(f"The tokenizer gives token id {int(ids.max())}, beyond the table's {size} entries.")
        np.add.at(counts, ids, 1)
    return counts


def frequency_ranks(counts, vocab_size):
    """Each token's rank by frequency: 1 + the number of strictly more frequent tokens (ties share a rank).

    The ranks that ``"top1_frequency_rank"`` reads for each layer's top-1 token: a small rank means the
    layer predicts one of the corpus's most frequent tokens, which Guess-then-Refine (arXiv 2510.18871)
    counts as a frequency guess up to rank 10. The profile transformer computes them at ``fit`` from its
    ``token_frequencies``; call this to rank counts of your own the same way. Unseen tokens all share one
    rank, after the last seen token, so a small corpus leaves most of a large vocabulary tied.

    Parameters
    ----------
    counts : array-like of shape (vocab_size,)
        Non-negative occurrences (or frequencies) of each token id.
    vocab_size : int
        The model's vocabulary size, which ``counts`` must match.

    Returns
    -------
    ranks : ndarray of shape (vocab_size,), int64
        Rank 1 is the most frequent token; every unseen token shares the rank after the last seen one.

    See Also
    --------
    token_frequencies : The counts they rank.
    sklearn_entropylens.EntropyProfileTransformer : Ranks its ``token_frequencies`` with it at ``fit``.
    sklearn_entropylens.experiments.run_guess_then_refine : The experiment that reads the ranks.

    Examples
    --------
    >>> from sklearn_entropylens.lens import frequency_ranks
    >>> frequency_ranks([5, 0, 9, 5], vocab_size=4)  # ties share a rank; the unseen token comes last
    array([2, 4, 1, 2])
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.shape[0] != vocab_size:
        raise ValueError(
            f"token_frequencies must be one count per token id of the model's {vocab_size}-token vocabulary, "
            f"got an array of shape {counts.shape}."
        )
    if counts.dtype == bool or not np.issubdtype(counts.dtype, np.number) or not np.all(np.isfinite(counts)) \
            or np.any(counts < 0):
        raise ValueError("token_frequencies must be finite, non-negative numbers.")
    ascending = np.sort(counts)
    return (1 + counts.shape[0] - np.searchsorted(ascending, counts, side="right")).astype(np.int64)
