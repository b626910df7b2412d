"""avc.fitting against brute-force support enumeration, KKT conditions, a slow direct protocol and
the reference implementation of the grid (alignment_curve_reference) on the committed panels."""

import itertools

import numpy as np
import pandas as pd
import pytest
from grid_path import solve_path
from reference_curves import alignment_curve_reference
from scipy.optimize import lsq_linear, nnls

from avc.fitting.curves import alignment_curve
from avc.fitting.fits import METHODS, REFERENCE_METHODS, active_set_qp, fit_nnls, fit_simplex

pytestmark = pytest.mark.timeout(60)


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
        assert float(np.sum((X @ w - y) ** 2)) == pytest.approx(
            brute_force(X, y, simplex), rel=1e-9, abs=1e-9
        )


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


def rescaled_single_fit(a, t, intercept):
    """Each agent alone: its best non-negative scale (and a free offset with ``intercept``), by
    scipy's bounded least squares on the raw columns, not by the Gram matrices of avc.fitting."""
    if intercept:
        fit = lsq_linear(
            np.column_stack([a, np.ones_like(a)]),
            t,
            bounds=([0.0, -np.inf], [np.inf, np.inf]),
            tol=1e-14,
            method="bvls",
        )
        return fit.x[0], fit.x[1]
    return nnls(a[:, None], t)[0][0], 0.0


def slow_alignment_curve(X, y, ks, n_perms, n_folds, seed, intercept, fold_split="shared"):
    """The protocol written out directly: fit on the training rows, score on the test rows."""
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(len(y)), n_folds)
    perms = [rng.permutation(X.shape[1]) for _ in range(n_perms)]
    splits = (
        [np.array_split(rng.permutation(len(y)), n_folds) for _ in range(n_perms)]
        if fold_split != "shared"
        else None
    )
    rows = []
    for p, perm in enumerate(perms):
        for K in ks:
            cols = perm[:K]
            acc = {m: np.zeros(4) for m in METHODS}
            for test in folds if splits is None else splits[p]:
                train = np.setdiff1d(np.arange(len(y)), test)
                A, t = X[np.ix_(train, cols)], y[train]
                B, u = X[np.ix_(test, cols)], y[test]
                xm, ym = (A.mean(axis=0), t.mean()) if intercept else (np.zeros(K), 0.0)
                fits = {  # method: (weights, offset)
                    "best single agent": np.eye(K)[
                        np.argmin(((A - xm - (t - ym)[:, None]) ** 2).mean(axis=0))
                    ],
                    "simple average": np.full(K, 1 / K),
                    "NNLS": fit_nnls(A - xm, t - ym),
                    "simplex": fit_simplex(A - xm, t - ym),
                }
                fits = {m: (w, ym - xm @ w) for m, w in fits.items()}
                fits["constant"] = (np.zeros(K), t.mean())
                singles = [rescaled_single_fit(A[:, j], t, intercept) for j in range(K)]
                errors = [np.mean((s * A[:, j] + c - t) ** 2) for j, (s, c) in enumerate(singles)]
                best = int(np.argmin(errors))
                fits["rescaled best single agent"] = (singles[best][0] * np.eye(K)[best], singles[best][1])
                constant_mse = np.mean((u - t.mean()) ** 2)
                for m, (w, offset) in fits.items():
                    held_out = np.mean((B @ w + offset - u) ** 2)
                    acc[m] += [
                        held_out,
                        1 - held_out / constant_mse,
                        np.sum(w > 1e-6),
                        np.mean((A @ w + offset - t) ** 2),
                    ]
            rows += [
                dict(K=K, method=m, permutation=p, mse=v[0], r2=v[1], nonzero=v[2], train_mse=v[3])
                for m, v in ((m, a / n_folds) for m, a in acc.items())
            ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("fold_split", ["shared", "per_permutation"])
@pytest.mark.parametrize("intercept", [False, True])
def test_alignment_curve_matches_a_slow_direct_implementation(intercept, fold_split):
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 100, size=(90, 9))
    y = X[:, :3] @ np.array([0.5, 0.3, 0.2]) + rng.normal(0, 4, size=90) + (7 if intercept else 0)
    X[:, 4] = 0.2 * X[:, 1] + 60  # an agent that needs a scale well below 1 (and an offset)
    ks = [1, 2, 4, 9]
    fast = alignment_curve(
        X, y, ks=ks, n_perms=3, n_folds=3, seed=4, intercept=intercept, fold_split=fold_split
    )
    slow = slow_alignment_curve(
        X, y, ks, n_perms=3, n_folds=3, seed=4, intercept=intercept, fold_split=fold_split
    )
    assert list(fast.columns) == ["K", "method", "permutation", "mse", "r2", "train_mse", "nonzero"]
    merged = fast.merge(slow, on=["K", "method", "permutation"], suffixes=("_fast", "_slow"))
    assert len(merged) == len(slow) == len(fast) == 3 * 4 * len(METHODS)
    for column in ("mse", "r2", "train_mse"):
        assert np.allclose(merged[column + "_fast"], merged[column + "_slow"], rtol=1e-7, atol=1e-9), column
    assert np.allclose(merged.nonzero_fast, merged.nonzero_slow)
    # in-sample, the constrained fits contain every single agent (and NNLS contains the simplex);
    # NNLS contains the rescaled agent, and (with an offset, or a target fitted through the
    # origin) the rescaled agent is no worse than the raw one
    top = fast[fast.K == 9].pivot_table(index="permutation", columns="method", values="train_mse")
    assert (top["NNLS"] <= top["simplex"] + 1e-9).all() and (
        top["simplex"] <= top["best single agent"] + 1e-9
    ).all()
    assert (top["NNLS"] <= top["rescaled best single agent"] + 1e-9).all()
    assert (top["rescaled best single agent"] <= top["best single agent"] + 1e-9).all()
    assert (fast.loc[fast.method == "constant", "r2"] == 0).all()


