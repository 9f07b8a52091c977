"""The ``entropylens`` command: profile prompts, fit a tuned lens, run the paper's experiments, list models, run the demo.

Every error is one line on standard error, ``entropylens: error: <what is wrong and what to do>``, with
exit status 2; nothing prints a traceback.
"""

import argparse
import ast
import inspect
import io
import json
import pathlib
import re
import sys
import time

PROG = "entropylens"
# Parameters the commands set themselves or that make no sense on a command line.
_NOT_OPTIONS = {"memory"}


def _parse_value(text):
    """A command-line value: JSON or a Python literal (numbers, true/None, lists), else a comma list or text."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError):
            pass
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if "," in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _parse_bool(text):
    """A boolean option's value: true/false, yes/no, 1/0 (any case)."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parameters(cls):
    """An estimator's constructor parameters and defaults, but those in ``_NOT_OPTIONS``."""
    signature = inspect.signature(cls.__init__)
    return {name: p.default for name, p in signature.parameters.items() if name != "self" and name not in _NOT_OPTIONS}


def _add_parameter_options(parser, cls):
    """One ``--option`` per constructor parameter of ``cls``, documented from its docstring."""
    descriptions = parameter_descriptions(cls)
    for name, default in _parameters(cls).items():
        # argparse formats help with %-interpolation.
        text = f"{descriptions.get(name, '')} (default: {default!r})".strip().replace("%", "%%")
        option = f"--{name.replace('_', '-')}"
        if isinstance(default, bool):
            parser.add_argument(option, dest=name, type=_parse_bool, nargs="?", const=True,
                                default=argparse.SUPPRESS, metavar="true|false", help=text + "; the bare flag means true")
        else:
            # SUPPRESS, not None, marks an option not given: "--training-vocab None" is a value to pass on.
            parser.add_argument(option, dest=name, type=_parse_value, default=argparse.SUPPRESS, help=text)


def _given_parameters(args, cls):
    return {name: getattr(args, name) for name in _parameters(cls) if hasattr(args, name)}


def _load_tuned_lens(path):
    """A TunedLens saved by ``entropylens tune-lens`` (or :func:`dump`)."""
    from .estimators import TunedLens
    from .persistence import load

    if not pathlib.Path(str(path)).is_file():
        raise FileNotFoundError(f"No tuned lens file {path!r}; give --lens logit or a file written by tune-lens.")
    lens = load(path)
    if not isinstance(lens, TunedLens):
        raise ValueError(f"{path!r} holds a {type(lens).__name__}, not a TunedLens.")
    return lens


def parameter_descriptions(cls):
    """Each parameter's description from a numpydoc class docstring, joined into one paragraph.

    Parameters
    ----------
    cls : type
        A class with a numpydoc docstring.

    Returns
    -------
    descriptions : dict of str -> str
        Parameter name to its description (the text under ``name : type``).

    Examples
    --------
    >>> from sklearn_entropylens import EntropyProfileTransformer
    >>> from sklearn_entropylens._cli import parameter_descriptions
    >>> parameter_descriptions(EntropyProfileTransformer)["n_tokens"]
    'Number of profiled positions; that many tokens are generated.'
    """
    text = inspect.cleandoc(cls.__doc__ or "")
    if "Parameters\n----------\n" not in text:
        return {}
    section = text.split("Parameters\n----------\n", 1)[1]
    descriptions, current = {}, None
    for line in section.splitlines():
        if line.strip() and not line.startswith(" "):
            if set(line.strip()) == {"-"}:  # the next section's underline
                descriptions.pop(current, None)
                break
            current = line.split(" : ")[0].strip()
            descriptions[current] = []
        elif current is not None and line.strip():
            descriptions[current].append(line.strip())
    # Plain text for a terminal: no reST roles or literal quotes.
    return {
        name: re.sub(r":\w+:`~?([^`]+)`", r"\1", " ".join(lines)).replace("``", "")
        for name, lines in descriptions.items()
    }


