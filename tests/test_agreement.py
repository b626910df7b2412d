"""avc.checks.agreement: the priors of Chapter D's conversation checks and what they measure."""

import numpy as np
import pandas as pd
import pytest

from avc.checks import agreement
from avc.theory.conversation import conversation_table
from avc.theory.substitutes import information_substitutes


def test_xor_prior_each_feature_alone_says_nothing():
    prior = agreement.xor_prior()
    assert prior.joint.shape == (2, 2, 2) and np.isclose(prior.joint.sum(), 1)
    for a in range(2):
        for b in range(2):
            assert prior.joint[a, b, a ^ b] == 0.25
    assert np.allclose(prior.joint.sum(axis=1), 0.25)  # x_A alone: the state is a coin flip
    assert not information_substitutes(prior, np.eye(2)).holds
    # straightforward talk agrees at once and leaves Alice off by 1/2
    assert np.isclose(conversation_table(prior, np.eye(2)).estimation_error.max(), 0.5)


def test_noisy_copies_is_a_seeded_prior_over_three_states():
    one = agreement.noisy_copies(np.random.default_rng(3))
    two = agreement.noisy_copies(np.random.default_rng(3))
    assert np.array_equal(one.joint, two.joint)
    assert one.joint.shape == (3, 3, 3) and np.isclose(one.joint.sum(), 1)
    # each side sees the state with probability at least 1/2
    p_y = one.joint.sum(axis=(0, 1))
    alice_right = sum(one.joint[y, :, y].sum() for y in range(3))
    assert alice_right >= 0.5 * p_y.sum() - 1e-12


def test_partition_prior_uses_every_cell():
    rng = np.random.default_rng(0)
    for _ in range(5):
        prior = agreement.partition_prior(rng)
        joint = prior.joint
        assert joint.shape == (3, 3, 8) and np.allclose(joint.sum(axis=(0, 1)), 1 / 8)
        assert (joint.sum(axis=(1, 2)) > 0).all() and (joint.sum(axis=(0, 2)) > 0).all()
        assert ((joint > 0).sum(axis=(0, 1)) == 1).all()  # each state in one cell per side
    with pytest.raises(ValueError):
        agreement.partition_prior(rng, n_states=2, n_cells=3)


def test_slow_priors_need_more_than_one_round():
    slow = agreement.slow_priors(np.random.default_rng(4), 3)
    assert len(slow) == 3
    for prior, util in slow:
        assert util.shape == (2, 8) and np.all(util[1] == 0.5)
        assert conversation_table(prior, util, zeta=0.0).agreement_round.max() >= 2
    assert agreement.slow_priors(np.random.default_rng(4), 3, max_draws=0) == []


def test_error_before_talking():
    prior = agreement.xor_prior()
    # with x_A alone Alice believes 1/2 on each bet; knowing both she is sure
    assert agreement.error_before_talking(prior, np.eye(2), 0, 1) == pytest.approx(0.5)
    both_see = agreement.xor_prior()
    util = np.ones((2, 2))  # a utility that does not depend on the state: nothing to learn
    assert agreement.error_before_talking(both_see, util, 1, 0) == pytest.approx(0.0)


def test_no_agreement_within_counts_the_probability_still_talking():
    table = pd.DataFrame({"probability": [0.5, 0.3, 0.2], "agreement_round": [1, 3, None]})
    assert agreement.no_agreement_within(table, 1) == pytest.approx(0.5)
    assert agreement.no_agreement_within(table, 3) == pytest.approx(0.2)  # never agreeing counts
    assert agreement.no_agreement_within(table, 10) == pytest.approx(0.2)