def test_per_permutation_splits_differ_and_shared_split_is_todays():
    rng = np.random.default_rng(2)
    X, y = rng.uniform(size=(40, 5)), rng.uniform(size=40)
    shared = alignment_curve(X, y, n_perms=4, n_folds=4, seed=1)
    fresh = alignment_curve(X, y, n_perms=4, n_folds=4, seed=1, fold_split="per_permutation")
    const = lambda frame: frame[frame.method == "constant"].groupby("permutation").mse.first()  # noqa: E731
    assert (
        const(shared).nunique() == 1 and const(fresh).nunique() == 4
    )  # the split changes the constant's error
    reference = alignment_curve_reference(X, y, n_perms=4, n_folds=4, seed=1)
    merged = shared.merge(reference, on=["K", "method", "permutation"])
    assert len(merged) == len(reference) and np.allclose(merged.mse_x, merged.mse_y, rtol=0, atol=1e-12)


def test_alignment_curve_rejects_missing_scores_and_bad_ks():
    X = np.ones((10, 3))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="drop the items with missing scores"):
        alignment_curve(X, np.ones(10))
    with pytest.raises(ValueError, match="every K"):
        alignment_curve(np.ones((10, 3)), np.ones(10), ks=[4])


def test_alignment_curve_rejects_bad_options():
    with pytest.raises(ValueError, match="fold_split"):
        alignment_curve(np.ones((10, 3)), np.ones(10), fold_split="fresh")
    with pytest.raises(ValueError, match="n_perms"):
        alignment_curve(np.ones((10, 3)), np.ones(10), n_perms=0)


def path_weights(X, y, perm, simplex, ks=None):
    """The grid's weights along one path (one fold set: all rows train, none test), in the
    original agent order: ``out[i]`` is the optimum over agents ``perm[:ks[i]]``."""
    path = solve_path(X, y, simplex, perm, ks)
    return path.ks, path.weights


