"""Sender-optimal persuasion of a quantal receiver, and the value a perfectly aligned agent gets.

:func:`quantal_concavification` finds the best scheme for a sender facing a λ-quantal receiver by
concavifying the value of a posterior over a grid of beliefs; :func:`aligned_value` is the benchmark
of Theorems 1 and 5, what Alice gets from an agent whose utility is hers, with best or quantal
response. Inputs are those of :mod:`avc.theory.persuasion`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from avc.theory.persuasion import (
    check_prior,
    check_utility_vector,
    deterministic_schemes,
    full_revelation,
    grid_schemes,
    induced_outcome,
    no_information,
    utility_under,
)
from avc.theory.quantal import quantal_response

__all__ = [
    "Concavification",
    "aligned_value",
    "quantal_belief_value",
    "quantal_concavification",
    "quantal_scheme_values",
    "simplex_grid",
]


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
    padded = np.hstack(
        [np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), resolution + n_states - 1)]
    )
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


def quantal_concavification(
    prior, receiver_util, lam: float, resolution: int | None = None
) -> Concavification:
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
    p = np.asarray(check_prior(prior), dtype=float)
    u = np.asarray(check_utility_vector(receiver_util, len(p), "receiver_util"), dtype=float)
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
        constraints = [
            {"type": "eq", "fun": lambda flat, y=y: flat.reshape(len(support), n)[:, y].sum() - p[y]}
            for y in range(n)
        ]
        polished = minimize(
            objective,
            start,
            method="SLSQP",
            bounds=[(0, 1)] * start.size,
            constraints=constraints,
            options=dict(maxiter=200, ftol=1e-13),
        )
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
    lipschitz = (1 + lam * spread) * spread / 2 + float(
        duals.max() - duals.min()
    ) / 2  # per unit of L1 distance
    step = n / (2 * resolution if n <= 3 else resolution)  # L1 distance from any point to the grid
    upper = float(duals @ p) + excess + lipschitz * step
    return Concavification(
        value=float(best_value),
        scheme=best_scheme,
        posteriors=best_post,
        weights=best_w,
        upper_bound=max(upper, float(best_value)),
    )


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


def _quantal_limited_signals(
    p: np.ndarray, u: np.ndarray, lam: float, n_signals: int
) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize

    n = len(p)
    if n > 4:
        raise NotImplementedError(
            "the quantal benchmark with a signal limit is implemented for at most 4 states."
        )
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

    constraints = [
        {"type": "eq", "fun": lambda flat, y=y: flat.reshape(n, n_signals)[y].sum() - 1} for y in range(n)
    ]
    polished = minimize(
        objective,
        best_scheme.ravel(),
        method="SLSQP",
        bounds=[(0, 1)] * (n * n_signals),
        constraints=constraints,
        options=dict(maxiter=300, ftol=1e-14),
    )
    scheme = np.clip(polished.x.reshape(n, n_signals), 0, None)
    scheme = scheme / scheme.sum(axis=1, keepdims=True)
    value = utility_under(induced_outcome(p, [scheme], u, lam), u)
    if value > best_value:
        return float(value), scheme
    return best_value, best_scheme


def aligned_value(
    prior, receiver_util, n_signals: int | None = None, lam: float | None = None
) -> tuple[float, np.ndarray]:
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
    p = check_prior(prior)
    n_states = len(p)
    if n_signals is not None and n_signals < 1:
        raise ValueError("n_signals must be a positive integer (or None for no limit).")
    if lam is not None:
        if n_signals == 1:
            scheme = no_information(n_states)
            return utility_under(induced_outcome(p, [scheme], receiver_util, lam), receiver_util), scheme
        if n_signals is not None and n_signals < n_states:
            return _quantal_limited_signals(
                np.asarray(p, dtype=float), np.asarray(receiver_util, dtype=float), lam, n_signals
            )
        best = quantal_concavification(np.asarray(p, dtype=float), receiver_util, lam)
        return best.value, best.scheme
    candidates = (
        [full_revelation(n_states)]
        if n_signals is None or n_signals >= n_states
        else deterministic_schemes(n_states, n_signals)
    )
    values = [utility_under(induced_outcome(p, [c], receiver_util, lam), receiver_util) for c in candidates]
    best = int(np.argmax(values))
    return values[best], candidates[best]
