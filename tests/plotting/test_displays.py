import matplotlib

matplotlib.use("Agg")

import inspect  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_entropylens import (  # noqa: E402
    EntropyHeatmapDisplay,
    EntropyProfileDisplay,
    EntropyProfileTransformer,
    ProfileEmbeddingDisplay,
)
from sklearn_entropylens.lens import FeatureLayout  # noqa: E402
from sklearn_entropylens.plotting import pyplot  # noqa: E402

DISPLAYS = (EntropyProfileDisplay, EntropyHeatmapDisplay, ProfileEmbeddingDisplay)

PROMPTS = ["The cat sat", "Once upon a time", "1 2 3", "Hello there", "abc", "Quantum physics"]
LABELS = ["story", "story", "maths", "story", "maths", "maths"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def profiler(tiny_llama):
    return EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate=2, statistics=["entropy", "kl_to_final"]).fit(
        PROMPTS
    )


def test_profile_display_averages_windows_of_the_chosen_statistic(profiler):
    display = EntropyProfileDisplay.from_estimator(profiler, PROMPTS, LABELS, band="ci")
    entropies = profiler.statistic_matrices(PROMPTS)["entropy"].mean(axis=1)  # (samples, layers)
    labels = np.asarray(LABELS)
    assert display.labels == ["story", "maths"]
    for k, label in enumerate(display.labels):
        members = entropies[labels == label]
        # The display reads the float32 features; the raw matrices are float64.
        np.testing.assert_allclose(display.means[k], members.mean(axis=0), rtol=1e-5)
        half = stats.sem(members, axis=0) * stats.t.ppf(0.975, len(members) - 1)
        np.testing.assert_allclose(display.highs[k] - display.means[k], half, rtol=1e-4)
    np.testing.assert_allclose(display.depths, np.arange(1, 4) / 3)
    assert len(display.lines_) == 2 and len(display.bands_) == 2 and len(display.phases_) == 2
    assert display.ax_.get_xlabel() == "relative depth"

    kl = EntropyProfileDisplay.from_estimator(profiler, PROMPTS, statistic="kl_to_final", band=None)
    assert kl.bands_ == [] and kl.means.shape == (1, 3)
    assert kl.band is None and kl.lows is None and kl.highs is None
    np.testing.assert_allclose(kl.means[0, -1], 0.0)  # the final layer is its own reference


def test_profile_display_draws_on_a_given_axes_and_reads_dataframes(profiler):
    frame = pd.DataFrame(profiler.transform(PROMPTS), columns=profiler.get_feature_names_out())
    _, ax = plt.subplots()
    display = EntropyProfileDisplay.from_profiles(frame, ax=ax, shade_phases=False)
    assert display.ax_ is ax and display.phases_ == []
    # Unnamed features: groups of n_layers consecutive layers.
    unnamed = EntropyProfileDisplay.from_profiles(np.ones((4, 6)), n_layers=3)
    np.testing.assert_allclose(unnamed.means, np.ones((1, 3)))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"statistic": "top_p_size"}, "No 'top_p_size' features"), ({"band": "iqr"}, "band must be")],
)
def test_profile_display_errors(profiler, kwargs, message):
    frame = pd.DataFrame(profiler.transform(PROMPTS), columns=profiler.get_feature_names_out())
    with pytest.raises(ValueError, match=message):
        EntropyProfileDisplay.from_profiles(frame, **kwargs)
    with pytest.raises(ValueError, match="NaN"):
        EntropyProfileDisplay.from_profiles(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="one label per profile"):
        EntropyProfileDisplay.from_profiles(np.ones((2, 3)), ["a"])


def test_heatmap_shows_the_prompt_and_generated_tokens(profiler):
    display = EntropyHeatmapDisplay.from_estimator(profiler, "The cat sat")
    expected = profiler.statistic_matrices(["The cat sat"])["entropy"][0]
    np.testing.assert_allclose(display.values, expected)
    assert display.values.shape == (4, 3)
    assert display.tokens[0] == "t"  # the byte tokenizer's last prompt token
    assert len(display.tokens) == 4
    assert [label.get_text() for label in display.ax_.get_yticklabels()][0] == "t"
    with pytest.raises(TypeError, match="one string"):
        EntropyHeatmapDisplay.from_estimator(profiler, ["The cat sat"])
    with pytest.raises(ValueError, match="not among"):
        EntropyHeatmapDisplay.from_estimator(profiler, "x", statistic="top_p_size")


