"""Every iterative solver stops: a cap on its iterations raises (or, for best-response dynamics,
is reported) instead of letting a broken solver hang the test suite.

The active-set method of avc.fitting.fits has two loops, each capped; the compiled paths of
avc.fitting.grid cap their own loops (tests/test_fitting.py). Best-response dynamics reports
reaching its cap in its result (Chapter E counts the runs that did not converge).
"""

import numpy as np
import pytest

from avc.fitting import fits
from avc.theory import games as G
from avc.theory import persuasion as P

pytestmark = pytest.mark.timeout(60)


def problem(seed=0, n_items=40, n_agents=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_items, n_agents))
    y = X @ rng.uniform(0, 1, n_agents) + rng.normal(0, 0.1, n_items)
    return X.T @ X, X.T @ y


@pytest.mark.parametrize("simplex", [False, True])
def test_the_outer_loop_raises_at_its_cap(simplex):
    G_, b = problem()
    with pytest.raises(RuntimeError, match=r"active_set_qp: no optimum after max_iter = 1 iterations"):
        fits.active_set_qp(G_, b, simplex=simplex, max_iter=1)
    # with room enough the same problem is solved, and the default cap leaves room
    w = fits.active_set_qp(G_, b, simplex=simplex, max_iter=50)
    assert np.array_equal(w, fits.active_set_qp(G_, b, simplex=simplex))


def test_the_default_cap_leaves_room_for_every_agent_to_enter():
    # every one of 60 agents has a positive weight: the method frees them one at a time
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(200, 60))
    weights = rng.uniform(0.5, 1.5, 60)
    w = fits.fit_nnls(X, X @ weights)
    assert np.allclose(w, weights, atol=1e-8)


def test_a_dropped_simplex_constraint_raises_instead_of_hanging(monkeypatch):
    """The bug injected in issue 25: the sub-problems ignore ``sum(w) = 1``. A single agent's
    unconstrained weight is then negative, it is dropped, restored (the simplex needs a weight)
    and dropped again: before the cap, test_fitting.py hung here."""
    solve = fits._subsolve
    monkeypatch.setattr(fits, "_subsolve", lambda g, b, simplex: solve(g, b, False))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = -X.sum(axis=1)  # every agent alone is best with a negative weight
    with pytest.raises(RuntimeError, match=r"active_set_qp: the inner loop did not settle in 39 steps"):
        fits.fit_simplex(X, y)


def test_a_stalled_variable_is_left_out_instead_of_freed_again():
    # the last problem of test_fitting's near-duplicate KKT test (agents 1e-6 apart on a 0-100
    # scale): the KKT check freed the same agent again and again, each time dropped at once with
    # nothing moved, until the cap; left out, the method converges in 20 iterations
    rng = np.random.default_rng(3)
    for trial in range(10):
        X = rng.uniform(0, 100, size=(800, 100))
        if trial % 2:
            X[:, 50:] = X[:, :50] + 1e-6 * rng.normal(size=(800, 50))
        y = X[:, :7] @ rng.dirichlet(np.ones(7)) + rng.normal(0, 5, size=800)
    w = fits.active_set_qp(X.T @ X, X.T @ y, max_iter=40)
    grad = X.T @ (X @ w - y)
    assert np.all(w >= 0) and np.abs(grad[w > 0]).max() < 1e-7 * np.abs(X.T @ y).max()
    assert grad[w == 0].min() > -1e-7 * np.abs(X.T @ y).max()


class Rotation(G.SenderGame):
    """Three senders, one state, three actions; the action is the sum of the strategies mod 3
    and sender i wants action i. Best responses chase each other round a cycle of passes."""

    def __init__(self):
        utils = np.zeros((3, 3, 1))
        for i in range(3):
            utils[i, i, 0] = 1.0
        super().__init__([1.0], np.zeros((3, 1)), utils, [[0, 1, 2]] * 3)

    def _compute_outcome(self, profile):
        return np.eye(3)[:, [sum(profile) % 3]]

    def payoff_tensor(self):
        raise NotImplementedError


def test_best_response_dynamics_stops_at_its_cap_and_says_so():
    game = Rotation()  # the profile after the first pass, (0, 1, 1), comes back after three more
    for cap in (1, 2, 3, 4):
        result = G.best_response_dynamics(game, start=(0, 0, 0), max_passes=cap)
        assert (result.converged, result.cycled, result.n_passes) == (False, False, cap)
        assert len(result.path) == 3 * cap  # two moves in the first pass, three in each later one
    result = G.best_response_dynamics(game, start=(0, 0, 0), max_passes=10)
    assert (result.converged, result.cycled, result.n_passes, result.profile) == (False, True, 4, (0, 1, 1))
    guess = np.eye(2)
    game = G.MultiSenderGame([0.5, 0.5], guess, np.stack([guess, guess]), [[P.no_information(2, 2)]] * 2)
    result = G.best_response_dynamics(game, start=(0, 0), max_passes=1)
    assert result.converged and result.n_passes == 1  # nobody can move: converged in the first pass
