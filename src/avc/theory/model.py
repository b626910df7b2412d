"""Section B on finite spaces: prior, beliefs, first best, conversation rules, transcripts.

Conventions used throughout the book:

* Alice's features ``x_A``, the Bobs' features ``x_B`` and the state ``y`` are integer
  indices ``0 .. n-1``; actions likewise.
* A utility is an array shaped ``(n_actions, n_states)``: ``u[a, y]``.
* The common prior is an array shaped ``(n_alice_features, n_bob_features, n_states)``
  holding ``P(x_A, x_B, y)``.
* A *conversation rule* is a callable returning a probability distribution over messages
  as a mapping ``{message: probability}`` (a point mass is ``{m: 1.0}``). Messages are any
  hashable values. Bob ``i``'s rule is called as ``bob_rule(x_B, history)`` where
  ``history`` is the tuple of messages exchanged so far with *that* Bob (Alice's and his,
  alternating); Alice's rule is called as ``alice_rule(x_A, histories)`` with the tuple of
  all ``k`` histories, and returns a distribution over ``k``-tuples of messages.
* Alice's best-response decision rule breaks ties toward the lowest action index (the
  fixed, predetermined rule Definition 4 asks for), with tolerance :data:`TIE_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TIE_TOLERANCE",
    "AliceRule",
    "BobRule",
    "CommonPrior",
    "Transcript",
    "belief_vector",
    "best_response",
    "check_utility",
    "expected_utility",
    "first_best",
    "induced_distribution",
    "no_information_value",
    "point_mass",
    "sample_transcript",
    "transcript_distribution",
]

TIE_TOLERANCE = 1e-12
"""Two expected utilities closer than this are a tie (Definition 4's fixed rule)."""

Message = Hashable
History = tuple[Message, ...]
Transcript = tuple[History, ...]
"""``(h_1, ..., h_k)``: one history per Bob, messages alternating Alice, Bob, Alice, ..."""
BobRule = Callable[[int, History], Mapping[Message, float]]
AliceRule = Callable[[int, tuple[History, ...]], Mapping[tuple[Message, ...], float]]


def point_mass(message: Message) -> dict[Message, float]:
    """The distribution that sends ``message`` with probability one."""
    return {message: 1.0}


def check_utility(
    util, n_actions: int | None = None, n_states: int | None = None, name: str = "utility"
) -> np.ndarray:
    """Return ``util`` as a float array ``(n_actions, n_states)``, or raise a clear error."""
    arr = np.asarray(util, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array indexed [action, state]; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf); every u[a, y] must be a number.")
    if n_actions is not None and arr.shape[0] != n_actions:
        raise ValueError(f"{name} has {arr.shape[0]} actions (rows), expected {n_actions}.")
    if n_states is not None and arr.shape[1] != n_states:
        raise ValueError(
            f"{name} has {arr.shape[1]} states (columns) but the prior has {n_states}; "
            "utilities are indexed [action, state]."
        )
    return arr


@dataclass(frozen=True)
class CommonPrior:
    """The commonly known prior ``P(x_A, x_B, y)`` on finite spaces.

    Build it from a full joint array, or with :meth:`from_signals` from a prior over states
    and the conditional laws of two signals that are independent given the state.
    """

    joint: np.ndarray

    def __post_init__(self) -> None:
        joint = np.asarray(self.joint, dtype=float)
        if joint.ndim != 3:
            raise ValueError(
                f"The prior must be a 3-D array P[x_A, x_B, y]; got shape {joint.shape}. "
                "Use a size-1 axis for a player with no private features."
            )
        if not np.all(np.isfinite(joint)) or np.any(joint < 0):
            raise ValueError("The prior must hold finite, non-negative probabilities.")
        total = joint.sum()
        if not np.isclose(total, 1.0, rtol=0, atol=1e-9):
            raise ValueError(f"The prior must sum to 1; it sums to {total:.12g}. Normalise it first.")
        joint = joint / total
        joint.setflags(write=False)
        object.__setattr__(self, "joint", joint)

    @classmethod
    def from_signals(cls, state_prior, alice_signal, bob_signal) -> CommonPrior:
        """``P(x_A, x_B, y) = P(y) P(x_A | y) P(x_B | y)``.

        ``state_prior`` is shaped ``(n_states,)``; ``alice_signal[y, x_A]`` and
        ``bob_signal[y, x_B]`` are row-stochastic matrices (one row per state).
        """
        p_y = np.asarray(state_prior, dtype=float)
        p_a = np.asarray(alice_signal, dtype=float)
        p_b = np.asarray(bob_signal, dtype=float)
        for name, mat in (("alice_signal", p_a), ("bob_signal", p_b)):
            if mat.ndim != 2 or mat.shape[0] != p_y.shape[0]:
                raise ValueError(
                    f"{name} must be shaped (n_states, n_signals) = ({p_y.shape[0]}, ...); got {mat.shape}."
                )
            if np.any(mat < 0) or not np.allclose(mat.sum(axis=1), 1.0, atol=1e-9):
                raise ValueError(f"Each row of {name} must be a probability distribution over signals.")
        return cls(np.einsum("y,ya,yb->aby", p_y, p_a, p_b))

    @property
    def n_alice_features(self) -> int:
        return self.joint.shape[0]

    @property
    def n_bob_features(self) -> int:
        return self.joint.shape[1]

    @property
    def n_states(self) -> int:
        return self.joint.shape[2]

    def features_marginal(self) -> np.ndarray:
        """``P(x_A, x_B)`` shaped ``(n_alice_features, n_bob_features)``."""
        return self.joint.sum(axis=2)

    def state_marginal(self) -> np.ndarray:
        """``P(y)``."""
        return self.joint.sum(axis=(0, 1))


def belief_vector(prior: CommonPrior, user_util, evidence=None) -> np.ndarray:
    """Alice's belief vector ``mu(F) = (E[u_A(a, y) | F])_a``.

    ``evidence`` describes the information ``F`` by its likelihood given the features,
    an array ``L[x_A, x_B] = P(F | x_A, x_B)`` (information produced from the features
    alone, such as a transcript, is independent of ``y`` given them). Indicator arrays
    express "x_A = 1" or "x_B in {0, 2}". ``None`` means no information.
    """
    u = check_utility(user_util, n_states=prior.n_states, name="user_util")
    if evidence is None:
        weights = prior.state_marginal()
    else:
        like = np.asarray(evidence, dtype=float)
        if like.shape != prior.joint.shape[:2]:
            raise ValueError(
                f"evidence must be shaped (n_alice_features, n_bob_features) = "
                f"{prior.joint.shape[:2]}; got {like.shape}."
            )
        weights = np.einsum("aby,ab->y", prior.joint, like)
    total = weights.sum()
    if total <= 0:
        raise ValueError("The information F has probability zero under the prior: its belief is undefined.")
    return u @ (weights / total)


def best_response(mu, tol: float = TIE_TOLERANCE) -> int:
    """Definition 4: an action maximising ``mu``; ties go to the lowest index."""
    mu = np.asarray(mu, dtype=float)
    return int(np.flatnonzero(mu >= mu.max() - tol)[0])


def first_best(prior: CommonPrior, user_util) -> float:
    """Definition 2: ``OPT = E_{x_A, x_B}[max_a E[u_A(a, y) | x_A, x_B]]``."""
    u = check_utility(user_util, n_states=prior.n_states, name="user_util")
    # sum_y P(x_A, x_B, y) u[a, y] = P(x_A, x_B) * E[u(a, y) | x_A, x_B]
    unnormalised = np.einsum("aby,cy->abc", prior.joint, u)
    return float(unnormalised.max(axis=2).sum())


def no_information_value(prior: CommonPrior, user_util, use_alice_features: bool = True) -> float:
    """What Alice gets without talking to anyone: ``E_{x_A}[max_a E[u_A | x_A]]``.

    With ``use_alice_features=False`` she ignores her own features too: ``max_a E[u_A]``.
    """
    u = check_utility(user_util, n_states=prior.n_states, name="user_util")
    by_alice = prior.joint.sum(axis=1)  # P(x_A, y)
    if not use_alice_features:
        by_alice = by_alice.sum(axis=0, keepdims=True)
    return float((by_alice @ u.T).max(axis=1).sum())


def _check_distribution(dist: Mapping, who: str) -> Mapping:
    if not isinstance(dist, Mapping) or not dist:
        raise TypeError(
            f"{who} must return a non-empty mapping {{message: probability}}; got {dist!r}. "
            "Wrap a deterministic message with avc.theory.model.point_mass(message)."
        )
    probs = np.fromiter(dist.values(), dtype=float)
    if np.any(probs < 0) or not np.isclose(probs.sum(), 1.0, atol=1e-9):
        raise ValueError(f"{who} returned probabilities {probs.tolist()}, which do not form a distribution.")
    return dist


def _sample(dist: Mapping, rng: np.random.Generator):
    keys = list(dist)
    probs = np.fromiter(dist.values(), dtype=float)
    return keys[rng.choice(len(keys), p=probs / probs.sum())]


def _check_rules(bob_rules: Sequence[BobRule], n_rounds: int) -> None:
    if len(bob_rules) == 0:
        raise ValueError("At least one Bob is needed: bob_rules is empty.")
    if int(n_rounds) != n_rounds or n_rounds < 1:
        raise ValueError(f"n_rounds must be a positive integer; got {n_rounds!r}.")


def _alice_messages(alice_rule: AliceRule, x_alice: int, histories: tuple[History, ...]) -> Mapping:
    dist = _check_distribution(alice_rule(x_alice, histories), "alice_rule")
    k = len(histories)
    for msgs in dist:
        if not isinstance(msgs, tuple) or len(msgs) != k:
            raise ValueError(
                f"alice_rule must put probability on tuples of {k} messages (one per Bob); got {msgs!r}."
            )
    return dist


def sample_transcript(
    bob_rules: Sequence[BobRule],
    alice_rule: AliceRule,
    x_alice: int,
    x_bob: int,
    n_rounds: int,
    rng: np.random.Generator,
) -> Transcript:
    """Algorithm 1 (SampleTranscript): ``R`` rounds of ``k`` parallel private conversations.

    In each round Alice sends one message to every Bob (drawn jointly from her rule, which
    sees all histories), then each Bob answers from his rule, which sees only ``x_B`` and
    his own history. Returns ``(h_1, ..., h_k)``.
    """
    _check_rules(bob_rules, n_rounds)
    histories: list[History] = [() for _ in bob_rules]
    for _ in range(n_rounds):
        alice_msgs = _sample(_alice_messages(alice_rule, x_alice, tuple(histories)), rng)
        for i, rule in enumerate(bob_rules):
            histories[i] = histories[i] + (alice_msgs[i],)
            bob_msg = _sample(_check_distribution(rule(x_bob, histories[i]), f"bob_rules[{i}]"), rng)
            histories[i] = histories[i] + (bob_msg,)
    return tuple(histories)


def transcript_distribution(
    bob_rules: Sequence[BobRule], alice_rule: AliceRule, x_alice: int, x_bob: int, n_rounds: int
) -> dict[Transcript, float]:
    """The exact law of :func:`sample_transcript`'s output given ``(x_A, x_B)``.

    Enumerates every branch of Algorithm 1, so it is exponential in ``R`` and ``k``: meant
    for the small instances of the book.
    """
    _check_rules(bob_rules, n_rounds)
    layer: dict[Transcript, float] = {tuple(() for _ in bob_rules): 1.0}
    for _ in range(n_rounds):
        after_alice: dict[Transcript, float] = {}
        for hist, prob in layer.items():
            for msgs, p_msg in _alice_messages(alice_rule, x_alice, hist).items():
                if p_msg <= 0:
                    continue
                new = tuple(h + (m,) for h, m in zip(hist, msgs))
                after_alice[new] = after_alice.get(new, 0.0) + prob * p_msg
        layer = after_alice
        for i, rule in enumerate(bob_rules):
            after_bob: dict[Transcript, float] = {}
            for hist, prob in layer.items():
                for msg, p_msg in _check_distribution(rule(x_bob, hist[i]), f"bob_rules[{i}]").items():
                    if p_msg <= 0:
                        continue
                    new = hist[:i] + (hist[i] + (msg,),) + hist[i + 1 :]
                    after_bob[new] = after_bob.get(new, 0.0) + prob * p_msg
            layer = after_bob
    return layer


def induced_distribution(
    prior: CommonPrior,
    user_util,
    bob_rules: Sequence[BobRule],
    alice_rule: AliceRule,
    n_rounds: int,
) -> np.ndarray:
    """Definition 5 with Alice's best-response decision rule: the joint law of ``(a, y)``.

    For every ``x_A`` and every transcript ``pi`` that can occur, Alice's belief
    ``mu(x_A, pi)`` is computed exactly by Bayes' rule over the Bobs' possible features,
    she plays :func:`best_response`, and the probability of ``(x_A, pi, y)`` is added to
    the cell ``(a, y)``. Returns an array shaped ``(n_actions, n_states)`` summing to 1.
    """
    u = check_utility(user_util, n_states=prior.n_states, name="user_util")
    joint_ay = np.zeros_like(u)
    for x_a in range(prior.n_alice_features):
        p_bob_y = prior.joint[x_a]  # P(x_A = x_a, x_B, y), shaped (n_bob_features, n_states)
        if p_bob_y.sum() <= 0:
            continue
        by_bob = [
            transcript_distribution(bob_rules, alice_rule, x_a, x_b, n_rounds)
            if p_bob_y[x_b].sum() > 0
            else {}
            for x_b in range(prior.n_bob_features)
        ]
        for pi in set().union(*by_bob):
            likelihood = np.array([dist.get(pi, 0.0) for dist in by_bob])
            weight_y = likelihood @ p_bob_y  # P(x_A = x_a, pi, y)
            action = best_response(u @ (weight_y / weight_y.sum()))
            joint_ay[action] += weight_y
    return joint_ay


def expected_utility(joint_ay, util) -> float:
    """``E_{(a, y)}[util(a, y)]`` under a joint law of actions and states."""
    joint_ay = np.asarray(joint_ay, dtype=float)
    return float(np.sum(joint_ay * check_utility(util, *joint_ay.shape)))