def test_embedding_display_is_the_pca_of_standardized_profiles(profiler):
    pipeline = make_pipeline(profiler)
    display = ProfileEmbeddingDisplay.from_estimator(pipeline, PROMPTS, LABELS)
    features = profiler.transform(PROMPTS).astype(np.float64)  # the display standardizes in float64
    expected = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(features))
    np.testing.assert_allclose(np.abs(display.embedding), np.abs(expected), atol=1e-8)
    assert len(display.scatters_) == 2
    tsne = ProfileEmbeddingDisplay.from_profiles(profiler.transform(PROMPTS), method="tsne")
    assert tsne.embedding.shape == (6, 2) and tsne.ax_.get_xlabel() == "t-SNE 1"
    # Without labels every profile is drawn, as one group.
    assert len(tsne.scatters_) == 1 and len(tsne.scatters_[0].get_offsets()) == 6
    with pytest.raises(ValueError, match="pca"):
        ProfileEmbeddingDisplay.from_profiles(profiler.transform(PROMPTS), method="umap")


def test_heatmap_from_concatenated_features(tiny_llama):
    profiler = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate="concat").fit(PROMPTS)
    row = profiler.transform(PROMPTS[:1])
    display = EntropyHeatmapDisplay.from_profiles(row, feature_names=profiler.get_feature_names_out())
    np.testing.assert_allclose(display.values, profiler.statistic_matrices(PROMPTS[:1])["entropy"][0])
    assert display.tokens == ["0", "1", "2", "3"]
    mean = EntropyProfileTransformer(tiny_llama, n_tokens=4).fit(PROMPTS)
    with pytest.raises(ValueError, match="positions and layers|per-position"):
        EntropyHeatmapDisplay.from_profiles(mean.transform(PROMPTS[:1]), feature_names=mean.get_feature_names_out())


def test_profile_display_title_says_band_counts_and_tokens(profiler):
    display = EntropyProfileDisplay.from_estimator(profiler, PROMPTS, LABELS, band="ci")
    assert display.ax_.get_title() == (
        "Mean entropy profile per group over 4 tokens; 6 profiles; band: 95% confidence interval of the mean"
    )
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert "story (n=3)" in legend and "maths (n=3)" in legend
    assert display.ax_.get_ylabel() == "entropy (nats)"
    std = EntropyProfileDisplay.from_profiles(profiler.transform(PROMPTS), feature_names=profiler.get_feature_names_out(),
                                              unit="bits")
    assert std.ax_.get_title() == "Mean entropy profile per group; 6 profiles; band: \u00b11 standard deviation"
    assert std.ax_.get_ylabel() == "entropy (bits)"
    bits = EntropyProfileTransformer(profiler.model, n_tokens=2, log_base=2).fit(PROMPTS)
    assert EntropyProfileDisplay.from_estimator(bits, PROMPTS).ax_.get_ylabel() == "entropy (bits)"


def test_heatmap_labels_are_readable_and_the_colour_bar_has_a_unit():
    display = EntropyHeatmapDisplay(values=np.ones((5, 2)), layers=np.arange(1, 3),
                                    tokens=[" Paris", "\n", "", "<0xE3>", "\t\x01"]).plot()
    labels = [label.get_text() for label in display.ax_.get_yticklabels()]
    assert labels == ["\u2423Paris", "\\n", "\u2205", "<0xE3>", "\\t\\x01"]
    assert display.colorbar_.ax.get_ylabel() == "entropy (nats)"
    rank = EntropyHeatmapDisplay(values=np.ones((1, 2)), layers=np.arange(1, 3), tokens=["a"],
                                 statistic="final_token_rank").plot()
    assert rank.colorbar_.ax.get_ylabel() == "final token rank (rank, 1 = top)"


