"""Utility families of avc.theory.examples."""

import numpy as np
import pytest

from avc.theory.examples import courtroom_utilities, drug_market


def test_courtroom_judge_is_the_sum_of_the_advocates():
    court = courtroom_utilities()
    assert court.agent_names == ["prosecutor", "defence"]
    assert np.array_equal(court.agent_stack().sum(axis=0), court.user)
    # Appendix I's tables: the judge prefers the just verdict; the prosecutor always wants conviction
    assert court.user[1, 0] > court.user[0, 0] and court.user[0, 1] > court.user[1, 1]
    assert np.all(court.agents["prosecutor"][1] > court.agents["prosecutor"][0])
    assert court.table().shape == (6, 2)


def test_drug_market_average_is_user_plus_constant_when_every_drug_has_a_maker():
    rng = np.random.default_rng(0)
    quality = rng.uniform(size=(4, 3))
    market = drug_market(quality, manufacturer=[0, 1, 2, 1], bonus=0.3)
    assert len(market.agents) == 3
    assert np.allclose(market.agents["company 1"] - quality, 0.3 * np.array([[0], [1], [0], [1]]))
    # weights proportional to nothing in particular: each company's share of the bonus
    # cancels only with uniform weights when each company makes exactly one drug
    single = drug_market(quality[:3], manufacturer=[0, 1, 2], bonus=0.3)
    assert np.allclose(single.agent_stack().mean(axis=0), quality[:3] + 0.1)


def test_drug_market_rejects_gaps_in_company_numbers():
    with pytest.raises(ValueError, match="numbered 0..k-1"):
        drug_market(np.zeros((2, 2)), manufacturer=[0, 2], bonus=0.1)
