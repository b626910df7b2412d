"""The bounds of Section D as functions, each returning its terms separately.

* Theorem 3: rounds ``K = 3|A| / (ζ² δ)`` that guarantee ζ-agreement w.p. ``1 - δ``.
* Theorem 4: under information substitutes, ζ-agreement gives ``ε_u <= 10 ζ^{1/3}``.
* Proposition 2 / Corollary 1: uniform estimation error ``ε_u`` (outside an event of
  probability ρ) gives the (δ, C*)-close condition with ``δ <= e^{4λε_u} - 1 + ρ``;
  Corollary 2 linearises it: ``δ <= 4 e λ ε_u`` when ``λ ε_u <= 1/4``.
* Theorem 2: equilibrium utility ``>= U_A(C*) - 2ε - δ``.
* Theorem 5 and Corollary 3: equilibrium utility ``>= OPT - alignment - estimation - quantal``.

A bound is *vacuous* when it says nothing about utilities in [0, 1]: a lower bound that is
at most 0, or an error term of 1 or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EquilibriumBound",
    "agreement_level",
    "agreement_rounds",
    "best_theorem5_bound",
    "theorem5_threshold",
    "closeness_from_estimation",
    "corollary3_bound",
    "linearised_closeness",
    "substitutes_estimation_error",
    "theorem2_bound",
    "theorem5_bound",
]


def _positive(name, value):
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {value}.")


def agreement_rounds(n_actions: int, zeta: float, delta_conv: float) -> float:
    """Theorem 3: ``K = 3|A| / (ζ² δ_conv)`` rounds suffice for ζ-agreement w.p. ``1 - δ_conv``."""
    _positive("zeta", zeta)
    if not 0 < delta_conv < 1:
        raise ValueError("delta_conv must lie in (0, 1).")
    return 3 * n_actions / (zeta**2 * delta_conv)


def agreement_level(n_actions: int, n_rounds: float, delta_conv: float) -> float:
    """Theorem 3 read backwards: ``ζ = sqrt(3|A| / (K δ_conv))`` after ``K`` rounds."""
    _positive("n_rounds", n_rounds)
    if not 0 < delta_conv < 1:
        raise ValueError("delta_conv must lie in (0, 1).")
    return math.sqrt(3 * n_actions / (n_rounds * delta_conv))


def substitutes_estimation_error(zeta: float) -> float:
    """Theorem 4: ``10 ζ^{1/3}`` (vacuous for utilities in [0, 1] once ζ >= 1e-3)."""
    if zeta < 0:
        raise ValueError("zeta must be non-negative.")
    return 10 * zeta ** (1 / 3)


def closeness_from_estimation(lam: float, eps_u: float, rho: float = 0.0) -> float:
    """Proposition 2 (ρ = 0) and Corollary 1: ``δ <= e^{4 λ ε_u} - 1 + ρ`` (in L1)."""
    if lam < 0 or eps_u < 0 or not 0 <= rho <= 1:
        raise ValueError("need lam >= 0, eps_u >= 0 and 0 <= rho <= 1.")
    return math.expm1(4 * lam * eps_u) + rho


def linearised_closeness(lam: float, eps_u: float) -> float:
    """Corollary 2: ``δ <= 4 e λ ε_u``, valid when ``λ ε_u <= 1/4``."""
    if lam * eps_u > 0.25:
        raise ValueError(f"Corollary 2 needs λ ε_u <= 1/4; here λ ε_u = {lam * eps_u:.4g}.")
    return 4 * math.e * lam * eps_u


def theorem2_bound(aligned_value: float, eps: float, delta: float) -> float:
    """Theorem 2: equilibrium utility ``>= U_A(C*) - 2ε - δ``."""
    return aligned_value - 2 * eps - delta


@dataclass(frozen=True)
class EquilibriumBound:
    """A lower bound ``opt - alignment - estimation - quantal`` and its parts."""

    opt: float
    alignment: float
    estimation: float
    quantal: float
    zeta: float

    @property
    def bound(self) -> float:
        return self.opt - self.alignment - self.estimation - self.quantal

    @property
    def vacuous(self) -> bool:
        """True when the bound is at most 0: it says nothing about a utility in [0, 1]."""
        return self.bound <= 0


def theorem5_bound(
    opt: float, eps: float, n_actions: int, lam: float, n_rounds: float, delta_conv: float
) -> EquilibriumBound:
    """Theorem 5 with ``ζ = sqrt(3|A| / (K δ_conv))``: alignment ``2ε``, estimation
    ``2(10ζ^{1/3} + δ_conv) + e^{4λ·10ζ^{1/3}} - 1 + δ_conv`` and quantal gap ``log|A|/λ``."""
    _positive("lam", lam)
    zeta = agreement_level(n_actions, n_rounds, delta_conv)
    err = substitutes_estimation_error(zeta)
    try:
        closeness = math.expm1(4 * lam * err)
    except OverflowError:
        closeness = math.inf
    return EquilibriumBound(
        opt=opt,
        alignment=2 * eps,
        estimation=2 * (err + delta_conv) + closeness + delta_conv,
        quantal=math.log(n_actions) / lam,
        zeta=zeta,
    )


def corollary3_bound(
    opt: float, eps: float, n_actions: int, lam: float, n_rounds: float, delta_conv: float
) -> EquilibriumBound:
    """Corollary 3 (needs ``λ·10ζ^{1/3} <= 1/4``): estimation ``(20 + 40eλ) ζ^{1/3} + 3δ_conv``."""
    _positive("lam", lam)
    zeta = agreement_level(n_actions, n_rounds, delta_conv)
    if lam * substitutes_estimation_error(zeta) > 0.25:
        raise ValueError(
            f"Corollary 3 needs λ·10ζ^(1/3) <= 1/4; here it is {lam * substitutes_estimation_error(zeta):.4g}. "
            "Use theorem5_bound instead."
        )
    return EquilibriumBound(
        opt=opt,
        alignment=2 * eps,
        estimation=(20 + 40 * math.e * lam) * zeta ** (1 / 3) + 3 * delta_conv,
        quantal=math.log(n_actions) / lam,
        zeta=zeta,
    )


def best_theorem5_bound(
    opt: float, eps: float, n_actions: int, n_rounds: float
) -> tuple[EquilibriumBound, float, float]:
    """Theorem 5's bound maximised over ``δ_conv`` and λ for a given number of rounds.

    A coarse grid in ``(log δ_conv, log λ)`` is refined by Nelder–Mead from its best point.
    Returns the bound and the maximising ``(δ_conv, λ)``.
    """
    from scipy.optimize import minimize

    def value(log_params):
        delta_conv, lam = math.exp(log_params[0]), math.exp(log_params[1])
        if not 0 < delta_conv < 1:
            return math.inf
        return -theorem5_bound(opt, eps, n_actions, lam, n_rounds, delta_conv).bound

    candidates = [
        (math.log(d), math.log(lam0))
        for d in (1e-8, 1e-6, 1e-4, 1e-2, 0.1, 0.3)
        for lam0 in (0.1, 1, 10, 100, 1e3, 1e4, 1e5)
    ]
    start = min(candidates, key=value)
    result = minimize(value, start, method="Nelder-Mead", options=dict(xatol=1e-6, fatol=1e-12, maxiter=2000))
    best = result.x if result.fun <= value(start) else np.asarray(start)
    delta_conv, lam = math.exp(best[0]), math.exp(best[1])
    return theorem5_bound(opt, eps, n_actions, lam, n_rounds, delta_conv), delta_conv, lam


def theorem5_threshold(opt: float, eps: float, n_actions: int, lo: float = 1e3, hi: float = 1e40) -> float:
    """The number of rounds at which the best Theorem 5 bound crosses zero (bisection in log K)."""
    from scipy.optimize import brentq

    def f(log_k):
        return best_theorem5_bound(opt, eps, n_actions, 10.0**log_k)[0].bound

    if f(math.log10(lo)) > 0 or f(math.log10(hi)) <= 0:
        raise ValueError("the bound does not cross zero between lo and hi.")
    return 10.0 ** brentq(f, math.log10(lo), math.log10(hi), xtol=1e-3)