def test_byte_tokens_are_shown_as_bytes_not_replacement_characters(tiny_llama, smollm2):
    from sklearn_entropylens import load_model
    from sklearn_entropylens.lens._encoding import token_text

    byte_tokenizer = load_model(tiny_llama).tokenizer  # one token per UTF-8 byte, byte-level alphabet
    ids = byte_tokenizer("\u00e9 x", add_special_tokens=False)["input_ids"]
    assert [token_text(byte_tokenizer, i) for i in ids] == ["<0xC3>", "<0xA9>", " ", "x"]
    tokenizer = smollm2.tokenizer  # byte-level BPE: the first token of "\u65e5\u672c" holds 2 of its 3 bytes
    ids = tokenizer("\u65e5\u672c \u00e9", add_special_tokens=False)["input_ids"]
    assert [token_text(tokenizer, i) for i in ids] == ["<0xE6><0x97>", "<0xA5>", "\u672c", " \u00e9"]


def test_heatmap_from_estimator_draws_the_tokens_read(profiler):
    display = EntropyHeatmapDisplay.from_estimator(profiler, "The cat sat")
    labels = [label.get_text() for label in display.ax_.get_yticklabels()]
    assert labels[0] == "t" and len(labels) == 4 and "\ufffd" not in "".join(labels)
    assert display.colorbar_.ax.get_ylabel() == "entropy (nats)"


# matplotlib is optional: the package imports without it, and drawing says what is missing.

BLOCKED = "import sys; sys.modules['matplotlib'] = None; import sklearn_entropylens, sklearn_entropylens.plotting"

