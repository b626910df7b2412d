"""Least-squares fits of a target by non-negative and convex combinations of agents (Section F).

``fit_nnls`` solves ``min |Xw - y|^2`` over ``w >= 0``; ``fit_simplex`` adds ``sum(w) = 1``.
Both use one primal active-set method (Lawson–Hanson, extended with the equality constraint)
on the Gram matrix ``G = X'X`` and ``b = X'y``. The solver can start from a previous solution,
which is what makes :func:`alignment_curve` fast: agents are added one at a time (the first K
of a permutation), the previous optimum stays feasible with the new weight at zero, and a
couple of active-set steps restore optimality. The Gram matrices of each permutation and fold
are computed once; the leading K x K block serves the first K agents, and test errors come from
the test fold's Gram matrix, so no step touches the items again.

Gram matrices square the condition number, so near-duplicate agents are handled with
least-squares (minimum-norm) sub-solves on the active set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["METHODS", "active_set_qp", "alignment_curve", "fit_nnls", "fit_simplex"]

METHODS = ("best single agent", "simple average", "NNLS", "simplex")
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


def active_set_qp(G, b, simplex: bool = False, w0=None, tol: float = 1e-10, max_iter: int | None = None) -> np.ndarray:
    """Minimise ``0.5 w'Gw - b'w`` over ``w >= 0`` (and ``sum(w) = 1`` if ``simplex``).

    ``G`` must be symmetric positive semi-definite (a Gram matrix). ``w0``, if given, must be
    feasible; the method keeps every iterate feasible and stops when the KKT conditions hold
    to ``tol`` (scaled by the size of ``G``).
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
    for _ in range(max_iter):
        # 1. optimise over the free variables, dropping any that would turn negative
        while active.any():
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
        # 2. KKT: the multipliers of the variables held at zero must be non-negative
        grad = G @ w - b
        nu = -float(np.mean(grad[active])) if simplex and active.any() else 0.0
        multipliers = grad + nu
        multipliers[active] = np.inf
        j = int(np.argmin(multipliers))
        if multipliers[j] >= -tol_kkt:
            break
        active[j] = True
    if simplex:
        w = w / w.sum()
    return w


def _add_agent(G: np.ndarray, b: np.ndarray, w_prev: np.ndarray, simplex: bool, tol: float = 1e-10) -> np.ndarray:
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


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
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
    X, y = _check_xy(X, y)
    return active_set_qp(X.T @ X, X.T @ y)


def fit_simplex(X, y) -> np.ndarray:
    """Weights ``w >= 0`` with ``sum(w) = 1`` minimising ``|Xw - y|^2``."""
    X, y = _check_xy(X, y)
    return active_set_qp(X.T @ X, X.T @ y, simplex=True)


def _folds(n_items: int, n_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    if not 2 <= n_folds <= n_items:
        raise ValueError(f"n_folds must be between 2 and the number of items ({n_items}); got {n_folds}.")
    return np.array_split(rng.permutation(n_items), n_folds)


def alignment_curve(
    scores,
    target,
    ks=None,
    n_perms: int = 100,
    n_folds: int = 5,
    seed: int = 0,
    intercept: bool = False,
) -> pd.DataFrame:
    """Section F's protocol: test MSE against the number of agents K, four methods.

    For each of ``n_perms`` random orders of the agents (columns of ``scores``) and each K in
    ``ks``, the first K agents are combined by: the best single agent (the one with the
    lowest *training* error), their simple average, NNLS and simplex weights (fitted on the
    training folds). Test MSE is averaged over ``n_folds`` cross-validation folds (the same
    folds for every permutation). With ``intercept=True`` every method also fits an offset c
    on the training folds (Definition 1's offset); without it, none (the paper's fits).

    Returns a tidy DataFrame with columns ``K``, ``method``, ``permutation``, ``mse`` (held-out),
    ``train_mse`` (on the training folds, where the fits were made) and ``nonzero`` (weights
    above 1e-6, fold-averaged; 1 for the best single agent and K for the average).
    """
    X, y = _check_xy(scores, target)
    n_items, n_agents = X.shape
    ks = sorted(set(range(1, n_agents + 1) if ks is None else (int(k) for k in ks)))
    if ks[0] < 1 or ks[-1] > n_agents:
        raise ValueError(f"every K must lie in 1..{n_agents}; got {ks[0]}..{ks[-1]}.")
    rng = np.random.default_rng(seed)
    folds = _folds(n_items, n_folds, rng)
    perms = [rng.permutation(n_agents) for _ in range(n_perms)]
    k_index = {k: i for i, k in enumerate(ks)}
    mse = np.zeros((n_perms, len(ks), len(METHODS)))
    train_mse = np.zeros_like(mse)
    nonzero = np.zeros_like(mse)
    for test in folds:
        train = np.setdiff1d(np.arange(n_items), test)
        x_shift = X[train].mean(axis=0) if intercept else np.zeros(n_agents)
        y_shift = y[train].mean() if intercept else 0.0
        Xtr, ytr = X[train] - x_shift, y[train] - y_shift
        Xte, yte = X[test] - x_shift, y[test] - y_shift
        G_all, b_all, yy_tr = Xtr.T @ Xtr, Xtr.T @ ytr, float(ytr @ ytr)
        H_all, c_all, yy_te = Xte.T @ Xte, Xte.T @ yte, float(yte @ yte)
        n_te, n_tr = len(test), len(train)
        for p, perm in enumerate(perms):
            G, b = G_all[np.ix_(perm, perm)], b_all[perm]
            H, c = H_all[np.ix_(perm, perm)], c_all[perm]
            diag_tr = (np.diag(G) - 2 * b + yy_tr) / n_tr  # each agent alone, weight 1
            diag_te = (np.diag(H) - 2 * c + yy_te) / n_te
            w_nnls = np.zeros(0)
            w_simplex = np.zeros(0)

            def test_mse(w, K):
                return float(w @ H[:K, :K] @ w - 2 * c[:K] @ w + yy_te) / n_te

            def fit_mse(w, K):
                return float(w @ G[:K, :K] @ w - 2 * b[:K] @ w + yy_tr) / n_tr

            for K in ks:
                # agents enter one at a time, so that each step can start from the last optimum
                for k in range(len(w_nnls) + 1, K + 1):
                    w_nnls = _add_agent(G[:k, :k], b[:k], w_nnls, simplex=False)
                    w_simplex = _add_agent(G[:k, :k], b[:k], w_simplex, simplex=True)
                best = int(np.argmin(diag_tr[:K]))
                uniform = np.full(K, 1.0 / K)
                i = k_index[K]
                mse[p, i] += [diag_te[best], test_mse(uniform, K), test_mse(w_nnls, K), test_mse(w_simplex, K)]
                train_mse[p, i] += [diag_tr[best], fit_mse(uniform, K), fit_mse(w_nnls, K), fit_mse(w_simplex, K)]
                nonzero[p, i] += [1, K, np.sum(w_nnls > SPARSITY_THRESHOLD), np.sum(w_simplex > SPARSITY_THRESHOLD)]
    mse /= n_folds
    train_mse /= n_folds
    nonzero /= n_folds
    index = pd.MultiIndex.from_product([range(n_perms), ks, METHODS], names=["permutation", "K", "method"])
    frame = pd.DataFrame(
        {"mse": mse.reshape(-1), "train_mse": train_mse.reshape(-1), "nonzero": nonzero.reshape(-1)}, index=index
    ).reset_index()
    return frame[["K", "method", "permutation", "mse", "train_mse", "nonzero"]]
