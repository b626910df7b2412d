"""Auditing a market of models for one user: how far is the user from the agents' hull, and is
that any better than knowing nothing about the items?

Given agents' scores and a user's target on the same items (or utilities on a finite action x
state grid, flattened), :func:`audit` reports

* the best simplex weights and offset of Definition 1 and the sup-norm error ε they attain on
  the items (an LP, :func:`avc.theory.alignment.weighted_alignment`), with the agents that carry the
  weight;
* beside it, the ε of the best **constant** (the offset alone, no agent): half the range of the
  target. A hull whose ε is not below the constant's has told the user nothing about the items;
  the two are compared on the same items throughout;
* the mean squared error of five predictors (the constant, best single agent, plain average,
  NNLS, simplex), each with a fitted offset;
* **held out**: over ``n_splits`` random splits, weights fitted on part of the items and ε and
  errors measured on the rest, summarised by the median and the range of the middle ``level``
  share of splits. An ε fitted on the items it is measured on is optimistic (and can only fall
  as agents are added); the held-out ε is not, and its spread over splits says how much one
  split can be trusted.

An item bootstrap is *not* used for ε: ε is a maximum over items, and a resample holds a subset of
the sample's items, so a resample's ε can never exceed the sample's. Its percentiles sit at or
below the point estimate by construction and are no confidence interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from avc.fitting.fits import fit_nnls, fit_simplex
from avc.theory.alignment import weighted_alignment

__all__ = ["AuditResult", "audit", "constant_eps", "fit_predictors", "held_out_eps"]

PREDICTORS = ("constant", "best single agent", "simple average", "NNLS", "simplex")


def constant_eps(y_fit, y_eval=None) -> float:
    """Sup-norm error of the best constant fitted on ``y_fit`` (its midrange), on ``y_eval``
    (default: the same items, where it is half the range of ``y_fit``)."""
    y_fit = np.asarray(y_fit, dtype=float)
    c = (y_fit.max() + y_fit.min()) / 2
    y_eval = y_fit if y_eval is None else np.asarray(y_eval, dtype=float)
    return float(np.abs(y_eval - c).max())


def held_out_eps(X, y, train, test) -> float:
    """Sup-norm error on ``test`` of the simplex weights and offset fitted on ``train``."""
    fit = weighted_alignment(X[train].T, y[train])
    return float(np.abs(X[test] @ fit.weights + fit.offset - y[test]).max())


def fit_predictors(X: np.ndarray, y: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Weights and offset of each predictor, fitted on ``(X, y)``; every one has an offset."""
    xm, ym = X.mean(axis=0), y.mean()
    Xc, yc = X - xm, y - ym
    k = X.shape[1]
    single = np.eye(k)[int(np.argmin(((Xc - yc[:, None]) ** 2).mean(axis=0)))]
    weights = {
        "constant": np.zeros(k),
        "best single agent": single,
        "simple average": np.full(k, 1 / k),
        "NNLS": fit_nnls(Xc, yc),
        "simplex": fit_simplex(Xc, yc),
    }
    return {name: (w, float(ym - xm @ w)) for name, w in weights.items()}


def _errors(X, y, fits) -> dict[str, float]:
    return {name: float(np.mean((X @ w + c - y) ** 2)) for name, (w, c) in fits.items()}


@dataclass
class AuditResult:
    eps: float
    """Sup-norm alignment error on all items (simplex weights, free offset)."""
    eps_constant: float
    """Sup-norm error of the best constant on all items: half the target's range."""
    weights: pd.Series
    offset: float
    mse: pd.Series
    """Mean squared error of each predictor, fitted and measured on all items."""
    eps_holdout: float
    """Median over splits of the held-out sup-norm error of the hull's fit."""
    eps_holdout_range: tuple[float, float]
    """The range of the middle ``level`` share of splits."""
    eps_constant_holdout: float
    """Median over the same splits of the held-out sup-norm error of the constant."""
    mse_holdout: pd.Series
    """Median over splits of each predictor's held-out mean squared error."""
    n_splits: int
    level: float

    @property
    def carriers(self) -> pd.Series:
        """Agents with a weight above 1e-6, largest first."""
        return self.weights[self.weights > 1e-6].sort_values(ascending=False)

    def summary(self) -> pd.DataFrame:
        """One row per quantity: on all items, and held out (median over splits)."""
        rows = {
            "ε, hull (simplex + offset)": (self.eps, self.eps_holdout),
            "ε, constant": (self.eps_constant, self.eps_constant_holdout),
        }
        for name in PREDICTORS:
            rows[f"MSE, {name}"] = (self.mse[name], self.mse_holdout[name])
        return pd.DataFrame(rows, index=["on all items", "held out"]).T


def audit(
    scores, target, n_splits: int = 50, holdout_fraction: float = 0.3, level: float = 0.9, seed: int = 0
) -> AuditResult:
    """Audit agents ``scores`` (items x agents, array or DataFrame) against ``target`` (items,)."""
    names = (
        list(scores.columns)
        if isinstance(scores, pd.DataFrame)
        else [f"agent {i}" for i in range(np.shape(scores)[1])]
    )
    X = np.asarray(scores, dtype=float)
    y = np.asarray(target, dtype=float)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"scores must be (items, agents) and target (items,); got {X.shape} and {y.shape}.")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("scores and target must be finite: drop or fill the missing values first.")
    if X.shape[0] < 4:
        raise ValueError("an audit needs at least 4 items (some to fit on, some held out).")
    if not 0 < holdout_fraction < 1 or not 0 < level < 1:
        raise ValueError("holdout_fraction and level must lie strictly between 0 and 1.")
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1; got {n_splits}.")
    rng = np.random.default_rng(seed)
    fit = weighted_alignment(X.T, y)
    mse = pd.Series(_errors(X, y, fit_predictors(X, y)))

    n_test = min(len(y) - 2, max(1, int(round(holdout_fraction * len(y)))))
    eps_split, constant_split, mse_split = [], [], []
    for _ in range(n_splits):
        order = rng.permutation(len(y))
        test, train = order[:n_test], order[n_test:]
        eps_split.append(held_out_eps(X, y, train, test))
        constant_split.append(constant_eps(y[train], y[test]))
        mse_split.append(_errors(X[test], y[test], fit_predictors(X[train], y[train])))
    tail = (1 - level) / 2
    return AuditResult(
        eps=fit.eps,
        eps_constant=constant_eps(y),
        weights=pd.Series(fit.weights, index=names),
        offset=fit.offset,
        mse=mse,
        eps_holdout=float(np.median(eps_split)),
        eps_holdout_range=tuple(float(q) for q in np.quantile(eps_split, [tail, 1 - tail])),
        eps_constant_holdout=float(np.median(constant_split)),
        mse_holdout=pd.DataFrame(mse_split).median(),
        n_splits=n_splits,
        level=level,
    )