@pytest.mark.parametrize("simplex", [False, True])
def test_grid_paths_match_brute_force_at_every_k(simplex):
    rng = np.random.default_rng(21 + simplex)
    for _ in range(25):
        n, k = int(rng.integers(8, 30)), int(rng.integers(1, 7))
        X = rng.normal(size=(n, k))
        y = rng.normal(size=n) + X @ rng.uniform(-1, 1, size=k)
        perm = rng.permutation(k)
        ks, weights = path_weights(X, y, perm, simplex)
        for K, w in zip(ks, weights):
            cols = perm[:K]
            assert np.all(w >= 0) and np.all(w[perm[K:]] == 0)
            assert not simplex or np.isclose(w.sum(), 1.0)
            expected = brute_force(X[:, cols], y, simplex)
            assert float(np.sum((X @ w - y) ** 2)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("simplex", [False, True])
def test_grid_paths_satisfy_kkt_including_near_duplicates(simplex):
    rng = np.random.default_rng(31 + simplex)
    for trial in range(6):
        X = rng.uniform(0, 100, size=(800, 100))
        if trial % 2:
            X[:, 50:] = X[:, :50] + 1e-6 * rng.normal(size=(800, 50))  # near-duplicate agents
        if trial == 5:
            X[:, 90:] = X[:, 10:20]  # exact duplicates as well
        y = X[:, :7] @ rng.dirichlet(np.ones(7)) + rng.normal(0, 5, size=800)
        perm = rng.permutation(100)
        ks, weights = path_weights(X, y, perm, simplex, ks=[1, 5, 20, 60, 100])
        for K, w in zip(ks, weights):
            cols = perm[:K]
            assert kkt_violation(X[:, cols], y, w[cols], simplex) < 1e-7
            # against scipy's nnls on the raw matrix, and the active-set method of fit_simplex; near-
            # duplicates differ by 1e-6 on a 0-100 scale, below what a Gram matrix resolves (its
            # Schur complement is 1e-16 of the agent's norm): the paths then leave the duplicate at
            # zero, within 1e-7 of the best objective (the tolerance of the tests above)
            rel = 1e-7 if trial % 2 else 1e-10
            ref = nnls(X[:, cols], y)[0] if not simplex else fit_simplex(X[:, cols], y)
            assert np.sum((X @ w - y) ** 2) <= np.sum((X[:, cols] @ ref - y) ** 2) * (1 + rel)


def test_grid_equals_reference_on_exact_duplicate_agents():
    rng = np.random.default_rng(41)
    X = rng.uniform(size=(60, 8))
    X[:, 6:] = X[:, 2:4]  # two agents appear twice: singular Gram matrices
    y = X[:, :3] @ np.array([0.2, 0.5, 0.3]) + rng.normal(0, 0.05, size=60)
    for intercept in (False, True):
        fast = alignment_curve(X, y, n_perms=6, n_folds=3, seed=2, intercept=intercept)
        reference = alignment_curve_reference(X, y, n_perms=6, n_folds=3, seed=2, intercept=intercept)
        merged = fast.merge(reference, on=["K", "method", "permutation"])
        assert len(merged) == len(reference)
        # the weights are not unique, but the fitted values are, on the training and the test
        # rows alike (the duplicates are duplicates there too)
        for column in ("mse", "train_mse"):
            assert np.allclose(merged[column + "_x"], merged[column + "_y"], rtol=1e-9, atol=1e-12), column


@pytest.mark.parametrize("simplex", [False, True])
def test_an_agent_that_scores_every_item_zero_is_handled_exactly(simplex):
    """A persona whose scores are all zero (or all equal, once centred). Its Gram diagonal is 0:
    for NNLS it is dependent on any support and must stay at weight zero, not join with a zero
    pivot. On the simplex it is a real option (it pulls every prediction towards 0) and may join."""
    rng = np.random.default_rng(51 + simplex)
    X = rng.normal(size=(25, 5))
    X[:, 2] = 0.0
    y = X @ np.array([0.3, 0.2, 0.0, 0.5, 0.0]) + rng.normal(0, 0.1, size=25)
    for perm in ([2, 0, 1, 3, 4], [0, 1, 2, 3, 4], [4, 3, 0, 1, 2]):
        ks, weights = path_weights(X, y, perm, simplex)
        assert np.isfinite(weights).all()
        for K, w in zip(ks, weights):
            cols = np.asarray(perm[:K])
            assert simplex or w[2] == 0.0
            expected = brute_force(X[:, cols], y, simplex)
            assert float(np.sum((X @ w - y) ** 2)) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def panel_designs():
    """The three targets of chapter F on the committed panels, as the chapter builds them."""
    from avc.panels import recorded as scoring

    designs = {}
    for domain in ("ethics", "movielens"):
        panel = scoring.load_panel(domain, value="expected_score" if domain == "movielens" else "score")
        items = scoring.load_panel_items(domain).loc[panel.index]
        agents = panel.drop(columns="baseline")
        agents = agents.fillna(agents.median())
        if domain == "movielens":
            designs["movielens"] = (agents.to_numpy() * 5 / 100, items["mean_rating"].to_numpy())
        else:
            designs["ethics labels"] = (agents.to_numpy() / 100, 1.0 - items["label"].to_numpy())
            keep = panel["baseline"].notna().to_numpy()
            designs["ethics baseline"] = (
                agents.to_numpy()[keep] / 100,
                panel["baseline"].to_numpy()[keep] / 100,
            )
    return designs


@pytest.mark.parametrize("intercept", [False, True])
def test_grid_equals_the_reference_on_the_committed_panels(intercept):
    for name, (X, y) in panel_designs().items():
        fast = alignment_curve(X, y, n_perms=2, n_folds=5, seed=3, intercept=intercept)
        reference = alignment_curve_reference(X, y, n_perms=2, n_folds=5, seed=3, intercept=intercept)
        assert set(fast.method) == set(METHODS) and set(reference.method) == set(REFERENCE_METHODS)
        merged = fast.merge(reference, on=["K", "method", "permutation"], suffixes=("", "_reference"))
        assert len(merged) == len(reference) == 2 * X.shape[1] * len(REFERENCE_METHODS)
        for column in ("mse", "train_mse", "nonzero"):
            assert np.abs(merged[column] - merged[column + "_reference"]).max() <= 1e-9, (name, column)


@pytest.mark.parametrize("intercept", [False, True])
def test_fold_grams_by_difference_match_the_direct_ones(intercept):
    from avc.fitting.curves import fold_grams, fold_grams_by_difference
    from avc.fitting.fits import random_folds

    rng = np.random.default_rng(51)
    X, y = rng.uniform(0, 1, size=(103, 7)) + 3.0, rng.uniform(0, 1, size=103) + 2.0  # means far from 0
    splits = [random_folds(103, 4, rng) for _ in range(3)]
    direct = [fold_grams(X, y, split, intercept) for split in splits]
    fast = fold_grams_by_difference(X, y, splits, intercept)
    for key in direct[0]:
        expected = np.concatenate([d[key] for d in direct])
        assert np.allclose(fast[key], expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max()), key


# --- the active-set method at its tolerances, its path and its shortcuts ------------------------


def test_kkt_tolerance_is_1e_10_on_the_scale_of_max_1_G_b():
    # scale max(1, |G|, |b|) = 1: a multiplier of exactly -1e-10 is optimal, -1.5e-10 is not
    G = np.diag([1.0, 0.5])
    assert active_set_qp(G, np.array([1.0, 1e-10])).tolist() == [1.0, 0.0]
    assert active_set_qp(G, np.array([1.0, 1.5e-10]))[1] == pytest.approx(3e-10, rel=1e-9)
    # a small problem keeps the scale 1: a multiplier of -5e-11 is optimal there too
    small = active_set_qp(G * 1e-3, np.array([1e-3, 5e-11]))
    assert small.tolist() == [1.0, 0.0]


def test_the_grid_keeps_the_same_tolerance_scale_on_a_small_problem():
    # as active_set_qp: agents on 0-0.001 (G = 1e-6 I) keep the scale max(1, |G|, |b|) = 1, so
    # agent 1's multiplier of -1e-12 is within the tolerance and it stays out; on the scale of G
    # alone (1e-6, a tolerance of 1e-16) it would join with weight 1e-6
    X, y = 1e-3 * np.eye(3), np.array([1e-3, 1e-9, 1e-3])
    ks, weights = path_weights(X, y, np.arange(3), simplex=False)
    assert weights == pytest.approx(np.array([[1, 0, 0], [1, 0, 0], [1, 0, 1]]), rel=1e-12, abs=0)


def test_a_free_weight_at_the_tolerance_is_dropped():
    # warm start on both agents; the second one's weight on the free set is exactly 1e-10 (= tol)
    w = active_set_qp(np.eye(2), np.array([1.0, 1e-10]), w0=np.array([0.5, 0.5]))
    assert w.tolist() == [1.0, 0.0]


def recorded_subsolves(monkeypatch):
    """The free sets of every sub-problem the active-set method solves, in order."""
    from avc.fitting import fits

    calls, solve = [], fits._subsolve

    def spy(g, b, simplex):
        calls.append(len(b))
        return solve(g, b, simplex)

    monkeypatch.setattr(fits, "_subsolve", spy)
    return calls


def test_the_step_stops_at_the_first_weight_to_reach_zero(monkeypatch):
    # from (1/3, 1/3, 1/3) toward z = b = (1, -1, -2): the third weight reaches zero first (step
    # 1/7; the second would at 1/4), so it alone is dropped; then the second, then the optimum
    calls = recorded_subsolves(monkeypatch)
    w = active_set_qp(np.eye(3), np.array([1.0, -1.0, -2.0]), w0=np.full(3, 1 / 3))
    assert w.tolist() == [1.0, 0.0, 0.0]
    assert calls == [3, 2, 1]


def test_the_simplex_starts_at_the_best_single_agent():
    # agent 0 is the target itself, agent 1 ten times it plus noise: the best vertex is agent 0,
    # which is optimal, so one iteration suffices
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 1, 30)
    X = np.column_stack([x0, 10 * x0 + rng.normal(0, 0.1, 30), rng.uniform(0, 1, 30)])
    w = active_set_qp(X.T @ X, X.T @ x0, simplex=True, max_iter=1)
    assert w.tolist() == [1.0, 0.0, 0.0]


