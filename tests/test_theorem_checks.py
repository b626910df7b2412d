"""The chapter-level checks (avc.checks.theorem_checks) catch bugs injected into the solvers.

Each test monkeypatches a plausible bug into the equilibrium search, Alice's posterior or
the deviation check, and shows that the check the chapters run fails loudly.
"""

import numpy as np
import pytest

from avc.checks import theorem_checks
from avc.checks.random_games import to_unit_interval, withholding_panel
from avc.theory import concavification, games, persuasion

PRIOR = np.array([0.2, 0.4, 0.4])
#            bet 0, bet 1, bet 2, hedge on {1, 2}
USER = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0.8, 0.8]])
MENU = persuasion.partition_schemes(3)
FULL = len(MENU) - 1


def informative_game(k=2):
    """Two Bobs tilted toward the hedge by 0.15 and apart by ±0.05: ε = 0.05 on the raw scale."""
    tilt = np.zeros_like(USER)
    tilt[1:3, 1:3] = 0.15
    tilt[1, 1] = tilt[2, 2] = -0.15
    tilt[3, 1:3] = 0.15
    spread = np.zeros_like(USER)
    spread[0, 0] = 0.05
    user, agents = to_unit_interval(USER, np.stack([USER + tilt + spread, USER + tilt - spread][:k]))
    return games.MultiSenderGame(PRIOR, user, agents, [MENU] * k), user


def check(game, user):
    aligned, _ = concavification.aligned_value(PRIOR, user)
    return theorem_checks.theorem1_check(game, [FULL] * game.k, aligned)


def test_the_honest_check_passes_and_could_fail():
    game, user = informative_game()
    result = check(game, user)
    result.raise_if_failed()
    assert result.could_fail and result.n_violating_profiles >= 1
    assert result.equilibria_agree and result.tensor_agrees and result.deviation_step_holds
    assert 0 <= result.share_used <= 1


def test_vacuous_game_is_labelled():
    # one state: information is worth nothing, so no profile can fall below U_A(C*) - 2ε
    game = games.MultiSenderGame(
        [1.0], [[0.3], [0.7]], np.stack([[[0.1], [0.2]]] * 2), [[np.ones((1, 1))]] * 2
    )
    result = theorem_checks.theorem1_check(game, [0, 0], 0.7)
    assert not result.could_fail and result.holds


def test_equilibrium_search_that_skips_the_deviation_check_is_caught(monkeypatch):
    game, user = informative_game()

    def every_profile(game, tol=1e-9):  # bug: forgets to test deviations
        return [tuple(int(s) for s in idx) for idx in np.ndindex(*game.n_strategies)]

    monkeypatch.setattr(games, "pure_nash_equilibria", every_profile)
    result = check(game, user)
    assert not result.equilibria_agree and not result.holds  # silence is listed and violates the bound
    with pytest.raises(AssertionError):
        result.raise_if_failed()


def test_deviation_check_against_one_alternative_only_is_caught(monkeypatch):
    game, user = informative_game()

    def lazy(game, tol=1e-9):  # bug: compares each sender only with his first strategy
        senders = game.payoff_tensor()[..., 1:]
        stable = np.ones(game.n_strategies, dtype=bool)
        for i in range(game.k):
            own = senders[..., i]
            stable &= own >= np.take(own, [0], axis=i) - tol
        return [tuple(int(s) for s in idx) for idx in np.argwhere(stable)]

    monkeypatch.setattr(games, "pure_nash_equilibria", lazy)
    with pytest.raises(AssertionError, match="equilibrium search"):
        check(game, user).raise_if_failed()


def test_deviation_check_with_the_inequality_reversed_is_caught(monkeypatch):
    game, user = informative_game()

    def reversed_sign(game, tol=1e-9):  # bug: keeps profiles where someone *can* gain
        senders = game.payoff_tensor()[..., 1:]
        stable = np.zeros(game.n_strategies, dtype=bool)
        for i in range(game.k):
            own = senders[..., i]
            stable |= own < own.max(axis=i, keepdims=True) - tol
        return [tuple(int(s) for s in idx) for idx in np.argwhere(stable)]

    monkeypatch.setattr(games, "pure_nash_equilibria", reversed_sign)
    with pytest.raises(AssertionError):
        check(game, user).raise_if_failed()


