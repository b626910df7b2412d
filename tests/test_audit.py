"""avc.fitting.audit on targets with known answers."""

import numpy as np
import pandas as pd
import pytest

from avc.fitting.audit import audit, constant_eps, held_out_eps


def panel(rng, n_items=60, n_agents=6):
    return pd.DataFrame(
        rng.uniform(0, 1, size=(n_items, n_agents)), columns=[f"p{i}" for i in range(n_agents)]
    )


def test_target_inside_the_hull_has_zero_error_in_and_out_of_sample():
    rng = np.random.default_rng(0)
    scores = panel(rng)
    weights = np.array([0.5, 0.3, 0.2, 0, 0, 0])
    target = scores.to_numpy() @ weights + 0.1
    result = audit(scores, target, n_splits=10)
    assert result.eps < 1e-9 and result.eps_holdout < 1e-8 and result.eps_holdout_range[1] < 1e-8
    assert result.eps_constant == pytest.approx((target.max() - target.min()) / 2)
    assert np.isclose(result.offset, 0.1, atol=1e-6)
    assert list(result.carriers.index) == ["p0", "p1", "p2"]
    assert result.mse["simplex"] < 1e-12 and result.mse_holdout["simplex"] < 1e-12
    assert result.mse["constant"] == pytest.approx(target.var())


def test_a_target_the_agents_know_nothing_about_is_no_better_than_a_constant_held_out():
    rng = np.random.default_rng(1)
    scores = panel(rng, n_items=80, n_agents=20)
    target = rng.uniform(0, 1, size=80)  # independent of every agent
    result = audit(scores, target, n_splits=20)
    assert result.eps <= result.eps_constant + 1e-9  # in-sample the hull (with its offset) can only help
    assert result.eps_holdout >= 0.8 * result.eps_constant_holdout  # held out it does not
    assert result.mse_holdout["NNLS"] > result.mse["NNLS"]  # in-sample fit is optimistic
    low, high = result.eps_holdout_range
    assert low <= result.eps_holdout <= high
    table = result.summary()
    assert table.shape == (7, 2) and table.loc["ε, hull (simplex + offset)", "on all items"] == pytest.approx(
        result.eps
    )


def test_constant_and_held_out_eps_directly():
    y = np.array([0.0, 1.0, 4.0, 2.0])
    assert constant_eps(y) == 2.0
    assert constant_eps(y[:2], y[2:]) == pytest.approx(3.5)  # midrange 0.5 of the first two, worst on 4
    X = np.column_stack([y, 2 * y])
    assert held_out_eps(X, y, np.array([0, 1, 2]), np.array([3])) < 1e-8


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="must be finite"):
        audit(np.array([[np.nan, 1.0]] * 5), np.ones(5))
    with pytest.raises(ValueError, match="at least 4 items"):
        audit(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="n_splits"):
        audit(np.ones((6, 2)), np.arange(6.0), n_splits=0)