def test_an_exactly_singular_block_is_solved_by_least_squares():
    # agents 0 and 1 are the same (a singular Gram block, which np.linalg.solve refuses): with the
    # simplex the unconstrained optimum puts 1.25 on them and -0.25 on agent 2, so agent 2 is
    # dropped and the pair shares the weight; without it, the minimum-norm solution splits it
    G = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    b = np.array([2.0, 2.0, 0.5])
    simplex = active_set_qp(G, b, simplex=True, w0=np.full(3, 1 / 3))
    assert simplex == pytest.approx([0.5, 0.5, 0.0], abs=1e-12)
    cone = active_set_qp(G, b, w0=np.full(3, 1 / 3))
    assert cone == pytest.approx([1.0, 1.0, 0.5], abs=1e-12)


def test_a_stall_on_the_first_variable_is_caught(monkeypatch):
    """A sub-solver that always drops agent 0 when it is not alone: agent 0 is freed, dropped at
    once with nothing moved, and then left out (agent 0 has index 0, the first there is)."""
    from avc.fitting import fits

    solve = fits._subsolve

    def refuses_agent_0(g, b, simplex):
        z, nu = solve(g, b, simplex)
        if len(b) > 1:
            z = z.copy()
            z[0] = -1.0  # agent 0 is the first of any free set holding it (here: every one)
        return z, nu

    monkeypatch.setattr(fits, "_subsolve", refuses_agent_0)
    assert fits.active_set_qp(np.eye(2), np.array([1.0, 2.0])).tolist() == [0.0, 2.0]


