import json

import numpy as np
import pandas as pd
import pytest

from sklearn_entropylens import load
from sklearn_entropylens._cli import _parse_value, main
from sklearn_entropylens.persistence import get_trusted_types
from sklearn_entropylens.testing import save_tiny_model

PROMPTS = ["The cat sat", "Once upon a time", "1 2 3"]


@pytest.fixture(scope="module")
def tiny_directory(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


def _one_line_error(capsys, start):
    error = capsys.readouterr().err
    assert error.startswith(f"entropylens: error: {start}"), error
    assert error.count("\n") == 1
    return error


@pytest.mark.parametrize("text, value", [("3", 3), ("0.7", 0.7), ("true", True), ("None", None), ("null", None),
                                         ("concat", "concat"), ("entropy,kl_to_final", ["entropy", "kl_to_final"]),
                                         ('["entropy"]', ["entropy"]), ("cuda:0", "cuda:0")])
def test_option_values(text, value):
    assert _parse_value(text) == value


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv"])
def test_profile_reads_every_input_format(tmp_path, tiny_directory, suffix):
    source = tmp_path / f"prompts{suffix}"
    if suffix == ".txt":
        source.write_text("\n".join(PROMPTS) + "\n\n")
    elif suffix == ".jsonl":
        source.write_text("\n".join(json.dumps({"text": p, "id": i}) for i, p in enumerate(PROMPTS)))
    else:
        pd.DataFrame({"id": range(3), "prompt": PROMPTS}).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    status = main(["profile", str(source), "-o", str(output), "--model", tiny_directory, "--n-tokens", "3",
                   "--aggregate", "concat", "--statistics", "entropy,kl_to_final", "--batch-size", "2"])
    assert status == 0
    frame = pd.read_csv(output)
    assert frame["prompt"].tolist() == PROMPTS
    assert frame.columns[1] == "entropy_pos00_layer01" and frame.shape == (3, 1 + 2 * 3 * 3)
    from sklearn_entropylens import EntropyProfileTransformer

    expected = EntropyProfileTransformer(tiny_directory, n_tokens=3, aggregate="concat",
                                         statistics=["entropy", "kl_to_final"]).fit_transform(PROMPTS)
    np.testing.assert_allclose(frame.drop(columns="prompt").to_numpy(), expected, atol=1e-5)  # batch 2 vs 8


def test_profile_from_stdin_to_stdout(monkeypatch, capsys, tiny_directory):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nworld\n"))
    assert main(["profile", "-", "-o", "-", "--model", tiny_directory, "--n-tokens", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("prompt,entropy_layer01") and len(lines) == 3


@pytest.mark.parametrize(
    "extra, start",
    [
        (["missing.txt"], "No prompt file 'missing.txt'"),
        (["PROMPTS", "--aggregate", "5", "--n-tokens", "3"], "aggregate=5 windows must divide"),
        (["PROMPTS", "-o", "out.xlsx"], "Unknown output type '.xlsx'"),
        (["PROMPTS", "--statistics", "entropy,magic"], "Unknown statistic 'magic'"),
        (["PROMPTS", "--dtype", "int8"], "dtype must be"),
    ],
)
def test_profile_errors_are_one_line(tmp_path, monkeypatch, capsys, tiny_directory, extra, start):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "PROMPTS").write_text("a\nb\n")
    assert main(["profile", *extra, "--model", tiny_directory]) == 2
    _one_line_error(capsys, start)


def test_unloadable_model_is_one_line(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("a\n")
    assert main(["profile", str(tmp_path / "p.txt"), "--model", str(tmp_path / "no-model-here")]) == 2
    _one_line_error(capsys, f"model={str(tmp_path / 'no-model-here')!r} is a path but not a model directory")


@pytest.mark.parametrize("argv, start", [
    (["profile"], "the following arguments are required: input (see entropylens profile --help)"),
    (["nonsense"], "argument command: invalid choice: 'nonsense'"),
    (["profile", "p.txt", "--normalize", "maybe"], "argument --normalize: expected true or false, got 'maybe'"),
])
def test_usage_errors_are_one_line(capsys, argv, start):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    _one_line_error(capsys, start)


def _fail_if_profiled(monkeypatch):
    def profile(*args, **kwargs):
        raise AssertionError("profiling started before the output was checked")

    monkeypatch.setattr("sklearn_entropylens.estimators._profile.EntropyProfileTransformer.fit_transform", profile)


def test_parquet_without_an_engine_fails_before_profiling(tmp_path, monkeypatch, capsys, tiny_directory):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyarrow", "fastparquet") else real_find_spec(name, *a))
    _fail_if_profiled(monkeypatch)
    (tmp_path / "p.txt").write_text("a\n")
    assert main(["profile", str(tmp_path / "p.txt"), "-o", str(tmp_path / "x.parquet"), "--model", tiny_directory]) == 2
    _one_line_error(capsys, "Writing Parquet needs pyarrow: pip install 'sklearn-entropylens[parquet]'")


def test_missing_output_folder_fails_before_profiling(tmp_path, monkeypatch, capsys, tiny_directory):
    _fail_if_profiled(monkeypatch)
    (tmp_path / "p.txt").write_text("a\n")
    assert main(["profile", str(tmp_path / "p.txt"), "-o", str(tmp_path / "no" / "x.csv"), "--model", tiny_directory]) == 2
    _one_line_error(capsys, f"The output folder {str(tmp_path / 'no')!r} does not exist")


def test_parquet_output_round_trips(tmp_path, tiny_directory):
    pytest.importorskip("pyarrow")
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS))
    assert main(["profile", str(tmp_path / "p.txt"), "-o", str(tmp_path / "x.parquet"), "--model", tiny_directory,
                 "--n-tokens", "2"]) == 0
    frame = pd.read_parquet(tmp_path / "x.parquet")
    assert frame["prompt"].tolist() == PROMPTS and frame.shape[1] == 1 + 3


def test_boolean_options_work_as_bare_flags(tmp_path, tiny_directory):
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS))
    for flags, expected in ((["--include-embedding"], True), (["--include-embedding", "false"], False), ([], False)):
        output = tmp_path / "x.csv"
        assert main(["profile", str(tmp_path / "p.txt"), "-o", str(output), "--model", tiny_directory,
                     "--n-tokens", "2", *flags]) == 0
        assert ("entropy_layer00" in pd.read_csv(output).columns) is expected


