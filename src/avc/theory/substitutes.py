"""The information-substitutes condition (Definition 14) checked exhaustively on small spaces.

For every action ``a`` and every pair of non-empty subsets ``A`` of Alice's feature values and
``B`` of Bob's, write ``v = u_A(a, y)`` and, conditioning throughout on ``x_A in A, x_B in B``,
``MSE(F)`` for the mean squared error of predicting ``v`` by ``E[v | F]``. The condition is

    MSE(x_A in A, x_B) - MSE(x_A, x_B)   <=   MSE(x_A in A, x_B in B) - MSE(x_A, x_B in B)

(left: what learning ``x_A`` is worth once ``x_B`` is known; right: what it is worth when
only ``x_B in B`` is known). Learning one side's features is worth less when the other
side's are known: the two are *substitutes*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avc.theory.model import CommonPrior, check_utility

__all__ = ["SubstitutesCheck", "binary_signals_prior", "garbled_prior", "information_substitutes"]

MAX_FEATURES = 10


@dataclass(frozen=True)
class SubstitutesCheck:
    holds: bool
    worst_violation: float
    """The largest ``left - right`` found (positive means the condition fails)."""
    action: int | None
    alice_subset: tuple[int, ...] | None
    bob_subset: tuple[int, ...] | None
    """Where the worst violation occurs (None when the condition holds)."""
    n_checked: int


def _subsets(n: int):
    for mask in range(1, 2**n):
        yield tuple(i for i in range(n) if mask >> i & 1)


def _mean_where(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _mse(joint: np.ndarray, v: np.ndarray, prediction: np.ndarray) -> float:
    """Mean squared error of predicting v(y) by ``prediction[x_A, x_B]`` under ``joint``."""
    pred = np.broadcast_to(prediction, joint.shape[:2])[..., None]
    return float((joint * (v[None, None, :] - pred) ** 2).sum() / joint.sum())


def information_substitutes(prior: CommonPrior, user_util, tol: float = 1e-12) -> SubstitutesCheck:
    """Check Definition 14 on every action and every pair of non-empty feature subsets."""
    u = check_utility(user_util, n_states=prior.n_states, name="user_util")
    if max(prior.n_alice_features, prior.n_bob_features) > MAX_FEATURES:
        raise ValueError(f"the exhaustive check needs at most {MAX_FEATURES} feature values per player.")
    worst, where, count = -np.inf, None, 0
    for alice in _subsets(prior.n_alice_features):
        for bob in _subsets(prior.n_bob_features):
            joint = prior.joint[np.ix_(alice, bob)]  # (|A|, |B|, n_y)
            total = joint.sum()
            if total <= 0:
                continue
            cell = joint.sum(axis=2)  # P(x_A, x_B)
            for action, v in enumerate(u):
                count += 1
                pv = joint @ v  # sum_y P(x_A, x_B, y) v(y)
                full = _mean_where(pv, cell)
                given_bob = _mean_where(pv.sum(axis=0), cell.sum(axis=0))[None, :]  # E[v | x_A in A, x_B]
                given_alice = _mean_where(pv.sum(axis=1), cell.sum(axis=1))[:, None]  # E[v | x_A, x_B in B]
                neither = pv.sum() / total
                violation = (_mse(joint, v, given_bob) - _mse(joint, v, full)) - (
                    _mse(joint, v, np.asarray(neither)) - _mse(joint, v, given_alice)
                )
                if violation > worst:
                    worst, where = violation, (action, alice, bob)
    holds = worst <= tol
    return SubstitutesCheck(
        holds=holds,
        worst_violation=float(worst),
        action=None if holds else where[0],
        alice_subset=None if holds else where[1],
        bob_subset=None if holds else where[2],
        n_checked=count,
    )


def garbled_prior(
    rng: np.random.Generator, n_states: int = 3, n_bob_features: int = 3, n_alice_features: int = 2
) -> CommonPrior:
    """A random prior in which Alice's feature is a garbling of Bob's: ``y -> x_B -> x_A``.

    Once ``x_B`` is known, ``x_A`` adds nothing (the left side of Definition 14 is 0) and the
    right side is a reduction of mean squared error (never negative), so **information
    substitutes always hold** for these priors, whatever the utility; the checker confirms it.
    """
    p_y = rng.dirichlet(np.ones(n_states))
    bob = rng.dirichlet(0.5 * np.ones(n_bob_features), size=n_states)  # P(x_B | y), fairly informative
    alice = rng.dirichlet(np.ones(n_alice_features), size=n_bob_features)  # P(x_A | x_B)
    return CommonPrior(np.einsum("y,yb,ba->aby", p_y, bob, alice))


def binary_signals_prior(rng: np.random.Generator) -> CommonPrior:
    """Two states and two conditionally independent binary signals, one for each side.

    Substitutes often hold here (not always: the checker decides each draw)."""
    return CommonPrior.from_signals(
        rng.dirichlet(np.ones(2)), rng.dirichlet(np.ones(2), size=2), rng.dirichlet(np.ones(2), size=2)
    )
