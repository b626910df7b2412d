"""The senders' game on finite strategy sets, and its pure Nash equilibria.

Each Bob ``i`` chooses a signalling scheme from a finite list ``strategies[i]``; a profile
is a tuple of indices into those lists. Alice's response is fixed by the game:

* :class:`MultiSenderGame` (Sections B–C): she sees every signal and best responds;
* :class:`BestAISelectionGame` (Definition 16, Section E): she evaluates each Bob alone,
  keeps the one that gives her the most (lowest index on ties, within ``TIE_TOLERANCE``),
  and best responds to his signal only. The others are paid from her actions all the same.

On top of either: every pure Nash equilibrium by exhaustive search
(:func:`pure_nash_equilibria`), best-response dynamics with a cycle guard
(:func:`best_response_dynamics`), and the identical-induced-distribution check of
Definition 9 (:func:`identical_induced_distribution`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avc.theory.model import TIE_TOLERANCE
from avc.theory.persuasion import induced_outcome, receiver_policy

__all__ = [
    "BestAISelectionGame",
    "DynamicsResult",
    "IdenticalInducedCheck",
    "MultiSenderGame",
    "best_response_dynamics",
    "identical_induced_distribution",
    "pure_nash_equilibria",
]

Profile = tuple[int, ...]


class SenderGame:
    """Common plumbing: validation, cached outcomes, payoffs, the payoff tensor."""

    def __init__(
        self,
        prior,
        receiver_util,
        sender_utils,
        strategies: Sequence[Sequence[np.ndarray]],
        lam: float | None = None,
    ):
        self.lam = lam
        """None: Alice best responds; a number: she plays the λ-quantal response."""
        self.prior = np.asarray(prior, dtype=float)
        self.receiver_util = np.asarray(receiver_util, dtype=float)
        self.sender_utils = np.asarray(sender_utils, dtype=float)
        if self.sender_utils.ndim != 3 or self.sender_utils.shape[1:] != self.receiver_util.shape:
            raise ValueError(
                f"sender_utils must be shaped (k, n_actions, n_states) = (k, {self.receiver_util.shape}); "
                f"got {self.sender_utils.shape}."
            )
        if self.receiver_util.shape[1] != len(self.prior):
            raise ValueError(
                f"receiver_util has {self.receiver_util.shape[1]} states but the prior has {len(self.prior)}."
            )
        self.k = self.sender_utils.shape[0]
        if len(strategies) != self.k or any(len(s) == 0 for s in strategies):
            raise ValueError(
                f"strategies must hold one non-empty list of schemes for each of the {self.k} senders."
            )
        self.strategies = [list(s) for s in strategies]
        self._utils = np.concatenate([self.receiver_util[None], self.sender_utils])  # (k + 1, n_a, n_y)
        self._outcomes: dict[Profile, np.ndarray] = {}

    @property
    def n_strategies(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.strategies)

    def _compute_outcome(self, profile: Profile) -> np.ndarray:
        raise NotImplementedError

    def outcome(self, profile: Sequence[int]) -> np.ndarray:
        """The joint law of (Alice's action, state) under ``profile`` (cached)."""
        key = tuple(int(i) for i in profile)
        if len(key) != self.k or any(not 0 <= s < n for s, n in zip(key, self.n_strategies)):
            raise ValueError(f"profile {key} is not a valid choice of strategy indices {self.n_strategies}.")
        if key not in self._outcomes:
            self._outcomes[key] = self._compute_outcome(key)
        return self._outcomes[key]

    def payoffs(self, profile: Sequence[int]) -> np.ndarray:
        """``[Alice, Bob_1, ..., Bob_k]`` expected utilities under ``profile``."""
        return np.tensordot(self._utils, self.outcome(profile), axes=([1, 2], [0, 1]))

    def payoff_tensor(self) -> np.ndarray:
        """Every profile's payoffs, shaped ``(*n_strategies, k + 1)`` (Alice first).

        Subclasses compute it vectorised; it must agree with :meth:`payoffs` profile by profile.
        """
        raise NotImplementedError


class MultiSenderGame(SenderGame):
    """Alice reads every sender's signal and best responds (the game of Theorem 1)."""

    def _compute_outcome(self, profile: Profile) -> np.ndarray:
        schemes = [self.strategies[i][s] for i, s in enumerate(profile)]
        return induced_outcome(self.prior, schemes, self.receiver_util, self.lam)

    def payoff_tensor(self) -> np.ndarray:
        """Every profile's payoffs at once (vectorised; same rules as :meth:`outcome`)."""
        stacks = [np.stack(own).astype(float) for own in self.strategies]  # (n_i, n_y, n_s_i)
        if any(st.ndim != 3 or st.shape[1] != len(self.prior) for st in stacks):
            raise ValueError("every strategy must be a scheme shaped (n_states, n_signals).")
        strat_axes, signal_axes = "ijklmnop"[: self.k], "ABCDEFGH"[: self.k]
        if self.k > len(strat_axes):
            raise ValueError("payoff_tensor supports at most 8 senders.")
        spec = ",".join(["y"] + [f"{strat_axes[i]}y{signal_axes[i]}" for i in range(self.k)])
        joint = np.einsum(f"{spec}->{strat_axes}y{signal_axes}", self.prior, *stacks)
        n_profiles = int(np.prod(self.n_strategies))
        joint = joint.reshape(n_profiles, len(self.prior), -1)  # (profile, y, signal profile)
        # Alice's response to every (profile, signal profile) at once, by the same rule as outcome()
        flat = np.moveaxis(joint, 1, 0).reshape(len(self.prior), -1)  # (y, profile * signal profile)
        policy = receiver_policy(flat, self.receiver_util, self.lam).reshape(
            len(self.receiver_util), n_profiles, -1
        )
        policy = np.moveaxis(policy, 0, 1)  # (profile, action, signal profile)
        payoffs = np.stack([np.einsum("paq,pyq,ay->p", policy, joint, util) for util in self._utils], axis=-1)
        return payoffs.reshape(*self.n_strategies, self.k + 1)


class BestAISelectionGame(SenderGame):
    """Definition 16: Alice keeps the single sender who is best for her when heard alone."""

    def __init__(self, prior, receiver_util, sender_utils, strategies, lam: float | None = None):
        super().__init__(prior, receiver_util, sender_utils, strategies, lam)
        self._alone = [
            [induced_outcome(self.prior, [scheme], self.receiver_util, lam) for scheme in own]
            for own in self.strategies
        ]
        self.alone_payoffs = [
            np.array([np.tensordot(self._utils, j, axes=([1, 2], [0, 1])) for j in own])
            for own in self._alone
        ]
        """``alone_payoffs[i][s]``: every player's utility (Alice first) when sender ``i``'s
        strategy ``s`` is the one Alice listens to."""
        self.alone_value = [pay[:, 0] for pay in self.alone_payoffs]
        """``alone_value[i][s]``: Alice's utility from sender ``i`` playing strategy ``s``, heard alone."""

    def solo_optimal(self) -> Profile:
        """Each sender's best strategy if Alice had to listen to him alone (lowest index on ties)."""
        return tuple(int(np.argmax(pay[:, i + 1])) for i, pay in enumerate(self.alone_payoffs))

    def selected(self, profile: Sequence[int]) -> int:
        """The sender Alice keeps under ``profile`` (lowest index among the best)."""
        values = np.array([self.alone_value[i][s] for i, s in enumerate(profile)])
        return int(np.flatnonzero(values >= values.max() - TIE_TOLERANCE)[0])

    def _compute_outcome(self, profile: Profile) -> np.ndarray:
        chosen = self.selected(profile)
        return self._alone[chosen][profile[chosen]]

    def payoff_tensor(self) -> np.ndarray:
        """Every profile's payoffs at once (vectorised; same rules as :meth:`outcome`)."""
        grids = np.meshgrid(*(np.arange(n) for n in self.n_strategies), indexing="ij")
        values = np.stack([self.alone_value[i][grids[i]] for i in range(self.k)])  # (k, *n)
        chosen = np.argmax(values >= values.max(axis=0) - TIE_TOLERANCE, axis=0)
        tensor = np.empty((*self.n_strategies, self.k + 1))
        for i in range(self.k):
            mask = chosen == i
            tensor[mask] = self.alone_payoffs[i][grids[i][mask]]
        return tensor


def pure_nash_equilibria(game: SenderGame, tol: float = 1e-9) -> list[Profile]:
    """Every pure Nash equilibrium of the senders' game, by exhaustive search.

    A profile is an equilibrium when no sender gains more than ``tol`` by switching to any
    other strategy in his list.
    """
    senders = game.payoff_tensor()[..., 1:]
    stable = np.ones(game.n_strategies, dtype=bool)
    for i in range(game.k):
        own = senders[..., i]
        stable &= own >= own.max(axis=i, keepdims=True) - tol
    return [tuple(int(s) for s in idx) for idx in np.argwhere(stable)]


@dataclass(frozen=True)
class DynamicsResult:
    """Where best-response dynamics stopped and why."""

    profile: Profile
    converged: bool
    """True when a full pass moved nobody: ``profile`` is then a pure Nash equilibrium."""
    cycled: bool
    """True when a profile seen before came back at the start of a pass."""
    n_passes: int
    path: tuple[Profile, ...]


def best_response_dynamics(
    game: SenderGame, start: Sequence[int], max_passes: int = 100, tol: float = 1e-9
) -> DynamicsResult:
    """Round-robin best responses from ``start``.

    In each pass senders 1..k in turn switch to a best response (the lowest-indexed one) when
    it improves their utility by more than ``tol``. Stops at a pass with no switch
    (converged), when the profile at the start of a pass repeats (cycled), or after
    ``max_passes`` passes.
    """
    profile = list(int(s) for s in start)
    seen = set()
    path = [tuple(profile)]
    for n_pass in range(1, max_passes + 1):
        if tuple(profile) in seen:
            return DynamicsResult(tuple(profile), False, True, n_pass - 1, tuple(path))
        seen.add(tuple(profile))
        moved = False
        for i in range(game.k):
            current = game.payoffs(profile)[i + 1]
            options = [
                game.payoffs(profile[:i] + [s] + profile[i + 1 :])[i + 1] for s in range(game.n_strategies[i])
            ]
            best = int(np.argmax(np.asarray(options) >= max(options) - tol))
            if options[best] > current + tol:
                profile[i] = best
                moved = True
                path.append(tuple(profile))
        if not moved:
            return DynamicsResult(tuple(profile), True, False, n_pass, tuple(path))
    return DynamicsResult(tuple(profile), False, False, max_passes, tuple(path))


@dataclass(frozen=True)
class IdenticalInducedCheck:
    """Definition 9 on a finite game: does it matter *who* deviates to the aligned rule?"""

    holds: bool
    max_gap: float
    """Largest total-variation distance found between two deviators' induced laws."""
    witness: tuple[Profile, int, int] | None
    """A profile and two senders whose deviations differ most (None when it holds)."""


def identical_induced_distribution(
    game: SenderGame, aligned: Sequence[int], tol: float = 1e-9
) -> IdenticalInducedCheck:
    """Check Definition 9: for every profile and senders ``i, j``, the laws of ``(a, y)`` after
    ``i`` deviates to the aligned rule and after ``j`` does are the same.

    ``aligned[i]`` is the index of the aligned rule ``C*`` in sender ``i``'s strategy list.
    """
    if len(aligned) != game.k:
        raise ValueError(f"aligned must give the index of C* for each of the {game.k} senders.")
    worst, witness = 0.0, None
    for profile in itertools.product(*(range(n) for n in game.n_strategies)):
        laws = []
        for i in range(game.k):
            deviated = list(profile)
            deviated[i] = aligned[i]
            laws.append(game.outcome(deviated))
        for i, j in itertools.combinations(range(game.k), 2):
            gap = 0.5 * float(np.abs(laws[i] - laws[j]).sum())
            if gap > worst:
                worst, witness = gap, (profile, i, j)
    holds = worst <= tol
    return IdenticalInducedCheck(holds=holds, max_gap=worst, witness=None if holds else witness)
