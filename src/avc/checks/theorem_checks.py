"""The chapter-level checks of Theorems 1, 2 and 6 on finite sender games, as functions.

Each check computes the quantities in a theorem's statement on one game, asserts nothing by
itself, and returns a :class:`BoundCheck` that says

* whether the inequality held in every pure equilibrium (``holds``);
* whether it *could* have failed: ``n_violating_profiles`` counts the profiles of the menu in
  which Alice gets less than the bound. When there are none the check is **vacuous** for this
  game: it would pass whatever the equilibrium search returned;
* how much of the allowance the worst equilibrium used (``share_used``).

The checks also re-derive what the solvers claim, by separate code paths, so that a bug in
the equilibrium search, in Alice's posterior or in the deviation step is caught rather than
trusted (see ``tests/test_theorem_checks.py``, which injects such bugs):

* the equilibria returned by :func:`avc.theory.games.pure_nash_equilibria` are compared with the
  stable profiles recomputed here, sender by sender (``equilibria_agree``);
* Alice's payoffs in the equilibria are recomputed profile by profile through
  :meth:`SenderGame.payoffs` and compared with the vectorised tensor (``tensor_agrees``);
* for a best-responding Alice, the step of Theorem 1's proof that a deviation to ``C*`` leaves
  her at least ``U_A(C*)`` is checked in every profile (``deviation_step_holds``).

:func:`BoundCheck.raise_if_failed` turns any of these into an ``AssertionError`` with a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avc.theory import games as _games
from avc.theory.alignment import weighted_alignment

__all__ = [
    "BoundCheck",
    "corollary1_closeness",
    "estimation_errors",
    "reference_closeness",
    "stable_profiles",
    "theorem1_check",
    "theorem2_check",
    "theorem6_check",
    "summarise",
]

TOL = 1e-9


def stable_profiles(tensor: np.ndarray, tol: float = TOL) -> list[tuple[int, ...]]:
    """Profiles where no sender gains more than ``tol`` by a unilateral switch.

    Written independently of :func:`avc.theory.games.pure_nash_equilibria` (an explicit loop over
    each sender's alternatives) so that the two can be compared.
    """
    senders = tensor[..., 1:]
    shape = senders.shape[:-1]
    stable = np.ones(shape, dtype=bool)
    for i in range(len(shape)):
        current = senders[..., i]
        gain = np.zeros(shape)
        for alt in range(shape[i]):
            switched = np.expand_dims(np.take(current, alt, axis=i), axis=i)  # every profile with i on alt
            gain = np.maximum(gain, switched - current)
        stable &= gain <= tol
    return [tuple(int(s) for s in idx) for idx in zip(*np.nonzero(stable))]


@dataclass(frozen=True)
class BoundCheck:
    """One theorem checked on one game."""

    reference: float
    """``U_A(C*)`` (or the reference the theorem subtracts from)."""
    allowance: float
    """What the theorem allows Alice to lose: ``2ε`` (Theorems 1, 6) or ``2ε + δ`` (Theorem 2)."""
    eps: float
    delta: float
    n_profiles: int
    n_violating_profiles: int
    """Profiles of the menu in which Alice gets less than the bound (0: the check is vacuous)."""
    n_equilibria: int
    worst_equilibrium: float
    min_profile_value: float
    equilibria_agree: bool
    tensor_agrees: bool
    deviation_step_holds: bool | None
    """Theorem 1's step ``E_dev[u_A] >= U_A(C*)`` in every profile (None where not applicable)."""

    @property
    def bound(self) -> float:
        return self.reference - self.allowance

    @property
    def could_fail(self) -> bool:
        return self.n_violating_profiles > 0

    @property
    def holds(self) -> bool:
        """The bound holds in every pure equilibrium (vacuously true when there are none)."""
        return self.n_equilibria == 0 or self.worst_equilibrium >= self.bound - TOL

    @property
    def slack(self) -> float:
        return self.worst_equilibrium - self.bound

    @property
    def share_used(self) -> float:
        """``(U_A(C*) - worst equilibrium) / allowance``, clipped at 0; NaN when the allowance is 0."""
        if self.allowance <= 1e-12 or self.n_equilibria == 0:
            return float("nan")
        return max(0.0, (self.reference - self.worst_equilibrium) / self.allowance)

    def row(self, **about) -> dict:
        """One row of a chapter's table of checks: ``about`` (the game's number, family,
        shape...) followed by what the check found, under fixed column names."""
        return dict(
            about,
            reference=self.reference,
            eps=self.eps,
            delta=self.delta,
            bound=self.bound,
            n_equilibria=self.n_equilibria,
            worst_equilibrium=self.worst_equilibrium,
            slack=self.slack,
            holds=self.holds,
            could_fail=self.could_fail,
            violating_profiles=self.n_violating_profiles,
            share_used=self.share_used,
        )

    def raise_if_failed(self, name: str = "the theorem") -> None:
        if not self.equilibria_agree:
            raise AssertionError(
                "the equilibrium search disagrees with the stable profiles recomputed by the check"
            )
        if not self.tensor_agrees:
            raise AssertionError("the payoff tensor disagrees with payoffs recomputed profile by profile")
        if self.deviation_step_holds is False:
            raise AssertionError(
                "a deviation to C* left Alice below U_A(C*): her posterior or response is wrong"
            )
        if not self.holds:
            raise AssertionError(
                f"{name} violated: worst equilibrium {self.worst_equilibrium:.6f} < bound {self.bound:.6f}"
            )


def _common(game, tensor, reference, allowance, eps, delta, deviation_ok, tol) -> BoundCheck:
    equilibria = _games.pure_nash_equilibria(game)
    recomputed = stable_profiles(tensor, tol)
    agree = sorted(map(tuple, equilibria)) == sorted(recomputed)
    alice = tensor[..., 0]
    values = [float(alice[tuple(e)]) for e in equilibria]
    # the equilibria worst for Alice (up to 10) and the profile worst for her, recomputed through
    # the profile-by-profile path, must match the vectorised tensor
    spot = [tuple(equilibria[j]) for j in np.argsort(values)[:10]]
    spot.append(tuple(int(s) for s in np.unravel_index(np.argmin(alice), alice.shape)))
    tensor_ok = all(np.allclose(game.payoffs(e), tensor[e], rtol=0, atol=1e-9) for e in spot)
    bound = reference - allowance
    return BoundCheck(
        reference=float(reference),
        allowance=float(allowance),
        eps=float(eps),
        delta=float(delta),
        n_profiles=int(alice.size),
        n_violating_profiles=int((alice < bound - tol).sum()),
        n_equilibria=len(equilibria),
        worst_equilibrium=min(values) if values else float("nan"),
        min_profile_value=float(alice.min()),
        equilibria_agree=agree,
        tensor_agrees=tensor_ok,
        deviation_step_holds=deviation_ok,
    )


def _eps(game) -> float:
    return weighted_alignment(game.sender_utils, game.receiver_util).eps


def theorem1_check(
    game: _games.MultiSenderGame, aligned: Sequence[int], reference: float, tol: float = TOL
) -> BoundCheck:
    """Theorem 1: every pure equilibrium gives Alice at least ``reference - 2ε``.

    ``aligned[i]`` is the index of ``C*`` in sender ``i``'s menu and ``reference`` is
    ``U_A(C*)``. ε is measured by the LP of Definition 1. Checks the deviation step in every
    profile from the tensor: with sender ``i`` switched to ``C*`` Alice gets at least
    ``U_A(C*)`` (a best responder can always ignore the others).
    """
    if game.lam is not None:
        raise ValueError(
            "theorem1_check is for a best-responding Alice; use theorem2_check for a quantal one."
        )
    tensor = game.payoff_tensor()
    eps = _eps(game)
    deviation_ok = all(
        (np.take(tensor[..., 0], aligned[i], axis=i) >= reference - 1e-9).all() for i in range(game.k)
    )
    return _common(game, tensor, reference, 2 * eps, eps, 0.0, deviation_ok, tol)


def theorem6_check(game: _games.BestAISelectionGame, reference: float, tol: float = TOL) -> BoundCheck:
    """Theorem 6: every pure equilibrium of the Best-AI selection game gives ``>= reference - 2ε``."""
    tensor = game.payoff_tensor()
    eps = _eps(game)
    return _common(game, tensor, reference, 2 * eps, eps, 0.0, None, tol)


def reference_closeness(game, reference_index: Sequence[int]) -> float:
    """Definition 13's δ: the largest L1 distance between the laws of ``(a, y)`` after two
    different senders switch alone to ``C*``, over every profile (exhaustive)."""
    # Definition 9's check measures the same gap in total variation (half the L1 distance)
    return 2 * _games.identical_induced_distribution(game, reference_index).max_gap


def theorem2_check(
    game: _games.MultiSenderGame, reference_index: Sequence[int], single_value: float, tol: float = TOL
) -> tuple[BoundCheck, BoundCheck]:
    """Theorem 2 with δ measured (Definition 13), for a quantal Alice.

    Returns two checks:

    * the **statement**: ``U_A(C*) - 2ε - δ`` with ``U_A(C*) = single_value``, Alice's value
      from one sender using ``C*``;
    * the **proof's inequality**: in each equilibrium, ``max_k E_{dev,k}[u_A] - 2ε - δ``, where
      ``dev,k`` is the equilibrium with sender ``k`` switched to ``C*``. The proof of Theorem 2
      replaces ``E_{dev,k}[u_A]`` by ``U_A(C*)``; for a quantal Alice hearing more than one
      sender the two can differ (more information can hurt her), so only this form is
      guaranteed. The returned check's ``reference`` is the smallest such anchor over the
      equilibria (NaN when there are none).
    """
    if game.lam is None:
        raise ValueError("theorem2_check is for a quantal Alice (a game built with lam=...).")
    tensor = game.payoff_tensor()
    eps = _eps(game)
    delta = reference_closeness(game, reference_index)
    statement = _common(game, tensor, single_value, 2 * eps + delta, eps, delta, None, tol)
    equilibria = _games.pure_nash_equilibria(game)
    anchors = []
    for e in equilibria:
        devs = []
        for i in range(game.k):
            d = list(e)
            d[i] = reference_index[i]
            devs.append(float(tensor[tuple(d)][0]))
        anchors.append(max(devs))
    # the proof's form per equilibrium: value - (anchor - 2ε - δ); keep the tightest
    if anchors:
        values = np.array([tensor[tuple(e)][0] for e in equilibria])
        slacks = values - (np.array(anchors) - 2 * eps - delta)
        j = int(np.argmin(slacks))
        anchor = anchors[j]
    else:
        anchor = float("nan")
    proof = _common(game, tensor, anchor if anchors else single_value, 2 * eps + delta, eps, delta, None, tol)
    if anchors:  # worst_equilibrium must be the equilibrium whose slack is smallest
        proof = BoundCheck(**{**proof.__dict__, "worst_equilibrium": float(values[j])})
    return statement, proof


def summarise(checks: Sequence[BoundCheck]) -> dict:
    """Counts for a chapter's verdict line: games, informative games, equilibria, worst share used."""
    informative = [c for c in checks if c.could_fail]
    shares = [c.share_used for c in checks if np.isfinite(c.share_used)]
    return dict(
        n_games=len(checks),
        n_informative=len(informative),
        informative_share=len(informative) / len(checks) if checks else float("nan"),
        n_equilibria=sum(c.n_equilibria for c in checks),
        all_hold=all(c.holds for c in checks),
        max_share_used=max(shares) if shares else float("nan"),
        min_slack=min((c.slack for c in checks if c.n_equilibria), default=float("nan")),
    )


def estimation_errors(prior, receiver_util, scheme) -> tuple[np.ndarray, np.ndarray]:
    """Proposition 2's estimation error of a single sender's scheme, cell by cell.

    For every state ``y`` and signal ``s`` with ``P(y, s) > 0``: Alice's belief vector after
    ``s`` against the true one, ``|u q_s - u(., y)|_inf``. Returns ``(errors, probabilities)``
    (flat arrays); ``ε_u`` is the largest error, and Corollary 1's ``ρ(t)`` is the probability
    of the cells whose error exceeds ``t``.
    """
    p = np.asarray(prior, dtype=float)
    u = np.asarray(receiver_util, dtype=float)
    joint = p[:, None] * np.asarray(scheme, dtype=float)  # P(y, s)
    mass = joint.sum(axis=0)
    errors, probs = [], []
    for s in np.flatnonzero(mass > 0):
        mu = u @ (joint[:, s] / mass[s])
        for y in np.flatnonzero(joint[:, s] > 0):
            errors.append(float(np.abs(mu - u[:, y]).max()))
            probs.append(float(joint[y, s]))
    return np.array(errors), np.array(probs)


def corollary1_closeness(lam: float, errors: np.ndarray, probs: np.ndarray) -> float:
    """Corollary 1 optimised over the event: ``min_t (e^{4λt} - 1 + P(error > t))``."""
    best = float("inf")
    for t in np.concatenate([[0.0], np.unique(errors)]):
        rho = float(probs[errors > t + 1e-15].sum())
        best = min(best, float(np.expm1(4 * lam * t)) + rho)
    return best