def test_help_says_what_each_option_means(capsys):
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--n-tokens N_TOKENS Number of profiled positions; that many tokens are generated. (default: 32)" in text
    assert "--normalize [true|false] Divide the entropy features by log V" in text
    assert "``" not in text and ":func:" not in text


def test_models_lists_the_bundled_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["model", "family", "installed", "converted"]
    assert "smollm2-135m" in out and "gemma3-270m" in out and "cache:" in out


def test_experiment_saves_table_figure_and_a_loadable_estimator(tmp_path, capsys, tiny_directory):
    assert main(["experiment", "tasks", "--model", tiny_directory, "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tasks: ROC-AUC" in out and "paper: ROC-AUC 0.948" in out
    for suffix in ("png", "csv", "skops"):
        assert (tmp_path / f"tasks.{suffix}").stat().st_size > 0
    table = pd.read_csv(tmp_path / "tasks.csv")
    assert list(table["setting"]) == ["profile, standardised", "profile, raw nats (no scaler, as the paper)",
                                      "held-out wording (unseen stories)"]
    assert {"auc", "auc_ci_low", "auc_ci_high", "dummy_auc", "corrected_p_value", "p_value"} <= set(table.columns)
    classifier = load(tmp_path / "tasks.skops", trusted=get_trusted_types())
    assert classifier.predict(PROMPTS).shape == (3,)


def test_demo_runs_end_to_end_on_a_tiny_model(tmp_path, capsys, tiny_directory):
    from sklearn_entropylens.__main__ import main as module_main

    assert module_main(["--model", tiny_directory, "--output-dir", str(tmp_path), "--quick"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    steps = ("0. loading", "1. ", "2. GridSearchCV", "   best ", "3. the paper's protocol", "4. figure saved",
             "5. fitted pipeline")
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)  # each step is announced before its work and its result
    # The grid search shows its profiling as it happens: one bar per batch of work, on stderr.
    assert f"Entropy profiles ({tiny_directory}, 2 tokens)" in captured.err
    assert "same predictions = True" in out
    assert (tmp_path / "task_profiles.png").exists() and (tmp_path / "task_classifier.skops").exists()


def test_tune_lens_then_profile_through_it(tmp_path, capsys, tiny_directory):
    from sklearn_entropylens.datasets import load_story_texts

    texts = tmp_path / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": story}) for story in load_story_texts()[:12]))
    lens_file = tmp_path / "lens.skops"
    assert main(["tune-lens", str(texts), "-o", str(lens_file), "--model", str(tiny_directory), "--max-length", "32",
                 "--max-epochs", "2", "--training-vocab", "null"]) == 0
    assert "Held-out KL(final || lens)" in capsys.readouterr().err
    lens = load(lens_file)
    assert lens.weights_.shape[0] == lens.n_layers_
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS))
    for name, option in (("logit", "logit"), ("tuned", str(lens_file))):
        assert main(["profile", str(prompts), "-o", str(tmp_path / f"{name}.csv"), "--model", str(tiny_directory),
                     "--n-tokens", "2", "--lens", option]) == 0
    logit, tuned = (pd.read_csv(tmp_path / f"{name}.csv") for name in ("logit", "tuned"))
    assert list(logit.columns) == list(tuned.columns)
    assert not np.allclose(logit.iloc[:, 1:-1], tuned.iloc[:, 1:-1])
    np.testing.assert_allclose(logit.iloc[:, -1], tuned.iloc[:, -1], atol=1e-5)  # block L: the model's own output


def test_profile_with_a_missing_lens_file_is_one_line(tmp_path, capsys, tiny_directory):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS))
    assert main(["profile", str(prompts), "--model", str(tiny_directory), "--lens", str(tmp_path / "no.skops")]) == 2
    _one_line_error(capsys, "No tuned lens file")
