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

from avc.model import TIE_TOLERANCE
from avc.quantal import quantal_response

__all__ = [
    "PersuasionSolution",
    "Concavification",
    "aligned_value",
    "as_exact",
    "deterministic_schemes",
    "full_revelation",
    "grid_schemes",
    "induced_outcome",
    "no_information",
    "optimal_scheme",
    "partition_schemes",
    "quantal_belief_value",
    "quantal_concavification",
    "quantal_scheme_values",
    "receiver_actions",
    "receiver_policy",
    "signal_joint",
    "simplex_grid",
    "utility_under",
]


def _is_exact(arr: np.ndarray) -> bool:
    return arr.dtype == object


def _as_array(values, name: str, ndim: int) -> np.ndarray:
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


def _check_prior(prior) -> np.ndarray:
    p = _as_array(prior, "prior", 1)
    if any(v < 0 for v in p) or abs(sum(p) - 1) > 1e-9:
        raise ValueError(f"prior must be a probability vector over states; got {list(p)}.")
    return p


def _check_scheme(scheme, n_states: int, name: str = "scheme") -> np.ndarray:
    s = _as_array(scheme, name, 2)
    if s.shape[0] != n_states:
        raise ValueError(f"{name} must have one row per state ({n_states}); got shape {s.shape}.")
    if any(v < 0 for v in s.ravel()) or any(abs(sum(row) - 1) > 1e-9 for row in s):
        raise ValueError(f"every row of {name} must be a probability distribution over signals.")
    return s


def _check_utility(util, n_states: int, name: str) -> np.ndarray:
    u = _as_array(util, name, 2)
    if u.shape[1] != n_states:
        raise ValueError(f"{name} must be shaped (n_actions, n_states={n_states}); got {u.shape}.")
    return u


def signal_joint(prior, schemes) -> np.ndarray:
    """``P(y, s_1, ..., s_k)`` flattened to ``(n_states, n_profiles)``.

    Signal profiles are ordered lexicographically (sender 1's signal varies slowest), as in
    :func:`itertools.product`.
    """
    p = _check_prior(prior)
    joint = p.reshape(-1, 1)
    for i, scheme in enumerate(schemes):
        s = _check_scheme(scheme, len(p), f"schemes[{i}]")
        joint = (joint[:, :, None] * s[:, None, :]).reshape(len(p), -1)
    return joint


def receiver_actions(joint_sy: np.ndarray, receiver_util) -> np.ndarray:
    """Alice's action for each signal profile (a column of ``joint_sy``); ties to lowest index.

    Profiles of probability zero get action 0 (they never occur).
    """
    u = _check_utility(receiver_util, joint_sy.shape[0], "receiver_util")
    weighted = u @ joint_sy  # P(s) * E[u(a, y) | s], shape (n_actions, n_profiles)
    tol = 0 if _is_exact(weighted) else TIE_TOLERANCE
    prob = joint_sy.sum(axis=0)
    best = weighted.max(axis=0)
    return np.argmax(weighted >= best - tol * prob, axis=0)


def receiver_policy(joint_sy: np.ndarray, receiver_util, lam: float | None = None) -> np.ndarray:
    """Alice's action probabilities for each signal profile, shaped ``(n_actions, n_profiles)``.

    ``lam=None``: best response, a point mass on :func:`receiver_actions`. Otherwise the
    λ-quantal response to her posterior expected utilities (profiles of probability zero get
    the uniform distribution; they never occur).
    """
    u = _check_utility(receiver_util, joint_sy.shape[0], "receiver_util")
    if lam is None:
        actions = receiver_actions(joint_sy, u)
        policy = (np.arange(u.shape[0])[:, None] == actions[None, :]).astype(int)
        return policy.astype(object) if _is_exact(joint_sy) else policy.astype(float)
    if _is_exact(joint_sy):
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
    p = np.asarray(_check_prior(prior), dtype=float)
    n_states = len(p)
    v = np.asarray(_check_utility(sender_util, n_states, "sender_util"), dtype=float)
    u = np.asarray(_check_utility(receiver_util, n_states, "receiver_util"), dtype=float)
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


