"""Section F's grid (K = 1..100, 100 permutations, 5 folds, NNLS and simplex): three routes timed
in one run on the same synthetic panels.

1. ``avc.fitting.curves.alignment_curve``: the compiled grid (Cholesky-updated active sets along each
   permutation's path, all six methods). Timed whole, ``--repeats`` times.
2. ``reference_curves.alignment_curve_reference``: the previous implementation (warm-started active
   sets in Python, a fresh solve of the active block per step). Timed on the first
   ``--reference-perms`` permutations (the same folds and permutations as route 1) and scaled
   linearly to 100 permutations; its output is compared with route 1's on those permutations.
3. The strong naive route, fit by fit: scipy's ``nnls`` on the training rows for NNLS, and
   ``nnls`` on the system augmented with a heavily weighted row of ones for the simplex. The
   grid has n_perms x n_folds x 100 fits per method; each sample times fits of each method
   at every K = 1..100 (a random permutation and fold for each) and extrapolates the sum by
   n_perms x n_folds (``--naive-per-k`` fits per method and K, averaged).

Each route is sampled ``--repeats`` times; the printed ratios pair the samples of one repeat,
and give their median and range. Every route runs with ``--blas-threads`` BLAS threads (one by
default, as ``alignment_curve`` uses for its Gram matrices): on busy cores a second BLAS thread
slows small products many times over, which would flatter the grid against the others.

    .venv/bin/python benchmarks/bench_fitting.py [--perms 100] [--repeats 5] [--reference-perms 20] [--naive-per-k 3] [--blas-threads 1]

Panels are synthetic but shaped and conditioned like the recorded ones: 100 correlated persona
scores on 0-100 (a few shared factors plus noise, rounded to integers), 1,000 items
(ETHICS-like) and 1,235 items (MovieLens-like).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from threadpoolctl import threadpool_limits

from avc.fitting.curves import alignment_curve
from avc.fitting.fits import REFERENCE_METHODS

# test support (the fake server, the reference curves) lives beside the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_curves import alignment_curve_reference  # noqa: E402


def synthetic_panel(rng, n_items, n_agents=100, n_factors=4):
    factors = rng.normal(size=(n_items, n_factors))
    loadings = rng.normal(size=(n_factors, n_agents))
    scores = 50 + 15 * factors @ loadings / np.sqrt(n_factors) + rng.normal(0, 8, size=(n_items, n_agents))
    scores = np.clip(np.round(scores), 0, 100)
    target = np.clip(
        50 + 15 * factors @ rng.normal(size=n_factors) / np.sqrt(n_factors) + rng.normal(0, 5, size=n_items),
        0,
        100,
    )
    return scores / 100, target / 100


def naive_grid_seconds(X, y, n_perms, n_folds, rng, per_k):
    """One sample of the naive route: ``per_k`` fits of each method at every K, extrapolated to the grid."""
    n_items, n_agents = X.shape
    total = 0.0
    for K in np.repeat(np.arange(1, n_agents + 1), per_k):
        cols = rng.permutation(n_agents)[:K]
        test = np.array_split(rng.permutation(n_items), n_folds)[int(rng.integers(n_folds))]
        train = np.setdiff1d(np.arange(n_items), test)
        A, t = X[np.ix_(train, cols)], y[train]
        start = time.perf_counter()
        nnls(A, t)
        weight = 1e3 * np.sqrt(np.sum(A * A) / K)  # the row of ones, weighted to enforce sum(w) = 1
        nnls(np.vstack([A, np.full((1, K), weight)]), np.append(t, weight))
        total += time.perf_counter() - start
    return total * n_perms * n_folds / per_k


def summary(values):
    values = np.asarray(values)
    return f"median {np.median(values):8.2f}  range {values.min():8.2f} - {values.max():8.2f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--perms", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference-perms", type=int, default=20)
    parser.add_argument("--naive-per-k", type=int, default=3)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for every route (alignment_curve uses one for its Gram matrices anyway)",
    )
    args = parser.parse_args()
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        run(args)


def run(args):
    ks = range(1, 101)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    alignment_curve(*synthetic_panel(np.random.default_rng(1), 30, 5), n_perms=2, n_folds=3)
    print(
        f"first call (numba compiles, or loads its cache): {time.perf_counter() - start:.2f} s, not counted below; "
        f"BLAS threads: {args.blas_threads}"
    )
    panels = {
        name: synthetic_panel(rng, n_items)
        for name, n_items in (("ethics-like", 1000), ("movielens-like", 1235))
    }
    times = {name: {"grid": [], "reference": [], "naive": []} for name in [*panels, "both"]}
    scale_ref = args.perms / args.reference_perms
    for repeat in range(args.repeats):
        for name, (X, y) in panels.items():
            start = time.perf_counter()
            grid = alignment_curve(X, y, ks=ks, n_perms=args.perms, n_folds=args.folds, seed=repeat)
            times[name]["grid"].append(time.perf_counter() - start)
            start = time.perf_counter()
            reference = alignment_curve_reference(
                X, y, ks=ks, n_perms=args.reference_perms, n_folds=args.folds, seed=repeat
            )
            times[name]["reference"].append((time.perf_counter() - start) * scale_ref)
            times[name]["naive"].append(
                naive_grid_seconds(X, y, args.perms, args.folds, rng, args.naive_per_k)
            )
            merged = grid[grid.method.isin(REFERENCE_METHODS)].merge(
                reference, on=["K", "method", "permutation"]
            )
            assert len(merged) == len(reference)
            gap = max(
                float(np.abs(merged[f"{c}_x"] - merged[f"{c}_y"]).max())
                for c in ("mse", "train_mse", "nonzero")
            )
            if repeat == 0:
                print(
                    f"{name}: {X.shape[0]} items x {X.shape[1]} agents; grid vs reference on "
                    f"{args.reference_perms} permutations: largest difference {gap:.1e}"
                )
            assert gap <= 1e-9
        for route in ("grid", "reference", "naive"):
            times["both"][route].append(sum(times[name][route][-1] for name in panels))
    print(
        f"\n{args.repeats} repeats; grid: {args.perms} permutations x {args.folds} folds x K = 1..100, NNLS and simplex "
        f"(plus the four baselines); reference: timed on {args.reference_perms} permutations x {scale_ref:g}; "
        f"naive: {2 * 100 * args.naive_per_k} timed fits per repeat ({args.naive_per_k} per method and K, random "
        f"permutation and fold), x {args.perms * args.folds / args.naive_per_k:g}"
    )
    for name, routes in times.items():
        grid, reference, naive = (np.asarray(routes[r]) for r in ("grid", "reference", "naive"))
        print(f"\n{name}")
        print(f"  seconds   grid           {summary(grid)}")
        print(f"  seconds   reference      {summary(reference)}   (extrapolated)")
        print(f"  seconds   strong naive   {summary(naive)}   (extrapolated)")
        print(f"  speed-up  vs reference   {summary(reference / grid)}")
        print(f"  speed-up  vs naive       {summary(naive / grid)}")


if __name__ == "__main__":
    main()
