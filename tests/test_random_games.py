"""avc.checks.random_games.commonly_biased_panel: agents who share one departure from the user."""

import numpy as np
import pytest

from avc.checks.random_games import commonly_biased_panel, misaligned_panel
from avc.theory.alignment import weighted_alignment


def test_every_agent_carries_the_same_departure():
    user = np.random.default_rng(0).uniform(size=(3, 3))
    agents = commonly_biased_panel(np.random.default_rng(1), user, 4, spread=0.8, noise=0.0)
    assert agents.shape == (4, 3, 3)
    assert np.allclose(agents, agents[0])  # no noise: four copies of one biased agent
    rng = np.random.default_rng(1)
    shared = rng.uniform(-1, 1, size=user.shape)  # the draws in the order the panel makes them
    noise = rng.uniform(-1, 1, size=(4, 3, 3))
    noisy = commonly_biased_panel(np.random.default_rng(1), user, 4, spread=0.8, noise=0.1)
    assert np.array_equal(noisy, user + 0.8 * shared + 0.1 * noise)


def test_a_shared_bias_keeps_the_user_outside_the_hull():
    rng = np.random.default_rng(3)
    user = rng.uniform(size=(3, 3))
    common = commonly_biased_panel(rng, user, 4, spread=0.8, noise=0.05)
    different = misaligned_panel(rng, user, 4, spread=0.8, noise=0.05)
    assert weighted_alignment(common, user).eps > 2 * weighted_alignment(different, user).eps


def test_refuses_negative_sizes():
    with pytest.raises(ValueError):
        commonly_biased_panel(np.random.default_rng(0), np.zeros((2, 2)), 0, 0.5, 0.1)
    with pytest.raises(ValueError):
        commonly_biased_panel(np.random.default_rng(0), np.zeros((2, 2)), 2, -0.5, 0.1)
