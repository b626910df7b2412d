"""Each Bob's menu of conversation rules in the equilibrium chapters (C, D, E, I), and where a
given rule sits in it.

A theorem check needs the index of the reference rule ``C*`` in every Bob's menu: full
revelation (the identity scheme) in Chapters C, D and I, the best two-signal split in Chapter E.
:func:`scheme_index` finds it, and refuses a menu that lacks it rather than checking the
theorem against the wrong rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avc.theory import persuasion

__all__ = [
    "full_revelation_index",
    "noisy_revelation",
    "persuasion_menu",
    "rule_in_words",
    "scheme_index",
    "two_signal_menu",
]


def scheme_index(menu: Sequence, scheme) -> int:
    """The index of ``scheme`` in ``menu`` (the first exact match); a ``ValueError`` if absent."""
    target = np.asarray(scheme)
    for i, candidate in enumerate(menu):
        candidate = np.asarray(candidate)
        if candidate.shape == target.shape and np.array_equal(candidate, target):
            return i
    raise ValueError(f"the menu of {len(menu)} schemes does not contain the scheme {target.tolist()}")


def full_revelation_index(menu: Sequence) -> int:
    """The index of full revelation (the identity scheme: the signal is the state) in ``menu``."""
    n_states = np.asarray(menu[0]).shape[0]
    return scheme_index(menu, np.eye(n_states))


def persuasion_menu(n_states: int) -> list[np.ndarray]:
    """Chapter C's menu: every scheme to two signals with probabilities in steps of 1/4 for two
    states; one deterministic scheme per partition of the states for more."""
    if n_states == 2:
        return persuasion.grid_schemes(2, 2, 4)
    return persuasion.partition_schemes(n_states)


def two_signal_menu(n_states: int) -> list[np.ndarray]:
    """Chapter E's restricted menu: every scheme to **two** signals, with probabilities in steps
    of 1/4 for two states and in ``{0, 1/2, 1}`` for more (27 schemes for three states, 81 for
    four, among them every split of the states into two groups)."""
    return persuasion.grid_schemes(n_states, 2, 4 if n_states == 2 else 2)


def noisy_revelation(n_states: int, eta: float) -> np.ndarray:
    """The state with probability ``1 - eta``, a uniformly random signal otherwise."""
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1]; got {eta}")
    return (1 - eta) * np.eye(n_states) + eta / n_states


def rule_in_words(rule) -> str:
    """A rule of :func:`avc.theory.protocol.bob_menu` as a reader says it: a coarsening of
    ``x_B`` becomes "say only whether x_B = 2" or "say only which of {0, 1} / {2} holds x_B";
    every other rule keeps its name."""
    if not rule.name.startswith("disclose blocks"):
        return rule.name
    blocks = [[v for v, b in enumerate(rule.partition) if b == k] for k in sorted(set(rule.partition))]
    singles = [b[0] for b in blocks if len(b) == 1]
    if len(blocks) == 2 and len(singles) == 1:
        return f"say only whether x_B = {singles[0]}"
    groups = " / ".join("{" + ", ".join(str(v) for v in b) + "}" for b in blocks)
    return f"say only which of {groups} holds x_B"
