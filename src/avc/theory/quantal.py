"""Quantal response (Definition 11) and the two lemmas about it (Lemmas 1 and 2).

A λ-quantal responder with belief vector ``mu`` (expected utility of each action) plays
action ``a`` with probability ``exp(λ mu_a) / sum_b exp(λ mu_b)``: a softmax. λ = 0 is
uniform play; λ → ∞ is best response (uniform over the maximisers). Everything here works on
the last axis of an array, so a batch of belief vectors is handled at once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "quantal_gap",
    "quantal_gap_bound",
    "quantal_l1_bound",
    "quantal_ratio_bounds",
    "quantal_response",
]


def _check_lam(lam) -> float:
    lam = float(lam)
    if not lam >= 0:  # also rejects NaN
        raise ValueError(f"λ (rationality) must be non-negative; got {lam}.")
    return lam


def quantal_response(mu, lam) -> np.ndarray:
    """Action probabilities ``softmax(λ mu)`` along the last axis, stable for any λ.

    The maximum is subtracted before exponentiating, so λ = 1e6 or more neither overflows nor
    produces NaN; ``lam = np.inf`` gives the uniform distribution over the maximisers.
    """
    mu = np.asarray(mu, dtype=float)
    if mu.ndim == 0 or mu.shape[-1] == 0:
        raise ValueError("mu must hold at least one action's expected utility (last axis).")
    if not np.all(np.isfinite(mu)):
        raise ValueError("mu must be finite.")
    lam = _check_lam(lam)
    shifted = mu - mu.max(axis=-1, keepdims=True)  # <= 0, with a 0 at every maximiser
    if np.isinf(lam):
        weights = (shifted == 0).astype(float)
    else:
        weights = np.exp(lam * shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def quantal_gap(mu, lam) -> np.ndarray:
    """Lemma 1's left side: ``max_a mu_a - sum_a p_a mu_a`` for the λ-quantal ``p``."""
    mu = np.asarray(mu, dtype=float)
    return mu.max(axis=-1) - (quantal_response(mu, lam) * mu).sum(axis=-1)


def quantal_gap_bound(n_actions: int, lam) -> float:
    """Lemma 1's bound ``log|A| / λ`` (infinite at λ = 0)."""
    if n_actions < 1:
        raise ValueError("n_actions must be at least 1.")
    lam = _check_lam(lam)
    return (
        np.inf if lam == 0 and n_actions > 1 else (0.0 if n_actions == 1 else float(np.log(n_actions) / lam))
    )


def quantal_ratio_bounds(lam, eps) -> tuple[float, float]:
    """Lemma 2: if ``|u - u'|_inf <= eps`` then ``P(a)/Q(a)`` lies in ``[e^{-2λε}, e^{2λε}]``."""
    lam = _check_lam(lam)
    return float(np.exp(-2 * lam * eps)), float(np.exp(2 * lam * eps))


def quantal_l1_bound(lam, eps) -> float:
    """Lemma 2: ``|P - Q|_1 <= e^{2λε} - 1``."""
    return float(np.expm1(2 * _check_lam(lam) * eps))