WITHOUT_MATPLOTLIB = BLOCKED + """
import numpy as np
from sklearn_entropylens.plotting import (
    EntropyHeatmapDisplay, EntropyProfileDisplay, ProfileEmbeddingDisplay, pyplot,
)
calls = {
    "EntropyProfileDisplay.plot": lambda: EntropyProfileDisplay(
        depths=np.arange(3) / 2, means=np.ones((1, 3)), labels=["a"]).plot(),
    "EntropyHeatmapDisplay.plot": lambda: EntropyHeatmapDisplay(
        values=np.ones((2, 2)), layers=np.arange(1, 3), tokens=["a", "b"]).plot(),
    "ProfileEmbeddingDisplay.plot": lambda: ProfileEmbeddingDisplay(embedding=np.ones((3, 2))).plot(),
    # Checked before any work: the NaN profiles would raise a ValueError after it.
    "EntropyProfileDisplay.from_profiles": lambda: EntropyProfileDisplay.from_profiles(np.full((2, 3), np.nan)),
    "EntropyHeatmapDisplay.from_profiles": lambda: EntropyHeatmapDisplay.from_profiles(np.ones(3)),
    "ProfileEmbeddingDisplay.from_profiles": lambda: ProfileEmbeddingDisplay.from_profiles(np.ones((1, 1))),
    "EntropyProfileDisplay.from_estimator": lambda: EntropyProfileDisplay.from_estimator(None, []),
    "EntropyHeatmapDisplay.from_estimator": lambda: EntropyHeatmapDisplay.from_estimator(None, ""),
    "ProfileEmbeddingDisplay.from_estimator": lambda: ProfileEmbeddingDisplay.from_estimator(None, []),
    "sklearn_entropylens.plotting.pyplot": pyplot,
}
for name, call in calls.items():
    try:
        call()
    except ImportError as exc:
        print(name, "->", exc)
    else:
        print(name, "-> drew without matplotlib")
"""


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_package_imports_without_matplotlib():
    done = run_python(BLOCKED)
    assert done.returncode == 0, done.stderr
    loaded = run_python("import sys, sklearn_entropylens, sklearn_entropylens.plotting; "
                        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_drawing_without_matplotlib_raises_scikit_learns_import_error():
    done = run_python(WITHOUT_MATPLOTLIB)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 10
    for line in lines:
        name, _, message = line.partition(" -> ")
        # check_matplotlib_support's message, naming the method called.
        assert message == f"{name} requires matplotlib. You can install matplotlib with `pip install matplotlib`"


def test_the_plotting_helper_returns_matplotlibs_plt():
    assert pyplot() is plt


# Everything beyond the data is a keyword; styling goes through named dicts, never **kwargs.

DATA_PARAMETERS = {
    "__init__": ["self"],
    "plot": ["self"],
    "from_profiles": ["X", "y"],
    "from_estimator": ["estimator", "X", "y"],
}
HEATMAP_DATA_PARAMETERS = {"from_profiles": ["profile"], "from_estimator": ["estimator", "prompt"]}


@pytest.mark.parametrize("display", DISPLAYS, ids=lambda display: display.__name__)
@pytest.mark.parametrize("method", list(DATA_PARAMETERS))
def test_only_the_data_is_positional_and_there_are_no_unnamed_kwargs(display, method):
    data = DATA_PARAMETERS[method]
    if display is EntropyHeatmapDisplay:
        data = HEATMAP_DATA_PARAMETERS.get(method, data)
    parameters = inspect.signature(getattr(display, method)).parameters.values()
    # Anything else (a positional parameter, *args, **kwargs) is not a keyword-only parameter.
    assert [p.name for p in parameters if p.kind != p.KEYWORD_ONLY] == data
    if method != "__init__":
        assert "ax" in [p.name for p in parameters]


def test_positional_arguments_beyond_the_data_raise(profiler):
    X = np.ones((4, 3))
    too_many = "positional argument"
    for make in (
        lambda: EntropyProfileDisplay(np.arange(3) / 2, np.ones((1, 3)), ["a"]),
        lambda: EntropyHeatmapDisplay(np.ones((2, 2)), np.arange(1, 3), ["a", "b"]),
        lambda: ProfileEmbeddingDisplay(np.ones((3, 2))),
        lambda: EntropyProfileDisplay.from_profiles(X, None, None),
        lambda: EntropyProfileDisplay.from_estimator(profiler, PROMPTS, LABELS, "entropy"),
        lambda: EntropyHeatmapDisplay.from_profiles(X[0], ["entropy_pos0_layer1"] * 3),
        lambda: EntropyHeatmapDisplay.from_estimator(profiler, PROMPTS[0], "entropy"),
        lambda: ProfileEmbeddingDisplay.from_profiles(X, None, "tsne"),
        lambda: ProfileEmbeddingDisplay.from_estimator(profiler, PROMPTS, LABELS, "tsne"),
    ):
        with pytest.raises(TypeError, match=too_many):
            make()
    _, ax = plt.subplots()
    profile = EntropyProfileDisplay(depths=np.arange(3) / 2, means=np.ones((1, 3)), labels=["a"])
    heatmap = EntropyHeatmapDisplay(values=np.ones((2, 2)), layers=np.arange(1, 3), tokens=["a", "b"])
    embedding = ProfileEmbeddingDisplay(embedding=np.ones((3, 2)))
    for display in (profile, heatmap, embedding):
        with pytest.raises(TypeError, match=too_many):
            display.plot(ax)
        assert display.plot(ax=ax).ax_ is ax


# band is one thing everywhere: which band around each mean, "std", "ci" or None.

@pytest.mark.parametrize("band", [True, False, 1, ["std"]])
def test_band_of_the_wrong_type_raises_a_type_error(profiler, band):
    X, depths = np.ones((4, 3)), np.arange(3) / 2
    with pytest.raises(TypeError, match="band must be one of"):
        EntropyProfileDisplay.from_profiles(X, band=band)
    with pytest.raises(TypeError, match="band must be one of"):
        EntropyProfileDisplay.from_estimator(profiler, PROMPTS, band=band)
    with pytest.raises(TypeError, match="band must be one of"):
        EntropyProfileDisplay(depths=depths, means=np.ones((1, 3)), labels=["a"], band=band)
    display = EntropyProfileDisplay(depths=depths, means=np.ones((1, 3)), labels=["a"])
    display.band = band
    with pytest.raises(TypeError, match="band must be one of"):
        display.plot()


def test_band_is_the_same_thing_in_the_constructor_and_the_factories():
    X = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 3.0]])
    for band in ("std", "ci", None):
        built = EntropyProfileDisplay.from_profiles(X, band=band)
        assert built.band == band and len(built.bands_) == (band is not None)
        again = EntropyProfileDisplay(depths=built.depths, means=built.means, labels=built.labels, lows=built.lows,
                                      highs=built.highs, band=band, counts=built.counts).plot()
        assert again.ax_.get_title() == built.ax_.get_title()
        assert len(again.bands_) == len(built.bands_)
    with pytest.raises(ValueError, match="band must be one of"):
        EntropyProfileDisplay(depths=np.arange(3) / 2, means=X[:1], labels=["a"], band="iqr")
    with pytest.raises(ValueError, match="needs lows and highs"):
        EntropyProfileDisplay(depths=np.arange(3) / 2, means=X[:1], labels=["a"], band="std").plot()
    with pytest.raises(ValueError, match="confidence"):
        EntropyProfileDisplay.from_profiles(X, band="ci", confidence=95)


