"""The README's short example runs and prints what the README says it prints."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_readmes_example_prints_its_stated_output(smollm2, tmp_path, monkeypatch):
    code = re.search(r"## A short example\n\n```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S).group(1)
    lines = code.splitlines()
    # The line whose value the README shows in the comment below it.
    shown = next(index for index, line in enumerate(lines) if lines[index + 1].startswith("# ("))
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec("\n".join(lines[:shown]), namespace)
    assert repr(eval(lines[shown], namespace)) == lines[shown + 1].removeprefix("# ")
    exec("\n".join(lines[shown + 2:]), namespace)
