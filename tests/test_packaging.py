import pathlib
import re

import sklearn_entropylens

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readmes_test_command_verbatim():
    # The one pin on the README: the command it gives for running the tests is the one CI runs. Its prose,
    # headings and the number or order of its code blocks are free to change.
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line]
    assert len(ci_commands) == 1, ci_commands
    assert ci_commands[0] in _readme_commands()
    assert "-c constraints.txt" in ci_commands[0]  # CI tests the pinned versions


def test_ci_builds_the_docs_with_the_readmes_command_warnings_as_errors():
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "sphinx-build" in line]
    assert len(ci_commands) == 1, ci_commands
    assert ci_commands[0] in _readme_commands()
    assert " -W " in ci_commands[0] and "-c constraints.txt" in ci_commands[0]


# The public names of the top-level package, each with the public subpackage that also exports it. Written
# out (not read from ``__all__``) so that a name dropped from, added to or moved out of the API fails here;
# a deliberate API change updates this table and the changelog.
PUBLIC_API = {
    "estimators": [
        "CorrectnessClassifier", "DepthRescaler", "EntropyProfileTransformer", "ExpansionPruningTransformer",
        "FormatClassifier", "InterventionScorer", "ModelFamilyClassifier", "TaskClassifier", "TunedLens",
        "answer_correctness", "expansion_set_size_correlation", "skip_layers",
    ],
    "experiments": ["EXPERIMENTS", "evaluate_profile_classifier", "run_experiment"],
    "lens": ["get_profile_counters", "reset_profile_counters", "token_frequencies"],
    "models": [
        "BUNDLED_MODELS", "DEFAULT_MODEL", "SUPPORTED_MODEL_TYPES", "ModelLoadError", "UnsupportedArchitectureError",
        "clear_model_cache", "load_model", "model_cache_dir", "register_model",
    ],
    "persistence": ["dump", "get_trusted_types", "load"],
    "plotting": ["EntropyHeatmapDisplay", "EntropyProfileDisplay", "ProfileEmbeddingDisplay"],
    None: ["EmptyPromptWarning"],  # top level only
}


def test_public_api_is_reexported():
    import importlib

    expected = sorted(name for names in PUBLIC_API.values() for name in names)
    assert sorted(sklearn_entropylens.__all__) == expected
    assert len(set(sklearn_entropylens.__all__)) == len(sklearn_entropylens.__all__)  # no name listed twice
    namespace = {}
    exec("from sklearn_entropylens import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == expected
    for subpackage, names in PUBLIC_API.items():
        if subpackage is None:
            continue
        module = importlib.import_module(f"sklearn_entropylens.{subpackage}")
        for name in names:
            assert getattr(sklearn_entropylens, name) is getattr(module, name), (subpackage, name)
    assert issubclass(sklearn_entropylens.EmptyPromptWarning, UserWarning)
    # Each public class is found again where its __module__ says (what pickle and skops rely on).
    for name in expected:
        obj = getattr(sklearn_entropylens, name)
        if isinstance(obj, type):
            assert getattr(importlib.import_module(obj.__module__), obj.__qualname__) is obj, name


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


def test_every_subpackage_exports_what_its_all_lists():
    # A name in __all__ that does not resolve breaks ``from <package> import *``.
    import importlib

    for package in ("datasets", "estimators", "experiments", "lens", "metrics", "models", "plotting"):
        module = importlib.import_module(f"sklearn_entropylens.{package}")
        missing = [name for name in getattr(module, "__all__", ()) if not hasattr(module, name)]
        assert missing == [], (package, missing)
