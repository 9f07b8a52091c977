"""The README's short example runs and prints what the README says it prints."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_readmes_example_prints_its_stated_output(smollm2, tmp_path, monkeypatch):
    found = re.search(r"## A short example\n\n```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert found, "the README has no '## A short example' section opening with a python block"
    lines = found.group(1).splitlines()
    # The line whose value the README shows in the comment below it.
    shown = [index for index in range(1, len(lines)) if lines[index].startswith("# (")]
    assert len(shown) == 1, "the README's short example should show one output, as a '# (...)' comment"
    shown = shown[0] - 1
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec("\n".join(lines[:shown]), namespace)
    assert repr(eval(lines[shown], namespace)) == lines[shown + 1].removeprefix("# ")
    exec("\n".join(lines[shown + 2:]), namespace)
