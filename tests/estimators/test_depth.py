import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import CubicSpline

from sklearn_entropylens import DepthRescaler, EntropyProfileTransformer, ExpansionPruningTransformer
from sklearn_entropylens.lens import FeatureLayout

PROMPTS = ["hello world", "a b c", "The quick brown fox", "", "1 2 3 4"]


def _named(values, groups, layers):
    columns = [f"{group}_layer{layer:02d}" for group in groups for layer in layers]
    return pd.DataFrame(values, columns=columns)


def test_layout_is_read_from_the_transformers_feature_names(tiny_llama):
    for aggregate, n_groups in [("mean", 1), ("concat", 4), (2, 2)]:
        profiler = EntropyProfileTransformer(
            tiny_llama, n_tokens=4, aggregate=aggregate, statistics=["entropy", "kl_to_final"], include_embedding=True
        ).fit(PROMPTS)
        layout = FeatureLayout.from_names(profiler.get_feature_names_out())
        assert len(layout.groups) == 2 * n_groups
        np.testing.assert_array_equal(layout.layers, [0, 1, 2, 3])
        np.testing.assert_allclose(layout.depths, [0, 1 / 3, 2 / 3, 1])


@pytest.mark.parametrize("names", [["a_layer01", "a_layer02", "b_layer01"], ["a_layer02", "a_layer01"], ["x", "y"]])
def test_layout_refuses_names_that_are_not_whole_groups(names):
    assert FeatureLayout.from_names(names) is None


def test_same_depth_reproduces_the_profile_and_deeper_grids_interpolate():
    rng = np.random.default_rng(0)
    X = rng.random((5, 6))
    np.testing.assert_allclose(DepthRescaler(n_points=6).fit_transform(X), X)
    np.testing.assert_allclose(DepthRescaler(n_points=6, kind="cubic").fit_transform(X), X, atol=1e-12)
    # 6 blocks at depths k/6 onto 12 points at k/12: every other point is an original layer.
    fine = DepthRescaler(n_points=12).fit_transform(X)
    np.testing.assert_allclose(fine[:, 1::2], X)
    np.testing.assert_allclose(fine[:, 2::2], (X[:, :-1] + X[:, 1:]) / 2)
    np.testing.assert_allclose(fine[:, 0], X[:, 0])  # below block 1: held constant


def test_cubic_matches_scipy_spline_on_the_clipped_grid():
    rng = np.random.default_rng(1)
    X = rng.random((3, 7))
    got = DepthRescaler(n_points=5, kind="cubic").fit_transform(X)
    depths = np.arange(1, 8) / 7
    grid = np.clip(np.arange(1, 6) / 5, depths[0], 1)
    np.testing.assert_allclose(got, CubicSpline(depths, X, axis=1)(grid))


def test_models_of_different_depth_are_resampled_together_per_group():
    shallow = _named(np.arange(8.0).reshape(2, 4), ["entropy_win0", "entropy_win1"], [1, 2])
    deep = _named(np.arange(16.0).reshape(2, 8), ["entropy_win0", "entropy_win1"], [1, 2, 3, 4])
    rescaler = DepthRescaler(n_points=4).fit([shallow, deep])
    out = rescaler.transform([shallow, deep])
    assert out.shape == (4, 8)
    assert rescaler.get_feature_names_out()[0] == "entropy_win0_depth0.2500"
    # shallow row 0: group win0 = [0, 1] at depths 0.5, 1 -> grid .25 .5 .75 1 -> 0, 0, .5, 1
    np.testing.assert_allclose(out[0, :4], [0, 0, 0.5, 1])
    np.testing.assert_allclose(out[2], deep.to_numpy()[0])
    assert not hasattr(rescaler, "n_features_in_")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one table alone is read by its own names, as in a list
        np.testing.assert_allclose(rescaler.transform(deep), out[2:])
    with pytest.raises(ValueError, match="groups"):
        rescaler.transform([_named(np.zeros((1, 2)), ["kl_to_final"], [1, 2])])


def test_pad_reproduces_the_references_zero_padding():
    shallow, deep = np.ones((2, 3)), np.full((1, 5), 2.0)
    out = DepthRescaler(kind="pad").fit_transform([shallow, deep])
    np.testing.assert_array_equal(out, [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [2, 2, 2, 2, 2]])
    with pytest.raises(ValueError, match="n_points"):
        DepthRescaler(n_points=4, kind="pad").fit([shallow, deep])


def test_depth_rescaler_set_output_and_pipeline(tiny_llama):
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        EntropyProfileTransformer(tiny_llama, n_tokens=2, include_embedding=True), DepthRescaler(n_points=7)
    ).set_output(transform="pandas")
    out = pipe.fit_transform(PROMPTS)
    assert list(out.columns)[:2] == ["entropy_depth0.0000", "entropy_depth0.1667"]
    assert out.shape == (len(PROMPTS), 7)


def test_the_depth_transformers_read_the_profile_layout_from_its_feature_names(tiny_llama):
    # The names are the layout's one channel (FeatureLayout writes and reads them); no side channel.
    profiler = EntropyProfileTransformer(
        tiny_llama, n_tokens=4, aggregate=2, statistics=["entropy", "kl_to_final"], include_embedding=True
    ).set_output(transform="pandas")
    table = profiler.fit_transform(PROMPTS)
    assert table.attrs == {}
    assert FeatureLayout.of_table(table.shape[1], feature_names=table.columns) == profiler.feature_layout_
    rescaler = DepthRescaler(n_points=7).fit(table)
    assert rescaler.groups_ == list(profiler.feature_layout_.groups)
    extremes = ExpansionPruningTransformer().fit(table)
    assert extremes.groups_ == list(profiler.feature_layout_.groups)
    renamed = table.set_axis([f"feature{index}" for index in range(table.shape[1])], axis=1)
    with pytest.raises(ValueError, match="groups of n_layers"):  # nameless columns need n_layers
        DepthRescaler(n_points=7, n_layers=5).fit(renamed)
    by_count = DepthRescaler(n_points=7, n_layers=profiler.n_layers_ + 1).fit(renamed)
    assert by_count.groups_ != list(profiler.feature_layout_.groups)  # the names carried what a count cannot