def test_the_default_outer_cap_is_3n_plus_30(monkeypatch):
    """A sub-solver that never settles (the last free agent always negative, the others moving a
    little each time): nothing stalls, so only the cap stops it."""
    from avc.fitting import fits

    solve, calls = fits._subsolve, []

    def restless(g, b, simplex):
        calls.append(1)
        z, nu = solve(g, b, simplex)
        z = z * (1 + 1e-6 * len(calls))
        if len(b) > 1:
            z[-1] = -1.0
        return z, nu

    monkeypatch.setattr(fits, "_subsolve", restless)
    with pytest.raises(RuntimeError, match=r"no optimum after max_iter = 39 iterations \(the cap, for 3 "):
        fits.active_set_qp(np.eye(3), np.ones(3))


def no_solver(monkeypatch):
    """Make any call of the full active-set method or a sub-solve an error."""
    from avc.fitting import fits

    def refuse(*args, **kwargs):
        raise AssertionError("the shortcut was not taken")

    monkeypatch.setattr(fits, "active_set_qp", refuse)
    monkeypatch.setattr(fits, "_subsolve", refuse)


@pytest.mark.parametrize("simplex", [False, True])
def test_add_agent_keeps_the_previous_optimum_for_one_row_of_G(monkeypatch, simplex):
    from avc.fitting.fits import add_agent

    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, size=(50, 3))
    y = X @ np.array([0.6, 0.4, 0.0])  # in the hull of the first two agents
    X[:, 2] = -X[:, 2] - 5.0  # an agent against the target: weight zero
    X = np.column_stack([X, -X[:, 1] - 5.0])  # another one joins last
    G, b = X.T @ X, X.T @ y
    previous = active_set_qp(G[:3, :3], b[:3], simplex=simplex)
    assert previous[2] == 0.0  # a zero weight in the previous optimum: it is not in the support
    expected = active_set_qp(G, b, simplex=simplex)
    no_solver(monkeypatch)
    w = add_agent(G, b, previous, simplex=simplex)
    assert np.array_equal(w, np.append(previous, 0.0)) and np.allclose(w, expected, atol=1e-12)


@pytest.mark.parametrize("simplex", [False, True])
def test_add_agent_lets_a_useful_agent_join_without_the_full_method(monkeypatch, simplex):
    from avc.fitting.fits import add_agent

    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, size=(50, 3))
    y = X @ np.array([0.5, 0.3, 0.2]) + rng.normal(0, 0.01, 50)
    G, b = X.T @ X, X.T @ y
    previous = active_set_qp(G[:2, :2], b[:2], simplex=simplex)
    expected = active_set_qp(G, b, simplex=simplex)
    assert np.all(previous > 0) and np.all(expected > 0)
    no_solver_but_subsolve(monkeypatch)
    assert np.allclose(add_agent(G, b, previous, simplex=simplex), expected, atol=1e-12)
    first = add_agent(G[:1, :1], b[:1], np.zeros(0), simplex=simplex)  # K = 1: the full method
    assert np.allclose(first, [1.0] if simplex else [b[0] / G[0, 0]])


def no_solver_but_subsolve(monkeypatch):
    """Make a call of the full active-set method with a warm start an error (K = 1 may call it)."""
    from avc.fitting import fits

    full = fits.active_set_qp

    def only_cold(G, b, simplex=False, w0=None, **kwargs):
        if w0 is not None:
            raise AssertionError("the shortcut was not taken")
        return full(G, b, simplex=simplex, **kwargs)

    monkeypatch.setattr(fits, "active_set_qp", only_cold)


