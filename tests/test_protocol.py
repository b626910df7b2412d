"""avc.theory.protocol: the paper's two-round protocol with private features."""

import numpy as np
import pytest

from avc.checks import theorem_checks
from avc.theory import games, protocol
from avc.theory.model import CommonPrior


def xor_prior():
    # y = x_A XOR (x_B > 0): neither feature alone says anything about y
    joint = np.zeros((2, 3, 2))
    for a in range(2):
        for b in range(3):
            joint[a, b, a ^ int(b > 0)] = 1 / 6
    return CommonPrior(joint)


GUESS = np.eye(2)


def test_reveal_rule_gives_first_best_and_silence_gives_nothing():
    prior = xor_prior()
    menu = protocol.bob_menu(3, 2)
    game = protocol.ProtocolGame(prior, GUESS, np.stack([GUESS, GUESS]), [menu] * 2, n_rounds=2)
    star = protocol.reveal_index(menu)
    assert game.single_bob_value(menu[star]) == pytest.approx(1.0) == pytest.approx(game.first_best())
    assert game.single_bob_value(menu[0]) == pytest.approx(2 / 3)  # silent: guess from P(y | x_A)


def test_second_round_rules_act_only_in_round_two():
    prior = xor_prior()
    late = next(r for r in protocol.bob_menu(3, 2) if r.when == "late")
    one = protocol.ProtocolGame(prior, GUESS, np.stack([GUESS]), [[late]], n_rounds=1)
    two = protocol.ProtocolGame(prior, GUESS, np.stack([GUESS]), [[late]], n_rounds=2)
    assert one.single_bob_value(late) == pytest.approx(2 / 3) and two.single_bob_value(late) == pytest.approx(
        1.0
    )


def test_conditional_rules_use_alices_feature_and_the_relay():
    rule = protocol.BobConversationRule("r", (0, 1, 2), "if_x_A=1")
    assert rule(2, (("x_A", 1),)) == {2: 1.0} and rule(2, (("x_A", 0),)) == {protocol.SILENT: 1.0}
    fill = protocol.BobConversationRule("f", (0, 1, 2), "if_others_silent")
    assert fill(1, (("x_A", 0), "-", ("-",))) == {1: 1.0}
    assert fill(1, (("x_A", 0), "-", (2,))) == {protocol.SILENT: 1.0}


def test_theorem1_and_definition9_in_the_protocol():
    rng = np.random.default_rng(0)
    menu = protocol.bob_menu(3, 2)
    star = protocol.reveal_index(menu)
    for _ in range(3):
        prior = CommonPrior(rng.dirichlet(np.ones(12)).reshape(2, 3, 2))
        user = rng.uniform(size=(3, 2))
        agents = np.clip(user + rng.uniform(-0.2, 0.2, size=(2, 3, 2)), 0, 1)
        game = protocol.ProtocolGame(prior, user, agents, [menu] * 2)
        check = theorem_checks.theorem1_check(game, [star] * 2, game.single_bob_value(menu[star]))
        check.raise_if_failed()
        assert games.identical_induced_distribution(game, [star] * 2).holds


def test_bad_input():
    with pytest.raises(TypeError):
        protocol.ProtocolGame(np.ones(2) / 2, GUESS, np.stack([GUESS]), [[None]])
    with pytest.raises(ValueError):
        protocol.ProtocolGame(xor_prior(), GUESS, np.stack([GUESS]), [[None]], n_rounds=5)