def test_styling_goes_through_named_dicts(profiler):
    X = profiler.transform(PROMPTS)
    names = profiler.get_feature_names_out()
    display = EntropyProfileDisplay.from_profiles(X, LABELS, feature_names=names,
                                                  line_kwargs={"lw": 3, "color": "black"}, band_kwargs={"alpha": 0.5})
    assert all(line.get_linewidth() == 3 and line.get_color() == "black" for line in display.lines_)
    assert all(band.get_alpha() == 0.5 for band in display.bands_)
    assert [line.get_label() for line in display.lines_] == ["story (n=3)", "maths (n=3)"]  # defaults kept
    embedding = ProfileEmbeddingDisplay.from_profiles(X, LABELS, scatter_kwargs={"marker": "x", "s": 30})
    assert all(scatter.get_sizes()[0] == 30 for scatter in embedding.scatters_)
    heatmap = EntropyHeatmapDisplay.from_estimator(profiler, PROMPTS[0], imshow_kwargs={"cmap": "magma"})
    assert heatmap.image_.get_cmap().name == "magma"
    with pytest.raises(TypeError, match="line_kwargs must be a dict"):
        EntropyProfileDisplay.from_profiles(X, feature_names=names, line_kwargs=["red"])
    with pytest.raises(TypeError, match="scatter_kwargs must be a dict"):
        embedding.plot(scatter_kwargs="x")
    with pytest.raises(TypeError, match="imshow_kwargs must be a dict"):
        heatmap.plot(imshow_kwargs=1)


def test_an_explicit_layout_is_read_as_given(profiler, tiny_llama):
    X = profiler.transform(PROMPTS)
    named = EntropyProfileDisplay.from_profiles(X, LABELS, feature_names=profiler.get_feature_names_out())
    given = EntropyProfileDisplay.from_profiles(X, LABELS, layout=profiler.feature_layout_)
    np.testing.assert_allclose(given.means, named.means)
    # Unnamed columns read through the layout as groups of n_layers.
    unnamed = EntropyProfileDisplay.from_profiles(X, LABELS, n_layers=3)
    assert unnamed.means.shape == (2, 3)
    with pytest.raises(ValueError, match="describes"):
        EntropyProfileDisplay.from_profiles(X[:, :3], layout=profiler.feature_layout_)
    with pytest.raises(TypeError, match="layout must be a FeatureLayout"):
        EntropyProfileDisplay.from_profiles(X, layout=list(profiler.get_feature_names_out()))
    concat = EntropyProfileTransformer(tiny_llama, n_tokens=4, aggregate="concat").fit(PROMPTS)
    row = concat.transform(PROMPTS[:1])
    heatmap = EntropyHeatmapDisplay.from_profiles(row, layout=concat.feature_layout_)
    np.testing.assert_allclose(heatmap.values, concat.statistic_matrices(PROMPTS[:1])["entropy"][0])
    with pytest.raises(ValueError, match="must name positions and layers"):
        EntropyHeatmapDisplay.from_profiles(row)
    layout = FeatureLayout.of_table(row.shape[1], feature_names=concat.get_feature_names_out())
    assert layout == concat.feature_layout_
