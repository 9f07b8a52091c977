import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_entropylens.lens import Lens
from sklearn_entropylens.lens._adapters import LensAdapter
from sklearn_entropylens.lens._layer_statistics import lens_statistics
from sklearn_entropylens.lens._reference import entropy_bruteforce, statistics_bruteforce
from sklearn_entropylens.lens import _kernels as statistics_module
from sklearn_entropylens.lens._kernels import LensStatistics, StreamingEntropy, entropy_from_logits, top_p_sets
from sklearn_entropylens.lens._registry import expand_statistics, renyi_order, renyi_statistic
from sklearn_entropylens.lens._spec import check_alpha, check_alphas, check_statistics
from sklearn_entropylens.lens._units import convert_units

ALPHAS = [0.0, 0.3, 0.5, 0.97, 0.999, 1.0, 1.001, 1.03, 2.0, 5.0, math.inf]


def _random_logits(seed, rows, vocab, scale, offset=0.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, vocab)) * scale + offset).astype(np.float32)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("scale", [1e-6, 1e-2, 1.0, 10.0, 1e3, 1e4])
def test_streaming_entropy_matches_float64_bruteforce(alpha, scale):
    logits = _random_logits(0, 7, 5003, scale, offset=scale * 3)
    expected = entropy_bruteforce(logits.astype(np.float64), alpha)
    for chunk in (None, 1, 64, 1000, 5003):
        got = entropy_from_logits(torch.from_numpy(logits), alpha, chunk_size=chunk).double().numpy()
        np.testing.assert_allclose(got, expected, atol=2e-5 * max(1.0, float(np.abs(expected).max())), rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    vocab=st.integers(1, 3000),
    log_scale=st.floats(-6, 4),
    chunk=st.integers(1, 4000),
    alpha=st.sampled_from(ALPHAS),
)
def test_streaming_entropy_property(seed, vocab, log_scale, chunk, alpha):
    logits = _random_logits(seed, 3, vocab, 10.0**log_scale)
    expected = entropy_bruteforce(logits.astype(np.float64), alpha)
    got = entropy_from_logits(torch.from_numpy(logits), alpha, chunk_size=chunk).double().numpy()
    np.testing.assert_allclose(got, expected, atol=3e-5 * max(1.0, math.log(vocab + 1)), rtol=1e-5)


def test_peaked_and_uniform_extremes():
    uniform = torch.zeros(2, 1000)
    np.testing.assert_allclose(entropy_from_logits(uniform).numpy(), math.log(1000), rtol=1e-6)
    peaked = torch.full((1, 1000), -1e4)
    peaked[0, 3] = 1e4
    assert abs(float(entropy_from_logits(peaked))) < 1e-6
    for alpha in (0.5, 2.0, math.inf):
        assert abs(float(entropy_from_logits(peaked, alpha))) < 1e-6
    assert float(entropy_from_logits(peaked, 0.0)) == pytest.approx(math.log(1000))


def test_renyi_tends_to_shannon():
    logits = torch.from_numpy(_random_logits(1, 5, 4096, 3.0))
    shannon = entropy_from_logits(logits, 1.0).double()
    previous = None
    for eps in (1e-1, 1e-2, 1e-3, 1e-4):
        gap = max(
            float((entropy_from_logits(logits, 1 - eps).double() - shannon).abs().max()),
            float((entropy_from_logits(logits, 1 + eps).double() - shannon).abs().max()),
        )
        if previous is not None:
            assert gap < previous
        previous = gap
    assert previous < 1e-3


def test_renyi_is_non_increasing_in_alpha():
    logits = torch.from_numpy(_random_logits(2, 4, 2000, 2.0))
    values = [entropy_from_logits(logits, a).double() for a in (0.0, 0.5, 1.0, 2.0, 5.0, math.inf)]
    for lower, higher in zip(values, values[1:]):
        assert bool((higher <= lower + 1e-5).all())


def test_update_shifts_chunk_in_place_and_hartley_counts_the_support():
    acc = StreamingEntropy(2, 1.0)
    chunk = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    acc.update(chunk)
    assert float(chunk.max()) == 0.0
    hartley = StreamingEntropy(2, 0.0)
    hartley.update(torch.tensor([[1.0, -math.inf, 2.0], [0.0, 0.0, 0.0]]))
    hartley.update(torch.tensor([[-math.inf], [5.0]]))
    np.testing.assert_allclose(hartley.result().numpy(), [math.log(2), math.log(4)])


