"""The compiled path solver's iteration cap (avc.fitting.grid): a step that needs more agents to
join than the cap allows raises instead of returning weights that are not optimal."""

import numpy as np
import pytest
from grid_path import solve_path


# found by search: on these draws some step of the path needs two agents to join (the new one,
# then one held at zero before), so a cap of one join per step must raise
@pytest.mark.parametrize("seed, simplex", [(1, False), (2, False), (29, True), (33, True)])
def test_a_step_over_the_cap_raises(seed, simplex):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(12, 5)), rng.normal(size=12)
    with pytest.raises(RuntimeError, match="iteration cap"):
        solve_path(X, y, simplex, max_steps=1)
    # the default cap (3 K + 30) lets the same path finish, and a larger one changes nothing
    default, roomy = solve_path(X, y, simplex), solve_path(X, y, simplex, max_steps=1000)
    assert np.array_equal(default.mse, roomy.mse) and np.array_equal(default.weights, roomy.weights)
    assert (default.weights >= 0).all()
    if simplex:
        assert np.allclose(default.weights.sum(axis=1), 1.0)


def test_a_cap_of_one_is_enough_where_each_step_adds_one_agent():
    # orthogonal agents and a target with positive weight on each: each step adds its new agent
    # and nothing else, so one join per step suffices
    X = np.eye(6)
    y = np.arange(1.0, 7.0)
    path = solve_path(X, y, simplex=False, max_steps=1)
    assert np.allclose(np.diag(path.weights), y)
    assert np.isclose(path.mse[-1], 0.0)


def test_the_default_cap_grows_with_the_number_of_agents():
    # forty agents that each point away from the target, e_j - c e_0, stay at zero until the last
    # agent, e_0 - s (e_1 + ... + e_40), arrives: then all forty must join in that one step (the
    # target is exactly (last + s * others) / (1 - 40 s c), every weight positive). A cap that did
    # not grow with K (30 joins) would raise there; 3 K + 30 lets it finish.
    m, s, c = 40, 0.1, 0.1
    X, y = np.zeros((m + 1, m + 1)), np.eye(m + 1)[0]
    X[np.arange(1, m + 1), np.arange(m)] = 1.0
    X[0, :m], X[0, m], X[1:, m] = -c, 1.0, -s
    path = solve_path(X, y, simplex=False)
    assert (path.weights[m - 1] == 0).all()  # K = 40: every agent held at zero
    assert np.allclose(path.weights[m], [s / (1 - m * s * c)] * m + [1 / (1 - m * s * c)])
    assert abs(path.mse[m]) < 1e-12
    with pytest.raises(RuntimeError, match="iteration cap"):
        solve_path(X, y, simplex=False, max_steps=m)  # the last step needs m + 1 joins
    solve_path(X, y, simplex=False, max_steps=m + 1)