def test_posterior_from_the_first_sender_only_is_caught(monkeypatch):
    game, user = informative_game()
    honest = persuasion.receiver_policy

    def first_sender_only(joint_sy, receiver_util, lam=None):
        # bug: Alice's posterior conditions on the first sender's signal and drops the others'.
        # The menu has 3 signals per sender, so a profile of signals (s1, s2) is column 3*s1 + s2.
        n_profiles = joint_sy.shape[1]
        if n_profiles % 3 or n_profiles == 3:
            return honest(joint_sy, receiver_util, lam)
        grouped = joint_sy.reshape(joint_sy.shape[0], -1, 3)
        first = grouped.sum(axis=2)
        policy = honest(first, receiver_util, lam)
        return np.repeat(policy, 3, axis=1)

    monkeypatch.setattr(games, "receiver_policy", first_sender_only)
    result = check(game, user)
    assert not result.deviation_step_holds or not result.tensor_agrees
    with pytest.raises(AssertionError):
        result.raise_if_failed()


def test_posterior_that_ignores_the_prior_is_caught(monkeypatch):
    game, user = informative_game()
    honest = persuasion.receiver_policy

    def uniform_prior(joint_sy, receiver_util, lam=None):
        # bug: the posterior uses the likelihoods P(s | y) as if the prior were uniform
        prior = joint_sy.sum(axis=1, keepdims=True)
        return honest(joint_sy / np.where(prior > 0, prior, 1.0), receiver_util, lam)

    monkeypatch.setattr(games, "receiver_policy", uniform_prior)
    with pytest.raises(AssertionError, match="payoff tensor"):
        check(game, user).raise_if_failed()


def test_theorem2_statement_can_fail_for_a_partial_reference_but_the_proof_form_holds():
    # A quantal Alice whose best single sender is partially informative; two exactly aligned
    # Bobs who can only use that scheme. δ = 0 (one profile), ε = 0, yet hearing two
    # independent draws of C* lowers her utility below U_A(C*): the statement's replacement of
    # E_dev[u_A] by U_A(C*) needs more than Definition 13.
    prior = np.array([0.111, 0.889])
    user = np.array([[0.052, 0.828], [0.813, 0.924], [0.664, 0.161]])
    value, scheme = concavification.aligned_value(prior, user, lam=10.0)
    game = games.MultiSenderGame(prior, user, np.stack([user, user]), [[scheme], [scheme]], lam=10.0)
    statement, proof = theorem_checks.theorem2_check(game, [0, 0], value)
    assert statement.delta == 0 and statement.eps < 1e-9
    assert not statement.holds and statement.worst_equilibrium < value - 1e-3
    assert proof.holds


def test_theorem2_with_positive_delta_holds_on_a_random_game():
    rng = np.random.default_rng(3)
    menu = persuasion.grid_schemes(2, 2, 4)
    for _ in range(5):
        prior, user, agents = withholding_panel(rng, 2, 2, noise=0.05)
        value, scheme = concavification.aligned_value(prior, user, lam=10.0)
        strategies = menu + [scheme]
        game = games.MultiSenderGame(prior, user, agents, [strategies] * 2, lam=10.0)
        statement, proof = theorem_checks.theorem2_check(game, [len(menu)] * 2, value)
        proof.raise_if_failed("Theorem 2 (proof form)")
        assert statement.delta >= 0


def test_unit_interval_map_and_withholding_panel():
    rng = np.random.default_rng(0)
    user, agents = to_unit_interval(np.array([[2.0, -1.0]]), np.array([[[0.5, 3.0]]]))
    assert user.min() >= 0 and agents.max() <= 1 and user[0, 1] == 0 and agents[0, 0, 1] == 1
    for n_states in (2, 3):
        prior, user, agents = withholding_panel(rng, n_states, 3, noise=0.05)
        assert (
            prior.shape == (n_states,)
            and user.shape == (n_states + 1, n_states)
            and agents.shape == (3, *user.shape)
        )
        assert 0 <= min(user.min(), agents.min()) and max(user.max(), agents.max()) <= 1
    with pytest.raises(ValueError):
        withholding_panel(rng, 1, 2, 0.0)


def test_estimation_errors_and_corollary1():
    prior, user = np.array([0.5, 0.5]), np.eye(2)
    errors, probs = theorem_checks.estimation_errors(prior, user, np.eye(2))
    assert errors.max() == 0 and probs.sum() == pytest.approx(1)
    noisy = np.array([[0.9, 0.1], [0.1, 0.9]])
    errors, probs = theorem_checks.estimation_errors(prior, user, noisy)
    assert errors.max() == pytest.approx(0.9)  # after the wrong signal her belief is 0.1 vs truth 1
    # Corollary 1 never exceeds Proposition 2 (t = max error, ρ = 0) and is at most 1 + e^0 - 1 at t = 0
    assert theorem_checks.corollary1_closeness(2.0, errors, probs) <= np.expm1(4 * 2.0 * errors.max()) + 1e-12
    assert theorem_checks.corollary1_closeness(2.0, errors, probs) <= 1.0 + 1e-12
