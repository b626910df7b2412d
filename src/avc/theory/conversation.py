"""The straightforward conversation (Definition 10) on a finite common prior, computed exactly.

Alice knows ``x_A``, every Bob knows ``x_B``; each round Alice announces her belief vector
``E[u_A(a, y) | x_A, what the Bobs said]`` and each Bob answers with his rule applied to his
belief ``E[u_A(a, y) | x_B, what Alice said]`` (the straightforward rule announces the belief
itself). Everyone knows the prior and the rules, so an announcement reveals exactly the set
of feature values that would have produced it. Public knowledge is therefore a product set:
the Alice features still possible (``alice_set``) and the Bob features still possible
(``bob_set``); the conversation shrinks them round by round.

The conversation stops at the first round where Alice's and Bob's beliefs are ζ-close in the
sup-norm (ζ-agreement, Definition 15), or when a round changes nothing (nobody can learn
anything more), or after ``max_rounds``. Its *estimation error* is
``ε_u = |mu(x_A, π) - mu_true(x_A, x_B)|_inf``, Alice's final belief against the belief she
would have with both features.

Messages are belief vectors rounded to ``MESSAGE_DECIMALS`` decimals, so two feature values
whose beliefs agree to that precision send the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from avc.theory.model import CommonPrior, belief_vector, check_utility

__all__ = [
    "MESSAGE_DECIMALS",
    "ConversationResult",
    "ConversationRound",
    "conversation_table",
    "straightforward",
    "straightforward_conversation",
]

MESSAGE_DECIMALS = 10

BobAnnouncement = Callable[[np.ndarray, int], object]
"""A Bob's announcement rule: ``rule(belief_vector, x_B) -> message`` (any value)."""


def straightforward(belief: np.ndarray, x_bob: int) -> np.ndarray:
    """Definition 10: announce the belief vector itself."""
    return belief


def _key(message) -> tuple:
    return tuple(
        float(x) for x in np.round(np.atleast_1d(np.asarray(message, dtype=float)), MESSAGE_DECIMALS)
    )


@dataclass(frozen=True)
class ConversationRound:
    """One round: the messages, what became public, and both sides' beliefs after it."""

    alice_message: tuple
    bob_messages: tuple
    alice_set: tuple[int, ...]
    """Alice features consistent with her messages so far (what the Bobs know of ``x_A``)."""
    bob_set: tuple[int, ...]
    """Bob features consistent with the Bobs' messages so far (what Alice knows of ``x_B``)."""
    alice_belief: np.ndarray
    bob_belief: np.ndarray

    @property
    def disagreement(self) -> float:
        return float(np.abs(self.alice_belief - self.bob_belief).max())


@dataclass(frozen=True)
class ConversationResult:
    x_alice: int
    x_bob: int
    rounds: tuple[ConversationRound, ...]
    agreement_round: int | None
    """The first round ending in ζ-agreement, or None if none did."""
    final_belief: np.ndarray
    true_belief: np.ndarray

    @property
    def estimation_error(self) -> float:
        """``ε_u = |mu(x_A, π) - mu_true(x_A, x_B)|_inf``."""
        return float(np.abs(self.final_belief - self.true_belief).max())


class _Beliefs:
    """Beliefs E[u_A(a, y) | x_A in A, x_B in B] on a fixed prior, as a small helper."""

    def __init__(self, prior: CommonPrior, user_util):
        self.prior = prior
        self.util = check_utility(user_util, n_states=prior.n_states, name="user_util")

    def of(self, alice: Sequence[int], bob: Sequence[int]) -> np.ndarray | None:
        like = np.zeros(self.prior.joint.shape[:2])
        like[np.ix_(list(alice), list(bob))] = 1.0
        if (self.prior.features_marginal() * like).sum() <= 0:
            return None
        return belief_vector(self.prior, self.util, like)


def straightforward_conversation(
    prior: CommonPrior,
    user_util,
    x_alice: int,
    x_bob: int,
    zeta: float = 0.0,
    max_rounds: int = 100,
    bob_rules: Sequence[BobAnnouncement] = (straightforward,),
) -> ConversationResult:
    """Run the conversation for one realised ``(x_A, x_B)``.

    ``bob_rules`` has one announcement rule per Bob (Alice talks to all of them in parallel
    and sends each the same straightforward message); the default is a single straightforward
    Bob. ``zeta`` is the agreement level; ``zeta=0`` means exact agreement.
    """
    if prior.features_marginal()[x_alice, x_bob] <= 0:
        raise ValueError(f"(x_A, x_B) = ({x_alice}, {x_bob}) has probability zero under the prior.")
    if zeta < 0 or max_rounds < 1 or not bob_rules:
        raise ValueError("need zeta >= 0, max_rounds >= 1 and at least one Bob rule.")
    beliefs = _Beliefs(prior, user_util)
    alice_set = tuple(range(prior.n_alice_features))
    bob_set = tuple(range(prior.n_bob_features))
    rounds: list[ConversationRound] = []
    agreement = None
    for number in range(1, max_rounds + 1):
        before = (alice_set, bob_set)
        # Alice speaks: her belief given x_A and what she knows of x_B.
        alice_says = {a: beliefs.of([a], bob_set) for a in alice_set}
        message = _key(alice_says[x_alice])
        alice_set = tuple(a for a, b in alice_says.items() if b is not None and _key(b) == message)
        # Each Bob answers from what he now knows of x_A.
        bob_messages = []
        for rule in bob_rules:
            said = {b: beliefs.of(alice_set, [b]) for b in bob_set}
            said = {b: _key(rule(v, b)) for b, v in said.items() if v is not None}
            bob_messages.append(said[x_bob])
            bob_set = tuple(b for b, m in said.items() if m == said[x_bob])
        record = ConversationRound(
            alice_message=message,
            bob_messages=tuple(bob_messages),
            alice_set=alice_set,
            bob_set=bob_set,
            alice_belief=beliefs.of([x_alice], bob_set),
            bob_belief=beliefs.of(alice_set, [x_bob]),
        )
        rounds.append(record)
        if record.disagreement <= zeta:
            agreement = number
            break
        if (alice_set, bob_set) == before:  # nothing new can be learned
            break
    return ConversationResult(
        x_alice=x_alice,
        x_bob=x_bob,
        rounds=tuple(rounds),
        agreement_round=agreement,
        final_belief=rounds[-1].alice_belief,
        true_belief=beliefs.of([x_alice], [x_bob]),
    )


def conversation_table(
    prior: CommonPrior, user_util, zeta: float = 0.0, max_rounds: int = 100, **kwargs
) -> pd.DataFrame:
    """One row per feature pair of positive probability: its probability, the agreement round,
    the number of rounds run and ``ε_u``."""
    rows = []
    marginal = prior.features_marginal()
    for x_a, x_b in zip(*np.nonzero(marginal > 0)):
        result = straightforward_conversation(
            prior, user_util, int(x_a), int(x_b), zeta, max_rounds, **kwargs
        )
        rows.append(
            dict(
                x_alice=int(x_a),
                x_bob=int(x_b),
                probability=float(marginal[x_a, x_b]),
                agreement_round=result.agreement_round,
                rounds=len(result.rounds),
                estimation_error=result.estimation_error,
            )
        )
    return pd.DataFrame(rows)
