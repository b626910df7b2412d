"""avc.fitting against brute-force support enumeration, KKT conditions and a slow direct protocol."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

from avc.fitting import METHODS, active_set_qp, alignment_curve, fit_nnls, fit_simplex


def brute_force(X, y, simplex):
    """Enumerate supports: on each, the unconstrained (or sum-to-one) least-squares solution;
    keep the feasible ones and return the best objective."""
    k = X.shape[1]
    best = np.inf
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            A = X[:, support]
            if simplex:
                G = A.T @ A
                kkt = np.block([[G, np.ones((size, 1))], [np.ones((1, size)), np.zeros((1, 1))]])
                z = np.linalg.lstsq(kkt, np.append(A.T @ y, 1.0), rcond=None)[0][:size]
            else:
                z = np.linalg.lstsq(A, y, rcond=None)[0]
            if np.all(z >= -1e-12):
                best = min(best, float(np.sum((A @ z - y) ** 2)))
    if not simplex:
        best = min(best, float(y @ y))  # w = 0
    return best


@pytest.mark.parametrize("simplex", [False, True])
def test_small_problems_match_brute_force(simplex):
    rng = np.random.default_rng(11 + simplex)
    fit = fit_simplex if simplex else fit_nnls
    for _ in range(40):
        n, k = int(rng.integers(5, 30)), int(rng.integers(1, 7))
        X = rng.normal(size=(n, k))
        y = rng.normal(size=n) + X @ rng.uniform(-1, 1, size=k)
        w = fit(X, y)
        assert np.all(w >= 0) and (not simplex or np.isclose(w.sum(), 1.0))
        assert float(np.sum((X @ w - y) ** 2)) == pytest.approx(brute_force(X, y, simplex), rel=1e-9, abs=1e-9)


def kkt_violation(X, y, w, simplex):
    grad = X.T @ (X @ w - y)
    support = w > 1e-9
    nu = -grad[support].mean() if simplex else 0.0
    stationarity = np.abs(grad[support] + nu).max() if support.any() else 0.0
    dual = -(grad[~support] + nu).min() if (~support).any() else 0.0
    return max(stationarity, dual, 0.0) / max(1.0, np.abs(X.T @ y).max())


@pytest.mark.parametrize("simplex", [False, True])
def test_larger_problems_satisfy_kkt_including_near_duplicates(simplex):
    rng = np.random.default_rng(3 + simplex)
    for trial in range(10):
        X = rng.uniform(0, 100, size=(800, 100))
        if trial % 2:
            X[:, 50:] = X[:, :50] + 1e-6 * rng.normal(size=(800, 50))  # near-duplicate agents
        y = X[:, :7] @ rng.dirichlet(np.ones(7)) + rng.normal(0, 5, size=800)
        w = (fit_simplex if simplex else fit_nnls)(X, y)
        assert kkt_violation(X, y, w, simplex) < 1e-7
        if not simplex:  # against scipy's Lawson-Hanson on the raw matrix (no Gram squaring)
            ref, _ = nnls(X, y)
            # near-duplicates make the Gram matrix nearly singular: agree to 1e-7 there, 1e-10 otherwise
            rel = 1e-7 if trial % 2 else 1e-10
            assert np.sum((X @ w - y) ** 2) <= np.sum((X @ ref - y) ** 2) * (1 + rel)


def test_warm_start_gives_the_same_optimum():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(60, 12)), rng.normal(size=60)
    G, b = X.T @ X, X.T @ y
    cold = active_set_qp(G, b, simplex=True)
    start = np.full(12, 1 / 12)
    warm = active_set_qp(G, b, simplex=True, w0=start)
    assert np.allclose(cold, warm, atol=1e-8)


def slow_alignment_curve(X, y, ks, n_perms, n_folds, seed, intercept):
    """The protocol written out directly: fit on the training rows, score on the test rows."""
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(len(y)), n_folds)
    perms = [rng.permutation(X.shape[1]) for _ in range(n_perms)]
    rows = []
    for p, perm in enumerate(perms):
        for K in ks:
            cols = perm[:K]
            acc = {m: [0.0, 0.0, 0.0] for m in METHODS}
            for test in folds:
                train = np.setdiff1d(np.arange(len(y)), test)
                A, t = X[np.ix_(train, cols)], y[train]
                B, u = X[np.ix_(test, cols)], y[test]
                xm, ym = (A.mean(axis=0), t.mean()) if intercept else (np.zeros(K), 0.0)
                fits = {
                    "best single agent": np.eye(K)[np.argmin(((A - xm - (t - ym)[:, None]) ** 2).mean(axis=0))],
                    "simple average": np.full(K, 1 / K),
                    "NNLS": fit_nnls(A - xm, t - ym),
                    "simplex": fit_simplex(A - xm, t - ym),
                }
                for m, w in fits.items():
                    pred = (B - xm) @ w + ym
                    acc[m][0] += np.mean((pred - u) ** 2) / n_folds
                    acc[m][1] += np.sum(w > 1e-6) / n_folds
                    acc[m][2] += np.mean(((A - xm) @ w + ym - t) ** 2) / n_folds
            rows += [dict(K=K, method=m, permutation=p, mse=v[0], nonzero=v[1], train_mse=v[2]) for m, v in acc.items()]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("intercept", [False, True])
def test_alignment_curve_matches_a_slow_direct_implementation(intercept):
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 100, size=(90, 9))
    y = X[:, :3] @ np.array([0.5, 0.3, 0.2]) + rng.normal(0, 4, size=90) + (7 if intercept else 0)
    ks = [1, 2, 4, 9]
    fast = alignment_curve(X, y, ks=ks, n_perms=3, n_folds=3, seed=4, intercept=intercept)
    slow = slow_alignment_curve(X, y, ks, n_perms=3, n_folds=3, seed=4, intercept=intercept)
    merged = fast.merge(slow, on=["K", "method", "permutation"], suffixes=("_fast", "_slow"))
    assert len(merged) == len(slow) == 3 * 4 * 4
    assert np.allclose(merged.mse_fast, merged.mse_slow, rtol=1e-7, atol=1e-9)
    assert np.allclose(merged.nonzero_fast, merged.nonzero_slow)
    assert np.allclose(merged.train_mse_fast, merged.train_mse_slow, rtol=1e-7, atol=1e-9)
    # in-sample, the constrained fits contain every single agent (and NNLS contains the simplex)
    top = fast[fast.K == 9].pivot_table(index="permutation", columns="method", values="train_mse")
    assert (top["NNLS"] <= top["simplex"] + 1e-9).all() and (top["simplex"] <= top["best single agent"] + 1e-9).all()


def test_alignment_curve_rejects_missing_scores_and_bad_ks():
    X = np.ones((10, 3))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="drop the items with missing scores"):
        alignment_curve(X, np.ones(10))
    with pytest.raises(ValueError, match="every K"):
        alignment_curve(np.ones((10, 3)), np.ones(10), ks=[4])