@pytest.mark.parametrize("orders", [(0.5, 1.0, 5.0), (0.0, 2.0, np.inf), (0.97, 1.02)])
def test_orders_sharing_one_accumulator_give_each_order_its_own_numbers(orders):
    # One maximum, shift and normalizer for all the orders: the same operations on the same values as
    # each order accumulated alone, so the same bits.
    rng = np.random.default_rng(5)
    logits = torch.as_tensor((rng.standard_normal((7, 300)) * 4).astype(np.float32))
    logits[0, :10] = -math.inf
    shared = StreamingEntropy(7, orders)
    alone = {order: StreamingEntropy(7, order) for order in orders}
    for start in range(0, 300, 64):
        shared.update(logits[:, start : start + 64].clone())
        for accumulator in alone.values():
            accumulator.update(logits[:, start : start + 64].clone())
    for order in orders:
        assert torch.equal(shared.result(order), alone[order].result()), order
    with pytest.raises(ValueError, match="Name the order"):
        shared.result()


def test_orders_of_different_accumulation_dtypes_are_refused_together():
    with pytest.raises(ValueError, match="different accumulation dtypes"):
        StreamingEntropy(2, (0.98, 2.0))


def test_entropy_from_logits_does_not_modify_input():
    logits = torch.randn(3, 10)
    copy = logits.clone()
    entropy_from_logits(logits, 1.0)
    assert torch.equal(logits, copy)


def test_units():
    nats = np.array([math.log(4.0)])
    assert convert_units(nats, log_base=2)[0] == pytest.approx(2.0)
    assert convert_units(nats)[0] == pytest.approx(math.log(4.0))
    assert convert_units(nats, normalize=True, vocab_size=16)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [-1, float("nan"), "2", True, None])
def test_check_alpha_rejects(bad):
    with pytest.raises((TypeError, ValueError), match="alpha"):
        check_alpha(bad)


def _lens_statistics_streamed(logits, statistics, alpha, chunk, top_p=None):
    """LensStatistics over rows whose last row of each stack is the final layer."""
    z = torch.as_tensor(logits, dtype=torch.float32)
    n_stacks, n_layers, vocab = z.shape
    final = z[:, -1]
    log_p = torch.log_softmax(final.double(), -1)
    targets = final.argmax(-1)
    lens = z[:, :-1]
    target_logits = torch.take_along_dim(lens, targets[:, None, None].expand(-1, n_layers - 1, 1), dim=-1)[..., 0]
    acc = LensStatistics(
        (n_stacks, n_layers - 1),
        statistics,
        alpha=alpha,
        device="cpu",
        final_probabilities=log_p.exp().float()[:, None, :],
        final_negative_entropy=torch.special.xlogy(log_p.exp(), log_p.exp()).sum(-1)[:, None],
        targets=targets[:, None],
        target_logits=target_logits,
        top_p=top_p,
    )
    rows = lens.reshape(-1, vocab).clone()
    for start in range(0, vocab, chunk):
        acc.update(rows[:, start : start + chunk].clone(), start)
    return acc


@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0])
@pytest.mark.parametrize("chunk", [7, 64, 500])
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0, np.inf])
def test_streamed_lens_statistics_match_float64_bruteforce(scale, chunk, alpha):
    rng = np.random.default_rng(int(scale * 10) + chunk)
    logits = (rng.standard_normal((3, 5, 500)) * scale).astype(np.float32)
    names = ("entropy", "kl_to_final", "final_token_rank", "top1_agreement")
    got = _lens_statistics_streamed(logits, names, alpha, chunk).result()
    expected = statistics_bruteforce(logits.astype(np.float64), names, alpha=alpha)
    for name in names:
        np.testing.assert_allclose(got[name].numpy(), expected[name][:, :-1], rtol=1e-5, atol=2e-5, err_msg=name)


