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

:func:`alignment_curve` is the grid of Section F: every permutation's path of K = 1..n is
solved by the compiled kernel of :mod:`avc.fitting_grid` (the same warm start, with a Cholesky
factor of the active block updated by one row per step instead of a fresh solve), beside four
baselines: the best single agent, the simple average, the constant (training mean) and the
rescaled best single agent. :func:`alignment_curve_reference` is the earlier Python
implementation of the first four methods, kept as the reference the grid must match.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

__all__ = [
    "FOLD_SPLITS",
    "METHODS",
    "REFERENCE_METHODS",
    "active_set_qp",
    "alignment_curve",
    "alignment_curve_reference",
    "fit_nnls",
    "fit_simplex",
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


FOLD_SPLITS = ("shared", "per_permutation")
_BLAS_CONTROLLER = []


def _one_blas_thread():
    """A context in which BLAS runs on one thread. The Gram matrices here are small (100 x 100
    from a few hundred rows): a second BLAS thread saves little on a quiet machine, and on busy
    cores its synchronisation made them 30 times slower (2 ms against 77 ms, median)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with the requirements
        return contextlib.nullcontext()
    if not _BLAS_CONTROLLER:
        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas")


def _fold_grams(X, y, folds, intercept):
    """Gram matrices of each fold's training and test rows (centred on the training means if
    ``intercept``), exactly as :func:`alignment_curve_reference` forms them."""
    n_items, n_agents = X.shape
    out = {key: [] for key in ("G", "b", "yy_tr", "H", "c", "yy_te", "n_tr", "n_te", "const_te", "const_tr")}
    for test in folds:
        train = np.setdiff1d(np.arange(n_items), test)
        x_shift = X[train].mean(axis=0) if intercept else np.zeros(n_agents)
        y_shift = y[train].mean() if intercept else 0.0
        Xtr, ytr = X[train] - x_shift, y[train] - y_shift
        Xte, yte = X[test] - x_shift, y[test] - y_shift
        out["G"].append(Xtr.T @ Xtr)
        out["b"].append(Xtr.T @ ytr)
        out["yy_tr"].append(float(ytr @ ytr))
        out["H"].append(Xte.T @ Xte)
        out["c"].append(Xte.T @ yte)
        out["yy_te"].append(float(yte @ yte))
        out["n_tr"].append(float(len(train)))
        out["n_te"].append(float(len(test)))
        mean_train = y[train].mean()  # the constant predictor: the training-fold mean of the target
        out["const_te"].append(float(np.mean((y[test] - mean_train) ** 2)))
        out["const_tr"].append(float(np.mean((y[train] - mean_train) ** 2)))
    return {key: np.asarray(value) for key, value in out.items()}


def _fold_grams_by_difference(X, y, splits, intercept):
    """:func:`_fold_grams` for many fold splits at once: each training Gram matrix is the whole
    panel's minus its test fold's, so a split costs products over its test rows only.

    With ``intercept``, the columns are first centred on the panel's means (so that the rank-one
    corrections to the training means stay small and cancel little), then
    ``sum_T (z - a)(z - a)' = Z_T'Z_T - n_T a a'`` with ``a`` the training mean of ``Z``, and the
    test rows are centred on the same ``a``. Agrees with :func:`_fold_grams` to rounding.
    """
    n_items, n_agents = X.shape
    Z, u = (X - X.mean(axis=0), y - y.mean()) if intercept else (X, y)
    ZZ, Zu, uu = Z.T @ Z, Z.T @ u, float(u @ u)
    sum_z, sum_u = Z.sum(axis=0), float(u.sum())
    out = {key: [] for key in ("G", "b", "yy_tr", "H", "c", "yy_te", "n_tr", "n_te", "const_te", "const_tr")}
    for folds in splits:
        for test in folds:
            in_test = np.zeros(n_items, dtype=bool)
            in_test[test] = True
            Ze, ue = Z[in_test], u[in_test]
            n_te, n_tr = len(ue), n_items - len(ue)
            EE, Eu, ee = Ze.T @ Ze, Ze.T @ ue, float(ue @ ue)
            if intercept:
                a, a_y = (sum_z - Ze.sum(axis=0)) / n_tr, (sum_u - ue.sum()) / n_tr  # training means
                m, m_y = Ze.mean(axis=0), ue.mean()  # test means
                G = ZZ - EE - n_tr * np.outer(a, a)
                b = Zu - Eu - n_tr * a * a_y
                yy_tr = uu - ee - n_tr * a_y**2
                H = EE - n_te * (np.outer(m, a) + np.outer(a, m)) + n_te * np.outer(a, a)
                c = Eu - n_te * (m * a_y + a * m_y) + n_te * a * a_y
                yy_te = ee - 2 * n_te * m_y * a_y + n_te * a_y**2
            else:
                G, b, yy_tr = ZZ - EE, Zu - Eu, uu - ee
                H, c, yy_te = EE, Eu, ee
            for key, value in (("G", G), ("b", b), ("yy_tr", yy_tr), ("H", H), ("c", c), ("yy_te", yy_te),
                               ("n_tr", float(n_tr)), ("n_te", float(n_te))):
                out[key].append(value)
            mean_train = y[~in_test].mean()
            out["const_te"].append(float(np.mean((y[in_test] - mean_train) ** 2)))
            out["const_tr"].append(float(np.mean((y[~in_test] - mean_train) ** 2)))
    return {key: np.asarray(value) for key, value in out.items()}


def _running_argmin(values: np.ndarray) -> np.ndarray:
    """``out[:, K - 1] = argmin(values[:, :K])`` for every K (first index on ties, as np.argmin)."""
    out = np.zeros(values.shape, dtype=np.int64)
    best = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        better = values[:, k] < best
        out[:, k] = np.where(better, k, out[:, k - 1])
        best = np.where(better, values[:, k], best)
    return out


def _baselines(grams, perms, gram_of_path, perm_of_path, ks):
    """Held-out MSE, training MSE and support size of the four baselines on every path, each
    ``(n_paths, len(ks))``, in the order best single agent, simple average, constant, rescaled
    best single agent."""
    from avc.fitting_grid import average_paths  # numba loads only when the grid is used

    G, b, H, c = grams["G"], grams["b"], grams["H"], grams["c"]
    n_tr, n_te = grams["n_tr"][:, None], grams["n_te"][:, None]
    diag_g = np.diagonal(G, axis1=1, axis2=2)
    diag_h = np.diagonal(H, axis1=1, axis2=2)
    single_tr = (diag_g - 2 * b + grams["yy_tr"][:, None]) / n_tr  # each agent alone, weight 1
    single_te = (diag_h - 2 * c + grams["yy_te"][:, None]) / n_te
    with np.errstate(divide="ignore", invalid="ignore"):  # an agent constant on the training rows
        scale = np.where(diag_g > 0, np.maximum(b / diag_g, 0.0), 0.0)
    rescaled_tr = (scale**2 * diag_g - 2 * scale * b + grams["yy_tr"][:, None]) / n_tr
    rescaled_te = (scale**2 * diag_h - 2 * scale * c + grams["yy_te"][:, None]) / n_te
    n_paths = len(gram_of_path)
    order = perms[perm_of_path]
    rows = np.arange(n_paths)[:, None]
    k_cols = np.asarray(ks) - 1
    result = []
    for tr, te in ((single_tr, single_te), (rescaled_tr, rescaled_te)):
        path_tr, path_te = tr[gram_of_path[:, None], order], te[gram_of_path[:, None], order]
        best = _running_argmin(path_tr)[:, k_cols]
        result.append((path_te[rows, best], path_tr[rows, best], scale[gram_of_path[:, None], order][rows, best]))
    # the simple average: the sum of the leading K x K block of the permuted Gram matrices
    average_te = average_paths(H, c, grams["yy_te"], grams["n_te"], gram_of_path, perms, perm_of_path)
    average_tr = average_paths(G, b, grams["yy_tr"], grams["n_tr"], gram_of_path, perms, perm_of_path)
    ones = np.ones((n_paths, len(ks)))
    best_single = (result[0][0], result[0][1], ones)
    average = (average_te[:, k_cols], average_tr[:, k_cols], ones * np.asarray(ks))
    constant = (ones * grams["const_te"][gram_of_path, None], ones * grams["const_tr"][gram_of_path, None], 0 * ones)
    rescaled = (result[1][0], result[1][1], (result[1][2] > SPARSITY_THRESHOLD).astype(float))
    return best_single, average, constant, rescaled


def _agent_counts(ks, n_agents: int) -> list[int]:
    """The sorted distinct values of K (default 1..n_agents), each checked to lie in 1..n_agents."""
    ks = sorted(set(range(1, n_agents + 1) if ks is None else (int(k) for k in ks)))
    if not ks or ks[0] < 1 or ks[-1] > n_agents:
        raise ValueError(f"every K must lie in 1..{n_agents}; got {ks[0] if ks else None}..{ks[-1] if ks else None}.")
    return ks


def alignment_curve(
    scores,
    target,
    ks=None,
    n_perms: int = 100,
    n_folds: int = 5,
    seed: int = 0,
    intercept: bool = False,
    fold_split: str = "shared",
) -> pd.DataFrame:
    """Section F's protocol: held-out error against the number of agents K, six methods.

    For each of ``n_perms`` random orders of the agents (columns of ``scores``) and each K in
    ``ks``, the first K agents are combined by (every fit made on the training folds):

    - ``"best single agent"``: the agent with the lowest training error, used as it is (the
      paper's baseline);
    - ``"simple average"`` of the K agents;
    - ``"NNLS"``: non-negative weights; ``"simplex"``: non-negative weights summing to one;
    - ``"constant"``: the training-fold mean of the target, predicted for every held-out item
      (it uses no agent and does not depend on K);
    - ``"rescaled best single agent"``: each of the K agents alone with its best non-negative
      scale ``s_j = max(0, x_j'y / x_j'x_j)``, and the one with the lowest training error; this
      is the best NNLS fit with K = 1 among the K agents, so NNLS's gain over it is the gain of
      *mixing* beyond rescaling.

    With ``intercept=True`` every agent-based method also fits an offset on the training folds
    (Definition 1's offset: the columns and the target are centred on their training means, so
    the rescaled agent becomes its best affine map with a non-negative slope); without it,
    none (the paper's fits). The constant is the training mean either way.

    Errors are averaged over ``n_folds`` cross-validation folds. ``fold_split="shared"`` (the
    default, the book's protocol so far) uses one fold split for every permutation;
    ``"per_permutation"`` draws a fresh split for each permutation, so the spread over
    permutations also carries the split's. Seeded: the folds and permutations come from
    ``numpy.random.default_rng(seed)`` (shared split first, then the permutations, then, with
    ``"per_permutation"``, one split per permutation).

    NNLS and the simplex are solved exactly along each permutation's path by
    :func:`avc.fitting_grid.grid_paths` (warm-started active sets with Cholesky updates); the
    results equal :func:`alignment_curve_reference`'s to rounding.

    Returns a tidy DataFrame with columns ``K``, ``method``, ``permutation``, ``mse``
    (held-out), ``r2`` (held-out out-of-sample R², defined per fold as
    ``1 - MSE(method) / MSE(constant)``, i.e. ``1 - SSE / sum((y_test - mean(y_train))^2)``,
    then averaged over folds: 0 for the constant, negative when a method does worse than it;
    NaN on a fold whose held-out target equals the training mean exactly), ``train_mse`` (on the
    training folds, where the fits were made) and ``nonzero`` (weights above 1e-6,
    fold-averaged; 1 for the best single agent, K for the average, 0 for the constant).
    """
    from avc.fitting_grid import grid_paths

    X, y = _check_xy(scores, target)
    n_items, n_agents = X.shape
    if fold_split not in FOLD_SPLITS:
        raise ValueError(f"fold_split must be one of {FOLD_SPLITS}; got {fold_split!r}.")
    if n_perms < 1:
        raise ValueError(f"n_perms must be at least 1; got {n_perms}.")
    ks = _agent_counts(ks, n_agents)
    rng = np.random.default_rng(seed)
    folds = _folds(n_items, n_folds, rng)
    perms = np.array([rng.permutation(n_agents) for _ in range(n_perms)], dtype=np.int64)
    with _one_blas_thread():
        if fold_split == "shared":
            grams = _fold_grams(X, y, folds, intercept)
            gram_of_path = np.repeat(np.arange(n_folds), n_perms)  # path = (fold, permutation)
            perm_of_path = np.tile(np.arange(n_perms), n_folds)
        else:
            splits = [_folds(n_items, n_folds, rng) for _ in range(n_perms)]
            grams = _fold_grams_by_difference(X, y, splits, intercept)
            gram_of_path = np.arange(n_perms * n_folds)  # path = (permutation, fold)
            perm_of_path = np.repeat(np.arange(n_perms), n_folds)
    ks_array = np.asarray(ks, dtype=np.int64)
    arrays = (grams["G"], grams["b"], grams["H"], grams["c"], grams["yy_tr"], grams["yy_te"], grams["n_tr"],
              grams["n_te"], gram_of_path, perms, perm_of_path, ks_array)
    no_weights = np.zeros((0, 0, 0))
    nnls_path = grid_paths(*arrays, False, no_weights)
    simplex_path = grid_paths(*arrays, True, no_weights)
    best_single, average, constant, rescaled = _baselines(grams, perms, gram_of_path, perm_of_path, ks)
    per_method = dict(zip(METHODS, (best_single, average, nnls_path, simplex_path, constant, rescaled)))
    # (method, quantity, path, K) -> (permutation, K, method) averaged over folds
    stacked = np.stack([np.stack(per_method[m]) for m in METHODS])  # (method, quantity, path, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - stacked[:, 0] / stacked[METHODS.index("constant"), 0]
    values = np.concatenate([stacked, r2[:, None]], axis=1)  # mse, train_mse, nonzero, r2
    fold_mean = np.zeros((len(METHODS), 4, n_perms, len(ks)))
    np.add.at(fold_mean, (slice(None), slice(None), perm_of_path), values)  # sum over folds
    fold_mean = fold_mean.transpose(2, 3, 0, 1) / n_folds  # (permutation, K, method, quantity)
    index = pd.MultiIndex.from_product([range(n_perms), ks, METHODS], names=["permutation", "K", "method"])
    frame = pd.DataFrame(fold_mean.reshape(-1, 4), index=index, columns=["mse", "train_mse", "nonzero", "r2"])
    return frame.reset_index()[["K", "method", "permutation", "mse", "r2", "train_mse", "nonzero"]]


def alignment_curve_reference(
    scores,
    target,
    ks=None,
    n_perms: int = 100,
    n_folds: int = 5,
    seed: int = 0,
    intercept: bool = False,
) -> pd.DataFrame:
    """Section F's protocol as first written: the reference that :func:`alignment_curve` must match.

    It computes the four original methods only, one path step at a time in Python
    (:func:`_add_agent`, fresh solves of the active block); :func:`alignment_curve` computes the
    same numbers with the compiled paths of :mod:`avc.fitting_grid`. Kept for the tests and
    ``benchmarks/bench_fitting.py``.

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
    ks = _agent_counts(ks, n_agents)
    rng = np.random.default_rng(seed)
    folds = _folds(n_items, n_folds, rng)
    perms = [rng.permutation(n_agents) for _ in range(n_perms)]
    k_index = {k: i for i, k in enumerate(ks)}
    mse = np.zeros((n_perms, len(ks), len(REFERENCE_METHODS)))
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
    index = pd.MultiIndex.from_product([range(n_perms), ks, REFERENCE_METHODS], names=["permutation", "K", "method"])
    frame = pd.DataFrame(
        {"mse": mse.reshape(-1), "train_mse": train_mse.reshape(-1), "nonzero": nonzero.reshape(-1)}, index=index
    ).reset_index()
    return frame[["K", "method", "permutation", "mse", "train_mse", "nonzero"]]
