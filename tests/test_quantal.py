"""Quantal response and Lemmas 1-2."""

import warnings

import numpy as np
import pytest

from avc.theory.quantal import (
    quantal_gap,
    quantal_gap_bound,
    quantal_l1_bound,
    quantal_ratio_bounds,
    quantal_response,
)

pytestmark = pytest.mark.timeout(60)


def test_quantal_response_basic_values():
    assert quantal_response([0.3, 0.3, 0.3], 7.0) == pytest.approx(np.full(3, 1 / 3))
    assert quantal_response([1.0, 0.0], 0.0) == pytest.approx([0.5, 0.5])
    p = quantal_response([1.0, 0.0], np.log(3))  # e^{λ} = 3
    assert p == pytest.approx([0.75, 0.25])


def test_quantal_response_is_stable_for_huge_lambda():
    p = quantal_response([0.2, 0.9, 0.9 - 1e-9], 1e12)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p[1] == pytest.approx(1.0)
    assert quantal_response([0.2, 0.9, 0.9], np.inf) == pytest.approx([0, 0.5, 0.5])
    batch = quantal_response(np.array([[0.0, 1.0], [2.0, 2.0]]), 1e9)
    assert batch == pytest.approx(np.array([[0.0, 1.0], [0.5, 0.5]]))


def test_lemma1_bound_holds_on_random_beliefs():
    rng = np.random.default_rng(0)
    for lam in (0.1, 1.0, 10.0, 100.0):
        mu = rng.uniform(size=(2000, 5))
        assert np.all(quantal_gap(mu, lam) <= quantal_gap_bound(5, lam) + 1e-12)


def test_lemma1_gap_reaches_the_order_of_its_bound():
    # |A| - 1 equal actions at 0 and one better action at Δ: λ·gap = x (n-1) / (e^x + n - 1)
    # with x = λΔ. Its maximum over λ approaches log|A| as |A| grows (ratio -> 1).
    ratios = []
    for n in (10, 100, 1000, 10**5):
        mu = np.zeros(n)
        mu[0] = 1.0
        lams = np.geomspace(0.1, 100, 4000)
        best = max(lam * quantal_gap(mu, lam) for lam in lams)
        ratios.append(best / np.log(n))
    assert all(0 < r <= 1 for r in ratios)
    assert ratios == sorted(ratios)  # increasing in |A|
    assert ratios[-1] > 0.7


def test_lemma2_ratio_and_l1_bounds_on_random_pairs():
    rng = np.random.default_rng(1)
    for lam in (0.5, 3.0, 20.0):
        for eps in (0.01, 0.1, 0.3):
            u = rng.uniform(size=(500, 4))
            v = u + rng.uniform(-eps, eps, size=u.shape)
            p, q = quantal_response(u, lam), quantal_response(v, lam)
            low, high = quantal_ratio_bounds(lam, eps)
            assert np.all(p / q >= low - 1e-12) and np.all(p / q <= high + 1e-12)
            assert np.all(np.abs(p - q).sum(axis=1) <= quantal_l1_bound(lam, eps) + 1e-12)


def test_lemma2_ratio_bound_is_attained():
    # u = (ε, 0, ..., 0) and u' = (-ε, 0, ..., 0) over n actions: P(0)/Q(0) tends to e^{2λε}
    # as n grows, so Lemma 2's ratio bound cannot be improved.
    lam, eps, n = 2.0, 0.5, 10**6
    u, v = np.zeros(n), np.zeros(n)
    u[0], v[0] = eps, -eps
    ratio = quantal_response(u, lam)[0] / quantal_response(v, lam)[0]
    assert ratio == pytest.approx(np.exp(2 * lam * eps), rel=1e-5)


def test_bad_lambda_is_explained():
    with pytest.raises(ValueError, match="non-negative"):
        quantal_response([1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match="at least one"):
        quantal_response([], 1.0)


def test_bad_lambda_and_empty_batches_are_explained():
    with pytest.raises(ValueError, match="non-negative"):
        quantal_response([1.0, 2.0], np.nan)
    assert quantal_response([1.0, 2.0], 0) == pytest.approx([0.5, 0.5])  # λ = 0 is allowed
    with pytest.raises(ValueError, match="at least one"):
        quantal_response(np.zeros((2, 0)), 1.0)  # two belief vectors over no action
    with pytest.raises(ValueError, match="at least one"):
        quantal_response(3.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        quantal_response([1.0, np.inf], 1.0)


def test_lemma1_bound_values_at_the_edges():
    # one action: no gap whatever λ; λ = 0 with several actions: no bound; otherwise log|A| / λ
    assert quantal_gap_bound(1, 0.0) == 0.0 and quantal_gap_bound(1, 2.0) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # infinite by definition, not by a division by zero
        assert quantal_gap_bound(2, 0.0) == np.inf and quantal_gap_bound(3, 0.0) == np.inf
    assert quantal_gap_bound(2, 1.0) == pytest.approx(np.log(2))
    assert quantal_gap_bound(3, 2.0) == pytest.approx(np.log(3) / 2)
    with pytest.raises(ValueError, match="at least 1"):
        quantal_gap_bound(0, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        quantal_gap_bound(2, -1.0)


def test_lemma2_bound_values():
    # 2λε = 1 with λ = 2 and ε = 1/4: ratios in [1/e, e], L1 distance at most e - 1
    low, high = quantal_ratio_bounds(2.0, 0.25)
    assert low == pytest.approx(np.exp(-1.0), rel=1e-12) and high == pytest.approx(np.e, rel=1e-12)
    assert quantal_l1_bound(2.0, 0.25) == pytest.approx(np.e - 1, rel=1e-12)
    assert quantal_ratio_bounds(0.0, 0.3) == (1.0, 1.0) and quantal_l1_bound(0.0, 0.3) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        quantal_l1_bound(-0.5, 0.1)
