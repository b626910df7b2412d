"""Common priors for the conversation checks of Chapter D (Theorems 3 and 4), and the quantities
those checks need besides the theorems' bounds.

* :func:`xor_prior`: the textbook case of complements (each feature alone says nothing);
* :func:`noisy_copies` and :func:`partition_prior`: seeded random priors;
* :func:`slow_priors`: the rejection sampler that keeps priors on which some conversation takes
  more than one round (where Theorem 3 has something to say);
* :func:`error_before_talking`: Alice's estimation error with her own feature only, which decides
  whether a check of Theorem 4 could fail at all;
* :func:`no_agreement_within`: the probability that a conversation has not reached agreement
  after ``r`` rounds, the left side of Theorem 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.theory.conversation import conversation_table
from avc.theory.model import CommonPrior, belief_vector

__all__ = [
    "error_before_talking",
    "no_agreement_within",
    "noisy_copies",
    "partition_prior",
    "slow_priors",
    "xor_prior",
]


def xor_prior() -> CommonPrior:
    """Two uniform bits ``x_A``, ``x_B`` and the state ``y = x_A XOR x_B``."""
    joint = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            joint[a, b, a ^ b] = 0.25
    return CommonPrior(joint)


def noisy_copies(rng: np.random.Generator, n_states: int = 3) -> CommonPrior:
    """A random prior over ``n_states`` in which Alice and Bob each see a noisy copy of the
    state: each channel keeps the state with probability at least 1/2 and otherwise draws a
    signal from a random distribution."""

    def channel():
        return 0.5 * np.eye(n_states) + 0.5 * rng.dirichlet(np.ones(n_states), size=n_states)

    return CommonPrior.from_signals(rng.dirichlet(2 * np.ones(n_states)), channel(), channel())


def partition_prior(rng: np.random.Generator, n_states: int = 8, n_cells: int = 3) -> CommonPrior:
    """Equally likely states; each side learns which of its own ``n_cells`` random cells holds
    the state (every cell non-empty)."""
    if n_cells > n_states:
        raise ValueError(f"{n_cells} non-empty cells need at least as many states; got {n_states}")
    while True:
        alice, bob = rng.integers(n_cells, size=n_states), rng.integers(n_cells, size=n_states)
        if len(set(alice)) == n_cells and len(set(bob)) == n_cells:
            break
    joint = np.zeros((n_cells, n_cells, n_states))
    joint[alice, bob, np.arange(n_states)] = 1 / n_states
    return CommonPrior(joint)


def slow_priors(rng: np.random.Generator, n_priors: int, max_draws: int = 2000) -> list[tuple]:
    """Up to ``n_priors`` pairs ``(prior, utility)`` on which some conversation needs more than
    one round to reach exact agreement, from at most ``max_draws`` draws of
    :func:`partition_prior` over 8 states with a utility that bets on a random event (each state
    in it with probability 0.4) or takes a safe action worth 1/2."""
    slow = []
    for _ in range(max_draws):
        prior = partition_prior(rng)
        util = np.vstack([(rng.uniform(size=8) < 0.4).astype(float), np.full(8, 0.5)])
        if conversation_table(prior, util, zeta=0.0).agreement_round.max() >= 2:
            slow.append((prior, util))
        if len(slow) == n_priors:
            break
    return slow


def error_before_talking(prior: CommonPrior, util, x_a: int, x_b: int) -> float:
    """Alice's estimation error with her own feature only: ``|mu(x_A) - mu_true(x_A, x_B)|_inf``."""
    alone = np.zeros(prior.joint.shape[:2])
    alone[x_a, :] = 1
    both = np.zeros_like(alone)
    both[x_a, x_b] = 1
    return float(np.abs(belief_vector(prior, util, alone) - belief_vector(prior, util, both)).max())


def no_agreement_within(table: pd.DataFrame, r: int) -> float:
    """From a :func:`~avc.theory.conversation.conversation_table`: the probability of the feature
    pairs whose conversation has not reached agreement within ``r`` rounds (never reaching it
    counts as never)."""
    rounds = table.agreement_round.fillna(np.inf).to_numpy()
    return float(table.probability[rounds > r].sum())
