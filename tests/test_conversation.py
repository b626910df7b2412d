"""Straightforward conversation, information substitutes, the Section D bounds, Appendix H."""

import math

import numpy as np
import pytest

from avc.theory import bounds
from avc.theory.conversation import conversation_table, straightforward, straightforward_conversation
from avc.theory.model import CommonPrior
from avc.theory.random_utility import agents_needed, hoeffding_union_bound, sample_noisy_agents
from avc.theory.substitutes import information_substitutes

GUESS = np.eye(2)


def xor_prior():
    joint = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            joint[a, b, a ^ b] = 0.25
    return CommonPrior(joint)


def test_bob_who_knows_y_with_injective_announcement_one_round_no_error():
    prior = CommonPrior.from_signals([0.3, 0.7], [[0.6, 0.4], [0.4, 0.6]], np.eye(2))
    util = np.array([[1.0, 0.0], [0.2, 0.6], [0.5, 0.5]])  # Bob's two beliefs differ: injective
    for x_a in range(2):
        for x_b in range(2):
            result = straightforward_conversation(prior, util, x_a, x_b)
            assert result.agreement_round == 1 and len(result.rounds) == 1
            assert result.estimation_error == pytest.approx(0.0, abs=1e-12)
            assert result.final_belief == pytest.approx(util[:, x_b])  # Alice learns y


def test_xor_agrees_at_once_without_aggregating():
    table = conversation_table(xor_prior(), GUESS)
    assert (table.agreement_round == 1).all()
    assert table.estimation_error.tolist() == pytest.approx([0.5] * 4)  # they agree on 1/2, truth is 0 or 1


def test_geanakoplos_polemarchakis_needs_two_rounds():
    # Nine equally likely states, event {3, 4} (indices 2, 3); Alice's cells of three, Bob's of four.
    alice_cell, bob_cell = [0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 1, 1, 1, 2]
    joint = np.zeros((3, 3, 9))
    for w in range(9):
        joint[alice_cell[w], bob_cell[w], w] = 1 / 9
    util = np.vstack([np.isin(np.arange(9), [2, 3]).astype(float), np.full(9, 0.5)])
    result = straightforward_conversation(CommonPrior(joint), util, 0, 0)
    # Round 1: Alice (states 1-3) says 1/3, as would Alice in {4,5,6}; Bob ({1..4}) then says 1/2.
    assert result.rounds[0].alice_set == (0, 1)
    assert result.rounds[0].bob_belief == pytest.approx([0.5, 0.5])
    # Round 2: Bob's 1/2 rules out nothing for Alice; she repeats 1/3, which now tells Bob x_A = 0.
    assert result.rounds[1].alice_set == (0,)
    assert result.agreement_round == 2
    assert result.final_belief == pytest.approx([1 / 3, 0.5])


def test_silent_bob_teaches_nothing_and_parallel_straightforward_bobs_equal_one():
    prior = CommonPrior.from_signals([0.5, 0.5], [[0.8, 0.2], [0.2, 0.8]], [[0.7, 0.3], [0.3, 0.7]])
    silent = straightforward_conversation(prior, GUESS, 0, 1, bob_rules=[lambda belief, x_b: 0.0])
    assert silent.agreement_round is None
    assert silent.final_belief == pytest.approx([0.8, 0.2])  # Alice's own posterior
    one = straightforward_conversation(prior, GUESS, 0, 1)
    two = straightforward_conversation(
        prior, GUESS, 0, 1, bob_rules=[straightforward, lambda belief, x_b: 0.0]
    )
    assert two.final_belief == pytest.approx(one.final_belief)


def test_zero_probability_features_are_rejected():
    prior = CommonPrior.from_signals([0.5, 0.5], [[1.0, 0.0], [1.0, 0.0]], np.eye(2))
    with pytest.raises(ValueError, match="probability zero"):
        straightforward_conversation(prior, GUESS, 1, 0)


def test_substitutes_holds_for_noisy_copies_and_fails_for_xor():
    noisy = CommonPrior.from_signals([0.5, 0.5], [[0.8, 0.2], [0.2, 0.8]], [[0.7, 0.3], [0.3, 0.7]])
    assert information_substitutes(noisy, GUESS).holds
    check = information_substitutes(xor_prior(), GUESS)
    assert not check.holds
    # With both features unknown (A, B = everything), learning x_A is worth nothing alone
    # (right side 0) but resolves everything once x_B is known (left side 1/4).
    assert check.worst_violation == pytest.approx(0.25)
    assert check.alice_subset == (0, 1) and check.bob_subset == (0, 1)