def test_add_agent_at_its_tolerance():
    from avc.fitting.fits import add_agent

    # the new agent's multiplier is exactly -1e-10 (scale 1): the previous optimum stays
    G = np.diag([1.0, 0.5])
    assert add_agent(G, np.array([1.0, 1e-10]), np.array([1.0]), simplex=False).tolist() == [1.0, 0.0]
    # -1.5e-10 is beyond it: the agent joins
    joined = add_agent(G, np.array([1.0, 1.5e-10]), np.array([1.0]), simplex=False)
    assert joined[1] == pytest.approx(3e-10, rel=1e-9)
    # the scale is max(1, |G|, |b|): 2 here, so -2e-10 is within it; 1 for a small problem
    G2 = np.diag([2.0, 1.0])
    assert add_agent(G2, np.array([2.0, 2e-10]), np.array([1.0]), simplex=False).tolist() == [1.0, 0.0]
    small = add_agent(G * 1e-3, np.array([1e-3, 5e-11]), np.array([1.0]), simplex=False)
    assert small.tolist() == [1.0, 0.0]


def test_check_xy_and_random_folds_at_their_boundaries():
    from avc.fitting.fits import check_xy, random_folds

    with pytest.raises(ValueError, match=r"X must be \(n_items, n_agents\)"):
        check_xy(np.ones((4, 2)), np.ones(3))  # a 2-D X, a y of the wrong length
    with pytest.raises(ValueError, match=r"X must be \(n_items, n_agents\)"):
        check_xy(np.ones(4), np.ones(4))
    rng = np.random.default_rng(0)
    for n_folds in (2, 7):  # 2 and n_items are allowed
        folds = random_folds(7, n_folds, rng)
        assert len(folds) == n_folds and sorted(np.concatenate(folds).tolist()) == list(range(7))
        assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for n_folds in (1, 8):
        with pytest.raises(ValueError, match="n_folds must be between 2 and the number of items"):
            random_folds(7, n_folds, rng)
    again = random_folds(10, 3, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(again, random_folds(10, 3, np.random.default_rng(5))))


def test_the_sub_solve_uses_least_squares_only_for_a_singular_block(monkeypatch):
    # a generic problem is solved by np.linalg.solve alone (the bordered least-squares system is
    # the fallback for singular blocks: slower, and not needed here)
    def refuse(*args, **kwargs):
        raise AssertionError("lstsq called on a non-singular block")

    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(40, 5))
    y = X @ rng.dirichlet(np.ones(5))
    expected = fit_simplex(X, y)
    monkeypatch.setattr(np.linalg, "lstsq", refuse)
    assert np.array_equal(fit_simplex(X, y), expected)
    fit_nnls(X, y)


def test_alignment_curve_defaults_are_the_papers_protocol():
    # 100 permutations, 5 folds, seed 0, every K, no offset, one shared fold split
    rng = np.random.default_rng(6)
    X, y = rng.uniform(size=(30, 3)), rng.uniform(size=30)
    default = alignment_curve(X, y)
    explicit = alignment_curve(
        X, y, ks=[1, 2, 3], n_perms=100, n_folds=5, seed=0, intercept=False, fold_split="shared"
    )
    pd.testing.assert_frame_equal(default, explicit)
    assert default.permutation.nunique() == 100 and sorted(default.K.unique()) == [1, 2, 3]


def test_agent_counts_at_their_boundaries():
    from avc.fitting.curves import agent_counts

    assert agent_counts(None, 3) == [1, 2, 3]
    assert agent_counts([3, 1, 3], 3) == [1, 3]  # sorted, each once
    assert agent_counts([1], 1) == [1]
    for ks, shown in (([0, 2], "0..2"), ([1, 4], "1..4"), ([], "None..None")):
        with pytest.raises(ValueError, match=f"every K must lie in 1..3; got {shown}"):
            agent_counts(ks, 3)


def test_fold_grams_by_difference_stay_accurate_far_from_zero():
    # the columns are centred on the panel's means first, so the rank-one corrections cancel little:
    # with means near 1000 the Gram matrices still agree with the direct ones to 1e-10 of their size
    from avc.fitting.curves import fold_grams, fold_grams_by_difference
    from avc.fitting.fits import random_folds

    rng = np.random.default_rng(51)
    X, y = rng.uniform(0, 1, size=(103, 7)) + 1e3, rng.uniform(0, 1, size=103) + 1e3
    splits = [random_folds(103, 4, rng) for _ in range(3)]
    direct = [fold_grams(X, y, split, True) for split in splits]
    fast = fold_grams_by_difference(X, y, splits, True)
    for key in ("G", "b", "yy_tr", "H", "c", "yy_te"):
        expected = np.concatenate([d[key] for d in direct])
        assert np.abs(fast[key] - expected).max() <= 1e-10 * np.abs(expected).max(), key


def test_running_argmin_keeps_the_first_of_equal_values():
    from avc.fitting.curves import _running_argmin

    values = np.array([[3.0, 3.0, 1.0, 1.0, 2.0], [1.0, 2.0, 1.0, 0.5, 0.5]])
    assert _running_argmin(values).tolist() == [[0, 0, 2, 2, 2], [0, 0, 0, 3, 3]]


