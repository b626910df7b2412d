"""weighted_alignment (Definition 1) against hand-computed answers and an independent dual LP."""

import numpy as np
import pytest
from scipy.optimize import linprog

from avc.theory.alignment import AlignmentFit, alignment_error, weighted_alignment
from avc.theory.examples import courtroom_utilities

pytestmark = pytest.mark.timeout(60)


def dual_alignment_error(agents: np.ndarray, user: np.ndarray, simplex: bool) -> float:
    """The alignment error from the LP dual, written independently of avc.

    By LP duality, min_{w, c} ||sum_i w_i U_i + c - u||_inf equals the largest
    u.v - max_i U_i.v (simplex) or u.v subject to U_i.v <= 0 for all i (cone), over signed
    weights v on the cells with sum(v) = 0 (the free offset) and ||v||_1 <= 1.
    Variables: v = p - q with p, q >= 0, plus t = max_i U_i.v (simplex only).
    """
    U = agents.reshape(len(agents), -1)
    u = user.reshape(-1)
    k, m = U.shape
    # x = (p (m), q (m), t); maximise u.(p - q) - t  <=>  minimise -u.p + u.q + t
    cost = np.concatenate([-u, u, [1.0 if simplex else 0.0]])
    a_ub = [np.concatenate([np.ones(m), np.ones(m), [0.0]])]  # ||v||_1 <= 1
    b_ub = [1.0]
    for i in range(k):  # U_i.v <= t (simplex) or U_i.v <= 0 (cone)
        a_ub.append(np.concatenate([U[i], -U[i], [-1.0 if simplex else 0.0]]))
        b_ub.append(0.0)
    a_eq = [np.concatenate([np.ones(m), -np.ones(m), [0.0]])]  # sum(v) = 0
    bounds = [(0, None)] * (2 * m) + [(None, None) if simplex else (0, 0)]
    res = linprog(
        cost,
        A_ub=np.array(a_ub),
        b_ub=b_ub,
        A_eq=np.array(a_eq),
        b_eq=[0.0],
        bounds=bounds,
        method="highs-ipm",
    )
    assert res.status == 0, res.message
    return -res.fun


def test_user_inside_the_hull_has_zero_error_whatever_the_offset():
    rng = np.random.default_rng(1)
    agents = rng.uniform(size=(4, 3, 5))
    weights = rng.dirichlet(np.ones(4))
    for offset in (-3.0, 0.0, 0.37, 12.5):
        fit = weighted_alignment(agents, np.tensordot(weights, agents, axes=1) + offset)
        assert fit.eps < 1e-9
        assert np.isclose(fit.offset, offset, atol=1e-7)
        assert np.allclose(fit.weights, weights, atol=1e-6)  # unique: the agents are generic


def test_single_agent_error_is_half_the_residual_range():
    rng = np.random.default_rng(2)
    agent, user = rng.uniform(size=(2, 3, 4))
    residual = user - agent
    fit = weighted_alignment(agent[None], user)
    assert np.isclose(fit.eps, (residual.max() - residual.min()) / 2, atol=1e-12)
    assert np.isclose(fit.offset, (residual.max() + residual.min()) / 2, atol=1e-12)
    assert np.array_equal(fit.weights, [1.0])


def test_user_outside_the_hull_hand_computed():
    # Two cells. Agents (0, 0) and (1, 0); user (0, 1). Points of the hull plus offset are
    # (t + c, c), t in [0, 1]: the best is t = 0, c = 1/2, error 1/2.
    fit = weighted_alignment(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.0, 1.0]))
    assert np.isclose(fit.eps, 0.5)
    assert np.allclose(fit.weights, [1.0, 0.0], atol=1e-9)
    assert np.isclose(fit.offset, 0.5)


def test_courtroom_hull_cone_and_rescaling():
    court = courtroom_utilities()
    agents = court.agent_stack()
    assert np.isclose(weighted_alignment(agents, court.user).eps, 0.25)
    cone = weighted_alignment(agents, court.user, simplex=False)
    assert cone.eps < 1e-9 and np.allclose(cone.weights, [1.0, 1.0], atol=1e-7)
    assert weighted_alignment(agents, court.user / 2).eps < 1e-9


