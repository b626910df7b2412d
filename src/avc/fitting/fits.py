"""Least-squares fits of a target by non-negative and convex combinations of agents (Section F).

``fit_nnls`` solves ``min |Xw - y|^2`` over ``w >= 0``; ``fit_simplex`` adds ``sum(w) = 1``.
Both use one primal active-set method (Lawson–Hanson, extended with the equality constraint)
on the Gram matrix ``G = X'X`` and ``b = X'y``, with least-squares (minimum-norm) sub-solves on
the active set so that near-duplicate agents are handled. The solver can start from a previous
solution (:func:`add_agent`), which is what makes the curves of :mod:`avc.fitting.curves` fast.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METHODS",
    "REFERENCE_METHODS",
    "SPARSITY_THRESHOLD",
    "active_set_qp",
    "add_agent",
    "check_xy",
    "fit_nnls",
    "fit_simplex",
    "random_folds",
]

REFERENCE_METHODS = ("best single agent", "simple average", "NNLS", "simplex")

METHODS = (*REFERENCE_METHODS, "constant", "rescaled best single agent")

SPARSITY_THRESHOLD = 1e-6


def _subsolve(g: np.ndarray, b: np.ndarray, simplex: bool) -> tuple[np.ndarray, float]:
    """Minimise ``0.5 z'gz - b'z`` (subject to ``sum z = 1`` when ``simplex``); returns ``(z, nu)``."""
    n = len(b)
    if simplex:
        # G z + nu 1 = b and 1'z = 1:  z = G^-1 b - nu G^-1 1,  nu = (1'G^-1 b - 1) / (1'G^-1 1)
        rhs = np.empty((n, 2))
        rhs[:, 0], rhs[:, 1] = b, 1.0
        try:
            sol = np.linalg.solve(g, rhs)
            denominator = sol[:, 1].sum()
            if abs(denominator) > 1e-12 * max(1.0, abs(sol[:, 0].sum())):
                nu = (sol[:, 0].sum() - 1.0) / denominator
                return sol[:, 0] - nu * sol[:, 1], float(nu)
        except np.linalg.LinAlgError:
            pass
        kkt = np.zeros((n + 1, n + 1))  # singular G (duplicate agents): the bordered system
        kkt[:n, :n] = g
        kkt[:n, n] = kkt[n, :n] = 1.0
        full = np.linalg.lstsq(kkt, np.append(b, 1.0), rcond=None)[0]
        return full[:n], float(full[n])
    try:
        return np.linalg.solve(g, b), 0.0
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(g, b, rcond=None)[0], 0.0


def active_set_qp(
    G, b, simplex: bool = False, w0=None, tol: float = 1e-10, max_iter: int | None = None
) -> np.ndarray:
    """Minimise ``0.5 w'Gw - b'w`` over ``w >= 0`` (and ``sum(w) = 1`` if ``simplex``).

    ``G`` must be symmetric positive semi-definite (a Gram matrix). ``w0``, if given, must be
    feasible; the method keeps every iterate feasible and stops when the KKT conditions hold
    to ``tol`` (scaled by the size of ``G``).

    A variable freed because its multiplier is negative, but dropped again at once with nothing
    moved, is numerically at its optimum (in exact arithmetic it would enter with a positive
    weight; near-duplicate agents cause this): it is left out of the KKT check until the
    iterate moves, as :mod:`avc.fitting.grid` leaves out dependent agents, instead of being
    freed again for ever. Both loops are capped, so a solver that stops converging raises
    :class:`RuntimeError` instead of running for ever: the outer loop (one variable freed per
    iteration) after ``max_iter`` iterations (default ``3 n + 30``), the inner one (one variable
    dropped per step, so at most ``n + 1`` steps in exact arithmetic) after ``3 n + 30`` steps.
    """
    G = np.asarray(G, dtype=float)
    b = np.asarray(b, dtype=float)
    n = len(b)
    scale = max(1.0, float(np.abs(G).max()), float(np.abs(b).max()))
    tol_kkt = tol * scale
    if w0 is None:
        w = np.zeros(n)
        if simplex:
            w[int(np.argmin(0.5 * np.diag(G) - b))] = 1.0
    else:
        w = np.array(w0, dtype=float)
    active = w > 0  # "passive" set of Lawson-Hanson: the free variables
    max_iter = max_iter or 3 * n + 30
    max_inner = 3 * n + 30
    stalled = np.zeros(n, dtype=bool)  # freed and dropped at once, the iterate unchanged
    entering, w_before = -1, w
    for _ in range(max_iter):
        # 1. optimise over the free variables, dropping any that would turn negative
        for _ in range(max_inner):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            z_free, _ = _subsolve(G[np.ix_(idx, idx)], b[idx], simplex)
            if np.all(z_free > tol):
                w = np.zeros(n)
                w[idx] = z_free
                break
            # move from w toward z until the first free variable hits zero; drop it
            w_free = w[idx]
            blocked = z_free <= tol
            steps = w_free[blocked] / np.maximum(w_free[blocked] - z_free[blocked], 1e-300)
            alpha = float(np.clip(steps.min(), 0.0, 1.0))
            w = np.zeros(n)
            w[idx] = np.maximum(w_free + alpha * (z_free - w_free), 0.0)
            w[w <= tol] = 0.0
            if not (w > 0).any():  # numerical corner: keep the largest coordinate
                w[idx[int(np.argmax(z_free))]] = 1.0 if simplex else 0.0
            active = w > 0
        else:
            raise RuntimeError(
                f"active_set_qp: the inner loop did not settle in {max_inner} steps (its cap, for {n} "
                "variables): a free variable is dropped and comes back. Check that G is a Gram matrix "
                "(symmetric positive semi-definite)."
            )
        if entering >= 0 and not active[entering] and np.array_equal(w, w_before):
            stalled[entering] = True
        else:
            stalled[:] = False
        # 2. KKT: the multipliers of the variables held at zero must be non-negative
        grad = G @ w - b
        nu = -float(np.mean(grad[active])) if simplex and active.any() else 0.0
        multipliers = grad + nu
        multipliers[active | stalled] = np.inf
        j = int(np.argmin(multipliers))
        if multipliers[j] >= -tol_kkt:
            break
        active[j] = True
        entering, w_before = j, w
    else:
        raise RuntimeError(
            f"active_set_qp: no optimum after max_iter = {max_iter} iterations (the cap, for {n} "
            "variables): the KKT conditions still fail. Pass a larger max_iter, or check that G is a "
            "Gram matrix (symmetric positive semi-definite)."
        )
    if simplex:
        w = w / w.sum()
    return w


def add_agent(
    G: np.ndarray, b: np.ndarray, w_prev: np.ndarray, simplex: bool, tol: float = 1e-10
) -> np.ndarray:
    """The optimum over the first K agents, given the optimum over the first K - 1.

    The previous optimum, padded with a zero, stays optimal unless the new agent's KKT
    multiplier is negative; checking that costs one row of ``G``. Otherwise the active-set
    method restarts from it.
    """
    K = len(b)
    if len(w_prev) == 0:
        return active_set_qp(G, b, simplex=simplex)
    w = np.append(w_prev, 0.0)
    support = np.flatnonzero(w_prev > 0)
    nu = 0.0
    if simplex:
        nu = -float(np.mean(G[np.ix_(support, support)] @ w_prev[support] - b[support]))
    new_multiplier = float(G[K - 1, support] @ w_prev[support] - b[K - 1]) + nu
    scale = max(1.0, float(np.abs(G).max()), float(np.abs(b).max()))
    if new_multiplier >= -tol * scale:
        return w
    # Usually the new agent simply joins the support: try that first, then check every KKT
    # condition; fall back to the full active-set method otherwise.
    idx = np.append(support, K - 1)
    z, nu = _subsolve(G[idx][:, idx], b[idx], simplex)
    if np.all(z > tol):
        trial = np.zeros(K)
        trial[idx] = z
        multipliers = G @ trial - b + nu
        multipliers[idx] = 0.0
        if multipliers.min() >= -tol * scale:
            return trial / trial.sum() if simplex else trial
    return active_set_qp(G, b, simplex=simplex, w0=w, tol=tol)


def check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n_items, n_agents) and y (n_items,); got {X.shape} and {y.shape}.")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(
            "X and y must be finite: drop the items with missing scores (invalid replies) or fill them "
            "before fitting."
        )
    return X, y


def fit_nnls(X, y) -> np.ndarray:
    """Weights ``w >= 0`` minimising ``|Xw - y|^2``."""
    X, y = check_xy(X, y)
    return active_set_qp(X.T @ X, X.T @ y)


def fit_simplex(X, y) -> np.ndarray:
    """Weights ``w >= 0`` with ``sum(w) = 1`` minimising ``|Xw - y|^2``."""
    X, y = check_xy(X, y)
    return active_set_qp(X.T @ X, X.T @ y, simplex=True)


def random_folds(n_items: int, n_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    if not 2 <= n_folds <= n_items:
        raise ValueError(f"n_folds must be between 2 and the number of items ({n_items}); got {n_folds}.")
    return np.array_split(rng.permutation(n_items), n_folds)