def method_rows(frame, method):
    return frame[frame.method == method]


def test_rescaled_best_single_agent_at_its_edges():
    rng = np.random.default_rng(9)
    y = rng.uniform(1, 2, 40)
    # a silent agent (all zeros) is the best raw agent; a hundredfold copy of the target is the
    # best rescaled one (scale 1/100, a perfect fit): its scale is what the support size counts
    X = np.column_stack([np.zeros(40), 100 * y])
    curve = alignment_curve(X, y, ks=[2], n_perms=2, n_folds=4, seed=0)
    rescaled = method_rows(curve, "rescaled best single agent")
    assert np.allclose(rescaled.mse, 0.0, atol=1e-12) and (rescaled.nonzero == 1.0).all()
    assert np.allclose(method_rows(curve, "best single agent").mse, np.mean(y**2), rtol=0.2)
    # the silent agent against one that only hurts (scale 0): the two tie; either has no weight
    X = np.column_stack([np.zeros(40), -y])
    curve = alignment_curve(X, y, ks=[1, 2], n_perms=6, n_folds=4, seed=1)
    rescaled = method_rows(curve, "rescaled best single agent")
    assert (rescaled.nonzero == 0.0).all() and np.all(np.isfinite(curve.mse))
    # on a small scale (Gram diagonals far below 1) the scales are still fitted
    rng = np.random.default_rng(10)
    X = rng.uniform(0, 0.01, size=(30, 3))
    y = X @ np.array([0.7, 0.2, 0.1]) * 3.0
    fast = alignment_curve(X, y, ks=[1, 3], n_perms=2, n_folds=3, seed=2)
    slow = slow_alignment_curve(X, y, [1, 3], n_perms=2, n_folds=3, seed=2, intercept=False)
    merged = fast.merge(slow, on=["K", "method", "permutation"], suffixes=("_fast", "_slow"))
    assert len(merged) == len(slow)
    assert np.allclose(merged.mse_fast, merged.mse_slow, rtol=1e-7, atol=1e-15)
    assert np.allclose(merged.nonzero_fast, merged.nonzero_slow)


def test_alignment_curve_with_one_permutation():
    rng = np.random.default_rng(11)
    X, y = rng.uniform(size=(20, 3)), rng.uniform(size=20)
    curve = alignment_curve(X, y, n_perms=1, n_folds=2)
    assert curve.permutation.unique().tolist() == [0] and len(curve) == 3 * len(METHODS)


def test_grid_paths_on_a_small_scale_mix_agents_exactly():
    # Gram diagonals far below 1 (agents on 0-0.01), a target in the agents' hull: the simplex
    # path must mix them, from a start whose factor is the square root of a small diagonal
    rng = np.random.default_rng(12)
    X = rng.uniform(0, 0.01, size=(30, 4))
    y = X @ np.array([0.5, 0.3, 0.2, 0.0])
    for simplex in (False, True):
        ks, weights = path_weights(X, y, np.arange(4), simplex)
        for K, w in zip(ks, weights):
            expected = brute_force(X[:, :K], y, simplex)
            assert float(np.sum((X @ w - y) ** 2)) == pytest.approx(expected, rel=1e-9, abs=1e-24)
        assert weights[-1] == pytest.approx([0.5, 0.3, 0.2, 0.0], abs=1e-9)


def test_grid_paths_leave_out_an_agent_within_the_kkt_tolerance():
    # orthogonal agents; agent 1's multiplier is -0.5e-10, within the tolerance (1e-10 on this
    # scale): it stays out when it enters the path, and at the full check after agent 2 joins
    y = np.array([1.0, 0.5e-10, 1.0])
    ks, weights = path_weights(np.eye(3), y, np.arange(3), simplex=False)
    assert weights.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
    # exactly at the tolerance (a multiplier of -1e-10, computed without rounding): the KKT
    # conditions count as met, at the new agent's own test and at the full scan after agent 2
    y = np.array([1.0, 1e-10, 1.0])
    ks, weights = path_weights(np.eye(3), y, np.arange(3), simplex=False)
    assert weights.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0]]


