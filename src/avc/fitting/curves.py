"""Section F's alignment curve: held-out error against the number of agents K, for every method.

:func:`alignment_curve` solves every permutation's path of K = 1..n with the compiled kernel of
:mod:`avc.fitting.grid` (agents enter one at a time, the previous optimum stays feasible with the
new weight at zero, and a Cholesky factor of the active block is updated by one row per step),
beside four baselines: the best single agent, the simple average, the constant (training mean)
and the rescaled best single agent. The Gram matrices of each permutation and fold are computed
once; test errors come from the test fold's Gram matrix, so no step touches the items again.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from avc.fitting.fits import METHODS, SPARSITY_THRESHOLD, check_xy, random_folds

__all__ = [
    "FOLD_SPLITS",
    "agent_counts",
    "alignment_curve",
    "fold_grams",
    "fold_grams_by_difference",
    "one_blas_thread",
]

FOLD_SPLITS = ("shared", "per_permutation")

_BLAS_CONTROLLER = []


def one_blas_thread():
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


def fold_grams(X, y, folds, intercept):
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


def fold_grams_by_difference(X, y, splits, intercept):
    """:func:`fold_grams` for many fold splits at once: each training Gram matrix is the whole
    panel's minus its test fold's, so a split costs products over its test rows only.

    With ``intercept``, the columns are first centred on the panel's means (so that the rank-one
    corrections to the training means stay small and cancel little), then
    ``sum_T (z - a)(z - a)' = Z_T'Z_T - n_T a a'`` with ``a`` the training mean of ``Z``, and the
    test rows are centred on the same ``a``. Agrees with :func:`fold_grams` to rounding.
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
            for key, value in (
                ("G", G),
                ("b", b),
                ("yy_tr", yy_tr),
                ("H", H),
                ("c", c),
                ("yy_te", yy_te),
                ("n_tr", float(n_tr)),
                ("n_te", float(n_te)),
            ):
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
    from avc.fitting.grid import average_paths  # numba loads only when the grid is used

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
        result.append(
            (path_te[rows, best], path_tr[rows, best], scale[gram_of_path[:, None], order][rows, best])
        )
    # the simple average: the sum of the leading K x K block of the permuted Gram matrices
    average_te = average_paths(H, c, grams["yy_te"], grams["n_te"], gram_of_path, perms, perm_of_path)
    average_tr = average_paths(G, b, grams["yy_tr"], grams["n_tr"], gram_of_path, perms, perm_of_path)
    ones = np.ones((n_paths, len(ks)))
    best_single = (result[0][0], result[0][1], ones)
    average = (average_te[:, k_cols], average_tr[:, k_cols], ones * np.asarray(ks))
    constant = (
        ones * grams["const_te"][gram_of_path, None],
        ones * grams["const_tr"][gram_of_path, None],
        0 * ones,
    )
    rescaled = (result[1][0], result[1][1], (result[1][2] > SPARSITY_THRESHOLD).astype(float))
    return best_single, average, constant, rescaled


def agent_counts(ks, n_agents: int) -> list[int]:
    """The sorted distinct values of K (default 1..n_agents), each checked to lie in 1..n_agents."""
    ks = sorted(set(range(1, n_agents + 1) if ks is None else (int(k) for k in ks)))
    if not ks or ks[0] < 1 or ks[-1] > n_agents:
        raise ValueError(
            f"every K must lie in 1..{n_agents}; got {ks[0] if ks else None}..{ks[-1] if ks else None}."
        )
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
    :func:`avc.fitting.grid.grid_paths` (warm-started active sets with Cholesky updates); the
    results equal :func:`alignment_curve_reference`'s to rounding.

    Returns a tidy DataFrame with columns ``K``, ``method``, ``permutation``, ``mse``
    (held-out), ``r2`` (held-out out-of-sample R², defined per fold as
    ``1 - MSE(method) / MSE(constant)``, i.e. ``1 - SSE / sum((y_test - mean(y_train))^2)``,
    then averaged over folds: 0 for the constant, negative when a method does worse than it;
    NaN on a fold whose held-out target equals the training mean exactly), ``train_mse`` (on the
    training folds, where the fits were made) and ``nonzero`` (weights above 1e-6,
    fold-averaged; 1 for the best single agent, K for the average, 0 for the constant).
    """
    from avc.fitting.grid import grid_paths

    X, y = check_xy(scores, target)
    n_items, n_agents = X.shape
    if fold_split not in FOLD_SPLITS:
        raise ValueError(f"fold_split must be one of {FOLD_SPLITS}; got {fold_split!r}.")
    if n_perms < 1:
        raise ValueError(f"n_perms must be at least 1; got {n_perms}.")
    ks = agent_counts(ks, n_agents)
    rng = np.random.default_rng(seed)
    folds = random_folds(n_items, n_folds, rng)
    perms = np.array([rng.permutation(n_agents) for _ in range(n_perms)], dtype=np.int64)
    with one_blas_thread():
        if fold_split == "shared":
            grams = fold_grams(X, y, folds, intercept)
            gram_of_path = np.repeat(np.arange(n_folds), n_perms)  # path = (fold, permutation)
            perm_of_path = np.tile(np.arange(n_perms), n_folds)
        else:
            splits = [random_folds(n_items, n_folds, rng) for _ in range(n_perms)]
            grams = fold_grams_by_difference(X, y, splits, intercept)
            gram_of_path = np.arange(n_perms * n_folds)  # path = (permutation, fold)
            perm_of_path = np.repeat(np.arange(n_perms), n_folds)
    ks_array = np.asarray(ks, dtype=np.int64)
    arrays = (
        grams["G"],
        grams["b"],
        grams["H"],
        grams["c"],
        grams["yy_tr"],
        grams["yy_te"],
        grams["n_tr"],
        grams["n_te"],
        gram_of_path,
        perms,
        perm_of_path,
        ks_array,
    )
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
