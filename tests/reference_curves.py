"""Section F's protocol as first written, one path step at a time in Python: the reference that
:func:`avc.fitting.curves.alignment_curve` must match (tests and ``benchmarks/bench_fitting.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.fitting.curves import agent_counts
from avc.fitting.fits import REFERENCE_METHODS, SPARSITY_THRESHOLD, add_agent, check_xy, random_folds


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
    (:func:`add_agent`, fresh solves of the active block); :func:`alignment_curve` computes the
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
    X, y = check_xy(scores, target)
    n_items, n_agents = X.shape
    ks = agent_counts(ks, n_agents)
    rng = np.random.default_rng(seed)
    folds = random_folds(n_items, n_folds, rng)
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
                    w_nnls = add_agent(G[:k, :k], b[:k], w_nnls, simplex=False)
                    w_simplex = add_agent(G[:k, :k], b[:k], w_simplex, simplex=True)
                best = int(np.argmin(diag_tr[:K]))
                uniform = np.full(K, 1.0 / K)
                i = k_index[K]
                mse[p, i] += [
                    diag_te[best],
                    test_mse(uniform, K),
                    test_mse(w_nnls, K),
                    test_mse(w_simplex, K),
                ]
                train_mse[p, i] += [
                    diag_tr[best],
                    fit_mse(uniform, K),
                    fit_mse(w_nnls, K),
                    fit_mse(w_simplex, K),
                ]
                nonzero[p, i] += [
                    1,
                    K,
                    np.sum(w_nnls > SPARSITY_THRESHOLD),
                    np.sum(w_simplex > SPARSITY_THRESHOLD),
                ]
    mse /= n_folds
    train_mse /= n_folds
    nonzero /= n_folds
    index = pd.MultiIndex.from_product(
        [range(n_perms), ks, REFERENCE_METHODS], names=["permutation", "K", "method"]
    )
    frame = pd.DataFrame(
        {"mse": mse.reshape(-1), "train_mse": train_mse.reshape(-1), "nonzero": nonzero.reshape(-1)},
        index=index,
    ).reset_index()
    return frame[["K", "method", "permutation", "mse", "train_mse", "nonzero"]]
