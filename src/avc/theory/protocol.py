"""Theorem 1 in the paper's own protocol: private features, R rounds, Alice's fixed rule.

The persuasion games of Sections C-E let the Bobs see the state. Here the game is the one of
Section B on small finite spaces:

* the common prior ``P(x_A, x_B, y)`` (:class:`avc.theory.model.CommonPrior`): Alice has a private
  feature ``x_A``, all Bobs share a feature ``x_B`` that is *not* the state;
* ``R`` rounds of parallel private conversations (Algorithm 1, :mod:`avc.theory.model`): in each
  round Alice sends every Bob a message, then each Bob answers from ``x_B`` and his own
  history only;
* Alice's conversation rule is fixed (:func:`relay_rule`): in round 1 she tells every Bob her
  feature ``x_A``; in round 2 she tells each Bob what the *other* Bobs answered in round 1.
  She then best responds to her exact posterior given ``x_A`` and the transcript
  (:func:`avc.theory.model.induced_distribution`, ties to the lowest action);
* each Bob picks a rule from a finite menu (:func:`bob_menu`) that contains the rule revealing
  ``x_B`` in every round, the aligned rule ``C*`` of Remark 4.

:class:`ProtocolGame` is a :class:`avc.theory.games.SenderGame`, so the equilibrium search, the
Definition 9 check and :func:`avc.checks.theorem_checks.theorem1_check` apply to it unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avc.theory.games import SenderGame
from avc.theory.model import CommonPrior, first_best, induced_distribution, point_mass

__all__ = ["BobConversationRule", "ProtocolGame", "bob_menu", "relay_rule", "reveal_index"]

SILENT = "-"


def relay_rule(x_alice: int, histories: tuple) -> dict:
    """Alice's fixed rule: round 1 sends ``x_A`` to every Bob; round 2 sends each Bob the tuple
    of the other Bobs' round-1 answers; later rounds repeat round 2."""
    k = len(histories)
    if len(histories[0]) == 0:
        return point_mass(tuple(("x_A", x_alice) for _ in range(k)))
    answers = [h[1] for h in histories]
    return point_mass(tuple(tuple(a for j, a in enumerate(answers) if j != i) for i in range(k)))


@dataclass(frozen=True)
class BobConversationRule:
    """A deterministic Bob rule, named; called as ``rule(x_B, history)`` like :mod:`avc.theory.model`.

    ``partition[x_B]`` is the block of ``x_B`` he discloses when he speaks (``None`` for
    silence); ``when`` decides, from the round, Alice's feature and the other Bobs' round-1
    answers, whether he speaks:

    * ``"always"``: every round;
    * ``"if_x_A=a"``: every round, only when Alice's feature is ``a``;
    * ``"late"``: from round 2 on;
    * ``"if_others_silent"``: from round 2 on, only if every other Bob was silent in round 1;
    * ``"if_others_spoke"``: from round 2 on, only if some other Bob spoke in round 1.
    """

    name: str
    partition: tuple[int, ...] | None
    when: str = "always"

    def speaks(self, history: tuple) -> bool:
        round_number = len(history) // 2 + 1
        x_alice = history[0][1]
        if self.partition is None:
            return False
        if self.when == "always":
            return True
        if self.when.startswith("if_x_A="):
            return x_alice == int(self.when.split("=")[1])
        if round_number < 2:
            return False
        others = history[2] if len(history) > 2 else ()
        others_spoke = any(m != SILENT for m in others)
        return {"late": True, "if_others_silent": not others_spoke, "if_others_spoke": others_spoke}[
            self.when
        ]

    def __call__(self, x_bob: int, history: tuple) -> dict:
        return point_mass(self.partition[x_bob] if self.speaks(history) else SILENT)


def _partitions(n: int) -> list[tuple[int, ...]]:
    out = []

    def grow(assign, blocks):
        if len(assign) == n:
            out.append(tuple(assign))
            return
        for b in range(blocks + 1):
            grow(assign + [b], max(blocks, b + 1))

    grow([], 0)
    return out


def bob_menu(
    n_bob_features: int, n_alice_features: int, two_round_rules: bool = True
) -> list[BobConversationRule]:
    """The finite menu: every partition of ``x_B`` disclosed in every round (the coarsest is
    silence, the finest is ``C*``), the full disclosure conditioned on each value of Alice's
    feature, and, with ``two_round_rules``, full disclosure from round 2, only if the others
    were silent, or only if they spoke."""
    if n_bob_features < 1 or n_alice_features < 1:
        raise ValueError("need at least one feature value for each side.")
    finest = tuple(range(n_bob_features))
    menu = []
    for part in _partitions(n_bob_features):
        n_blocks = len(set(part))
        if n_blocks == 1:
            menu.append(BobConversationRule("silent", None))
        elif part == finest:
            menu.append(BobConversationRule("reveal x_B (C*)", part))
        else:
            menu.append(BobConversationRule(f"disclose blocks {part}", part))
    if n_alice_features > 1:
        menu += [
            BobConversationRule(f"reveal if x_A = {a}", finest, f"if_x_A={a}")
            for a in range(n_alice_features)
        ]
    if two_round_rules:
        menu += [
            BobConversationRule("reveal in round 2", finest, "late"),
            BobConversationRule("reveal if others were silent", finest, "if_others_silent"),
            BobConversationRule("reveal if others spoke", finest, "if_others_spoke"),
        ]
    return menu


def reveal_index(menu: Sequence[BobConversationRule]) -> int:
    """Where ``C*`` (reveal ``x_B`` in every round) sits in a menu."""
    return next(
        i
        for i, r in enumerate(menu)
        if r.when == "always" and r.partition is not None and len(set(r.partition)) == len(r.partition)
    )


class ProtocolGame(SenderGame):
    """The Bobs' game in the paper's protocol; Alice follows :func:`relay_rule` and best responds."""

    def __init__(self, prior: CommonPrior, receiver_util, sender_utils, strategies, n_rounds: int = 2):
        if not isinstance(prior, CommonPrior):
            raise TypeError("prior must be an avc.theory.model.CommonPrior over (x_A, x_B, y).")
        if n_rounds not in (1, 2, 3):
            raise ValueError("n_rounds must be 1, 2 or 3 (transcripts are enumerated exactly).")
        self.common_prior = prior
        self.n_rounds = n_rounds
        super().__init__(prior.state_marginal(), receiver_util, sender_utils, strategies, lam=None)

    def _compute_outcome(self, profile) -> np.ndarray:
        rules = [self.strategies[i][s] for i, s in enumerate(profile)]
        return induced_distribution(self.common_prior, self.receiver_util, rules, relay_rule, self.n_rounds)

    def payoff_tensor(self) -> np.ndarray:
        tensor = np.empty((*self.n_strategies, self.k + 1))
        for profile in itertools.product(*(range(n) for n in self.n_strategies)):
            tensor[profile] = self.payoffs(profile)
        return tensor

    def first_best(self) -> float:
        """Definition 2's OPT for this prior and Alice's utility."""
        return first_best(self.common_prior, self.receiver_util)

    def single_bob_value(self, rule) -> float:
        """``U_A(C)``: Alice's utility when she talks to one Bob using ``rule``."""
        joint = induced_distribution(self.common_prior, self.receiver_util, [rule], relay_rule, self.n_rounds)
        return float((joint * self.receiver_util).sum())