def test_cone_error_never_exceeds_hull_error():
    rng = np.random.default_rng(3)
    for _ in range(30):
        agents, user = rng.uniform(size=(5, 2, 3)), rng.uniform(size=(2, 3))
        assert (
            weighted_alignment(agents, user, simplex=False).eps <= weighted_alignment(agents, user).eps + 1e-9
        )


@pytest.mark.parametrize("simplex", [True, False])
def test_matches_independent_dual_lp_on_random_instances(simplex):
    rng = np.random.default_rng(4 + simplex)
    for trial in range(60):
        k = int(rng.integers(1, 9))
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 6)))
        agents = rng.uniform(size=(k, *shape))
        user = rng.uniform(size=shape) * rng.choice([0.5, 1.0, 3.0])
        fit = weighted_alignment(agents, user, simplex=simplex)
        # primal feasibility: the reported weights and offset attain the reported eps
        assert np.all(fit.weights >= 0)
        if simplex:
            assert np.isclose(fit.weights.sum(), 1.0)
        attained = np.abs(np.tensordot(fit.weights, agents, axes=1) + fit.offset - user).max()
        assert np.isclose(attained, fit.eps, atol=1e-12)
        assert np.allclose(fit.approximation, np.tensordot(fit.weights, agents, axes=1) + fit.offset)
        # optimality: the dual gives the same value, so nothing smaller exists
        assert fit.eps == pytest.approx(dual_alignment_error(agents, user, simplex), abs=1e-7), trial


def test_alignment_error_for_fixed_weights():
    agents = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    user = np.array([0.5, 0.5, 0.2])
    eps, offset = alignment_error(agents, user, [0.5, 0.5])
    # residual u - mix = (0, 0, 0.2): error 0.1 at offset 0.1
    assert np.isclose(eps, 0.1) and np.isclose(offset, 0.1)


@pytest.mark.parametrize(
    "agents, user, message",
    [
        (np.zeros((2, 3)), np.zeros(4), "same trailing shape|shaped"),
        (np.zeros((0, 3)), np.zeros(3), "at least one agent"),
        (np.array([[np.nan, 1.0]]), np.zeros(2), "finite"),
    ],
)
def test_bad_input_is_explained(agents, user, message):
    with pytest.raises(ValueError, match=message):
        weighted_alignment(agents, user)


def test_wrong_number_of_fixed_weights_is_explained():
    with pytest.raises(ValueError, match="one per agent"):
        alignment_error(np.zeros((3, 2)), np.zeros(2), [1.0])


def test_support_is_the_agents_above_1e_9():
    fit = weighted_alignment(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([0.0, 1.0]))
    assert fit.support.tolist() == [0]
    weights = np.array([1e-9, 0.5, 0.0, 2e-9, 1.0])  # 1e-9 itself is not above the threshold
    edge = AlignmentFit(weights=weights, offset=0.0, eps=0.0, simplex=False, approximation=np.zeros(1))
    assert edge.support.tolist() == [1, 3, 4]


def test_agents_with_scalar_utilities_and_a_scalar_user():
    # k agents whose utility is one number each (shape (k,)), a user who is one number (shape ()):
    # the offset alone closes the gap
    fit = weighted_alignment(np.array([0.0, 1.0]), 0.25)
    assert fit.eps == pytest.approx(0.0, abs=1e-12) and fit.approximation.shape == ()
    with pytest.raises(ValueError, match="at least one agent"):
        weighted_alignment(np.float64(1.0), 0.25)


def test_simplex_weights_sum_to_one_to_rounding():
    # the LP's weights are renormalised: they sum to one to a few units in the last place,
    # not only to the solver's tolerance
    rng = np.random.default_rng(4)
    for _ in range(60):
        k = int(rng.integers(2, 9))
        agents, user = rng.uniform(size=(k, 3, 4)), rng.uniform(size=(3, 4))
        assert abs(weighted_alignment(agents, user).weights.sum() - 1.0) <= 1e-14
