"""How the audit of ``python -m avc audit`` grows with items, agents and dense solutions.

Two kinds of synthetic panel (scores on 0-1):

* **sparse**: the panels of ``bench_fitting.py`` (100 correlated personas: a few shared factors
  plus noise); NNLS keeps about a quarter of the agents;
* **dense**: independent agents and a target that mixes 65 % of them (plus a little noise), so
  that NNLS keeps most of them (82 of 100 on the 1,000 x 100 panel).

Part 1 times the compiled grid alone (Section F's protocol: K = 1..n, ``--perms`` permutations,
5 folds, NNLS and simplex; :func:`avc.fitting.curves.alignment_curve` with one shared split, as
``bench_fitting.py``), and, with ``--previous REV``, the grid of an earlier commit on the same
Gram matrices (``git show REV:src/avc/fitting/grid.py``), checking that both give the same
numbers. Part 2 times each part of one target's audit (:func:`avc.fitting.panel_audit.audit_target`
at the command's defaults, ``--boot`` resamples) on every size: the LPs of ε (on all items and on
each fold's training items), the held-out gains with fixed fits (10 splits), the refit bootstrap,
the curve (20 agent orders) and the diversity.

    .venv/bin/python benchmarks/bench_audit.py [--previous d3ff5e2~1] [--boot 1000] [--repeats 3]
        [--items 1000 3000 10000] [--agents 30 100 300] [--corner]

Times are wall-clock seconds with the CPU seconds of the process beside them (the machines this
runs on are shared; CPU seconds move less). ``--corner`` adds the 10,000 x 300 panel (minutes).
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avc.fitting import panel_audit
from avc.fitting.curves import alignment_curve, fold_grams, one_blas_thread
from avc.fitting.diversity import diversity_summary
from avc.fitting.fits import fit_nnls, random_folds
from avc.fitting.refit_bootstrap import AUDIT_PAIRS, gain_intervals, refit_gain_draws

REPO = Path(__file__).resolve().parents[1]


def sparse_panel(rng, n_items, n_agents, n_factors=4):
    factors = rng.normal(size=(n_items, n_factors))
    loadings = rng.normal(size=(n_factors, n_agents))
    scores = 50 + 15 * factors @ loadings / np.sqrt(n_factors) + rng.normal(0, 8, size=(n_items, n_agents))
    target = (
        50 + 15 * factors @ rng.normal(size=n_factors) / np.sqrt(n_factors) + rng.normal(0, 5, size=n_items)
    )
    return np.clip(np.round(scores), 0, 100) / 100, np.clip(target, 0, 100) / 100


def dense_panel(rng, n_items, n_agents, share=0.65, noise=0.01):
    scores = rng.uniform(0, 1, size=(n_items, n_agents))
    weights = np.zeros(n_agents)
    active = rng.permutation(n_agents)[: int(round(share * n_agents))]
    weights[active] = rng.uniform(0.5, 1.5, size=len(active))
    return scores, scores @ (weights / weights.sum()) + rng.normal(0, noise, size=n_items)


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def previous_grid(revision):
    """The module avc/fitting/grid.py as it was at ``revision`` (it imports nothing of avc)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/avc/fitting/grid.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "grid_previous.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("grid_previous", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grid_inputs(X, y, n_perms, seed=0):
    rng = np.random.default_rng(seed)
    folds = random_folds(len(y), 5, rng)
    perms = np.array([rng.permutation(X.shape[1]) for _ in range(n_perms)], dtype=np.int64)
    with one_blas_thread():
        g = fold_grams(X, y, folds, False)
    arrays = (g["G"], g["b"], g["H"], g["c"], g["yy_tr"], g["yy_te"], g["n_tr"], g["n_te"])
    paths = (np.repeat(np.arange(5), n_perms), perms, np.tile(np.arange(n_perms), 5))
    return (*arrays, *paths, np.arange(1, X.shape[1] + 1, dtype=np.int64))


