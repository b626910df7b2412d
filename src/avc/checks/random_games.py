"""Seeded random panels of agents around a user, for the equilibrium chapters (C, D and E).

A *differently misaligned panel*: every agent departs from the user by a large amount, but
in different directions, so that a weighted mixture of the agents is the user's utility
exactly; independent noise on top then moves the user away from the agents' hull by a
controlled amount. The alignment error ε of the result is always *measured*
(:func:`avc.theory.alignment.weighted_alignment`), never assumed from the construction.
"""

from __future__ import annotations

import numpy as np

__all__ = ["commonly_biased_panel", "misaligned_panel", "to_unit_interval", "withholding_panel"]


def misaligned_panel(rng: np.random.Generator, user_util, k: int, spread: float, noise: float) -> np.ndarray:
    """``k`` agents' utilities ``(k, *user_util.shape)`` around ``user_util``.

    Agent ``i`` is ``u + spread * d_i + noise * z_i`` where the ``d_i`` are uniform on
    ``[-1, 1]`` and recentred so that ``sum_i w_i d_i = 0`` for random simplex weights ``w``
    (so with ``noise = 0`` the user is exactly in the hull), and ``z_i`` are independent
    uniform on ``[-1, 1]``.
    """
    user = np.asarray(user_util, dtype=float)
    if k < 1 or spread < 0 or noise < 0:
        raise ValueError("need k >= 1, spread >= 0 and noise >= 0.")
    weights = rng.dirichlet(np.ones(k))
    departures = rng.uniform(-1, 1, size=(k, *user.shape))
    departures -= np.tensordot(weights, departures, axes=1)
    return user + spread * departures + noise * rng.uniform(-1, 1, size=(k, *user.shape))


def commonly_biased_panel(
    rng: np.random.Generator, user_util, k: int, spread: float, noise: float
) -> np.ndarray:
    """``k`` agents who all carry the *same* departure from the user, plus independent noise.

    Agent ``i`` is ``u + spread * d + noise * z_i`` with one ``d`` uniform on ``[-1, 1]`` shared
    by every agent: unlike :func:`misaligned_panel`, no mixture of the agents cancels ``d``, so
    the user sits far from their hull whatever the weights.
    """
    user = np.asarray(user_util, dtype=float)
    if k < 1 or spread < 0 or noise < 0:
        raise ValueError("need k >= 1, spread >= 0 and noise >= 0.")
    shared = rng.uniform(-1, 1, size=user.shape)
    return user + spread * shared + noise * rng.uniform(-1, 1, size=(k, *user.shape))


def to_unit_interval(user_util, agent_utils) -> tuple[np.ndarray, np.ndarray]:
    """Map every player's utility by one common positive affine map onto ``[0, 1]``.

    A common map ``x -> (x - lo) / (hi - lo)`` changes no decision, no equilibrium and no
    induced law; it divides ε, ``U_A(C*)`` minus any constant, and every loss by ``hi - lo``
    alike, so each theorem of Sections C-E holds or fails exactly as before, and the
    utilities meet the paper's assumption that they lie in ``[0, 1]``.
    """
    user = np.asarray(user_util, dtype=float)
    agents = np.asarray(agent_utils, dtype=float)
    lo, hi = min(user.min(), agents.min()), max(user.max(), agents.max())
    if hi - lo <= 0:
        return np.zeros_like(user), np.zeros_like(agents)
    return (user - lo) / (hi - lo), (agents - lo) / (hi - lo)


def withholding_panel(
    rng: np.random.Generator, n_states: int, k: int, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A prior, Alice's utility and ``k`` agents who are tempted to withhold *part* of the truth.

    Alice bets on a state (1 if right, 0 if wrong) or hedges: the hedge pays ``1 - L`` on two
    *pooled* states (the last two) and 0 elsewhere, ``L`` drawn in ``(0.05, 0.5)``. With two
    states the hedge pays on both (a safe action). Every agent shares a *withholding tilt*
    ``τ``: ``+τ`` on the hedge and on wrong bets between the pooled states, ``-τ`` on right
    bets there, so the agents like a scheme that tells Alice whether the state is pooled but
    not which one. Departures in different directions (recentred so a mixture cancels them)
    and independent noise come on top; ``τ`` is drawn around ``L/2``, where pooling starts to
    tempt them. With three or more states, telling the pooled states apart from the others
    is worth more to Alice than ``2ε``, so the bound can fail; with two it rarely is. All
    utilities are mapped to ``[0, 1]`` by :func:`to_unit_interval`.
    """
    if n_states < 2 or k < 1 or noise < 0:
        raise ValueError("need n_states >= 2, k >= 1 and noise >= 0.")
    prior = rng.dirichlet(4 * np.ones(n_states))
    loss = rng.uniform(0.05, 0.5)
    pooled = np.zeros(n_states, dtype=bool)
    pooled[-2:] = True
    hedge = np.where(pooled, 1 - loss, 0.0)
    user = np.vstack([np.eye(n_states), hedge[None, :]])
    tau = loss / 2 * rng.uniform(0.5, 1.5)
    tilt = np.zeros_like(user)
    tilt[:n_states][:, pooled] = tau
    tilt[np.flatnonzero(pooled), np.flatnonzero(pooled)] = -tau
    tilt[-1, pooled] = tau
    agents = misaligned_panel(rng, user, k, spread=rng.uniform(0.0, 0.3), noise=noise) + tilt
    user, agents = to_unit_interval(user, agents)
    return prior, user, agents