@pytest.mark.parametrize(
    "params, message",
    [({"kind": "spline"}, "kind"), ({"n_points": 0}, "n_points"), ({"n_layers": 4}, "groups of n_layers")],
)
def test_depth_rescaler_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        DepthRescaler(**params).fit(np.ones((2, 6)))


def test_nan_profiles_are_refused():
    X = np.ones((2, 4))
    X[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DepthRescaler().fit(X)
    with pytest.raises(ValueError, match="NaN"):
        DepthRescaler().fit([X])
    with pytest.raises(ValueError, match="NaN"):
        ExpansionPruningTransformer().fit(X)


def test_expansion_pruning_against_a_loop():
    rng = np.random.default_rng(2)
    X = rng.random((6, 2 * 5))
    frame = _named(X, ["entropy_win0", "entropy_win1"], [1, 2, 3, 4, 5])
    transformer = ExpansionPruningTransformer(n_extreme=2).fit(frame)
    out = transformer.transform(frame)
    names = list(transformer.get_feature_names_out())
    per_group = 4 + 3 + 2 + 2
    assert out.shape == (6, 2 * per_group) and len(names) == out.shape[1]
    assert names[:2] == ["entropy_win0_delta_layer02", "entropy_win0_delta_layer03"]
    layers = transformer.expansion_pruning_layers(frame)
    for row in range(6):
        for g in range(2):
            profile = X[row, 5 * g : 5 * g + 5]
            deltas = np.diff(profile)
            block = out[row, per_group * g : per_group * (g + 1)]
            np.testing.assert_allclose(block[:4], deltas)
            assert block[4] == pytest.approx(deltas[deltas > 0].sum())
            assert block[5] == pytest.approx(-deltas[deltas < 0].sum())
            assert block[6] == pytest.approx((np.argmax(profile) + 1) / 5)
            rises = np.argsort(-deltas)[:2] + 2  # layer ending each rise
            falls = np.argsort(deltas)[:2] + 2
            np.testing.assert_array_equal(layers["expansion"][row, g], rises)
            np.testing.assert_array_equal(layers["pruning"][row, g], falls)
            np.testing.assert_allclose(block[7:9], rises / 5)
            np.testing.assert_allclose(block[9:11], falls / 5)


def test_expansion_pruning_on_rescaled_profiles_reads_depth_names():
    X = _named(np.array([[1.0, 3.0, 2.0]]), ["entropy"], [1, 2, 3])
    rescaled = DepthRescaler(n_points=6).set_output(transform="pandas").fit_transform(X)
    transformer = ExpansionPruningTransformer(features="summary").fit(rescaled)
    assert transformer.layers_ is None
    total_expansion, total_pruning, peak = transformer.transform(rescaled)[0, :3]
    assert (total_expansion, total_pruning) == pytest.approx((2.0, 1.0))
    assert peak == pytest.approx(4 / 6, abs=1e-4)  # depths read back from 4-decimal names


def test_unnamed_tables_of_several_groups_take_one_depth_per_table():
    shallow = np.arange(8.0).reshape(2, 4)  # 2 groups x 2 layers
    deep = np.arange(16.0).reshape(2, 8)  # 2 groups x 4 layers
    named = [_named(shallow, ["a", "b"], [1, 2]), _named(deep, ["a", "b"], [1, 2, 3, 4])]
    expected = DepthRescaler(n_points=4).fit_transform(named)
    np.testing.assert_allclose(DepthRescaler(n_points=4, n_layers=[2, 4]).fit_transform([shallow, deep]), expected)
    with pytest.raises(ValueError, match="2 tables"):
        DepthRescaler(n_layers=[2]).fit([shallow, deep])
    with pytest.raises(ValueError, match="list of tables"):
        DepthRescaler(n_layers=[2]).fit(shallow)


def test_expansion_set_size_correlation_per_sample_tests_across_samples():
    from scipy.stats import spearmanr, ttest_1samp

    from sklearn_entropylens import expansion_set_size_correlation

    rng = np.random.default_rng(3)
    entropy = rng.normal(size=(12, 5, 7)).cumsum(-1)
    sizes = np.exp(entropy + rng.normal(scale=1.0, size=entropy.shape))
    sizes[4] = 7.0  # a sample whose set never changes has no correlation
    result = expansion_set_size_correlation(entropy, sizes, per_sample=True)
    expected = [spearmanr(np.diff(entropy[k], axis=-1).ravel(), np.diff(sizes[k], axis=-1).ravel()).statistic
                for k in range(12) if k != 4]
    np.testing.assert_allclose(np.delete(result.per_sample, 4), expected)
    assert np.isnan(result.per_sample[4]) and result.n_samples == 11
    assert result.statistic == pytest.approx(np.mean(expected))
    assert result.pvalue == pytest.approx(ttest_1samp(expected, 0).pvalue)
    assert result.ci_low < result.statistic < result.ci_high
    pooled = expansion_set_size_correlation(entropy, sizes)
    assert result.pvalue > pooled.pvalue  # the pooled test counts dependent pairs as independent
    with pytest.raises(ValueError, match="needs 2"):
        expansion_set_size_correlation(entropy[:1], sizes[:1], per_sample=True)