def check_output(output):
    """Fail before any profiling when the output cannot be written (type, folder, Parquet engine)."""
    import importlib.util

    if output == "-":
        return
    path = pathlib.Path(output)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ""):
        raise ValueError(f"Unknown output type {path.suffix!r}: write a .csv or .parquet file, or - for stdout.")
    if not path.parent.expanduser().is_dir():
        raise FileNotFoundError(f"The output folder {str(path.parent)!r} does not exist; create it first.")
    if suffix == ".parquet" and not any(importlib.util.find_spec(engine) for engine in ("pyarrow", "fastparquet")):
        raise ImportError(
            "Writing Parquet needs pyarrow: pip install 'sklearn-entropylens[parquet]' (or pip install pyarrow), "
            "or write a .csv file."
        )


def _read_prompts(source, *, input_format=None, column=None):
    """Prompts from a file or standard input (``-``): text lines, JSON lines or CSV."""
    import pandas as pd

    if source == "-":
        text, suffix = sys.stdin.read(), ""
    else:
        path = pathlib.Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No prompt file {source!r}; give a text, .jsonl or .csv file, or - for stdin.")
        text, suffix = path.read_text(encoding="utf-8"), path.suffix.lower()
    input_format = input_format or {".jsonl": "jsonl", ".csv": "csv"}.get(suffix, "lines")
    if input_format == "lines":
        return [line for line in text.splitlines() if line.strip()]
    if input_format == "csv":
        frame = pd.read_csv(io.StringIO(text), keep_default_na=False)
        column = column or ("prompt" if "prompt" in frame.columns else None)
        if column not in frame.columns:
            raise ValueError(f"The CSV has columns {list(frame.columns)}; name the prompt column with --column.")
        return [str(value) for value in frame[column]]
    prompts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Line {number} of the JSON lines input is not JSON: {exc.msg}.") from None
        if isinstance(record, str):
            prompts.append(record)
            continue
        key = column or next((k for k in ("prompt", "text") if isinstance(record, dict) and k in record), None)
        if not isinstance(record, dict) or key not in record:
            raise ValueError(f"Line {number} of the JSON lines input has no {key or 'prompt'!r} field; use --column.")
        prompts.append(str(record[key]))
    return prompts


def _write_table(frame, output):
    if output == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    path = pathlib.Path(output)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _command_profile(args):
    check_output(args.output)
    prompts = _read_prompts(args.input, input_format=args.input_format, column=args.column)
    if not prompts:
        raise ValueError("No prompts in the input.")
    from .estimators import EntropyProfileTransformer

    params = _given_parameters(args, EntropyProfileTransformer)
    params.setdefault("progress", sys.stderr.isatty())
    params["memory"] = args.cache
    if params.get("lens", "logit") != "logit":
        params["lens"] = _load_tuned_lens(params["lens"])
    profiler = EntropyProfileTransformer(**params).set_output(transform="pandas")
    started = time.perf_counter()
    frame = profiler.fit_transform(prompts)
    frame.insert(0, "prompt", prompts)
    _write_table(frame, args.output)
    print(
        f"{len(prompts)} prompts x {frame.shape[1] - 1} features of {profiler.model_name_} "
        f"({profiler.n_layers_} blocks) in {time.perf_counter() - started:.1f} s -> {args.output}",
        file=sys.stderr,
    )
    return 0


