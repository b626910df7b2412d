"""One path of the compiled grid solver (avc.fitting.grid.grid_paths), for the unit tests: one
fold set whose test rows are its training rows, the agents taken in the order ``perm``."""

from types import SimpleNamespace

import numpy as np

from avc.fitting.grid import grid_paths


def solve_path(X, y, simplex, perm=None, ks=None, max_steps=0):
    """The path over ``perm`` (default: the agents in their order) at each K in ``ks`` (default:
    every K). Returns ``ks``, ``weights`` (one row per K, in the original agent order: row ``i`` is
    the optimum over agents ``perm[:ks[i]]``), ``mse`` and ``nonzero`` (one entry per K)."""
    n = X.shape[1]
    perm = np.arange(n) if perm is None else np.asarray(perm)
    ks = np.arange(1, n + 1) if ks is None else np.asarray(ks)
    G, b, one = (X.T @ X)[None], (X.T @ y)[None], np.ones(1)
    sums, counts = one * (y @ y), one * len(y)
    fold_set = np.zeros(1, dtype=np.int64)
    weights = np.zeros((1, len(ks), n))
    mse, _, nonzero = grid_paths(
        G,
        b,
        G,
        b,
        sums,
        sums,
        counts,
        counts,
        fold_set,
        perm.astype(np.int64)[None],
        fold_set,
        ks.astype(np.int64),
        simplex,
        weights,
        max_steps,
    )
    in_agent_order = np.zeros_like(weights[0])
    in_agent_order[:, perm] = weights[0]
    return SimpleNamespace(ks=ks, weights=in_agent_order, mse=mse[0], nonzero=nonzero[0])
