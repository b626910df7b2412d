"""Auditing a market of models for one user: how far is the user from the agents' hull, and
how sure are we?

Given agents' scores and a user's target on the same items (or utilities on a finite action x
state grid, flattened), :func:`audit` reports

* the best simplex weights and offset of Definition 1 and the sup-norm error ε they attain on
  the items (an LP, :func:`avc.alignment.weighted_alignment`), with the agents that carry the
  weight;
* the mean squared error of four predictors (best single agent, plain average, NNLS, simplex),
  each with a fitted offset;
* a bootstrap over items: percentile intervals for ε and for each predictor's error;
* a held-out check: weights fitted on part of the items, ε and errors measured on the rest.
  An ε fitted on the same items it is measured on is optimistic; the held-out ε is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from avc.alignment import weighted_alignment
from avc.fitting import fit_nnls, fit_simplex

__all__ = ["AuditResult", "audit", "fit_predictors"]

PREDICTORS = ("best single agent", "simple average", "NNLS", "simplex")


def fit_predictors(X: np.ndarray, y: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Weights and offset of each predictor, fitted on ``(X, y)``; every one has an offset."""
    xm, ym = X.mean(axis=0), y.mean()
    Xc, yc = X - xm, y - ym
    k = X.shape[1]
    single = np.eye(k)[int(np.argmin(((Xc - yc[:, None]) ** 2).mean(axis=0)))]
    weights = {
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
    weights: pd.Series
    offset: float
    mse: pd.Series
    """Mean squared error of each predictor, fitted and measured on all items."""
    eps_interval: tuple[float, float]
    mse_intervals: pd.DataFrame
    eps_holdout: float
    """Sup-norm error on held-out items of the weights and offset fitted on the others."""
    mse_holdout: pd.Series
    level: float

    @property
    def carriers(self) -> pd.Series:
        """Agents with a weight above 1e-6, largest first."""
        return self.weights[self.weights > 1e-6].sort_values(ascending=False)

    def summary(self) -> pd.DataFrame:
        lo, hi = self.eps_interval
        rows = {"sup-norm ε (simplex + offset)": (self.eps, lo, hi, self.eps_holdout)}
        for name in PREDICTORS:
            rows[f"MSE {name}"] = (self.mse[name], *self.mse_intervals.loc[name], self.mse_holdout[name])
        pct = int(round(100 * self.level))
        return pd.DataFrame(rows, index=["on all items", f"{pct}% interval low", f"{pct}% interval high", "held out"]).T


def audit(scores, target, n_boot: int = 100, holdout_fraction: float = 0.3, level: float = 0.9, seed: int = 0) -> AuditResult:
    """Audit agents ``scores`` (items x agents, array or DataFrame) against ``target`` (items,)."""
    names = list(scores.columns) if isinstance(scores, pd.DataFrame) else [f"agent {i}" for i in range(np.shape(scores)[1])]
    X = np.asarray(scores, dtype=float)
    y = np.asarray(target, dtype=float)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"scores must be (items, agents) and target (items,); got {X.shape} and {y.shape}.")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("scores and target must be finite: drop or fill the missing values first.")
    if X.shape[0] < 4:
        raise ValueError("an audit needs at least 4 items (a held-out part and a bootstrap).")
    if not 0 < holdout_fraction < 1 or not 0 < level < 1:
        raise ValueError("holdout_fraction and level must lie strictly between 0 and 1.")
    rng = np.random.default_rng(seed)
    fit = weighted_alignment(X.T, y)
    mse = pd.Series(_errors(X, y, fit_predictors(X, y)))

    boot_eps, boot_mse = [], []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), size=len(y))
        boot_eps.append(weighted_alignment(X[rows].T, y[rows]).eps)
        boot_mse.append(_errors(X[rows], y[rows], fit_predictors(X[rows], y[rows])))
    tail = (1 - level) / 2
    eps_interval = tuple(float(q) for q in np.quantile(boot_eps, [tail, 1 - tail]))
    boot = pd.DataFrame(boot_mse)
    mse_intervals = boot.quantile([tail, 1 - tail]).T.set_axis(["low", "high"], axis=1)

    order = rng.permutation(len(y))
    n_test = max(1, int(round(holdout_fraction * len(y))))
    test, train = order[:n_test], order[n_test:]
    train_fit = weighted_alignment(X[train].T, y[train])
    eps_holdout = float(np.abs(X[test] @ train_fit.weights + train_fit.offset - y[test]).max())
    mse_holdout = pd.Series(_errors(X[test], y[test], fit_predictors(X[train], y[train])))
    return AuditResult(
        eps=fit.eps, weights=pd.Series(fit.weights, index=names), offset=fit.offset, mse=mse,
        eps_interval=eps_interval, mse_intervals=mse_intervals, eps_holdout=eps_holdout,
        mse_holdout=mse_holdout, level=level,
    )
