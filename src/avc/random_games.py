"""Seeded random instances for the equilibrium chapters (C and E).

A *differently misaligned panel*: every agent departs from the user by a large amount, but
in different directions, so that a weighted mixture of the agents is the user's utility
exactly; independent noise on top then moves the user away from the agents' hull by a
controlled amount. The alignment error ε of the result is always *measured*
(:func:`avc.alignment.weighted_alignment`), never assumed from the construction.
"""

from __future__ import annotations

import numpy as np

__all__ = ["misaligned_panel"]


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