@pytest.mark.parametrize("top_p", [0.05, 0.6, 0.9, 1.0])
@pytest.mark.parametrize("scale", [0.01, 1.0, 8.0])
def test_top_p_sets_match_a_full_float64_sort(top_p, scale):
    rng = np.random.default_rng(int(top_p * 100 + scale))
    logits = (rng.standard_normal((6, 1000)) * scale).astype(np.float32)
    sizes, membership = top_p_sets(torch.as_tensor(logits), top_p)
    expected = statistics_bruteforce(logits[:, None, :].astype(np.float64), ["top_p_size"], top_p=top_p)
    np.testing.assert_array_equal(sizes.numpy(), expected["top_p_size"][:, 0])
    p = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), -1)
    for row in range(6):
        chosen = p[row][membership[row]]
        assert chosen.sum() >= top_p - 1e-6
        assert chosen.min() >= p[row][~membership[row]].max() if (~membership[row]).any() else True


@pytest.mark.parametrize("count_columns", [7, 16384])
@pytest.mark.parametrize("settled_by_candidates", [True, False])
def test_top_p_sets_of_flat_and_peaked_rows_together_match_a_full_float64_sort(monkeypatch, settled_by_candidates,
                                                                              count_columns):
    # Rows from nearly uniform (thousands of candidates) to peaked (a few): each group of similar
    # candidate counts is sorted with its own k, and the result is that of one full sort. The sizes alone
    # come from each row's gathered candidates; a row they leave unsettled takes the full sort, forced
    # here for every row. The sets themselves count their candidates in column slices of any width.
    monkeypatch.setattr(statistics_module, "_COUNT_COLUMNS", count_columns)
    if not settled_by_candidates:
        gathered = statistics_module._sizes_of_gathered_candidates
        monkeypatch.setattr(statistics_module, "_sizes_of_gathered_candidates",
                            lambda *args: (gathered(*args)[0], torch.ones(24, dtype=torch.bool)))
    rng = np.random.default_rng(7)
    scales = np.geomspace(0.01, 30.0, 24)[:, None]
    logits = (rng.standard_normal((24, 3000)) * scales).astype(np.float32)
    sizes, membership = top_p_sets(torch.as_tensor(logits), 0.6)
    expected = statistics_bruteforce(logits[:, None, :].astype(np.float64), ["top_p_size"], top_p=0.6)
    np.testing.assert_array_equal(sizes.numpy(), expected["top_p_size"][:, 0])
    assert sizes.min() < 10 and sizes.max() > 1000  # the groups really differ
    np.testing.assert_array_equal(membership.sum(-1).numpy(), sizes.numpy())
    sizes_only, no_sets = top_p_sets(torch.as_tensor(logits), 0.6, membership=False)
    assert no_sets is None and torch.equal(sizes_only, sizes)


def test_top_p_sizes_alone_equal_those_of_the_full_sort_bit_for_bit_with_ties_and_a_masked_row():
    # The sizes-only path must give the full sort's sizes exactly (cached profiles depend on it): ties,
    # sets that end at the top_p boundary, and a row of -inf logits (NaN probabilities, no candidates),
    # which the full sort sizes as 1.
    rng = np.random.default_rng(11)
    logits = (rng.standard_normal((40, 5000)) * np.geomspace(0.02, 40.0, 40)[:, None]).astype(np.float32)
    logits[:, ::4] = logits[:, :1]
    logits[3] = -np.inf
    logits[5] = np.log([0.3, 0.3, 0.2, 0.2] + [1e-30] * 4996)
    logits = torch.as_tensor(logits)
    for top_p in (0.05, 0.5, 0.6, 0.9, 0.999999):
        with_sets, _ = top_p_sets(logits, top_p)
        alone, _ = top_p_sets(logits, top_p, membership=False)
        assert torch.equal(alone, with_sets), top_p
        assert alone[3] == 1


