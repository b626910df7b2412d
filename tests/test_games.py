"""Equilibria of the senders' games on tiny games whose answers are worked out by hand."""

import itertools

import numpy as np
import pytest

from avc.theory import games as G
from avc.theory import persuasion as P
from avc.theory.model import TIE_TOLERANCE

pytestmark = pytest.mark.timeout(60)

PRIOR = [0.5, 0.5]
GUESS = np.eye(2)  # Alice wants to name the state; ties go to action 0
NO_INFO, FULL = P.no_information(2, 2), P.full_revelation(2)
ALIGNED_AND_PUSHY = np.stack([GUESS, np.array([[1.0, 1.0], [0.0, 0.0]])])  # Bob 2 wants action 0


@pytest.mark.parametrize("game_class", [G.MultiSenderGame, G.BestAISelectionGame])
def test_tiny_game_equilibria_by_hand(game_class):
    # Strategies: 0 = no information, 1 = full revelation. Worked out by hand:
    # (0, 0): Alice guesses 0 always; Bob 1 (aligned) gains by revealing -> not an equilibrium.
    # (1, 0), (1, 1): Alice learns the state whatever Bob 2 does -> equilibria.
    # (0, 1): Bob 2 gains by going silent (back to (0, 0)) -> not an equilibrium.
    game = game_class(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    assert G.pure_nash_equilibria(game) == [(1, 0), (1, 1)]
    assert game.payoffs((0, 0)) == pytest.approx([0.5, 0.5, 1.0])
    assert game.payoffs((1, 0)) == pytest.approx([1.0, 1.0, 0.5])


def test_best_ai_selection_picks_the_best_sender_lowest_index_on_ties():
    game = G.BestAISelectionGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    assert game.selected((0, 1)) == 1
    assert game.selected((1, 1)) == 0 and game.selected((0, 0)) == 0
    # the un-chosen sender is still paid from Alice's action
    assert game.payoffs((0, 1))[1] == pytest.approx(1.0)


@pytest.mark.parametrize("game_class", [G.MultiSenderGame, G.BestAISelectionGame])
def test_vectorised_payoff_tensor_matches_profile_by_profile(game_class):
    rng = np.random.default_rng(5)
    for n_states, n_actions, k, strategies in [
        (2, 3, 2, P.grid_schemes(2, 2, 3)),
        (3, 2, 3, P.deterministic_schemes(3, 2)),
    ]:
        prior = rng.dirichlet(np.ones(n_states))
        game = game_class(
            prior,
            rng.uniform(size=(n_actions, n_states)),
            rng.uniform(size=(k, n_actions, n_states)),
            [strategies] * k,
        )
        tensor = game.payoff_tensor()
        for profile in itertools.product(*(range(n) for n in game.n_strategies)):
            assert tensor[profile] == pytest.approx(game.payoffs(profile), abs=1e-12)


def test_best_response_dynamics_converges_to_an_equilibrium():
    game = G.MultiSenderGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    result = G.best_response_dynamics(game, start=(0, 0))
    assert result.converged and not result.cycled
    assert result.profile == (1, 0) and result.path == ((0, 0), (1, 0)) and result.n_passes == 2
    assert result.profile in G.pure_nash_equilibria(game)


class MatchingPennies(G.SenderGame):
    """One state, two actions: Bob 1 wants Alice's action to be 0, Bob 2 wants 1; the action is
    0 exactly when the two Bobs pick the same strategy. No pure equilibrium exists."""

    def __init__(self):
        super().__init__(
            [1.0], np.zeros((2, 1)), np.array([[[1.0], [0.0]], [[0.0], [1.0]]]), [[0, 1], [0, 1]]
        )

    def _compute_outcome(self, profile):
        action = 0 if profile[0] == profile[1] else 1
        return np.eye(2)[:, [action]]

    def payoff_tensor(self):
        return np.array([[self.payoffs((i, j)) for j in range(2)] for i in range(2)])


def test_best_response_dynamics_detects_a_cycle_and_respects_the_cap():
    game = MatchingPennies()
    assert G.pure_nash_equilibria(game) == []
    result = G.best_response_dynamics(game, start=(0, 0))
    assert result.cycled and not result.converged
    assert result.path[:5] == ((0, 0), (0, 1), (1, 1), (1, 0), (0, 0))
    capped = G.best_response_dynamics(game, start=(0, 0), max_passes=2)
    assert not capped.converged and not capped.cycled and capped.n_passes == 2


def test_identical_induced_distribution_holds_with_full_revelation():
    rng = np.random.default_rng(1)
    strategies = P.deterministic_schemes(3, 3)
    aligned = next(i for i, s in enumerate(strategies) if np.array_equal(s, np.eye(3)))
    game = G.MultiSenderGame(
        rng.dirichlet(np.ones(3)), rng.uniform(size=(2, 3)), rng.uniform(size=(2, 2, 3)), [strategies] * 2
    )
    check = G.identical_induced_distribution(game, [aligned, aligned])
    assert check.holds and check.max_gap < 1e-12 and check.witness is None
    # the laws are the same computation whoever reveals: equal exactly, so it holds with tol = 0
    exact = G.identical_induced_distribution(game, [aligned, aligned], tol=0.0)
    assert exact.holds and exact.max_gap == 0.0


def test_identical_induced_distribution_fails_with_two_signals_for_three_states():
    # C* separates state 0 from {1, 2}; the other scheme separates {0, 1} from 2. If Bob 2
    # already plays C*, Bob 1 deviating to C* teaches Alice nothing new, but Bob 2 deviating
    # (he already plays it) leaves Bob 1's other partition in place: Alice learns the state.
    c_star = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    other = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    game = G.MultiSenderGame(np.full(3, 1 / 3), np.eye(3), np.stack([np.eye(3)] * 2), [[c_star, other]] * 2)
    check = G.identical_induced_distribution(game, [0, 0])
    assert not check.holds
    assert check.max_gap == pytest.approx(1 / 3)
    assert check.witness == ((0, 1), 0, 1)  # the first profile (in order) with the largest gap


def test_invalid_games_and_profiles_are_explained():
    with pytest.raises(ValueError, match="one non-empty list"):
        G.MultiSenderGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO]])
    with pytest.raises(ValueError, match=r"\(k, n_actions, n_states\)"):
        G.MultiSenderGame(PRIOR, GUESS, np.zeros((2, 3, 2)), [[NO_INFO]] * 2)
    game = G.MultiSenderGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    with pytest.raises(ValueError, match="not a valid choice"):
        game.outcome((0, 2))
    with pytest.raises(ValueError, match="index of C\\*"):
        G.identical_induced_distribution(game, [1])