def quantal_belief_value(posteriors, receiver_util, lam: float) -> np.ndarray:
    """A λ-quantal Alice's expected utility at each posterior (rows of ``posteriors``).

    ``V(q) = sum_a softmax(λ u q)_a (u q)_a``. Unlike a best responder's ``max_a (u q)_a``
    this is **not** convex in ``q``: information can lower a quantal Alice's utility.
    """
    q = np.atleast_2d(np.asarray(posteriors, dtype=float))
    u = np.asarray(receiver_util, dtype=float)
    mu = q @ u.T  # (n_posteriors, n_actions)
    return (quantal_response(mu, lam) * mu).sum(axis=1)


def simplex_grid(n_states: int, resolution: int) -> np.ndarray:
    """Every point of the probability simplex whose coordinates are multiples of ``1/resolution``."""
    if n_states < 1 or resolution < 1:
        raise ValueError("need n_states >= 1 and resolution >= 1.")
    if n_states == 1:
        return np.ones((1, 1))
    rows = [c for c in itertools.combinations(range(resolution + n_states - 1), n_states - 1)]
    bars = np.array(rows)
    padded = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), resolution + n_states - 1)])
    return (np.diff(padded, axis=1) - 1) / resolution


@dataclass(frozen=True)
class Concavification:
    """The best a λ-quantal Alice can get from one perfectly aligned sender (no limit on signals).

    ``value`` is attained by ``scheme`` (checked through :func:`induced_outcome`); no scheme at
    all gives more than ``upper_bound`` (a certificate from the LP dual and a Lipschitz bound).
    """

    value: float
    scheme: np.ndarray
    posteriors: np.ndarray
    """The posteriors the scheme induces, one row per signal."""
    weights: np.ndarray
    """Their probabilities."""
    upper_bound: float