def _command_tune_lens(args):
    from .estimators import TunedLens
    from .persistence import dump

    output = pathlib.Path(args.output)
    if not output.parent.expanduser().is_dir():
        raise FileNotFoundError(f"The output folder {str(output.parent)!r} does not exist; create it first.")
    texts = None if args.input is None else _read_prompts(args.input, input_format=args.input_format, column=args.column)
    params = _given_parameters(args, TunedLens)
    params.setdefault("progress", sys.stderr.isatty())
    lens = TunedLens(**params).fit(texts)
    dump(lens, output)
    kl = [f"{tuned:.2f}/{logit:.2f}" for tuned, logit in zip(lens.validation_kl_, lens.logit_lens_validation_kl_)]
    outside = [f"{tuned:.3f}/{logit:.3f}" for tuned, logit in
               zip(lens.validation_mass_outside_, lens.logit_lens_validation_mass_outside_)]
    print(
        f"Tuned lens of {lens.model_name_} ({lens.n_layers_} blocks) on {lens.n_training_positions_} positions, "
        f"{lens.n_epochs_} epochs, {lens.fit_time_:.0f} s -> {output}\nHeld-out KL(final || lens) in nats, tuned/logit, "
        f"layers 0..{lens.n_layers_}: {' '.join(kl)}\nHeld-out probability outside the {len(lens.top_tokens_)} top "
        f"tokens, tuned/logit: {' '.join(outside)}",
        file=sys.stderr,
    )
    return 0


def _command_models(args):
    import importlib.util

    from .models import BUNDLED_MODELS, model_cache_dir

    rows = []
    for name, bundled in BUNDLED_MODELS.items():
        installed = bundled.is_installed()
        converted = installed and bundled.is_converted()
        rows.append((name, bundled.family, bundled.version() if installed else "no", "yes" if converted else "no",
                     bundled.license, bundled.install))
    header = ("model", "family", "installed", "converted", "licence", "install with")
    widths = [max(len(str(row[k])) for row in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(value).ljust(width) for value, width in zip(row, widths)).rstrip())
    print(f"\ncache: {model_cache_dir()}  (any Hugging Face causal LM id or local directory also works)")
    return 0


def _save_result(result, output_dir):
    import pandas as pd

    from .persistence import dump, get_trusted_types, load

    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    figure_path = output_dir / f"{result.name}.png"
    result.figure.savefig(figure_path, dpi=120)
    table_path = output_dir / f"{result.name}.csv"
    # A row number is not a column; a meaningful index (the intervention's strategies) is, under its name.
    table = result.table if isinstance(result.table.index, pd.RangeIndex) else result.table.reset_index()
    table.to_csv(table_path, index=False)
    model_path = output_dir / f"{result.name}.skops"
    dump(result.estimator, model_path)
    load(model_path, trusted=get_trusted_types())  # what was written loads back with the trusted list
    return figure_path, table_path, model_path


