"""Appendix H: agents whose utilities are noisy but correct on average.

Each agent's utility ``U_i(a, y)`` is drawn independently, bounded in [0, 1], with mean equal
to the user's ``u_A(a, y)``. Hoeffding's inequality and a union bound over the ``|A||Y|``
cells (Proposition 3) say how many agents make the *uniform* average ε-close to the user
with probability at least ``1 - δ``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["agents_needed", "hoeffding_union_bound", "sample_noisy_agents"]


def _check(n_actions, n_states, eps, delta=None):
    if int(n_actions) != n_actions or int(n_states) != n_states or n_actions < 1 or n_states < 1:
        raise ValueError(f"n_actions and n_states must be positive integers; got {n_actions}, {n_states}.")
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps}.")
    if delta is not None and not 0 < delta < 1:
        raise ValueError(f"delta must lie strictly between 0 and 1; got {delta}.")


def agents_needed(n_actions: int, n_states: int, eps: float, delta: float) -> int:
    """The smallest integer ``k`` with ``k > (ln(2|A||Y|) - ln δ) / (2 ε²)`` (Proposition 3)."""
    _check(n_actions, n_states, eps, delta)
    threshold = (math.log(2 * n_actions * n_states) - math.log(delta)) / (2 * eps**2)
    return math.floor(threshold) + 1


def hoeffding_union_bound(k, n_actions: int, n_states: int, eps: float) -> np.ndarray:
    """Upper bound ``min(1, 2|A||Y| exp(-2 k ε²))`` on the probability that the uniform average
    of ``k`` agents misses the user by more than ε in some cell."""
    _check(n_actions, n_states, eps)
    k = np.asarray(k, dtype=float)
    return np.minimum(1.0, 2 * n_actions * n_states * np.exp(-2 * k * eps**2))


def sample_noisy_agents(rng: np.random.Generator, user_util, k: int, kind: str = "bernoulli") -> np.ndarray:
    """``k`` agents ``(k, *user_util.shape)`` with values in [0, 1] and mean ``user_util``.

    ``kind="bernoulli"``: each cell is 1 with probability ``u`` and 0 otherwise (the largest
    variance a [0, 1] variable with mean ``u`` can have, the worst case for Hoeffding).
    ``kind="uniform"``: each cell is uniform on ``[u - r, u + r]`` with ``r = min(u, 1 - u)``.
    """
    user = np.asarray(user_util, dtype=float)
    if np.any(user < 0) or np.any(user > 1):
        raise ValueError(
            "user_util must lie in [0, 1] for agents bounded in [0, 1] to have it as their mean."
        )
    if k < 1:
        raise ValueError("k must be at least 1.")
    shape = (k, *user.shape)
    if kind == "bernoulli":
        return (rng.random(shape) < user).astype(float)
    if kind == "uniform":
        radius = np.minimum(user, 1 - user)
        return user + radius * rng.uniform(-1, 1, size=shape)
    raise ValueError(f"kind must be 'bernoulli' or 'uniform'; got {kind!r}.")
