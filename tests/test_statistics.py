import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_entropylens._reference import entropy_bruteforce
from sklearn_entropylens._statistics import StreamingEntropy, check_alpha, convert_units, entropy_from_logits

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


def test_update_shifts_chunk_in_place_and_counts_columns():
    acc = StreamingEntropy(2, 1.0)
    chunk = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    acc.update(chunk)
    assert float(chunk.max()) == 0.0
    assert acc.n_columns == 2


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
