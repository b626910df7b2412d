"""Definition 1 computed, not assumed: the smallest alignment error ε.

Given agents' utilities ``U_1, ..., U_k`` and the user's utility ``u`` (arrays of the same
shape, usually ``(n_actions, n_states)``), approximate weighted alignment asks for weights
``w`` and an offset ``c`` with ``sup |sum_i w_i U_i + c - u| <= ε``. The smallest such ε is
a Chebyshev (sup-norm) approximation problem, which is a linear program::

    minimise ε  over  w in R^k, c in R, ε >= 0
    subject to  -ε <= sum_i w_i U_i(j) + c - u(j) <= ε   for every cell j
                w >= 0,  and  sum_i w_i = 1  (the simplex; dropped for Remark 2)

:func:`weighted_alignment` solves it with HiGHS and then *re-derives* ε from the weights it
returns, so the reported ``eps`` is exactly attained by the reported ``weights`` and
``offset`` (it can exceed the true optimum only by the solver's tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

__all__ = ["AlignmentFit", "alignment_error", "weighted_alignment"]


@dataclass(frozen=True)
class AlignmentFit:
    """The result of :func:`weighted_alignment`.

    ``weights`` (k,), ``offset`` (the translation c) and ``eps`` (the sup-norm error they
    attain), plus ``approximation`` = ``sum_i w_i U_i + c`` in the user's shape.
    """

    weights: np.ndarray
    offset: float
    eps: float
    simplex: bool
    approximation: np.ndarray

    @property
    def support(self) -> np.ndarray:
        """Indices of the agents with a positive weight (above 1e-9)."""
        return np.flatnonzero(self.weights > 1e-9)


def _as_problem(agent_utils, user_util) -> tuple[np.ndarray, np.ndarray]:
    """Validate and flatten: agents (k, m) and user (m,)."""
    agents = np.asarray(agent_utils, dtype=float)
    user = np.asarray(user_util, dtype=float)
    if agents.ndim < 1 or agents.shape[0] == 0:
        raise ValueError("agent_utils must hold at least one agent: shape (k, ...) with k >= 1.")
    if agents.shape[1:] != user.shape:
        raise ValueError(
            f"agent_utils is shaped {agents.shape}, so each agent's utility is {agents.shape[1:]}, "
            f"but user_util is {user.shape}. Stack the agents on a new first axis: "
            "np.stack([U_1, ..., U_k]) with every U_i shaped like user_util."
        )
    if user.size == 0:
        raise ValueError("user_util is empty: there must be at least one (action, state) cell.")
    if not (np.all(np.isfinite(agents)) and np.all(np.isfinite(user))):
        raise ValueError("Utilities must be finite numbers (found NaN or inf).")
    return agents.reshape(agents.shape[0], -1), user.reshape(-1)


def alignment_error(agent_utils, user_util, weights) -> tuple[float, float]:
    """``(ε, c)`` for *fixed* weights: the best offset and the sup-norm error it leaves.

    With ``r = u - sum_i w_i U_i``, the best offset is the midrange of ``r`` and the error
    is half its range. Useful for uniform weights or a single agent.
    """
    agents, user = _as_problem(agent_utils, user_util)
    w = np.asarray(weights, dtype=float)
    if w.shape != (agents.shape[0],):
        raise ValueError(f"weights must be shaped ({agents.shape[0]},), one per agent; got {w.shape}.")
    residual = user - w @ agents
    lo, hi = residual.min(), residual.max()
    return float((hi - lo) / 2), float((hi + lo) / 2)


def weighted_alignment(agent_utils, user_util, simplex: bool = True) -> AlignmentFit:
    """The smallest ε of Definition 1 and weights and offset that attain it.

    ``agent_utils`` is shaped ``(k, ...)`` and ``user_util`` ``(...)``, the same trailing
    shape. With ``simplex=True`` the weights are non-negative and sum to one (the convex
    hull, Definition 1); with ``simplex=False`` they are only non-negative (Remark 2's
    scaled hull, a cone). The offset ``c`` is free in both.
    """
    agents, user = _as_problem(agent_utils, user_util)
    k, m = agents.shape
    # Variables: x = (w_1..w_k, c, eps). Objective: eps.
    cost = np.zeros(k + 2)
    cost[-1] = 1.0
    ones = np.ones((m, 1))
    a_ub = np.block([[agents.T, ones, -ones], [-agents.T, -ones, -ones]])
    b_ub = np.concatenate([user, -user])
    a_eq = np.concatenate([np.ones(k), [0.0, 0.0]])[None, :] if simplex else None
    b_eq = np.array([1.0]) if simplex else None
    bounds = [(0, None)] * k + [(None, None), (0, None)]
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if result.status != 0:  # the LP is always feasible and bounded; this is a solver failure
        raise RuntimeError(f"The alignment LP failed ({result.message}); please report the instance.")
    weights = np.clip(result.x[:k], 0.0, None)
    if simplex:
        weights = weights / weights.sum()
    eps, offset = alignment_error(agents, user, weights)
    approximation = (weights @ agents + offset).reshape(np.shape(user_util))
    return AlignmentFit(weights=weights, offset=offset, eps=eps, simplex=simplex, approximation=approximation)