@pytest.mark.parametrize("simplex", [False, True])
def test_a_near_duplicate_below_the_gram_resolution_never_joins_its_twin(simplex):
    """Agent 3 is agent 0 moved by 1e-5 along a direction the target follows: it violates the KKT
    conditions (its multiplier is about -2e-3, the tolerance 7e-5), but its Schur complement is
    3e-14 of its diagonal, below 1e-13: numerically in the span of the support, so the twin that
    comes second in the order stays at weight zero at every K (the exact optimum, scipy's nnls on
    all four, puts the weight on agent 3 instead of agent 0)."""
    rng = np.random.default_rng(61)
    X = rng.uniform(0, 100, size=(200, 4))
    direction = rng.normal(size=200)
    X[:, 3] = X[:, 0] + 1e-5 * direction
    y = X[:, :3] @ np.array([0.5, 0.3, 0.2]) + direction
    for perm in ([0, 1, 2, 3], [3, 1, 0, 2], [1, 2, 3, 0]):
        ks, weights = path_weights(X, y, perm, simplex)
        for K, w in zip(ks, weights):
            second = max((0, 3), key=perm.index)
            assert w[second] == 0.0, (perm, K, w)
            cols = np.asarray(perm[:K])
            ref = nnls(X[:, cols], y)[0] if not simplex else fit_simplex(X[:, cols], y)
            # leaving the twin out costs what its unresolved part would have fitted: 1e-5 of the
            # objective here, more than the rounding-level loss of near-duplicates at 1e-6 of the scale
            assert np.sum((X @ w - y) ** 2) <= np.sum((X[:, cols] @ ref - y) ** 2) * (1 + 1e-4)


def test_grid_paths_count_a_weight_as_nonzero_only_above_1e_6():
    # orthogonal agents: the NNLS weights are the target's entries exactly, 1, 1e-6 (at the
    # threshold, not above it) and 5e-7 (below it, above the tolerance that keeps it in the support)
    path = solve_path(np.eye(3), np.array([1.0, 1e-6, 5e-7]), simplex=False)
    assert path.weights[-1].tolist() == [1.0, 1e-6, 5e-7]
    assert path.nonzero.tolist() == [1.0, 1.0, 1.0]


# How many agents must join within one step of the path (the most over the path), for 40 draws of
# 12 items and 6 agents: the exact Lawson-Hanson steps of the compiled method (a join, a step back to
# the first weight that reaches zero, its drop). A change in those steps changes these counts.
JOINS_NEEDED = {
    False: [1, 1, 1, 1, 2, 2, 1, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 2]
    + [1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 3, 1],
    True: [1] * 17 + [2, 1, 2, 1, 1, 2] + [1] * 17,
}


def capped_path(X, y, simplex, max_steps):
    return solve_path(X, y, simplex, max_steps=max_steps).weights


def test_grid_paths_join_as_few_agents_as_lawson_hanson():
    rng = np.random.default_rng(40)
    draws = [(rng.normal(size=(12, 6)), rng.normal(size=12)) for _ in range(40)]
    for simplex, needed in JOINS_NEEDED.items():
        for (X, y), joins in zip(draws, needed):
            capped_path(X, y, simplex, joins)
            if joins > 1:
                with pytest.raises(RuntimeError, match="iteration cap"):
                    capped_path(X, y, simplex, joins - 1)


def near_duplicate_pairs(seed):
    """17 items, 11 agents: agents 1, 3, ..., 9 are noisy copies of agents 0, 2, ..., 8."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(17, 11))
    X[:, 1::2] = X[:, 0:10:2] + 0.3 * rng.normal(size=(17, 5))
    return X, rng.normal(size=17)


# found by search over 3,000 seeds: on these draws the simplex path drops a weight from inside the
# support (not its last position) while the step goes on, and still needs one join per step. The
# weights must move with the factor's rows when a position is removed: left in place, the next
# step back reads another agent's weight, drops the wrong one and needs a second join.
@pytest.mark.parametrize("seed", [1175, 1403, 1640, 2320])
def test_a_drop_inside_the_support_keeps_one_join_per_step(seed):
    X, y = near_duplicate_pairs(seed)
    weights = capped_path(X, y, True, 1)
    assert np.allclose(weights.sum(axis=1), 1.0) and (weights >= 0).all()
    assert np.allclose(weights, capped_path(X, y, True, 0), atol=1e-12)  # the default cap: the same path


IMPORT_WITHOUT_NUMBA = """
import importlib.util, sys, warnings
sys.modules["numba"] = None  # as if numba were not installed
spec = importlib.util.spec_from_file_location("grid_without_numba", sys.argv[1])
grid = importlib.util.module_from_spec(spec)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    spec.loader.exec_module(grid)  # the importing line
print(len(caught), caught[0].category.__name__, caught[0].filename, caught[0].lineno)
"""


def test_without_numba_the_grid_warns_at_the_line_that_imports_it(tmp_path):
    """The stand-in runs the same maths as plain Python, and the warning names the importer's
    line (importlib's own frames are skipped), not grid.py."""
    import subprocess
    import sys

    import avc.fitting.grid as grid

    script = tmp_path / "importer.py"
    script.write_text(IMPORT_WITHOUT_NUMBA)
    done = subprocess.run(
        [sys.executable, str(script), grid.__file__], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1", "RuntimeWarning", str(script), "8"]