def test_quantal_alice_with_full_revelation_is_identical_whoever_reveals():
    # With a λ-quantal Alice, full revelation still pins her belief to the truth, so
    # Definition 13 holds with δ = 0; and her utility approaches best response as λ grows.
    rng = np.random.default_rng(3)
    strategies = P.grid_schemes(2, 2, 2)
    full = next(i for i, s in enumerate(strategies) if np.array_equal(s, np.eye(2)))
    prior, user = rng.dirichlet(np.ones(2)), rng.uniform(size=(3, 2))
    game = G.MultiSenderGame(prior, user, rng.uniform(size=(2, 3, 2)), [strategies] * 2, lam=4.0)
    assert G.identical_induced_distribution(game, [full, full]).holds
    values = [
        P.utility_under(P.induced_outcome(prior, [np.eye(2)], user, lam), user)
        for lam in (0.0, 1.0, 10.0, 1e6)
    ]
    assert values == sorted(values)
    assert values[0] == pytest.approx(float(prior @ user.mean(axis=0)))  # λ = 0: uniform play
    assert values[-1] == pytest.approx(float(prior @ user.max(axis=0)), abs=1e-6)


def test_payoff_tensor_refuses_schemes_over_other_states():
    game = G.MultiSenderGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[np.eye(3)], [NO_INFO]])
    with pytest.raises(ValueError, match="every strategy must be a scheme"):
        game.payoff_tensor()