def test_bounds_values():
    assert bounds.agreement_rounds(2, 0.1, 0.1) == pytest.approx(6000)
    assert bounds.agreement_level(2, 6000, 0.1) == pytest.approx(0.1)
    assert bounds.substitutes_estimation_error(1e-3) == pytest.approx(1.0)  # vacuous from here on
    assert bounds.closeness_from_estimation(1.0, 0.0) == 0.0
    assert bounds.closeness_from_estimation(2.0, 0.1, rho=0.05) == pytest.approx(math.expm1(0.8) + 0.05)
    assert bounds.linearised_closeness(1.0, 0.25) == pytest.approx(math.e)
    assert math.expm1(4 * 0.25) <= bounds.linearised_closeness(1.0, 0.25)
    with pytest.raises(ValueError, match="1/4"):
        bounds.linearised_closeness(2.0, 0.2)
    assert bounds.theorem2_bound(0.9, 0.05, 0.1) == pytest.approx(0.7)


def test_theorem5_terms_and_vacuity():
    b = bounds.theorem5_bound(opt=0.9, eps=0.01, n_actions=2, lam=50.0, n_rounds=1e6, delta_conv=0.1)
    zeta = math.sqrt(6 / 1e5)
    assert b.zeta == pytest.approx(zeta)
    assert b.alignment == pytest.approx(0.02) and b.quantal == pytest.approx(math.log(2) / 50)
    err = 10 * zeta ** (1 / 3)
    assert b.estimation == pytest.approx(2 * (err + 0.1) + math.expm1(4 * 50 * err) + 0.1)
    assert b.vacuous
    tiny = bounds.theorem5_bound(opt=0.9, eps=0.0, n_actions=2, lam=10.0, n_rounds=1e24, delta_conv=1e-4)
    assert not tiny.vacuous and tiny.bound == pytest.approx(0.9 - tiny.estimation - tiny.quantal)
    corollary = bounds.corollary3_bound(0.9, 0.0, 2, 10.0, 1e24, 1e-4)
    assert corollary.estimation >= tiny.estimation - 1e-12  # the linearised form is weaker
    with pytest.raises(ValueError, match="theorem5_bound"):
        bounds.corollary3_bound(0.9, 0.0, 2, 50.0, 1e6, 0.1)


def test_agents_needed_and_hoeffding():
    assert agents_needed(2, 2, 0.1, 0.05) == 254
    threshold = (math.log(8) - math.log(0.05)) / (2 * 0.01)
    k = agents_needed(2, 2, 0.1, 0.05)
    assert k > threshold >= k - 1
    assert hoeffding_union_bound(k, 2, 2, 0.1) < 0.05 <= hoeffding_union_bound(k - 1, 2, 2, 0.1) + 1e-3
    assert hoeffding_union_bound(0, 3, 3, 0.1) == 1.0
    with pytest.raises(ValueError, match="delta"):
        agents_needed(2, 2, 0.1, 1.5)


def test_noisy_agents_are_bounded_with_the_right_mean():
    rng = np.random.default_rng(0)
    user = rng.uniform(size=(3, 4))
    for kind in ("bernoulli", "uniform"):
        agents = sample_noisy_agents(rng, user, 20000, kind=kind)
        assert agents.min() >= 0 and agents.max() <= 1
        assert agents.mean(axis=0) == pytest.approx(user, abs=0.02)
    with pytest.raises(ValueError, match="kind"):
        sample_noisy_agents(rng, user, 3, kind="gaussian")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sample_noisy_agents(rng, user + 1, 3)


def test_garbled_priors_always_satisfy_substitutes():
    from avc.theory.substitutes import garbled_prior, information_substitutes

    rng = np.random.default_rng(11)
    for _ in range(10):
        prior = garbled_prior(rng)
        assert information_substitutes(prior, rng.uniform(size=(3, prior.n_states))).holds


def test_theorem5_best_bound_and_threshold():
    bound, delta_conv, lam = bounds.best_theorem5_bound(1.0, 0.0, 2, 1e20)
    assert 0 < delta_conv < 1 and lam > 0 and bound.bound > 0.5
    # no grid point beats the optimiser
    for d in (1e-3, 1e-2, 0.05):
        for lam_ in (1.0, 3.0, 10.0):
            assert bounds.theorem5_bound(1.0, 0.0, 2, lam_, 1e20, d).bound <= bound.bound + 1e-9
    threshold = bounds.theorem5_threshold(1.0, 0.0, 2)
    assert 1e15 < threshold < 1e17
    assert (
        bounds.best_theorem5_bound(1.0, 0.0, 2, threshold * 0.9)[0].bound
        < 0
        < bounds.best_theorem5_bound(1.0, 0.0, 2, threshold * 1.1)[0].bound
    )
