"""Out-of-fold predictions of every method, through the compiled path solver (Section F, F.4).

:func:`avc.fitting.holdout.out_of_fold_predictions` fits each fold's NNLS and simplex weights
with the active-set method in Python, from scratch. Here the same fits come from Gram matrices
and :func:`avc.fitting.grid.grid_paths` (one compiled path per fold), which is what makes a
bootstrap that *refits* every resample affordable (:mod:`avc.fitting.refit_bootstrap`). The
Gram matrices are formed once per fold over its own rows, and each training Gram matrix is the
panel's minus its test fold's; items may carry weights (an item drawn twice by a bootstrap
counts twice), and the folds are then folds of the distinct items, so that no copy of an item
is fitted on and predicted at once.

The methods and their order are those of :data:`avc.fitting.fits.METHODS`; with
``intercept=True`` every agent-based method also fits an offset (agents and target centred on
their training means), so the rescaled best agent becomes the best *affine* agent
(``a u_j + c`` with ``a >= 0``). The predictions equal :func:`~avc.fitting.holdout.out_of_fold_predictions`'s
to the solvers' tolerance (``tests/test_panel_audit.py`` checks it).
"""

from __future__ import annotations

import numpy as np

from avc.fitting.curves import one_blas_thread
from avc.fitting.fits import METHODS, check_xy, random_folds

__all__ = ["fold_predictions", "held_out_predictions", "support_first"]


def _fold_sums(Z, u, weights, folds):
    """Per fold: Z'WZ, Z'Wu, u'Wu, sum(w z), sum(w u) and sum(w) over the fold's rows."""
    n_agents = Z.shape[1]
    n_folds = len(folds)
    S = np.empty((n_folds, n_agents, n_agents))
    s = np.empty((n_folds, n_agents))
    zs = np.empty((n_folds, n_agents))
    q = np.empty(n_folds)
    us = np.empty(n_folds)
    count = np.empty(n_folds)
    for f, rows in enumerate(folds):
        Zf, uf = Z[rows], u[rows]
        if weights is None:
            S[f] = Zf.T @ Zf
            s[f] = Zf.T @ uf
            q[f], zs[f], us[f], count[f] = uf @ uf, Zf.sum(axis=0), uf.sum(), len(rows)
        else:
            root = np.sqrt(weights[rows])
            Wf, wu = Zf * root[:, None], uf * root
            S[f] = Wf.T @ Wf  # symmetric exactly (numpy multiplies a matrix by its own transpose as such)
            s[f] = Wf.T @ wu
            q[f], zs[f], us[f], count[f] = wu @ wu, root @ Wf, root @ wu, weights[rows].sum()
    return S, s, q, zs, us, count


def _weights(G, b, yy, count, simplex, orders, order_of_path):
    """NNLS or simplex weights of every training problem ``G[p], b[p]``, one compiled path each.

    The optimum at a path's end does not depend on the order the agents enter in; path ``p``
    enters them in the order ``orders[order_of_path[p]]``, so that the agents likely to carry
    weight can enter first and the others cost one KKT check each (how a bootstrap refit starts
    from the panel's fit)."""
    from avc.fitting.grid import grid_paths  # numba loads only when a fit is made

    n_paths, n_agents = b.shape
    weights = np.zeros((n_paths, 1, n_agents))
    grid_paths(
        G,
        b,
        G,
        b,
        yy,
        yy,
        count,
        count,
        np.arange(n_paths, dtype=np.int64),
        orders,
        order_of_path,
        np.array([n_agents], dtype=np.int64),
        simplex,
        weights,
    )
    out = np.empty((n_paths, n_agents))
    rows = np.arange(n_paths)[:, None]
    out[rows, orders[order_of_path]] = weights[:, 0]  # the path's weights are in the entering order
    return out


def fold_predictions(X, y, folds, intercept=False, weights=None, clip=None, orders=None):
    """Predictions ``(len(METHODS), n_items)`` of every item in ``folds`` (a list of disjoint
    arrays of item indices) from the methods fitted on the other folds; NaN for items in no
    fold. ``weights`` (items,) weigh the training rows (a bootstrap's counts; default 1 each).
    ``clip=(low, high)`` keeps every prediction on the target's scale, as F.4 does.

    ``intercept`` may also be a tuple of flags, e.g. ``(False, True)``: then a dict flag ->
    predictions, the Gram matrices formed once for all of them. ``orders``: ``{(intercept,
    simplex): permutation}``, the order in which agents enter the solver's path (it changes the
    cost, not the optimum; see :func:`support_first`)."""
    X, y = check_xy(X, y)
    folds = [np.asarray(rows, dtype=np.int64) for rows in folds]
    weights = None if weights is None else np.asarray(weights, dtype=float)
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    Z, u = X - x_mean, y - y_mean  # centred on the panel's means: the training sums cancel little
    flags = tuple(intercept) if isinstance(intercept, tuple | list) else (intercept,)
    with one_blas_thread():  # small products: a second BLAS thread only waits on busy cores
        S, s, q, zs, us, count = _fold_sums(Z, u, weights, folds)
        n_tr = count.sum() - count
        sums = (S.sum(axis=0) - S, s.sum(axis=0) - s, q.sum() - q, zs.sum(axis=0) - zs, us.sum() - us, n_tr)
        problems = [_training_problem(sums, x_mean, y_mean, bool(flag)) for flag in flags]
        G = np.concatenate([problem[0] for problem in problems])  # path = (flag, fold)
        b = np.concatenate([problem[1] for problem in problems])
        yy = np.concatenate([problem[2] for problem in problems])
        count = np.tile(n_tr, len(flags))
        of_path = np.repeat(np.arange(len(flags)), len(folds))
        fits = {}
        for simplex in (False, True):
            identity = np.arange(X.shape[1], dtype=np.int64)
            order = np.stack([(orders or {}).get((bool(flag), simplex), identity) for flag in flags])
            fits[simplex] = _weights(G, b, yy, count, simplex, order.astype(np.int64), of_path)
        out = {}
        for i, flag in enumerate(flags):
            part = slice(i * len(folds), (i + 1) * len(folds))
            weights = (fits[False][part], fits[True][part])
            out[flag] = _predict(X, len(y), folds, n_tr, sums[4] / n_tr, y_mean, problems[i], weights, clip)
    return out if isinstance(intercept, tuple | list) else out[flags[0]]