def _command_experiment(args):
    import pandas as pd

    from .experiments import run_experiment

    started = time.perf_counter()
    # Profiles are computed once for the protocol, the final fit and the figure.
    cache = args.cache or str(pathlib.Path(args.output_dir) / "cache")
    result = run_experiment(args.name, model=args.model, memory=cache, quick=args.quick,
                            progress=sys.stderr.isatty())
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(result.table.round(3).to_string())
    print(f"\n{args.name}: {result.summary}")
    print(f"paper: {result.paper}")
    paths = _save_result(result, args.output_dir)
    print(f"figure {paths[0]}, table {paths[1]}, fitted estimator {paths[2]} "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


def run_demo(*, model="smollm2-135m", output_dir="entropylens-demo", quick=False, out=print):
    """The full demo: task profiles, a grid-searched classifier, the AUC table, a PNG and a skops round trip.

    Parameters
    ----------
    model : str, default="smollm2-135m"
        The model profiled.
    output_dir : str, default="entropylens-demo"
        Where the figure, the saved pipeline and the profile cache go.
    quick : bool, default=False
        Fewer stories and a smaller grid (for tests).
    out : callable, default=print
        Where the report lines go.

    Returns
    -------
    result : Bunch
        ``search`` (the fitted GridSearchCV), ``evaluation`` (the protocol's Bunch), ``figure_path`` and
        ``model_path``.
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.utils import Bunch

    from .lens import get_profile_counters, reset_profile_counters
    from .estimators import EntropyProfileTransformer, TaskClassifier
    from .experiments import evaluate_profile_classifier
    from .experiments import protocol_summary
    from .models import load_model
    from .persistence import dump, get_trusted_types, load
    from .plotting import EntropyProfileDisplay, pyplot
    from .datasets import load_story_tasks

    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = str(output_dir / "cache")
    started = time.perf_counter()

    def elapsed():
        return f"[{time.perf_counter() - started:.0f} s]"

    out(f"0. loading {model} (the first use of a bundled model converts it once, about 30 s) ...")
    loaded = load_model(model)  # a bad identifier fails here, in one line
    stories = load_story_tasks(n_stories=6 if quick else 12, as_frame=True)
    X, y = list(stories.data), stories.target.to_numpy()
    story_ids = stories.frame["story_id"].to_numpy()  # a story's prompts share its text: one fold each
    out(f"1. {len(X)} prompts of the built-in story tasks ({', '.join(stories.target_names)}), "
        f"profiled on {model} ({loaded.n_layers} blocks, vocabulary {loaded.vocab_size}) through the logit lens "
        f"{elapsed()}")
    reset_profile_counters()
    grid = {"profiler__n_tokens": [4, 8], "classifier__n_neighbors": [5, 15]}
    if quick:
        grid = {"profiler__n_tokens": [2, 3], "classifier__n_neighbors": [3, 5]}
    n_folds = 2 if quick else 5
    n_candidates = len(grid["profiler__n_tokens"]) * len(grid["classifier__n_neighbors"])
    out(f"2. GridSearchCV over {grid}: {n_candidates} candidates x {n_folds} folds grouped by story. Each prompt is run through "
        f"the model once per n_tokens setting ({len(X)} x {len(grid['profiler__n_tokens'])}; the bars below show "
        "it), every other fit reads the per-prompt cache ...")
    search = GridSearchCV(
        TaskClassifier(  # explicit steps, so that the grid reaches their parameters; the rest as the defaults
            profiler=EntropyProfileTransformer(model, temperature=1.0, random_state=0, memory=cache, progress=True),
            classifier=KNeighborsClassifier(),
        ),
        grid, scoring="roc_auc_ovr", error_score="raise",
        cv=StratifiedGroupKFold(n_folds, shuffle=True, random_state=0),
    ).fit(X, y, groups=story_ids)
    counters = get_profile_counters()
    out(f"   best {search.best_params_}, selection ROC-AUC {search.best_score_:.3f} (optimistic: the folds that "
        f"chose the setting scored it; step 3 is the estimate); {counters['computed']} profiles computed "
        f"for {len(X)} prompts x {len(grid['profiler__n_tokens'])} settings, {counters['cache_hits']} served from "
        f"the cache {elapsed()}")
    n_splits = 3 if quick else 5
    out(f"3. the paper's protocol, honestly: {n_splits} folds grouped by story (a story's prompts never straddle "
        "training and test), the whole grid search repeated inside each training part so that no test fold "
        "chooses the setting; ROC-AUC against a stratified dummy, corrected t-test (profiles from the cache) ...")
    evaluation = evaluate_profile_classifier(clone(search), X, y, groups=story_ids, n_splits=n_splits)
    folds, summary = protocol_summary(evaluation)
    out(folds.round(3).to_string(index=False))
    out(f"   {summary} {elapsed()}")
    best = search.best_estimator_
    figure, ax = pyplot().subplots(figsize=(7, 4))
    profiler = best.profiler_
    display = EntropyProfileDisplay.from_estimator(profiler, X, np.asarray(stories.target_names)[y], ax=ax)
    ax.set_title(f"{model}: story tasks\n{display.title()}", fontsize="small")
    figure.tight_layout()
    figure_path = output_dir / "task_profiles.png"
    figure.savefig(figure_path, dpi=120)
    out(f"4. figure saved to {figure_path}")
    model_path = output_dir / "task_classifier.skops"
    dump(best, model_path)
    restored = load(model_path, trusted=get_trusted_types())
    same = bool(np.array_equal(restored.predict(X[:8]), best.predict(X[:8])))
    out(f"5. fitted pipeline saved to {model_path} ({model_path.stat().st_size / 1024:.0f} KiB, no weights) and "
        f"loaded back with skops and the trusted-type list: same predictions = {same}")
    out(f"done in {time.perf_counter() - started:.0f} s")
    return Bunch(search=search, evaluation=evaluation, figure_path=figure_path, model_path=model_path)


def _command_demo(args):
    run_demo(model=args.model, output_dir=args.output_dir, quick=args.quick)
    return 0


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse with usage errors in one line, like every other error of the command."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The argument parser of the ``entropylens`` command."""
    from .experiments import EXPERIMENTS
    from .models import DEFAULT_MODEL

    from .estimators import EntropyProfileTransformer
    from .estimators import TunedLens

    parser = _OneLineErrorParser(prog=PROG, description="Entropy-Lens profiles of causal language models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command", parser_class=_OneLineErrorParser)

    profile = commands.add_parser(
        "profile", help="profile prompts from a file or stdin into CSV or Parquet",
        description="Profile prompts. Every EntropyProfileTransformer parameter is an option; values are "
        "JSON or Python literals (2, 0.7, true, null) or comma lists (--statistics entropy,kl_to_final).",
    )
    profile.add_argument("input", help="prompt file: text (one per line), .jsonl or .csv; - for stdin")
    profile.add_argument("-o", "--output", default="profiles.csv", help=".csv or .parquet file, or - for stdout")
    profile.add_argument("--input-format", choices=["lines", "jsonl", "csv"], help="default: from the extension")
    profile.add_argument("--column", help="prompt column (CSV) or field (JSON lines); default prompt or text")
    profile.add_argument("--cache", help="directory of the per-prompt profile cache")
    _add_parameter_options(profile, EntropyProfileTransformer)
    profile.set_defaults(handler=_command_profile)

    tune = commands.add_parser(
        "tune-lens", help="fit a tuned lens on texts and save it as a skops file",
        description="Fit a TunedLens (one affine translator per layer) and save it; profile through it with "
        "entropylens profile --lens FILE. Every TunedLens parameter is an option.",
    )
    tune.add_argument("input", nargs="?", help="texts: one per line, .jsonl or .csv; - for stdin; default: the built-in stories")
    tune.add_argument("-o", "--output", default="tuned-lens.skops", help="the .skops file to write")
    tune.add_argument("--input-format", choices=["lines", "jsonl", "csv"], help="default: from the extension")
    tune.add_argument("--column", help="text column (CSV) or field (JSON lines); default prompt or text")
    _add_parameter_options(tune, TunedLens)
    tune.set_defaults(handler=_command_tune_lens)

    experiment = commands.add_parser("experiment", help="run one of the paper's experiments on built-in data")
    experiment.add_argument("name", choices=EXPERIMENTS)
    experiment.add_argument("--model", help=f"model (default {DEFAULT_MODEL}; families: the bundled ones)")
    experiment.add_argument("--quick", action="store_true", help="a scaled-down run of about a minute")
    experiment.add_argument("--output-dir", default="entropylens-results", help="figure, table and skops file")
    experiment.add_argument("--cache", help="per-prompt profile cache (default: OUTPUT_DIR/cache)")
    experiment.set_defaults(handler=_command_experiment)

    models = commands.add_parser("models", help="the bundled models: installed? converted and cached?")
    models.set_defaults(handler=_command_models)

    demo = commands.add_parser("demo", help="the full demo on the bundled model (a few minutes on a CPU)")
    demo.add_argument("--model", default=DEFAULT_MODEL)
    demo.add_argument("--output-dir", default="entropylens-demo")
    demo.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(handler=_command_demo)
    return parser


def main(argv=None):
    """Run the ``entropylens`` command; returns the exit status."""
    try:  # matplotlib is optional (the plot extra): only the demo draws, and it says when matplotlib is missing
        import matplotlib
    except ImportError:
        pass
    else:
        matplotlib.use("Agg")  # figures go to files, never to a window
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, KeyError, OSError, ImportError, MemoryError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
