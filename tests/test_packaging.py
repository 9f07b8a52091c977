import pathlib
import re

import sklearn_entropylens

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    commands = _readme_commands()
    assert len(commands) >= 2
    readme = (ROOT / "README.md").read_text()
    assert readme.index(commands[1]) < readme.index("## ")
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert commands[1] in ci_lines


def test_public_api_is_reexported():
    for name in sklearn_entropylens.__all__:
        assert hasattr(sklearn_entropylens, name)
    assert sklearn_entropylens.EntropyProfileTransformer.__module__ == "sklearn_entropylens._profile"


def test_demo_reports_an_unknown_model_in_one_line(tmp_path, capsys):
    from sklearn_entropylens.__main__ import main

    assert main(["--model", str(tmp_path / "no-such-model"), "--output-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("entropylens: error: Could not load") and error.count("\n") == 1


def test_the_command_is_installed_as_an_entry_point():
    import importlib.metadata

    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("entropylens") == "sklearn_entropylens._cli:main"