def _training_problem(sums, x_mean, y_mean, intercept):
    """Each fold's least-squares problem ``(G, b, yy)`` on its training rows, and the shifts that
    map a test row into it (``x - shift_x``, predictions ``+ shift_y``)."""
    S_tr, s_tr, q_tr, zs_tr, us_tr, n_tr = sums
    a, a_u = zs_tr / n_tr[:, None], us_tr / n_tr  # training means of Z and u
    if intercept:  # centre on the training means: sum w (z - a)(z - a)' = Z'WZ - n a a'
        G = S_tr - n_tr[:, None, None] * (a[:, :, None] * a[:, None, :])
        b = s_tr - n_tr[:, None] * a * a_u[:, None]
        yy = q_tr - n_tr * a_u**2
        return G, b, yy, a + x_mean, a_u + y_mean
    m = x_mean  # back to the raw scores: x = z + m, y = u + m_y
    cross = zs_tr[:, :, None] * m[None, None, :]
    G = S_tr + cross + np.transpose(cross, (0, 2, 1)) + n_tr[:, None, None] * np.outer(m, m)[None]
    b = s_tr + y_mean * zs_tr + m[None, :] * us_tr[:, None] + n_tr[:, None] * m[None, :] * y_mean
    yy = q_tr + 2 * y_mean * us_tr + n_tr * y_mean**2
    return G, b, yy, np.zeros_like(a), np.zeros(len(n_tr))


def _predict(X, n_items, folds, n_tr, a_u, y_mean, problem, weights, clip):
    """Every method's predictions of each fold's rows, from the fold's training problem."""
    G, b, yy, shift_x, shift_y = problem
    nnls, simplex = weights
    diag = np.diagonal(G, axis1=1, axis2=2)
    raw_error = (diag - 2 * b + yy[:, None]) / n_tr[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = np.where(diag > 0, np.maximum(b, 0.0) / np.where(diag > 0, diag, 1.0), 0.0)
    scaled_error = (scales**2 * diag - 2 * scales * b + yy[:, None]) / n_tr[:, None]
    out = np.full((len(METHODS), n_items), np.nan)
    for f, rows in enumerate(folds):
        T = X[rows] - shift_x[f]
        best, rescaled = int(np.argmin(raw_error[f])), int(np.argmin(scaled_error[f]))
        predicted = {
            "constant": np.full(len(rows), a_u[f] + y_mean),
            "best single agent": T[:, best] + shift_y[f],
            "rescaled best single agent": scales[f, rescaled] * T[:, rescaled] + shift_y[f],
            "simple average": T.mean(axis=1) + shift_y[f],
            "NNLS": T @ nnls[f] + shift_y[f],
            "simplex": T @ simplex[f] + shift_y[f],
        }
        for i, method in enumerate(METHODS):
            out[i, rows] = predicted[method]
    return out if clip is None else np.clip(out, *clip)


def held_out_predictions(
    X, y, n_folds: int = 5, n_splits: int = 10, seed: int = 0, intercept: bool = False, clip=None
) -> np.ndarray:
    """:func:`avc.fitting.holdout.out_of_fold_predictions` through the compiled solver: an array
    ``(n_splits, len(METHODS), n_items)``, the same folds (drawn from
    ``numpy.random.default_rng(seed)``, one split after another) and the same predictions to the
    solvers' tolerance; ``clip=(low, high)`` as in :func:`fold_predictions`.

    Chapter F's F.4 can call this in place of ``out_of_fold_predictions`` followed by
    ``np.clip(..., *scale)``: ``held_out_predictions(X, y, n_folds, n_splits, seed, intercept,
    clip=scale)``.
    """
    X, y = check_xy(X, y)
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1; got {n_splits}.")
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            fold_predictions(X, y, random_folds(len(y), n_folds, rng), intercept, clip=clip)
            for _ in range(n_splits)
        ]
    )


def support_first(X, y, intercept: bool, simplex: bool) -> np.ndarray:
    """The agents ordered by their NNLS (or simplex) weight on all items, largest first: the
    order in which a refit on a resample of these items enters them (:func:`fold_predictions`'s
    ``orders``), so that the agents that carry no weight cost one KKT check each."""
    X, y = check_xy(X, y)
    with one_blas_thread():
        sums = _fold_sums(X - X.mean(axis=0), y - y.mean(), None, [np.arange(len(y))])
        # one fold holding every item, used as its own training rows
        G, b, yy = _training_problem(sums, X.mean(axis=0), float(y.mean()), intercept)[:3]
        w = _weights(
            G, b, yy, sums[5], simplex, np.arange(X.shape[1], dtype=np.int64)[None], np.zeros(1, np.int64)
        )[0]
    return np.argsort(-w, kind="stable").astype(np.int64)