def _scheme_from_posteriors(p: np.ndarray, posteriors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # P(s | y) = P(s) q_s(y) / P(y); the mean of the posteriors is the prior, so rows sum to 1
    scheme = (weights[None, :] * posteriors.T) / np.where(p > 0, p, 1.0)[:, None]
    scheme[p <= 0] = 0.0
    scheme[p <= 0, 0] = 1.0
    scheme = np.clip(scheme, 0.0, None)
    return scheme / scheme.sum(axis=1, keepdims=True)


def quantal_concavification(prior, receiver_util, lam: float, resolution: int | None = None) -> Concavification:
    """Kamenica–Gentzkow's concavification for a λ-quantal receiver, computed numerically.

    1. **LP over a posterior grid**: maximise ``sum_j w_j V(q_j)`` over weights ``w >= 0`` on
       every grid posterior ``q_j`` (:func:`simplex_grid`) subject to ``sum_j w_j q_j = prior``.
       This is the concave envelope of ``V`` restricted to the grid, evaluated at the prior.
    2. **Polish**: the support posteriors (at most ``n_states`` of them) are moved off the grid
       by a local optimiser that keeps their mean at the prior; accepted only if it improves.
    3. **Certificate**: the LP dual is an affine ``l(q) >= V(q)`` on the grid; on the whole
       simplex ``V <= l + g`` with ``g`` the largest excess on a grid twice as fine plus a
       Lipschitz term for the distance to it, so ``upper_bound = l(prior) + g``.

    The value returned is recomputed from the scheme by :func:`induced_outcome`, so it is
    attained. ``resolution`` defaults to 4000 (two states), 120 (three) or 30 (four or more).
    """
    p = np.asarray(_check_prior(prior), dtype=float)
    u = np.asarray(_check_utility(receiver_util, len(p), "receiver_util"), dtype=float)
    lam = float(lam)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite non-negative number; got {lam}.")
    n = len(p)
    if resolution is None:
        resolution = {1: 1, 2: 4000, 3: 120}.get(n, 30)
    if n > 6:
        raise ValueError("quantal_concavification grids the simplex: at most 6 states.")
    grid = simplex_grid(n, resolution)
    values = quantal_belief_value(grid, u, lam)
    result = linprog(-values, A_eq=grid.T, b_eq=p, bounds=(0, None), method="highs")
    if result.status != 0:
        raise RuntimeError(f"The concavification LP failed ({result.message}).")
    support = np.flatnonzero(result.x > 1e-12)
    posteriors, weights = grid[support], result.x[support]
    weights = weights / weights.sum()
    best_scheme = _scheme_from_posteriors(p, posteriors, weights)
    best_value = utility_under(induced_outcome(p, [best_scheme], u, lam), u)
    best_post, best_w = posteriors, weights
    # 2. polish: the unnormalised posteriors m_s = w_s q_s, free in the cone, must sum to p
    if len(support) > 1 and n > 1:
        from scipy.optimize import minimize

        def objective(flat):
            m = np.clip(flat.reshape(len(support), n), 0, None)
            mass = m.sum(axis=1)
            q = m / np.where(mass > 0, mass, 1.0)[:, None]
            return -(mass * quantal_belief_value(q, u, lam)).sum()

        start = (weights[:, None] * posteriors).ravel()
        constraints = [{"type": "eq", "fun": lambda flat, y=y: flat.reshape(len(support), n)[:, y].sum() - p[y]} for y in range(n)]
        polished = minimize(objective, start, method="SLSQP", bounds=[(0, 1)] * start.size, constraints=constraints,
                            options=dict(maxiter=200, ftol=1e-13))
        m = np.clip(polished.x.reshape(len(support), n), 0, None)
        m *= (p / np.where(m.sum(axis=0) > 0, m.sum(axis=0), 1.0))[None, :]  # restore the mean exactly
        mass = m.sum(axis=1)
        keep = mass > 1e-14
        if keep.any():
            q, w = m[keep] / mass[keep, None], mass[keep] / mass[keep].sum()
            scheme = _scheme_from_posteriors(p, q, w)
            value = utility_under(induced_outcome(p, [scheme], u, lam), u)
            if value > best_value:
                best_scheme, best_value, best_post, best_w = scheme, value, q, w
    # 3. certificate from the dual: l(q) = duals . q >= V(q) on the grid
    duals = -np.asarray(result.eqlin.marginals, dtype=float)
    fine = simplex_grid(n, 2 * resolution) if n <= 3 else grid
    excess = max(0.0, float((quantal_belief_value(fine, u, lam) - fine @ duals).max()))
    spread = float(u.max() - u.min())
    lipschitz = (1 + lam * spread) * spread / 2 + float(duals.max() - duals.min()) / 2  # per unit of L1 distance
    step = n / (2 * resolution if n <= 3 else resolution)  # L1 distance from any point to the grid
    upper = float(duals @ p) + excess + lipschitz * step
    return Concavification(value=float(best_value), scheme=best_scheme, posteriors=best_post, weights=best_w,
                           upper_bound=max(upper, float(best_value)))


def quantal_scheme_values(prior, receiver_util, lam: float, schemes) -> np.ndarray:
    """A λ-quantal Alice's utility under each scheme of a list (vectorised)."""
    stack = np.stack([np.asarray(sch, dtype=float) for sch in schemes])  # (n, n_states, n_signals)
    p = np.asarray(prior, dtype=float)
    u = np.asarray(receiver_util, dtype=float)
    joint = p[None, :, None] * stack  # P(y, s)
    mass = joint.sum(axis=1)
    q = joint / np.where(mass > 0, mass, 1.0)[:, None, :]
    mu = np.einsum("ay,nys->nsa", u, q)
    return (mass * (quantal_response(mu, lam) * mu).sum(axis=2)).sum(axis=1)


def _quantal_limited_signals(p: np.ndarray, u: np.ndarray, lam: float, n_signals: int) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize

    n = len(p)
    if n > 4:
        raise NotImplementedError("the quantal benchmark with a signal limit is implemented for at most 4 states.")
    resolution = {2: 200, 3: 24, 4: 8}[n] if n_signals == 2 else {3: 8, 4: 4}.get(n, 4)
    best_value, best_scheme = -np.inf, None
    candidates = grid_schemes(n, n_signals, resolution)
    for start in range(0, len(candidates), 20000):
        chunk = candidates[start : start + 20000]
        values = quantal_scheme_values(p, u, lam, chunk)
        j = int(np.argmax(values))
        if values[j] > best_value:
            best_value, best_scheme = float(values[j]), chunk[j]

    def objective(flat):
        scheme = np.clip(flat.reshape(n, n_signals), 0, None)
        scheme = scheme / scheme.sum(axis=1, keepdims=True)
        return -float(quantal_scheme_values(p, u, lam, [scheme])[0])

    constraints = [{"type": "eq", "fun": lambda flat, y=y: flat.reshape(n, n_signals)[y].sum() - 1} for y in range(n)]
    polished = minimize(objective, best_scheme.ravel(), method="SLSQP", bounds=[(0, 1)] * (n * n_signals),
                        constraints=constraints, options=dict(maxiter=300, ftol=1e-14))
    scheme = np.clip(polished.x.reshape(n, n_signals), 0, None)
    scheme = scheme / scheme.sum(axis=1, keepdims=True)
    value = utility_under(induced_outcome(p, [scheme], u, lam), u)
    if value > best_value:
        return float(value), scheme
    return best_value, best_scheme


def aligned_value(prior, receiver_util, n_signals: int | None = None, lam: float | None = None) -> tuple[float, np.ndarray]:
    """``U_A(C*)``: the best Alice can get from one perfectly aligned sender, and a scheme for it.

    * Best response (``lam=None``), no limit on signals (``n_signals=None`` or at least the
      number of states): full revelation, and the value is the first best.
    * Best response with fewer signals than states: the best *deterministic* partition of
      the states into ``n_signals`` groups. Alice's value ``sum_s max_a sum_y P(y) π(s|y) u(a, y)``
      is convex in the scheme, so an extreme point (a deterministic scheme) is optimal.
    * λ-quantal Alice (``lam`` given): her value at a posterior is not convex, so neither
      full revelation nor any partition need be optimal. With at least as many signals as
      states (Carathéodory: that many posteriors suffice) the value is the numerical
      concavification of :func:`quantal_concavification` (LP on a posterior grid, polished;
      its certified upper bound is within about 1e-4 on the book's instances). With one
      signal it is the value of no information. With ``1 < n_signals < n_states`` it is a
      numerical optimum without certificate: the best scheme on a grid of schemes
      (:func:`quantal_scheme_values`, step 1/24 for three states) polished by a local
      optimiser (at most 4 states).
    """
    p = _check_prior(prior)
    n_states = len(p)
    if n_signals is not None and n_signals < 1:
        raise ValueError("n_signals must be a positive integer (or None for no limit).")
    if lam is not None:
        if n_signals == 1:
            scheme = no_information(n_states)
            return utility_under(induced_outcome(p, [scheme], receiver_util, lam), receiver_util), scheme
        if n_signals is not None and n_signals < n_states:
            return _quantal_limited_signals(np.asarray(p, dtype=float), np.asarray(receiver_util, dtype=float), lam, n_signals)
        best = quantal_concavification(np.asarray(p, dtype=float), receiver_util, lam)
        return best.value, best.scheme
    candidates = (
        [full_revelation(n_states)] if n_signals is None or n_signals >= n_states else deterministic_schemes(n_states, n_signals)
    )
    values = [utility_under(induced_outcome(p, [c], receiver_util, lam), receiver_util) for c in candidates]
    best = int(np.argmax(values))
    return values[best], candidates[best]