def part_grid(args):
    from avc.fitting import grid

    old = previous_grid(args.previous) if args.previous else None
    print(
        f"1. the compiled grid: K = 1..100, {args.perms} permutations x 5 folds, NNLS and simplex, 1,000 items"
    )
    print(
        "panel   NNLS keeps  alignment_curve s (cpu)   grid paths s (cpu)"
        + ("   previous grid s (cpu)" if old else "")
    )
    for kind, make in (("sparse", sparse_panel), ("dense", dense_panel)):
        X, y = make(np.random.default_rng(1), 1000, 100)
        inputs = grid_inputs(X, y, args.perms)
        empty = np.zeros((0, 0, 0))
        modules = [grid] + ([old] if old else [])
        for module in modules:  # compile or load the cache first
            module.grid_paths(*inputs, False, empty)
        curve_times, grid_times, old_times = [], [], []
        for _ in range(args.repeats):
            curve, wall, cpu = timed(alignment_curve, X, y, n_perms=args.perms, n_folds=5, seed=0)
            curve_times.append((wall, cpu))
            new, wall, cpu = timed(both_paths, grid, inputs)
            grid_times.append((wall, cpu))
            if old:
                before, wall, cpu = timed(both_paths, old, inputs)
                old_times.append((wall, cpu))
                gap = max(np.abs(np.stack(a) - np.stack(b)).max() for a, b in zip(new, before))
                assert gap < 1e-9, f"the grids disagree by {gap}"
        keeps = curve[curve.K == 100].query("method == 'NNLS'").nonzero.mean()
        line = f"{kind:7s} {keeps:10.1f}  {_median(curve_times):>24s}   {_median(grid_times):>18s}"
        print(line + (f"   {_median(old_times):>21s}" if old else ""))
        if old:
            print(f"        the two grids agree to {gap:.1e} on every path")


def both_paths(module, inputs):
    """The NNLS and the simplex paths of every (fold, permutation)."""
    empty = np.zeros((0, 0, 0))
    return [module.grid_paths(*inputs, simplex, empty) for simplex in (False, True)]


def _median(times):
    wall, cpu = np.median(np.array(times), axis=0)
    return f"{wall:6.2f} ({cpu:5.2f})"


def part_audit(args):
    sizes = [(n, 100) for n in args.items] + [(1000, k) for k in args.agents if k != 100]
    if args.corner:
        sizes.append((10000, 300))
    print(
        f"\n2. one target's audit, by part: 5 folds, 10 splits, {args.boot} resamples, 20 orders; seconds (cpu)"
    )
    header = (
        "items  agents panel  keeps   ε LPs        fixed gains  refit boot    curve        diversity    total"
    )
    print(header)
    for n_items, n_agents in sizes:
        for kind, make in (("sparse", sparse_panel), ("dense", dense_panel)):
            X, y = make(np.random.default_rng(2), n_items, n_agents)
            folds = random_folds(n_items, 5, np.random.default_rng(0))
            keeps = int((fit_nnls(X[np.concatenate(folds[1:])], y[np.concatenate(folds[1:])]) > 1e-6).sum())
            parts = [
                timed(panel_audit.eps_audit, X, y, folds)[1:],
                timed(gain_intervals, X, y, AUDIT_PAIRS, 5, 10, args.boot, refit=False)[1:],
                timed(refit_gain_draws, X, y, AUDIT_PAIRS, args.boot, 5)[1:],
                timed(
                    alignment_curve,
                    X,
                    y,
                    ks=panel_audit.curve_ks(n_agents),
                    n_perms=20,
                    fold_split="per_permutation",
                )[1:],
                timed(diversity_summary, X, y)[1:],
            ]
            total = np.sum(parts, axis=0)
            cells = "  ".join(f"{w:5.1f} ({c:4.1f})" for w, c in [*parts, total])
            print(f"{n_items:5d}  {n_agents:6d} {kind:6s} {keeps:5d}   {cells}")
            sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previous", help="also time the grid of this git revision (e.g. d3ff5e2~1)")
    parser.add_argument("--perms", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--agents", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--corner", action="store_true", help="add the 10,000 x 300 panel")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-audit", action="store_true")
    args = parser.parse_args()
    if not args.skip_grid:
        part_grid(args)
    if not args.skip_audit:
        part_audit(args)


if __name__ == "__main__":
    main()
