"""Guess-then-Refine (Gupta et al., arXiv 2510.18871): how models use their depth, through either lens.

Four case studies, each on text the tuned lens never saw (it is fitted on the first 100 built-in
stories; the studies read the other 20 and the built-in questions):

1. **Frequency guesses.** The share of each layer's top-1 tokens among the 10 and 100 most frequent
   tokens, per relative depth, on generated continuations of story openings; and the refinement rate,
   the share of a layer's top-1 tokens that differ from the final prediction. The frequencies are
   counted with the model's tokenizer on the first 100 stories, which no study reads: tokens, punctuation
   included, of text of the kind the studies read. (A word-frequency list such as ``wordfreq``'s counts
   no punctuation, and ``.`` and ``,`` are among the most frequent tokens, so it cannot rank tokens.)
2. **Function and content words.** The decision depth (the first block from which the top-1 token is
   the final one and stays so) of generated tokens that are function words (a closed-class list:
   determiners, pronouns, prepositions, conjunctions, auxiliaries; ``datasets._facts.FUNCTION_WORDS``)
   against whole-word content tokens.
3. **Multi-token fact recall.** On cloze facts with answers of two or more tokens, the decision depth
   of the first generated token against the following ones.
4. **Multiple choice.** On the built-in letter-style questions (in the model's chat template when it
   has one), the depth from which the top-1 token is one of the option letters (and stays so) against
   the decision depth of the final answer, over the questions the model answers with a letter.

Differences are given with 95 % bootstrap intervals over prompts (positions of one prompt share its
text, so they are resampled together).
"""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..datasets import FACT_RECALL, FUNCTION_WORDS
from ..estimators import EntropyProfileTransformer, TunedLens
from ..lens import decision_depth, token_frequencies, token_text
from ..models import DEFAULT_MODEL, load_model
from ..plotting import pyplot

PAPER = {
    "frequency_guesses": "Pythia-6.9B, tuned lens: over 75 % of layer-1 top-1 tokens among the 10 most frequent "
                         "(about 33 % at the last layer); early guesses refined more than 70 % (60-80 %) of the time",
    "function_words": "function words are decided earliest, content words need more depth",
    "fact_recall": "the first token of a multi-token answer needs the most depth",
    "multiple_choice": "the option format is found within the first half of the layers, the answer late",
}
N_TRAINING_STORIES = 100


def _bootstrap_interval(per_prompt, random_state=0, n_resamples=2000):
    """95 % percentile interval of the mean of per-prompt values (NaN-free), resampling prompts."""
    values = np.asarray(per_prompt, dtype=np.float64)
    if values.size < 2:
        return np.nan, np.nan
    rng = np.random.default_rng(random_state)
    means = values[rng.integers(0, values.size, (n_resamples, values.size))].mean(axis=1)
    return tuple(np.percentile(means, [2.5, 97.5]))


def _row(study, lens, measure, values, n, unit="relative depth"):
    values = np.asarray(values, dtype=np.float64)
    low, high = _bootstrap_interval(values)
    return {"study": study, "lens": lens, "measure": measure, "value": float(values.mean()) if values.size else np.nan,
            "ci_low": low, "ci_high": high, "n_prompts": int(n), "unit": unit}


def _story_openings(n_stories):
    from ..datasets import load_story_texts

    stories = load_story_texts()[N_TRAINING_STORIES : N_TRAINING_STORIES + n_stories]
    return [" ".join(story.split()[:12]) for story in stories]


def _profile(model, lens, prompts, n_tokens, statistics, frequencies=None, chat_template=False):
    """Values and generated tokens (computed afresh: the cache keeps values, not tokens)."""
    profiler = EntropyProfileTransformer(model, n_tokens=n_tokens, statistics=statistics, lens=lens,
                                         token_frequencies=frequencies, chat_template=chat_template).fit(prompts)
    result = profiler._runner(cached=False).run(prompts)
    return profiler, result


def _training_story_frequencies(model):
    """Token counts of the first 100 built-in stories: text no study reads (they read stories 100-119)."""
    from ..datasets import load_story_texts

    loaded = load_model(model)
    return token_frequencies(load_story_texts()[:N_TRAINING_STORIES], loaded.tokenizer, vocab_size=loaded.vocab_size)