@pytest.mark.parametrize("column_chunk", [None, 64, 333])
def test_whole_rows_reduced_in_column_slices_match_float64_bruteforce(column_chunk):
    # Top-p needs whole rows; the other statistics of the same rows are reduced slice by slice.
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((3, 5, 1000)) * 4.0).astype(np.float32)
    names = ("entropy_alpha0.5", "entropy_alpha1", "entropy_alpha5", "kl_to_final", "final_token_rank", "top_p_size")
    z = torch.as_tensor(logits)
    final = z[:, -1]
    log_p = torch.log_softmax(final.double(), -1)
    targets = final.argmax(-1)
    target_logits = torch.take_along_dim(z[:, :-1], targets[:, None, None].expand(-1, 4, 1), dim=-1)[..., 0]
    acc = LensStatistics(
        (3, 4), names, alpha=1.0, device="cpu", final_probabilities=log_p.exp().float()[:, None, :],
        final_negative_entropy=torch.special.xlogy(log_p.exp(), log_p.exp()).sum(-1)[:, None], targets=targets[:, None],
        target_logits=target_logits, top_p=0.6, column_chunk=column_chunk,
    )
    acc.update(z[:, :-1].reshape(-1, 1000).clone(), 0)
    assert acc.membership is None  # top_p_size alone keeps no sets (keep_sets=False)
    got = acc.result()
    expected = statistics_bruteforce(logits.astype(np.float64), ["entropy", "kl_to_final", "final_token_rank", "top_p_size"])
    for order in (0.5, 5):
        expected[f"entropy_alpha{order:g}"] = statistics_bruteforce(logits.astype(np.float64), ["entropy"], alpha=order)["entropy"]
    expected["entropy_alpha1"] = expected["entropy"]
    for name in names:
        np.testing.assert_allclose(got[name].numpy(), expected[name][:, :-1], rtol=1e-5, atol=2e-5, err_msg=name)


def test_top_p_overlap_counts_shared_candidates():
    # Layer 0 puts its mass on tokens {0, 1}; layer 1 on {1, 2}; top-p = 0.9 takes both of each.
    logits = torch.full((1, 2, 6), -30.0, dtype=torch.float64)
    logits[0, 0, [0, 1]] = 0.0
    logits[0, 1, [1, 2]] = 0.0
    values = statistics_bruteforce(logits, ["top_p_size", "top_p_overlap"], top_p=0.9)
    np.testing.assert_array_equal(values["top_p_size"], [[2, 2]])
    np.testing.assert_allclose(values["top_p_overlap"], [[1.0, 0.5]])
    # The engine's own path: residuals through an identity lens, so its logits are the rows above.
    lens = _IdentityLens(6)
    engine = lens_statistics(
        lens, logits[:, :1, None].float(), [1], logits[:, 1].float()[:, None], statistics=("top_p_size", "top_p_overlap"),
        alpha=1.0, top_p=0.9, vocab_chunk=6, max_block_bytes=2**20,
    )
    np.testing.assert_array_equal(engine["top_p_size"][0, :, 0], [2, 2])
    assert torch.isnan(engine["top_p_overlap"][0, 0, 0])  # the engine leaves the first layer to its caller
    assert engine["top_p_overlap"][0, 1, 0] == 0.5


class _IdentityLens(Lens):
    """A lens whose logits are its input rows (an identity unembedding), to drive the engine by hand."""

    def __init__(self, vocab_size):
        unembedding = torch.nn.Linear(vocab_size, vocab_size, bias=False).requires_grad_(False)
        with torch.no_grad():
            unembedding.weight.copy_(torch.eye(vocab_size))
        super().__init__(LensAdapter("identity", blocks=torch.nn.ModuleList(), head=(), unembedding=unembedding))

    def prepare(self, hidden, layers=None):
        return hidden


def test_lens_statistics_refuse_chunked_rows_for_top_p():
    acc = LensStatistics((2,), ("top_p_size",), alpha=1.0, device="cpu", top_p=0.6)
    acc.update(torch.zeros(2, 4), 0)
    with pytest.raises(ValueError, match="whole rows"):
        acc.update(torch.zeros(2, 4), 4)


@pytest.mark.parametrize(
    "statistics, message",
    [(["entropy", "entropy"], "repeat"), (["perplexity"], "Unknown statistic"), ([], "at least one"), (3, "must be")],
)
def test_check_statistics_names_the_problem(statistics, message):
    with pytest.raises((ValueError, TypeError), match=message):
        check_statistics(statistics)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("chunk", [None, 1, 7, 64, 500])
def test_masked_logits_match_the_float64_bruteforce(alpha, chunk):
    # -inf logits (masked tokens, e.g. a constrained vocabulary) have probability 0: they must add
    # nothing, and a chunk of only masked logits must not poison the row (0 * -inf, -inf - -inf).
    logits = _random_logits(3, 6, 500, 3.0)
    rng = np.random.default_rng(4)
    logits[rng.random(logits.shape) < 0.3] = -np.inf
    logits[1, :250] = -np.inf  # the first chunks of this row are entirely masked
    logits[2, 100:] = -np.inf  # and the last ones of this one
    logits[3, :499] = -np.inf  # a single token left: every entropy is 0
    expected = entropy_bruteforce(logits.astype(np.float64), alpha)
    got = entropy_from_logits(torch.from_numpy(logits), alpha, chunk_size=chunk).double().numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=2e-5 * max(1.0, float(np.abs(expected).max())), rtol=1e-5)
    np.testing.assert_allclose(got[3], 0.0, atol=1e-6)


