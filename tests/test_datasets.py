import numpy as np
import pandas as pd
import pytest

from sklearn_entropylens import EntropyProfileTransformer, answer_correctness
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


@pytest.mark.bundled
def test_bundled_model_accuracy_stated_in_descr(smollm2):
    cloze = load_multiple_choice()
    result = answer_correctness(
        cloze.data, cloze.target, options=cloze.options, method="options", profiler=EntropyProfileTransformer(batch_size=16)
    )
    assert result.accuracy == pytest.approx(SMOLLM2_CLOZE_ACCURACY, abs=5e-4)
    letters = load_multiple_choice(prompt_style="letters")
    result = answer_correctness(letters.data, letters.target, profiler=EntropyProfileTransformer(batch_size=16))
    assert result.accuracy == pytest.approx(SMOLLM2_LETTERS_ACCURACY, abs=5e-4)
