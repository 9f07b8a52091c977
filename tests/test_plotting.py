import matplotlib

matplotlib.use("Agg")

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
    display = EntropyHeatmapDisplay(np.ones((5, 2)), np.arange(1, 3), [" Paris", "\n", "", "<0xE3>", "\t\x01"]).plot()
    labels = [label.get_text() for label in display.ax_.get_yticklabels()]
    assert labels == ["\u2423Paris", "\\n", "\u2205", "<0xE3>", "\\t\\x01"]
    assert display.colorbar_.ax.get_ylabel() == "entropy (nats)"
    rank = EntropyHeatmapDisplay(np.ones((1, 2)), np.arange(1, 3), ["a"], statistic="final_token_rank").plot()
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
