"""Intervals for held-out gains that include the variance of refitting (Section F, F.4).

:func:`avc.fitting.holdout.bootstrap_gain` resamples items' held-out errors with the fits held
fixed: it says how the gain would move on another draw of items *if the weights stayed put*. But
another draw of items would also give other weights. Here each bootstrap resample of the items
is audited afresh: new folds over its distinct items (all copies of an item in one fold, so no
item is fitted on and predicted at once), every method refitted on each fold's training rows
(an item drawn twice weighs twice), and the gain recomputed from the refitted out-of-fold
errors. The percentiles of those gains are the *refit* interval; :func:`gain_intervals` gives it
beside the fixed-fit interval, from the same item resamples, so that the two widths differ only by
the refitting.

A resample's gain uses ``refit_splits`` fold splits (default 1), the point estimate
``n_splits`` (default 10): the refit interval then also carries the luck of one split, which the
point estimate averages away, so it errs on the wide side. Affordable because each refit is one
compiled path per fold (:mod:`avc.fitting.held_out`): on a 1,000 x 100 panel a resample costs a
few milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.fitting.fits import METHODS, check_xy, random_folds
from avc.fitting.held_out import fold_predictions, held_out_predictions, support_first
from avc.fitting.holdout import bootstrap_gain

__all__ = ["AUDIT_PAIRS", "gain_intervals", "refit_gain_draws"]

AUDIT_PAIRS = (
    ("NNLS", False, "best single agent", "raw best"),
    ("NNLS", False, "rescaled best single agent", "rescaled best"),
    ("NNLS", True, "rescaled best single agent", "affine best"),
    ("NNLS", False, "constant", "constant"),
    ("simplex", False, "best single agent", "raw best"),
    ("simplex", False, "rescaled best single agent", "rescaled best"),
    ("simplex", True, "rescaled best single agent", "affine best"),
    ("simplex", False, "constant", "constant"),
)
"""The gains an audit reports: ``(method, fitted with an offset, baseline, the baseline's name)``.
The baseline is fitted like the method (with an offset when it is): with one, the rescaled best
agent is the best affine agent ``a u_j + c`` (``a >= 0``), the one comparison that leaves a single
agent every freedom a mixture has except mixing."""


def _resamples(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """The item resamples, drawn exactly as :func:`avc.fitting.holdout.bootstrap_gain` draws them."""
    return np.random.default_rng(seed).integers(0, n_items, size=(n_boot, n_items))


def refit_gain_draws(
    X,
    y,
    pairs=AUDIT_PAIRS,
    n_boot: int = 1000,
    n_folds: int = 5,
    refit_splits: int = 1,
    seed: int = 0,
    clip=None,
) -> np.ndarray:
    """The gain ``1 - sum e_method / sum e_baseline`` of every pair on each of ``n_boot`` item
    resamples, every fit redone on the resample (see the module's docstring): ``(n_boot,
    len(pairs))``, NaN where a resample has fewer distinct items than folds or its baseline is
    exact. ``pairs``: ``(method, intercept, baseline, ...)`` tuples as in :data:`AUDIT_PAIRS`."""
    X, y = check_xy(X, y)
    if n_boot < 1 or refit_splits < 1:
        raise ValueError(f"n_boot and refit_splits must be at least 1; got {n_boot} and {refit_splits}.")
    index = {m: i for i, m in enumerate(METHODS)}
    intercepts = sorted({pair[1] for pair in pairs})
    draws = _resamples(len(y), n_boot, seed)
    # a resample's optimum is near the panel's: its agents enter the solver's paths first
    orders = {
        (flag, simplex): support_first(X, y, flag, simplex)
        for flag in intercepts
        for simplex in (False, True)
    }
    rng_folds = np.random.default_rng([seed, 1])  # the resamples' folds: a stream of their own
    gains = np.full((n_boot, len(pairs)), np.nan)
    for r, drawn in enumerate(draws):
        counts = np.bincount(drawn, minlength=len(y)).astype(float)
        distinct = np.flatnonzero(counts)
        if len(distinct) < n_folds:
            continue
        sums = {flag: np.zeros(len(METHODS)) for flag in intercepts}
        for _ in range(refit_splits):
            folds = [distinct[f] for f in random_folds(len(distinct), n_folds, rng_folds)]
            predicted = fold_predictions(X, y, folds, tuple(intercepts), counts, clip, orders)
            for flag in intercepts:
                sums[flag] += ((predicted[flag][:, distinct] - y[distinct]) ** 2) @ counts[distinct]
        for p, (method, flag, baseline, *_) in enumerate(pairs):
            denominator = sums[flag][index[baseline]]
            if denominator > 0:
                gains[r, p] = 1.0 - sums[flag][index[method]] / denominator
    return gains


def gain_intervals(
    X,
    y,
    pairs=AUDIT_PAIRS,
    n_folds: int = 5,
    n_splits: int = 10,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    clip=None,
    refit: bool = True,
    refit_splits: int = 1,
) -> pd.DataFrame:
    """Held-out gains with both intervals: one row per pair of :data:`AUDIT_PAIRS` (or ``pairs``).

    Columns ``method``, ``intercept``, ``over`` (the baseline as named in ``pairs``), ``gain``
    (from ``n_splits`` fold splits, errors averaged over them, as
    :func:`avc.fitting.holdout.gain_table`), ``fixed_low``/``fixed_high`` (resampling the held-out
    errors, fits fixed: :func:`~avc.fitting.holdout.bootstrap_gain`), ``low``/``high`` (the refit
    interval, :func:`refit_gain_draws`; NaN with ``refit=False``) and the two widths. Both
    intervals use the same ``n_boot`` item resamples (``seed``). ``clip=(low, high)`` keeps every
    prediction on the target's scale.

    Chapter F's F.4 can take its table from here: ``gain_intervals(X, y, pairs, n_folds,
    n_splits, n_boot, seed=seed, clip=scale)`` with pairs ``(method, intercept, baseline, name)``
    for each of its fits; ``fixed_low``/``fixed_high`` are its present intervals.
    """
    X, y = check_xy(X, y)
    index = {m: i for i, m in enumerate(METHODS)}
    errors = {}
    for flag in sorted({pair[1] for pair in pairs}):
        predictions = held_out_predictions(X, y, n_folds, n_splits, seed, flag, clip=clip)
        errors[flag] = ((predictions - y) ** 2).mean(axis=0)  # (method, item), averaged over the splits
    draws = (
        refit_gain_draws(X, y, pairs, n_boot, n_folds, refit_splits, seed, clip)
        if refit
        else np.full((n_boot, len(pairs)), np.nan)
    )
    tail = (1 - level) / 2
    rows = []
    for p, (method, flag, baseline, *name) in enumerate(pairs):
        point, low, high = bootstrap_gain(
            errors[flag][index[method]], errors[flag][index[baseline]], n_boot, level, seed
        )
        finite = draws[:, p][np.isfinite(draws[:, p])]
        refit_low, refit_high = (
            (float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail)))
            if len(finite)
            else (float("nan"), float("nan"))
        )
        rows.append(
            dict(
                method=method,
                intercept=flag,
                over=name[0] if name else baseline,
                gain=point,
                low=refit_low,
                high=refit_high,
                fixed_low=low,
                fixed_high=high,
                refit_width=refit_high - refit_low,
                fixed_width=high - low,
            )
        )
    return pd.DataFrame(rows)
