"""Finite Bayesian persuasion with one or many senders.

This is the paper's protocol with ``R = 1`` round, an empty message from Alice, and Bobs who
observe the state ``y`` itself: a conversation rule is then a *signalling scheme*, a
row-stochastic matrix ``scheme[y, s] = P(signal s | state y)`` of shape
``(n_states, n_signals)``. Senders' signals are independent given the state.

Alice (the receiver) sees every signal (or, in :func:`induced_outcome` with a single scheme,
the one sender she listens to), forms her exact posterior and plays a best response. **Ties
are broken toward the lowest action index**, the fixed rule of Definition 4: an action is
tied with the best if its posterior expected utility is within ``TIE_TOLERANCE`` of it (zero
tolerance for exact ``Fraction`` inputs). With ``lam`` given she plays the λ-quantal
response of Definition 11 instead (``softmax(λ · posterior expected utilities)``).

Every function accepts float arrays or object arrays of :class:`fractions.Fraction`; with
fractions the whole computation is exact.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from avc.theory.model import TIE_TOLERANCE
from avc.theory.quantal import quantal_response

__all__ = [
    "PersuasionSolution",
    "as_array",
    "as_exact",
    "check_prior",
    "check_scheme",
    "check_utility_vector",
    "deterministic_schemes",
    "full_revelation",
    "grid_schemes",
    "induced_outcome",
    "is_exact",
    "no_information",
    "optimal_scheme",
    "partition_schemes",
    "receiver_actions",
    "receiver_policy",
    "signal_joint",
    "utility_under",
]


def is_exact(arr: np.ndarray) -> bool:
    return arr.dtype == object


def as_array(values, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != object:
        arr = arr.astype(float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} has non-finite entries.")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {arr.shape}.")
    return arr


def as_exact(values) -> np.ndarray:
    """An object array of :class:`Fraction` (from ints, strings like ``"2/3"`` or fractions)."""
    return np.vectorize(Fraction, otypes=[object])(np.asarray(values, dtype=object))


def check_prior(prior) -> np.ndarray:
    p = as_array(prior, "prior", 1)
    if any(v < 0 for v in p) or abs(sum(p) - 1) > 1e-9:
        raise ValueError(f"prior must be a probability vector over states; got {list(p)}.")
    return p


def check_scheme(scheme, n_states: int, name: str = "scheme") -> np.ndarray:
    s = as_array(scheme, name, 2)
    if s.shape[0] != n_states:
        raise ValueError(f"{name} must have one row per state ({n_states}); got shape {s.shape}.")
    if any(v < 0 for v in s.ravel()) or any(abs(sum(row) - 1) > 1e-9 for row in s):
        raise ValueError(f"every row of {name} must be a probability distribution over signals.")
    return s


def check_utility_vector(util, n_states: int, name: str) -> np.ndarray:
    u = as_array(util, name, 2)
    if u.shape[1] != n_states:
        raise ValueError(f"{name} must be shaped (n_actions, n_states={n_states}); got {u.shape}.")
    return u


def signal_joint(prior, schemes) -> np.ndarray:
    """``P(y, s_1, ..., s_k)`` flattened to ``(n_states, n_profiles)``.

    Signal profiles are ordered lexicographically (sender 1's signal varies slowest), as in
    :func:`itertools.product`.
    """
    p = check_prior(prior)
    joint = p.reshape(-1, 1)
    for i, scheme in enumerate(schemes):
        s = check_scheme(scheme, len(p), f"schemes[{i}]")
        joint = (joint[:, :, None] * s[:, None, :]).reshape(len(p), -1)
    return joint


def receiver_actions(joint_sy: np.ndarray, receiver_util) -> np.ndarray:
    """Alice's action for each signal profile (a column of ``joint_sy``); ties to lowest index.

    Profiles of probability zero get action 0 (they never occur).
    """
    u = check_utility_vector(receiver_util, joint_sy.shape[0], "receiver_util")
    weighted = u @ joint_sy  # P(s) * E[u(a, y) | s], shape (n_actions, n_profiles)
    tol = 0 if is_exact(weighted) else TIE_TOLERANCE
    prob = joint_sy.sum(axis=0)
    best = weighted.max(axis=0)
    return np.argmax(weighted >= best - tol * prob, axis=0)


def receiver_policy(joint_sy: np.ndarray, receiver_util, lam: float | None = None) -> np.ndarray:
    """Alice's action probabilities for each signal profile, shaped ``(n_actions, n_profiles)``.

    ``lam=None``: best response, a point mass on :func:`receiver_actions`. Otherwise the
    λ-quantal response to her posterior expected utilities (profiles of probability zero get
    the uniform distribution; they never occur).
    """
    u = check_utility_vector(receiver_util, joint_sy.shape[0], "receiver_util")
    if lam is None:
        actions = receiver_actions(joint_sy, u)
        policy = (np.arange(u.shape[0])[:, None] == actions[None, :]).astype(int)
        return policy.astype(object) if is_exact(joint_sy) else policy.astype(float)
    if is_exact(joint_sy):
        raise TypeError("quantal response is not exact: pass float arrays when lam is given.")
    prob = joint_sy.sum(axis=0)
    mu = np.divide(u @ joint_sy, prob, out=np.zeros((u.shape[0], joint_sy.shape[1])), where=prob > 0)
    return quantal_response(mu.T, lam).T


def induced_outcome(prior, schemes, receiver_util, lam: float | None = None) -> np.ndarray:
    """The joint law of (Alice's action, state) when she responds to all ``schemes``.

    ``schemes`` is a list of matrices, one per sender (a list of one for a sender she listens
    to alone). ``lam=None`` is best response; a number is the λ-quantal response. Returns an
    array ``(n_actions, n_states)`` that sums to one.
    """
    if isinstance(schemes, np.ndarray) and schemes.ndim == 2:
        raise TypeError("schemes must be a list of matrices; wrap a single scheme as [scheme].")
    joint = signal_joint(prior, schemes)
    return receiver_policy(joint, receiver_util, lam) @ joint.T


def utility_under(joint_ay: np.ndarray, util) -> float | Fraction:
    """``E[util(a, y)]`` under a joint law of actions and states (exact for fractions)."""
    total = (np.asarray(joint_ay) * np.asarray(util)).sum()
    return total if isinstance(total, Fraction) else float(total)


def full_revelation(n_states: int) -> np.ndarray:
    """The scheme that sends the state itself (Remark 4's aligned strategy)."""
    return np.eye(n_states)


def no_information(n_states: int, n_signals: int = 1) -> np.ndarray:
    """The scheme that always sends signal 0."""
    scheme = np.zeros((n_states, n_signals))
    scheme[:, 0] = 1.0
    return scheme


def deterministic_schemes(n_states: int, n_signals: int) -> list[np.ndarray]:
    """All ``n_signals ** n_states`` schemes that map each state to one signal."""
    eye = np.eye(n_signals)
    return [eye[list(assign)] for assign in itertools.product(range(n_signals), repeat=n_states)]


def grid_schemes(n_states: int, n_signals: int, resolution: int) -> list[np.ndarray]:
    """All schemes whose probabilities are multiples of ``1 / resolution``.

    Each row is a composition of ``resolution`` into ``n_signals`` parts, so there are
    ``C(resolution + n_signals - 1, n_signals - 1) ** n_states`` schemes; the deterministic
    ones are among them.
    """
    if resolution < 1:
        raise ValueError("resolution must be a positive integer.")
    rows = [
        np.array(c) / resolution
        for c in itertools.product(range(resolution + 1), repeat=n_signals)
        if sum(c) == resolution
    ]
    return [np.array(choice) for choice in itertools.product(rows, repeat=n_states)]


def partition_schemes(n_states: int) -> list[np.ndarray]:
    """One deterministic scheme per partition of the states (signal = block index).

    Deterministic schemes that differ only by relabelling signals carry the same information;
    this keeps one of each (the Bell number of them: 2, 5, 15 for 2, 3, 4 states). Every
    scheme has ``n_states`` signal columns (unused ones are zero), so menus stack; the first
    is no information and the last full revelation.
    """
    if n_states < 1:
        raise ValueError("n_states must be positive.")
    out = []

    def grow(assign, n_blocks):
        if len(assign) == n_states:
            out.append(np.eye(n_states)[assign])
            return
        for b in range(n_blocks + 1):
            grow(assign + [b], max(n_blocks, b + 1))

    grow([], 0)
    return out


@dataclass(frozen=True)
class PersuasionSolution:
    """A single sender's optimal scheme (direct recommendations: signal ``a`` = "play a")."""

    scheme: np.ndarray
    sender_value: float
    receiver_value: float


def optimal_scheme(prior, sender_util, receiver_util, margin: float = 0.0) -> PersuasionSolution:
    """Kamenica–Gentzkow: the sender's best scheme, as a linear program.

    By the revelation principle it suffices to search over *direct recommendation* schemes
    ``scheme[y, a] = P(recommend a | y)`` that the receiver is willing to obey.

    * ``margin = 0`` (default) is Kamenica and Gentzkow's convention: a receiver indifferent
      between the recommended action and another follows the recommendation. Obedience is
      ``sum_y P(y) scheme[y, a] (u(a, y) - u(a', y)) >= 0`` for all ``a' != a``.
    * ``margin > 0`` makes the scheme robust to the book's fixed tie rule (lowest index wins):
      a recommendation must beat every *lower-indexed* action by at least ``margin`` in
      posterior expectation (ties with higher-indexed actions are fine, the rule resolves them
      in favour of the recommendation). The sender then loses at most ``O(margin)``.

    The values are those of the recommendation being followed. With ``sender_util =
    receiver_util`` the receiver value is the aligned benchmark ``U_A(C*)``.
    """
    p = np.asarray(check_prior(prior), dtype=float)
    n_states = len(p)
    v = np.asarray(check_utility_vector(sender_util, n_states, "sender_util"), dtype=float)
    u = np.asarray(check_utility_vector(receiver_util, n_states, "receiver_util"), dtype=float)
    if v.shape != u.shape:
        raise ValueError(f"sender_util {v.shape} and receiver_util {u.shape} must have the same shape.")
    if margin < 0:
        raise ValueError("margin must be non-negative.")
    n_actions = u.shape[0]
    # x[y, a] flattened row-major: index y * n_actions + a
    cost = -(p[:, None] * v.T).ravel()
    a_ub, b_ub = [], []
    for a in range(n_actions):
        for alt in range(n_actions):
            if alt != a:
                # sum_y P(y) x[y, a] (u(alt, y) - u(a, y) + m) <= 0, m = margin for lower alt
                row = np.zeros((n_states, n_actions))
                row[:, a] = p * (u[alt] - u[a] + (margin if alt < a else 0.0))
                a_ub.append(row.ravel())
                b_ub.append(0.0)
    a_eq = np.kron(np.eye(n_states), np.ones(n_actions))
    result = linprog(
        cost,
        A_ub=np.array(a_ub) if a_ub else None,
        b_ub=np.array(b_ub) if b_ub else None,
        A_eq=a_eq,
        b_eq=np.ones(n_states),
        bounds=(0, 1),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(
            f"The persuasion LP failed ({result.message}); with margin > 0 this means no scheme "
            "clears the margin: use a smaller margin."
        )
    scheme = np.clip(result.x.reshape(n_states, n_actions), 0, 1) + 0.0  # no negative zeros
    scheme /= scheme.sum(axis=1, keepdims=True)
    weights = p[:, None] * scheme  # P(y, a)
    return PersuasionSolution(
        scheme=scheme,
        sender_value=float((weights * v.T).sum()),
        receiver_value=float((weights * u.T).sum()),
    )
