"""Section B objects on hand-checkable instances."""

import numpy as np
import pytest
import scipy.stats

from avc.theory import model


@pytest.fixture
def coin_prior():
    """y is a fair coin; Alice sees nothing (one feature value); Bob sees y exactly."""
    joint = np.zeros((1, 2, 2))
    joint[0, 0, 0] = joint[0, 1, 1] = 0.5
    return model.CommonPrior(joint)


GUESS = np.eye(2)  # u[a, y] = 1 if the guess a equals the state y


def reveal(x_b, history):
    return model.point_mass(x_b)


def silent(x_b, history):
    return model.point_mass("")


def quiet_alice(x_a, histories):
    return model.point_mass(("",) * len(histories))


def test_first_best_and_no_information(coin_prior):
    assert model.first_best(coin_prior, GUESS) == pytest.approx(1.0)
    assert model.no_information_value(coin_prior, GUESS) == pytest.approx(0.5)


def test_first_best_hand_computed_noisy_signals():
    # P(y=0) = 0.6; Bob's signal is right w.p. 0.8; Alice sees nothing useful.
    prior = model.CommonPrior.from_signals([0.6, 0.4], [[1.0], [1.0]], [[0.8, 0.2], [0.2, 0.8]])
    # Signal 0 (prob .56): P(y=0) = .48/.56 -> guess 0, gain .48. Signal 1 (prob .44):
    # P(y=0) = .12/.44, P(y=1) = .32/.44 -> guess 1, gain .32. OPT = .80.
    assert model.first_best(prior, GUESS) == pytest.approx(0.80)
    assert model.no_information_value(prior, GUESS) == pytest.approx(0.60)


def test_belief_vector_bayes_rule():
    prior = model.CommonPrior.from_signals([0.6, 0.4], [[1.0], [1.0]], [[0.8, 0.2], [0.2, 0.8]])
    mu = model.belief_vector(prior, GUESS, evidence=np.array([[0.0, 1.0]]))  # "Bob saw 1"
    assert mu == pytest.approx([0.12 / 0.44, 0.32 / 0.44])
    assert model.belief_vector(prior, GUESS) == pytest.approx([0.6, 0.4])
    with pytest.raises(ValueError, match="probability zero"):
        model.belief_vector(prior, GUESS, evidence=np.zeros((1, 2)))


def test_best_response_ties_go_to_lowest_index():
    assert model.best_response([0.2, 0.5, 0.5]) == 1
    assert model.best_response([0.5 + 1e-15, 0.5]) == 0
    assert model.best_response([0.1, 0.3, 0.2]) == 1


def test_induced_distribution_full_revelation_reaches_first_best(coin_prior):
    joint = model.induced_distribution(coin_prior, GUESS, [reveal], quiet_alice, n_rounds=1)
    assert joint == pytest.approx(np.diag([0.5, 0.5]))
    assert model.expected_utility(joint, GUESS) == pytest.approx(1.0)


def test_induced_distribution_silent_bobs_give_prior_decision(coin_prior):
    joint = model.induced_distribution(coin_prior, GUESS, [silent, silent], quiet_alice, n_rounds=2)
    # Alice learns nothing; the fair-coin tie goes to action 0.
    assert joint == pytest.approx(np.array([[0.5, 0.5], [0.0, 0.0]]))


def test_transcript_structure_and_alternation():
    def echo_round(x_b, history):  # Bob answers with the round number he is in
        return model.point_mass(len(history) // 2)

    def count_alice(x_a, histories):
        return model.point_mass(tuple(f"q{len(h) // 2}" for h in histories))

    rng = np.random.default_rng(0)
    transcript = model.sample_transcript(
        [echo_round, echo_round, reveal], count_alice, 0, 1, n_rounds=3, rng=rng
    )
    assert len(transcript) == 3
    assert transcript[0] == ("q0", 0, "q1", 1, "q2", 2)
    assert transcript[2] == ("q0", 1, "q1", 1, "q2", 1)


def test_bob_sees_only_his_own_history():
    seen = []

    def recorder(x_b, history):
        seen.append(history)
        return model.point_mass("ok")

    def different_messages(x_a, histories):
        return model.point_mass(tuple(f"to{i}" for i in range(len(histories))))

    model.sample_transcript(
        [recorder, recorder], different_messages, 0, 0, n_rounds=1, rng=np.random.default_rng(0)
    )
    assert seen == [("to0",), ("to1",)]


@pytest.mark.heavy
def test_sampler_matches_exact_law():
    def coin_bob(x_b, history):
        return {"heads": 0.3, "tails": 0.7}

    def random_alice(x_a, histories):
        return {("a", "a"): 0.5, ("b", "c"): 0.5}

    exact = model.transcript_distribution([coin_bob, coin_bob], random_alice, 0, 0, n_rounds=2)
    assert sum(exact.values()) == pytest.approx(1.0)
    assert len(exact) == 2 * 4 * 2 * 4  # Alice's 2 options and 4 Bob outcomes per round
    rng = np.random.default_rng(7)
    n = 4000
    counts: dict = {}
    for _ in range(n):
        t = model.sample_transcript([coin_bob, coin_bob], random_alice, 0, 0, 2, rng)
        counts[t] = counts.get(t, 0) + 1
    assert set(counts) <= set(exact)
    # Pearson's chi-square over the 64 transcripts (each expected 8 times or more): with this seed
    # a sampler drawing heads with 0.35 instead of 0.3 gives a p-value of about 1e-30
    observed = [counts.get(t, 0) for t in exact]
    expected = [n * exact[t] for t in exact]
    assert scipy.stats.chisquare(observed, expected).pvalue > 1e-3


def test_sampling_is_deterministic_given_the_seed():
    def coin_bob(x_b, history):
        return {"h": 0.5, "t": 0.5}

    draws = [
        [model.sample_transcript([coin_bob], quiet_alice, 0, 0, 4, rng) for _ in range(5)]
        for rng in (np.random.default_rng(11), np.random.default_rng(11))
    ]
    assert draws[0] == draws[1]


def test_prior_validation_messages():
    with pytest.raises(ValueError, match="3-D"):
        model.CommonPrior(np.ones((2, 2)) / 4)
    with pytest.raises(ValueError, match="sums to"):
        model.CommonPrior(np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        model.CommonPrior(np.array([[[1.5, -0.5]]]))
    with pytest.raises(ValueError, match="bob_signal"):
        model.CommonPrior.from_signals([0.5, 0.5], [[1.0], [1.0]], [[0.5, 0.5]])


def test_rule_errors_are_explained(coin_prior):
    with pytest.raises(TypeError, match="point_mass"):
        model.sample_transcript([lambda x, h: "raw message"], quiet_alice, 0, 0, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="distribution"):
        model.sample_transcript([lambda x, h: {"a": 0.7}], quiet_alice, 0, 0, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="tuples of 2 messages"):
        model.sample_transcript(
            [silent, silent], lambda x, h: model.point_mass("x"), 0, 0, 1, np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="n_rounds"):
        model.transcript_distribution([silent], quiet_alice, 0, 0, 0)
    with pytest.raises(ValueError, match="states"):
        model.first_best(coin_prior, np.ones((2, 3)))
