"""Section F's grid (K = 1..100, 100 permutations, 5 folds, NNLS and simplex) with avc.fitting,
against the naive route measured in the same run: scipy's ``nnls`` on the raw matrix and SLSQP
for the simplex, one fit at a time. The naive route is sampled (a few fits at several K) and
extrapolated to the whole grid, since running it whole takes the better part of an hour.

    .venv/bin/python benchmarks/bench_fitting.py [--perms 100] [--naive-samples 3]

Panels are synthetic but shaped and conditioned like the recorded ones: 100 correlated
persona scores on 0-100 (a few shared factors plus noise, rounded to integers), 1,000 items
(ETHICS) and 1,235 items (MovieLens).
"""

import argparse
import time

import numpy as np
from scipy.optimize import minimize, nnls

from avc.fitting import alignment_curve


def synthetic_panel(rng, n_items, n_agents=100, n_factors=4):
    factors = rng.normal(size=(n_items, n_factors))
    loadings = rng.normal(size=(n_factors, n_agents))
    scores = 50 + 15 * factors @ loadings / np.sqrt(n_factors) + rng.normal(0, 8, size=(n_items, n_agents))
    scores = np.clip(np.round(scores), 0, 100)
    target = np.clip(50 + 15 * factors @ rng.normal(size=n_factors) / np.sqrt(n_factors) + rng.normal(0, 5, size=n_items), 0, 100)
    return scores / 100, target / 100


def naive_fit_seconds(X, y, K, rng, samples):
    """Mean seconds for one NNLS fit (scipy, raw matrix) plus one simplex fit (SLSQP) with K agents."""
    total = 0.0
    for _ in range(samples):
        cols = rng.permutation(X.shape[1])[:K]
        rows = rng.permutation(len(y))[: int(0.8 * len(y))]
        A, t = X[np.ix_(rows, cols)], y[rows]
        start = time.perf_counter()
        nnls(A, t)
        minimize(lambda w: np.sum((A @ w - t) ** 2), np.full(K, 1 / K), jac=lambda w: 2 * A.T @ (A @ w - t),
                 method="SLSQP", bounds=[(0, None)] * K, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                 options={"maxiter": 500, "ftol": 1e-10})
        total += time.perf_counter() - start
    return total / samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--perms", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--naive-samples", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    total_fast = total_naive = 0.0
    for name, n_items in (("ethics-like", 1000), ("movielens-like", 1235)):
        X, y = synthetic_panel(rng, n_items)
        start = time.perf_counter()
        alignment_curve(X, y, ks=range(1, 101), n_perms=args.perms, n_folds=args.folds, seed=0)
        fast = time.perf_counter() - start
        grid_k = np.array([1, 10, 25, 50, 75, 100])
        per_fit = np.array([naive_fit_seconds(X, y, int(k), rng, args.naive_samples) for k in grid_k])
        naive = float(np.interp(np.arange(1, 101), grid_k, per_fit).sum()) * args.perms * args.folds
        total_fast += fast
        total_naive += naive
        print(f"{name:15s} {n_items} items x 100 agents: avc.fitting {fast:6.2f} s; naive (extrapolated from "
              f"{len(grid_k) * args.naive_samples} timed fits) {naive:8.0f} s; ratio {naive / fast:6.0f}x")
    print(f"both datasets: avc.fitting {total_fast:.2f} s, naive {total_naive:.0f} s, ratio {total_naive / total_fast:.0f}x")


if __name__ == "__main__":
    main()
