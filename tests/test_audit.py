"""avc.audit on targets with known answers."""

import numpy as np
import pandas as pd
import pytest

from avc.audit import audit


def panel(rng, n_items=60, n_agents=6):
    return pd.DataFrame(rng.uniform(0, 1, size=(n_items, n_agents)), columns=[f"p{i}" for i in range(n_agents)])


def test_target_inside_the_hull_has_zero_error_and_an_interval_containing_zero():
    rng = np.random.default_rng(0)
    scores = panel(rng)
    weights = np.array([0.5, 0.3, 0.2, 0, 0, 0])
    result = audit(scores, scores.to_numpy() @ weights + 0.1, n_boot=40)
    assert result.eps < 1e-9 and result.eps_interval[0] <= 0 + 1e-9
    assert np.isclose(result.offset, 0.1, atol=1e-6)
    assert list(result.carriers.index) == ["p0", "p1", "p2"]
    assert result.mse["simplex"] < 1e-12 and result.mse_holdout["simplex"] < 1e-12
    assert result.eps_holdout < 1e-8


def test_target_far_outside_the_hull_has_an_interval_excluding_zero():
    rng = np.random.default_rng(1)
    scores = panel(rng)
    target = 5 * np.sin(np.arange(60))  # nothing like any agent, and much larger
    result = audit(scores, target, n_boot=40, level=0.9)
    low, high = result.eps_interval
    assert low > 1.0 and low <= result.eps + 1e-9 and high >= low
    assert result.eps_holdout >= 0.5 * result.eps
    table = result.summary()
    assert table.shape == (5, 4) and table.loc["sup-norm ε (simplex + offset)", "on all items"] == pytest.approx(result.eps)


def test_held_out_error_is_not_optimistic_on_noise():
    rng = np.random.default_rng(2)
    scores = panel(rng, n_items=80, n_agents=20)
    target = rng.uniform(0, 1, size=80)  # agents carry no information about it
    result = audit(scores, target, n_boot=20)
    assert result.mse_holdout["NNLS"] > result.mse["NNLS"]  # in-sample fit is optimistic


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="must be finite"):
        audit(np.array([[np.nan, 1.0]] * 5), np.ones(5))
    with pytest.raises(ValueError, match="at least 4 items"):
        audit(np.ones((3, 2)), np.ones(3))