def _unclamped_entropies(logits, orders):
    """The streaming formulas on one float32 chunk with nothing clamped: every exp as torch gives it."""
    z = logits - logits.amax(dim=-1, keepdim=True)
    e = torch.exp(z)
    log_sum = torch.log(e.sum(dim=-1))
    out = {1.0: log_sum - torch.nansum(e * z, dim=-1) / e.sum(dim=-1), math.inf: log_sum}
    for order in orders:
        if order not in out:
            out[order] = (torch.log(torch.exp(order * z).sum(dim=-1)) - order * log_sum) / (1.0 - order)
    return out


@pytest.mark.parametrize("spread", [5.0, 30.0, 300.0])
def test_exponents_below_the_smallest_normal_float_move_the_entropies_by_at_most_v_times_1e_36(spread):
    # The exponents are clamped at exp's floor (where torch's exp is slow): the terms below it, denormal
    # or 0, then count exp(-87) each, and -87 * exp(-87) in Shannon's sum. Beside the row maximum's term
    # of 1 that moves an entropy by at most V * 1.5e-36 nats: no bit at all at spreads like real logits',
    # and only in entropies of ~1e-30 nats (a row with one token) at spread 300. The spreads put many
    # alpha * (z - M) below -87, in the denormal band (-104, -87) and below, and 5 % at -inf.
    orders = (0.5, 1.0, 2.0, 5.0, 20.0, math.inf)
    logits = _random_logits(9, 8, 4096, spread)
    logits[np.random.default_rng(10).random(logits.shape) < 0.05] = -np.inf
    logits = torch.from_numpy(logits)
    assert float(((5.0 * (logits - logits.amax(dim=-1, keepdim=True))) < -87).float().mean()) > 0.01
    accumulator = StreamingEntropy(8, orders)
    accumulator.update(logits.clone())
    unclamped = _unclamped_entropies(logits, orders)
    expected = {order: entropy_bruteforce(logits.double().numpy(), order) for order in orders}
    for order in orders:
        got = accumulator.result(order)
        if spread <= 30:
            assert torch.equal(got, unclamped[order]), order
        np.testing.assert_allclose(got.numpy(), unclamped[order].numpy(), rtol=0, atol=4096 * 1.5e-36, err_msg=str(order))
        np.testing.assert_allclose(got.double().numpy(), expected[order], rtol=1e-5, atol=2e-5, err_msg=str(order))


