"""avc.checks.instances: the random games of Chapters C, D and E and their rejection samplers."""

import numpy as np
import pytest

from avc.checks import instances, menus, theorem_checks
from avc.checks.random_games import misaligned_panel, to_unit_interval
from avc.theory import games
from avc.theory.alignment import weighted_alignment
from avc.theory.model import first_best, no_information_value

pytestmark = pytest.mark.timeout(120)


def in_unit_interval(*arrays):
    return all(a.min() >= -1e-12 and a.max() <= 1 + 1e-12 for a in arrays)


def test_random_game_is_the_chapters_draw_in_the_same_order():
    prior, user, agents = instances.random_game(np.random.default_rng(3), 3, 2, 2, noise=0.2)
    rng = np.random.default_rng(3)  # the draws, written out in the order the chapter made them
    p = rng.dirichlet(np.ones(3))
    u = rng.uniform(size=(2, 3))
    a = misaligned_panel(rng, u, 2, spread=rng.uniform(0.2, 1.0), noise=0.2)
    u, a = to_unit_interval(u, a)
    assert np.array_equal(prior, p) and np.array_equal(user, u) and np.array_equal(agents, a)
    assert agents.shape == (2, 2, 3) and in_unit_interval(user, agents)


@pytest.mark.parametrize("family", ["plain", "valuable information", "withholding"])
def test_draw_game_families(family):
    rng = np.random.default_rng(11)
    for _ in range(3):
        prior, user, agents, draws = instances.draw_game(rng, family, 2, 3, 2, max_noise=0.35)
        assert draws >= 1 and in_unit_interval(user, agents)
        eps = weighted_alignment(agents, user).eps
        if family == "valuable information":
            assert instances.value_of_information(prior, user) > 2 * eps
        if family == "withholding":
            assert len(prior) == 3 and draws == 1
        else:
            assert user.shape == (3, 2)


def test_draw_game_is_seeded_and_refuses_unknown_families():
    one = instances.draw_game(np.random.default_rng(5), "valuable information", 3, 3, 2, 0.35)
    two = instances.draw_game(np.random.default_rng(5), "valuable information", 3, 3, 2, 0.35)
    assert all(np.array_equal(x, y) for x, y in zip(one, two))
    with pytest.raises(ValueError, match="unknown family"):
        instances.draw_game(np.random.default_rng(0), "rich", 2, 2, 2, 0.35)


def test_samplers_give_up_after_max_tries(monkeypatch):
    monkeypatch.setattr(instances, "MAX_TRIES", 0)
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="valuable information"):
        instances.draw_game(rng, "valuable information", 2, 2, 2, 0.35)
    with pytest.raises(RuntimeError, match="no valuable game"):
        instances.draw_selection_game(rng, "plain", 3, 3, 2, 0.1)
    with pytest.raises(RuntimeError, match="protocol game"):
        instances.protocol_instance(rng, "withholding", 0.35)
    with pytest.raises(RuntimeError, match="could fail"):
        instances.draw_quantal_game(rng, "withholding", 8.0, max_tries=0)


def test_value_of_information():
    user = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert instances.value_of_information(np.array([0.5, 0.5]), user) == pytest.approx(0.5)
    assert instances.value_of_information(np.array([1.0, 0.0]), user) == pytest.approx(0.0)


def test_informative_instance_keeps_a_valuable_two_signal_agent():
    rng = np.random.default_rng(2)
    for _ in range(5):
        prior, user, aligned, scheme = instances.informative_instance(rng, 3, 3)
        assert aligned - (user @ prior).max() >= 0.05
        assert scheme.shape == (3, 2)
        assert instances.heard_alone(prior, user, scheme) == pytest.approx(aligned)


def test_draw_selection_game_scales_the_benchmark_with_the_utilities():
    rng = np.random.default_rng(4)
    for family in ("plain", "valuable information"):
        prior, user, agents, aligned, scheme, draws = instances.draw_selection_game(
            rng, family, 3, 3, 2, noise=0.3
        )
        assert in_unit_interval(user, agents) and draws >= 1
        # U_A(C*) mapped with the utilities: Alice hearing C* alone gets exactly it
        assert instances.heard_alone(prior, user, scheme) == pytest.approx(aligned)
        if family == "valuable information":
            assert aligned - 2 * weighted_alignment(agents, user).eps > (user @ prior).max()


def test_heard_alone_full_revelation_is_the_first_best():
    prior, user = np.array([0.3, 0.7]), np.array([[1.0, 0.2], [0.0, 0.9]])
    assert instances.heard_alone(prior, user, np.eye(2)) == pytest.approx(prior @ user.max(axis=0))
    quantal = instances.heard_alone(prior, user, np.eye(2), lam=2.0)
    assert quantal < prior @ user.max(axis=0)


@pytest.mark.parametrize("family", ["plain", "withholding"])
def test_quantal_game_menu_is_the_grid_and_noisy_revelation_last(family):
    game, noisy = instances.quantal_game(np.random.default_rng(8), family, lam=8.0)
    assert game.lam == 8.0 and game.k == 2
    assert len(game.strategies[0]) == len(menus.persuasion_menu(2)) + 1
    assert game.strategies[0][-1] is noisy
    eta = 2 * noisy[0, 1]
    assert eta in (0.02, 0.05, 0.1) and np.allclose(noisy, menus.noisy_revelation(2, eta))
    if family == "withholding":
        assert game.receiver_util.shape == (3, 2)


def test_draw_quantal_game_keeps_games_whose_check_could_fail():
    rng = np.random.default_rng(9)
    with pytest.raises(ValueError, match="unknown family"):
        instances.draw_quantal_game(rng, "rich", 8.0)
    for family in ("valuable information", "withholding"):
        game, noisy = instances.draw_quantal_game(rng, family, 8.0)
        reference = instances.heard_alone(game.prior, game.receiver_util, noisy, 8.0)
        statement, _ = theorem_checks.theorem2_check(game, [len(game.strategies[0]) - 1] * 2, reference)
        assert statement.could_fail


@pytest.mark.parametrize("family", ["valuable x_B", "withholding"])
def test_protocol_instance_is_kept_only_when_x_b_is_worth_more_than_2_eps(family):
    prior, user, agents = instances.protocol_instance(np.random.default_rng(1), family, 0.35)
    assert prior.joint.shape == (2, 3, 2) and np.isclose(prior.joint.sum(), 1)
    assert user.shape == (3, 2) and agents.shape == (2, 3, 2) and in_unit_interval(user, agents)
    eps = weighted_alignment(agents, user).eps
    assert first_best(prior, user) - no_information_value(prior, user) > 2 * eps
    with pytest.raises(ValueError, match="unknown family"):
        instances.protocol_instance(np.random.default_rng(1), "plain", 0.35)


def test_a_game_from_the_samplers_is_a_game_the_checks_accept():
    prior, user, agents, _ = instances.draw_game(np.random.default_rng(0), "withholding", 3, 3, 2, 0.35)
    menu = menus.persuasion_menu(3)
    game = games.MultiSenderGame(prior, user, agents, [menu] * 2)
    check = theorem_checks.theorem1_check(
        game, [menus.full_revelation_index(menu)] * 2, first_best_of(prior, user)
    )
    check.raise_if_failed()


def first_best_of(prior, user):
    return float(prior @ user.max(axis=0))