def test_each_sender_heard_alone():
    game = G.BestAISelectionGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    # Alice alone with either sender: 1/2 with no information, 1 with the state revealed
    assert [v.tolist() for v in game.alone_value] == [[0.5, 1.0], [0.5, 1.0]]
    # Bob 1 (aligned) is best alone revealing; Bob 2 (wants action 0) staying silent
    assert game.solo_optimal() == (1, 0)
    assert game.alone_payoffs[1][0].tolist() == pytest.approx([0.5, 0.5, 1.0])
    # Bob 1 wants action 1, Bob 2 action 0: Alice's values are hers, not the senders'
    pushy = np.stack([np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 0.0]])])
    game = G.BestAISelectionGame(PRIOR, GUESS, pushy, [[NO_INFO, FULL]] * 2)
    assert [v.tolist() for v in game.alone_value] == [[0.5, 1.0], [0.5, 1.0]]
    assert np.allclose(game.alone_payoffs[0], [[0.5, 0.0, 1.0], [1.0, 0.5, 0.5]])
    assert game.solo_optimal() == (1, 0)


def test_selection_ties_are_within_the_tolerance_exactly():
    """Alice keeps the lowest-indexed sender among those within TIE_TOLERANCE of the best, the
    tolerance itself included: a value exactly TIE_TOLERANCE below the best is a tie."""
    game = G.BestAISelectionGame(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO]] * 2)
    low, high = 0.5, 0.5 + TIE_TOLERANCE
    assert high - TIE_TOLERANCE == low  # exact in floating point, so the boundary is tested
    game.alone_value = [np.array([low]), np.array([high])]
    game.alone_payoffs = [np.array([[low, 1.0, 0.0]]), np.array([[high, 0.0, 1.0]])]
    assert game.selected((0, 0)) == 0
    assert game.payoff_tensor()[0, 0].tolist() == [low, 1.0, 0.0]  # sender 0 kept
    game.alone_value = [np.array([low - 1e-11]), np.array([high])]  # beyond the tolerance
    game.alone_payoffs[0] = np.array([[low - 1e-11, 1.0, 0.0]])
    assert game.selected((0, 0)) == 1 and game.payoff_tensor()[0, 0].tolist() == [high, 0.0, 1.0]


@pytest.mark.parametrize("game_class", [G.MultiSenderGame, G.BestAISelectionGame])
def test_equilibria_and_dynamics_with_zero_tolerance(game_class):
    # with tol = 0 a best response is a best response exactly, and an equal payoff is no gain
    game = game_class(PRIOR, GUESS, ALIGNED_AND_PUSHY, [[NO_INFO, FULL]] * 2)
    assert G.pure_nash_equilibria(game, tol=0.0) == [(1, 0), (1, 1)]
    result = G.best_response_dynamics(game, start=(0, 0), tol=0.0)
    assert (result.converged, result.cycled, result.profile, result.n_passes) == (True, False, (1, 0), 2)


class Chase(G.SenderGame):
    """Two senders with many strategies; each wants his index one above the other's, so every
    pass of best responses reaches a profile never seen before (no equilibrium, no cycle)."""

    N = 250

    def __init__(self):
        super().__init__([1.0], np.zeros((1, 1)), np.zeros((2, 1, 1)), [list(range(self.N))] * 2)

    def payoffs(self, profile):
        a, b = profile
        return np.array([0.0, float(a == b + 1), float(b == a + 1)])


def test_best_response_dynamics_stops_after_100_passes_by_default():
    result = G.best_response_dynamics(Chase(), start=(0, 0))
    assert (result.converged, result.cycled, result.n_passes) == (False, False, 100)
    assert result.profile == (199, 200) and len(result.path) == 201
