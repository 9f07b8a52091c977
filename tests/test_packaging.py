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
    # A sentence of what the library is comes first, then the two commands, before any other section.
    opening = readme.split("```bash")[0]
    assert "scikit-learn estimators" in opening and "logit lens" in opening
    assert readme.index(commands[1]) < readme.index("## What it is")
    assert all("-c constraints.txt" in command for command in commands[:2])
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert commands[1] in ci_lines


def test_public_api_is_reexported():
    for name in sklearn_entropylens.__all__:
        assert hasattr(sklearn_entropylens, name)
    assert sklearn_entropylens.EntropyProfileTransformer.__module__ == "sklearn_entropylens.estimators._profile"


def test_demo_reports_an_unknown_model_in_one_line(tmp_path, capsys):
    from sklearn_entropylens.__main__ import main

    assert main(["--model", str(tmp_path / "no-such-model"), "--output-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"entropylens: error: model={str(tmp_path / 'no-such-model')!r} is a path") and error.count("\n") == 1


def test_the_command_is_installed_as_an_entry_point():
    import importlib.metadata

    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("entropylens") == "sklearn_entropylens._cli:main"


def test_constraints_pin_every_runtime_dependency():
    import tomllib

    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + [r for extra in ("test", "gemma", "parquet") for r in extras[extra]]
    # An extra may name another of this package's extras ("sklearn-entropylens[facts]"): pin what it holds.
    for requirement in list(requirements):
        if requirement.startswith("sklearn-entropylens["):
            requirements.remove(requirement)
            for extra in requirement.split("[")[1].rstrip("]").split(","):
                requirements += extras[extra.strip()]
    for requirement in requirements:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[ ]", requirement)[0]).lower()
        assert name in pinned, f"{name} is not pinned in constraints.txt"