def _frequency_guesses(model, lens_name, lens, prompts, n_tokens):
    profiler, result = _profile(model, lens, prompts, n_tokens, ["top1_frequency_rank", "top1_agreement", "top1_settled"],
                                _training_story_frequencies(model))
    ranks, agreement = result["top1_frequency_rank"], result["top1_agreement"]
    depths = profiler.feature_layout_.depths
    curves = pd.DataFrame({
        "relative_depth": depths,
        "top10_share": (ranks <= 10).mean(axis=(0, 1)),
        "top100_share": (ranks <= 100).mean(axis=(0, 1)),
        "refinement_rate": 1 - agreement.mean(axis=(0, 1)),
        "lens": lens_name,
    })
    first_quarter = profiler.layers_ <= max(1, profiler.n_layers_ // 4)
    rows = [
        _row("frequency_guesses", lens_name, "block 1: share of top-1 among the 10 most frequent",
             (ranks[:, :, 0] <= 10).mean(axis=1), len(prompts), "share"),
        _row("frequency_guesses", lens_name, "last block: share of top-1 among the 10 most frequent",
             (ranks[:, :, -1] <= 10).mean(axis=1), len(prompts), "share"),
        _row("frequency_guesses", lens_name, "block 1 minus last block, per prompt",
             (ranks[:, :, 0] <= 10).mean(axis=1) - (ranks[:, :, -1] <= 10).mean(axis=1), len(prompts), "share"),
        _row("frequency_guesses", lens_name, "first quarter of blocks: refinement rate",
             1 - agreement[:, :, first_quarter].mean(axis=(1, 2)), len(prompts), "share"),
    ]
    return curves, rows, profiler, result


def _function_words(profiler, result, lens_name):
    tokenizer = profiler.load().tokenizer
    depths = decision_depth(result["top1_settled"], profiler.layers_) / profiler.n_layers_  # (n, T)
    function, content = [], []
    for prompt_tokens, prompt_depths in zip(result.tokens, depths):
        words = [token_text(tokenizer, int(token)) for token in prompt_tokens]
        kinds = [_word_kind(word) for word in words]
        function.append([d for d, kind in zip(prompt_depths, kinds) if kind == "function"])
        content.append([d for d, kind in zip(prompt_depths, kinds) if kind == "content"])
    both = [i for i in range(len(function)) if function[i] and content[i]]
    difference = [np.mean(content[i]) - np.mean(function[i]) for i in both]
    n_function, n_content = sum(map(len, function)), sum(map(len, content))
    function_means, content_means = [np.mean(f) for f in function if f], [np.mean(c) for c in content if c]
    return [
        _row("function_words", lens_name, f"function words ({n_function} tokens): decision depth", function_means,
             len(function_means)),
        _row("function_words", lens_name, f"content words ({n_content} tokens): decision depth", content_means,
             len(content_means)),
        _row("function_words", lens_name, "content minus function, per prompt", difference, len(both)),
    ]


def _word_kind(text):
    word = text.strip().lower()
    if word in FUNCTION_WORDS:
        return "function"
    if word.isalpha() and len(word) > 1 and text[:1].isspace():  # a whole word, not a word piece
        return "content"
    return None


def _fact_recall(model, lens_name, lens, quick):
    facts = FACT_RECALL[:12] if quick else FACT_RECALL
    tokenizer = load_model(model).tokenizer
    kept = [(prompt, tokenizer(" " + answer, add_special_tokens=False)["input_ids"]) for prompt, answer in facts]
    kept = [(prompt, ids) for prompt, ids in kept if len(ids) >= 2]
    prompts = [prompt for prompt, _ in kept]
    profiler, result = _profile(model, lens, prompts, 3, ["top1_settled"])
    depths = decision_depth(result["top1_settled"], profiler.layers_) / profiler.n_layers_  # (n, 3)
    correct = np.array([list(result.tokens[i, : min(3, len(ids))]) == ids[:3] for i, (_, ids) in enumerate(kept)])
    n_answer = np.array([min(3, len(ids)) for _, ids in kept])
    following = np.array([depths[i, 1 : n_answer[i]].mean() for i in range(len(kept))])
    rows = []
    for subset, mask in (("all facts", np.ones(len(kept), bool)), ("recalled facts", correct)):
        rows.append(_row("fact_recall", lens_name, f"{subset}: first token decision depth", depths[mask, 0], mask.sum()))
        rows.append(_row("fact_recall", lens_name, f"{subset}: following tokens decision depth", following[mask],
                         mask.sum()))
        rows.append(_row("fact_recall", lens_name, f"{subset}: first minus following",
                         depths[mask, 0] - following[mask], mask.sum()))
    return rows


def _multiple_choice(model, lens_name, lens, quick):
    from ..datasets import load_multiple_choice

    questions = load_multiple_choice(prompt_style="letters")
    prompts = list(questions.data[:40] if quick else questions.data)
    loaded = load_model(model)
    tokenizer = loaded.tokenizer
    # A frequency table that ranks the option letters (with or without a leading space) first: a top-1
    # frequency rank of 1 then means "an option letter".
    letters = np.zeros(loaded.vocab_size, dtype=np.int64)
    for text in ("A", "B", "C", "D", " A", " B", " C", " D"):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            letters[ids[0]] = 1
    # An instruction-tuned model with a chat template answers in its own turn (SmolLM2 ends the raw
    # prompt with its end-of-turn token instead of a letter).
    chat_template = bool(getattr(tokenizer, "chat_template", None))
    profiler, result = _profile(model, lens, prompts, 1, ["top1_frequency_rank", "top1_settled"], letters,
                                chat_template)
    is_letter = result["top1_frequency_rank"][:, 0] == 1  # (n, layers)
    letter_settled = np.flip(np.cumprod(np.flip(is_letter, -1), -1), -1)
    answered = letter_settled[:, -1] == 1  # the model's own answer is a letter
    letter_depth = decision_depth(letter_settled[answered], profiler.layers_) / profiler.n_layers_
    answer_depth = decision_depth(result["top1_settled"][answered, 0], profiler.layers_) / profiler.n_layers_
    n = int(answered.sum())
    return [
        _row("multiple_choice", lens_name, f"top-1 becomes an option letter ({n} of {len(prompts)} answered with one)",
             letter_depth, n),
        _row("multiple_choice", lens_name, "top-1 becomes the final answer", answer_depth, n),
        _row("multiple_choice", lens_name, "answer minus letter", answer_depth - letter_depth, n),
    ]


def run_guess_then_refine(*, model=DEFAULT_MODEL, memory=None, quick=False, lens=None):
    """The four Guess-then-Refine case studies through the logit lens and a tuned lens.

    Gupta et al.'s questions of how a model uses its depth, on this package's built-in text: how often
    the top-1 token of early blocks is a frequent token and how often it is later refined; the decision
    depth of function against content words; of the first against the following tokens of multi-token
    fact answers; and when the top-1 token becomes an option letter against when it becomes the final
    answer. Each study is read through both lenses, so that a conclusion can be checked against the lens
    it was read through. Depths are relative (block over the number of blocks), and each measure has a
    95 % bootstrap interval over prompts. Without ``lens``, a tuned lens is fitted first on built-in
    stories that no study reads (the first 100; 16 with ``quick=True``); pass a fitted one to rerun the
    studies without refitting. ``quick=True`` is for checking a setup, not for reporting.

    Parameters
    ----------
    model : str, default="smollm2-135m"
        The model.
    memory : str or None, default=None
        Unused: the studies need the generated tokens, which the profile cache does not keep (accepted
        for :func:`run_experiment`).
    quick : bool, default=False
        A scaled-down run (a quickly fitted lens, fewer prompts and tokens).
    lens : TunedLens or None, default=None
        A tuned lens fitted on the first 100 built-in stories; None fits one (about 8 minutes on SmolLM2
        on a 2-core CPU).

    Returns
    -------
    result : Bunch
        ``table`` (one row per measure and lens, with its 95 % bootstrap interval over prompts),
        ``curves`` (per relative depth: the top-10 and top-100 shares and the refinement rate),
        ``summary``, ``figure``, ``estimator`` (the tuned lens) and ``paper`` (what the paper reports, by
        study).

    See Also
    --------
    sklearn_entropylens.TunedLens : The tuned lens it reads through.
    sklearn_entropylens.run_experiment : Runs it as ``"guess-then-refine"``, beside the paper's result.
    sklearn_entropylens.lens.decision_depth : The first block from which the top-1 token is final and stays so.
    sklearn_entropylens.token_frequencies : Token counts of a text, which rank the top-1 tokens by frequency.

    Examples
    --------
    A quick run on a tiny random-initialised model (three blocks, a byte tokenizer), which takes a
    second. Its numbers mean nothing, and a measure that no prompt qualifies for is NaN with
    ``n_prompts`` 0. Without ``model`` it reads SmolLM2 (``quick=True``: about 40 seconds on 2 CPU cores):

    >>> from sklearn_entropylens.testing import register_tiny_model
    >>> from sklearn_entropylens.experiments import run_guess_then_refine
    >>> result = run_guess_then_refine(model=register_tiny_model("llama"), quick=True)
    >>> result.table["study"].unique().tolist()
    ['frequency_guesses', 'function_words', 'fact_recall', 'multiple_choice']
    >>> for measure in result.table["measure"][:4]:  # the first study, through the logit lens
    ...     print(measure)
    block 1: share of top-1 among the 10 most frequent
    last block: share of top-1 among the 10 most frequent
    block 1 minus last block, per prompt
    first quarter of blocks: refinement rate
    >>> result.table["n_prompts"][:4].tolist()  # six story openings
    [6, 6, 6, 6]
    >>> result.table["value"][:4].round(4).tolist()
    [0.0208, 0.0833, -0.0625, 0.7917]
    >>> result.curves.columns.tolist()
    ['relative_depth', 'top10_share', 'top100_share', 'refinement_rate', 'lens']
    >>> print(result.summary)
    block-1 top-1 among the 10 most frequent tokens: logit lens ..., tuned lens ... (tiny-llama)
    """
    from ..datasets import load_story_texts

    if lens is None:
        texts = load_story_texts()[: 16 if quick else N_TRAINING_STORIES]
        settings = {"max_epochs": 1, "max_length": 64, "training_vocab": 1024} if quick else {}
        lens = TunedLens(model, **settings).fit(texts)
    openings = _story_openings(6 if quick else 20)
    n_tokens = 8 if quick else 32
    curves, rows = [], []
    for lens_name, lens_value in (("logit", "logit"), ("tuned", lens)):
        lens_curves, lens_rows, profiler, result = _frequency_guesses(model, lens_name, lens_value, openings, n_tokens)
        curves.append(lens_curves)
        rows += lens_rows + _function_words(profiler, result, lens_name)
        rows += _fact_recall(model, lens_name, lens_value, quick)
        rows += _multiple_choice(model, lens_name, lens_value, quick)
    table = pd.DataFrame(rows)
    curves = pd.concat(curves, ignore_index=True)
    figure = guess_then_refine_figure(curves, table, model)
    guesses = table[table["measure"].str.startswith("block 1:")].set_index("lens")["value"]
    summary = (f"block-1 top-1 among the 10 most frequent tokens: logit lens {guesses['logit']:.2f}, "
               f"tuned lens {guesses['tuned']:.2f} ({model})")
    return Bunch(table=table, curves=curves, summary=summary, figure=figure, estimator=lens, paper=PAPER)


def guess_then_refine_figure(curves, table, model):
    """Frequency-guess curves and refinement (left), and the three depth comparisons (right)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 4, figsize=(18, 4))
    styles = {"logit": "--", "tuned": "-"}
    for lens_name, part in curves.groupby("lens"):
        axes[0].plot(part["relative_depth"], part["top10_share"], styles[lens_name], color="tab:blue",
                     label=f"top-10 share ({lens_name})")
        axes[0].plot(part["relative_depth"], part["top100_share"], styles[lens_name], color="tab:orange",
                     label=f"top-100 share ({lens_name})")
        axes[0].plot(part["relative_depth"], part["refinement_rate"], styles[lens_name], color="tab:red",
                     label=f"refinement rate ({lens_name})")
    axes[0].set(xlabel="relative depth", ylabel="share of positions", title=f"1. frequency guesses ({model})")
    axes[0].legend(fontsize="x-small")
    panels = (
        ("function_words", (("function words", "function\nwords"), ("content words", "content\nwords")),
         "2. decision depth by word class"),
        ("fact_recall", (("all facts: first token", "first\ntoken"), ("all facts: following tokens", "following\ntokens")),
         "3. multi-token answers"),
        ("multiple_choice", (("top-1 becomes an option letter", "option\nletter"),
                             ("top-1 becomes the final answer", "final\nanswer")), "4. multiple choice"),
    )
    for ax, (study, measures, title) in zip(axes[1:], panels):
        part = table[table["study"] == study]
        positions, heights, errors, labels, colours = [], [], [[], []], [], []
        for k, lens_name in enumerate(("logit", "tuned")):
            for j, (measure, label) in enumerate(measures):
                row = part[(part["lens"] == lens_name) & part["measure"].str.startswith(measure)].iloc[0]
                positions.append(k * 3 + j)
                heights.append(row["value"])
                errors[0].append(row["value"] - row["ci_low"])
                errors[1].append(row["ci_high"] - row["value"])
                labels.append(f"{label}\n({lens_name})")
                colours.append(("tab:green", "tab:purple")[j])
        ax.bar(positions, heights, yerr=np.nan_to_num(np.asarray(errors)), capsize=3, color=colours)
        ax.set_xticks(positions, labels, fontsize="x-small")
        ax.set(ylabel="mean relative decision depth", title=title, ylim=(0, 1))
    figure.tight_layout()
    return figure