def test_a_row_masked_throughout_keeps_no_terms():
    # Clamped -inf logits would count exp(floor) each: a row with no finite logit must still have none.
    logits = torch.full((2, 300), -math.inf)
    logits[1, 200:] = torch.linspace(-3.0, 3.0, 100)
    accumulator = StreamingEntropy(2, (0.5, 1.0, 5.0, math.inf))
    for start in range(0, 300, 64):
        accumulator.update(logits[:, start : start + 64].clone())
    for order in (0.5, 1.0, 5.0):
        assert math.isnan(float(accumulator.result(order)[0])), order
    assert float(accumulator.result(math.inf)[0]) == -math.inf
    assert float(accumulator.log_normalizer()[0]) == -math.inf
    expected = entropy_bruteforce(logits[1:].double().numpy(), 1.0)
    np.testing.assert_allclose(accumulator.result(1.0)[1:].double().numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("chunk", [7, 500])
def test_several_renyi_orders_in_one_pass_match_float64_bruteforce(chunk):
    rng = np.random.default_rng(chunk)
    logits = (rng.standard_normal((3, 5, 500)) * 4.0).astype(np.float32)
    names = ("entropy_alpha0.5", "entropy_alpha1", "kl_to_final", "entropy_alpha5", "entropy_alphainf",
             "entropy_alpha0", "entropy_alpha0.98")
    got = _lens_statistics_streamed(logits, names, 1.0, chunk).result()
    expected = statistics_bruteforce(logits.astype(np.float64), names)
    for name in names:
        np.testing.assert_allclose(got[name].numpy(), expected[name][:, :-1], rtol=1e-5, atol=2e-5, err_msg=name)
    for order in (0.5, 5.0, np.inf):
        single = _lens_statistics_streamed(logits, ("entropy",), order, chunk).result()["entropy"]
        np.testing.assert_array_equal(got[renyi_statistic(order)].numpy(), single.numpy())


def test_renyi_statistic_names_and_expansion():
    assert [renyi_statistic(a) for a in (0.5, 1, 5, np.inf, 0)] == [
        "entropy_alpha0.5", "entropy_alpha1", "entropy_alpha5", "entropy_alphainf", "entropy_alpha0"]
    assert renyi_order("entropy_alpha0.5") == 0.5 and renyi_order("entropy_alpha05") is None
    assert renyi_order("entropy") is None and renyi_order("entropy_alpha-1") is None
    assert expand_statistics(("kl_to_final", "entropy"), [1, 0.5]) == ("kl_to_final", "entropy_alpha1", "entropy_alpha0.5")
    assert expand_statistics(("entropy",), 2.0) == ("entropy",)
    with pytest.raises(ValueError, match="does not include"):
        expand_statistics(("kl_to_final",), [0.5, 1])
    with pytest.raises(ValueError, match="distinct orders"):
        check_alphas([1, 1.0])
    with pytest.raises(ValueError, match="twice"):
        expand_statistics(("entropy", "entropy_alpha1"), [1, 2])


@pytest.mark.parametrize("chunk", [7, 500])
def test_masked_lens_rows_give_the_float64_bruteforce_hartley_and_kl(chunk):
    # Tokens masked (-inf) in every layer, as a constrained vocabulary does: Hartley entropy counts the
    # support (not log V), and KL skips the tokens of final probability 0 (not 0 * -inf = NaN).
    rng = np.random.default_rng(11)
    logits = (rng.standard_normal((2, 4, 500)) * 3).astype(np.float32)
    logits[:, :, :250] = -np.inf
    logits[1, :, 400:] = -np.inf
    names = ("entropy", "kl_to_final")
    for alpha in (0.0, 1.0):
        got = _lens_statistics_streamed(logits, names, alpha, chunk).result()
        expected = statistics_bruteforce(logits.astype(np.float64), names, alpha=alpha)
        for name in names:
            assert np.isfinite(expected[name]).all(), name
            np.testing.assert_allclose(got[name].numpy(), expected[name][:, :-1], rtol=1e-5, atol=2e-5, err_msg=name)
    hartley = _lens_statistics_streamed(logits, ("entropy",), 0.0, chunk).result()["entropy"]
    np.testing.assert_allclose(hartley[:, 0].numpy(), [math.log(250), math.log(150)])


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_masked_final_logits_give_the_float64_bruteforce_through_the_engine(alpha):
    # The model's own output masks half its vocabulary; the lens layers do not. The engine's KL must
    # stay finite and its Hartley entropy of the final layer count the support.
    rng = np.random.default_rng(3)
    vocab = 64
    residuals = torch.as_tensor(rng.standard_normal((2, 3, 1, vocab)) * 3, dtype=torch.float32)
    final = torch.as_tensor(rng.standard_normal((2, 1, vocab)) * 3, dtype=torch.float32)
    final[..., : vocab // 2] = -math.inf
    names = ("entropy", "kl_to_final")
    engine = lens_statistics(_IdentityLens(vocab), residuals, [0, 1, 2], final, statistics=names, alpha=alpha,
                             top_p=0.6, vocab_chunk=16, max_block_bytes=2**20)
    stacked = torch.cat([residuals[:, :, 0], final[:, None, 0]], dim=1).double().numpy()
    expected = statistics_bruteforce(stacked, names, alpha=alpha)
    for name in names:
        got = engine[name][:, :, 0].numpy()
        assert np.isfinite(got).all() and np.isfinite(expected[name]).all(), name
        np.testing.assert_allclose(got, expected[name], rtol=1e-5, atol=2e-5, err_msg=name)
    if alpha == 0.0:
        np.testing.assert_allclose(engine["entropy"][:, -1, 0].numpy(), math.log(vocab // 2))
