"""Held-out predictions item by item, and gains with item-bootstrap intervals (Section F).

:func:`avc.fitting.curves.alignment_curve` gives fold-averaged errors along whole curves. The summary a
reader needs at full size is sharper: how much better is a mixture than each simple baseline on
items it was not fitted on, and how sure is that? :func:`out_of_fold_predictions` fits every
method on the training folds of several random fold splits and predicts each item from the
split's fold that held it out; :func:`gain_table` turns the squared errors into gains

    gain of A over B = 1 - sum_i e_A(i) / sum_i e_B(i)

(e averaged over the splits), with a percentile interval from resampling the items with
replacement (the uncertainty that comes from having these items and not others; the fits are not
redone per resample, so it leaves out the variance of refitting) and the held-out R², the gain
over the constant predictor.

The methods are those of :data:`avc.fitting.fits.METHODS`: the constant (training mean), the best
single agent used as it is and with its best non-negative scale, the plain average, NNLS and the
simplex. With ``intercept=True`` every agent-based method also fits an offset (agents and target
centred on their training means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.fitting.fits import METHODS, check_xy, fit_nnls, fit_simplex, random_folds

__all__ = ["bootstrap_gain", "gain_table", "held_out_mse", "out_of_fold_predictions"]


def _fit_predict(X_train, y_train, X_test, intercept: bool) -> dict[str, np.ndarray]:
    if intercept:
        x_mean, y_mean = X_train.mean(axis=0), y_train.mean()
    else:
        x_mean, y_mean = np.zeros(X_train.shape[1]), 0.0
    Xc, yc, Tc = X_train - x_mean, y_train - y_mean, X_test - x_mean
    raw_error = ((Xc - yc[:, None]) ** 2).mean(axis=0)
    best = int(np.argmin(raw_error))
    norms = (Xc**2).sum(axis=0)
    scales = np.where(norms > 0, np.maximum(Xc.T @ yc, 0.0) / np.where(norms > 0, norms, 1.0), 0.0)
    scaled_error = ((Xc * scales - yc[:, None]) ** 2).mean(axis=0)
    rescaled = int(np.argmin(scaled_error))
    return {
        "constant": np.full(len(X_test), y_train.mean()),
        "best single agent": Tc[:, best] + y_mean,
        "rescaled best single agent": scales[rescaled] * Tc[:, rescaled] + y_mean,
        "simple average": Tc.mean(axis=1) + y_mean,
        "NNLS": Tc @ fit_nnls(Xc, yc) + y_mean,
        "simplex": Tc @ fit_simplex(Xc, yc) + y_mean,
    }


def out_of_fold_predictions(
    X, y, n_folds: int = 5, n_splits: int = 10, seed: int = 0, intercept: bool = False
) -> np.ndarray:
    """Predictions of every method for every item from the fold that held it out: an array
    ``(n_splits, len(METHODS), n_items)``, methods in the order of :data:`METHODS`. Each split
    draws its own folds from ``numpy.random.default_rng(seed)``."""
    X, y = check_xy(X, y)
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1; got {n_splits}.")
    rng = np.random.default_rng(seed)
    out = np.empty((n_splits, len(METHODS), len(y)))
    for split in range(n_splits):
        for test in random_folds(len(y), n_folds, rng):
            train = np.setdiff1d(np.arange(len(y)), test)
            predicted = _fit_predict(X[train], y[train], X[test], intercept)
            for m, method in enumerate(METHODS):
                out[split, m, test] = predicted[method]
    return out


def bootstrap_gain(
    errors_a: np.ndarray, errors_b: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``1 - sum(errors_a) / sum(errors_b)`` and its percentile interval over item resamples
    (resamples on which the baseline is exact are left out; all NaN if it is exact on every item)."""
    errors_a, errors_b = np.asarray(errors_a, float), np.asarray(errors_b, float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(errors_a), size=(n_boot, len(errors_a)))
    sums_b = errors_b[draws].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = 1.0 - errors_a[draws].sum(axis=1) / sums_b
    gains = gains[np.isfinite(gains)]
    if errors_b.sum() == 0 or len(gains) == 0:  # the baseline is exact on these items: no ratio to take
        return float("nan"), float("nan"), float("nan")
    tail = (1 - level) / 2
    point = 1.0 - errors_a.sum() / errors_b.sum()
    return float(point), float(np.quantile(gains, tail)), float(np.quantile(gains, 1 - tail))


def gain_table(
    predictions: np.ndarray,
    y,
    methods=("NNLS", "simplex"),
    baselines=("best single agent", "rescaled best single agent", "constant"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (method, baseline): the held-out gain and its item-bootstrap interval. The
    same item resamples serve every row (one seed), so rows can be compared."""
    y = np.asarray(y, float)
    errors = ((predictions - y) ** 2).mean(axis=0)  # (method, item), averaged over the splits
    index = {m: i for i, m in enumerate(METHODS)}
    rows = []
    for method in methods:
        for baseline in baselines:
            point, lo, hi = bootstrap_gain(
                errors[index[method]], errors[index[baseline]], n_boot, level, seed
            )
            rows.append(dict(method=method, over=baseline, gain=point, low=lo, high=hi))
    return pd.DataFrame(rows)


def held_out_mse(predictions: np.ndarray, y) -> pd.Series:
    """Mean squared error of each method over the items and splits."""
    errors = ((predictions - np.asarray(y, float)) ** 2).mean(axis=(0, 2))
    return pd.Series(errors, index=list(METHODS), name="held-out MSE")
