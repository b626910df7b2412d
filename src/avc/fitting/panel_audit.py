"""Audit a panel: is each target (a user) near the hull of the agents, and what does mixing buy?

For every target of a panel (items x agents, see :mod:`avc.fitting.panel_input`),
:func:`audit_target` computes, on the same items throughout:

- **ε of Definition 1** (simplex weights plus an offset, the exact LP
  :func:`avc.theory.alignment.weighted_alignment`) beside the best constant's ε (half the
  target's range), on all items and **held out**: each fold of one split predicted by the LP
  fitted on the other folds, ε the largest error over all items (so both ε are maxima over the
  same items), the constant likewise the midrange of the other folds;
- **held-out gains** of NNLS and the simplex over the raw best agent, the best agent with its
  best non-negative scale, the best *affine* agent (scale >= 0 and offset; against NNLS and the
  simplex fitted with an offset) and the constant, each with a 95 % interval that includes the
  variance of refitting and, beside it, the interval with the fits held fixed
  (:func:`avc.fitting.refit_bootstrap.gain_intervals`);
- the **diversity** measures of F.2 (:func:`avc.fitting.diversity.diversity_summary`);
- the **curve** of held-out error against the number of agents K, and the **sparsity** of the
  fits (Section F's protocol, :func:`avc.fitting.curves.alignment_curve`).

:func:`audit_panel` does it for every target and, with several targets (several users), ranks
who is served worst by the ratio of held-out ε, hull over constant, beside the in-sample ε's
correlation with half the target's range (Chapter G's rating-range effect: in-sample, a user's ε
mostly measures how widely she rates). Its result is the JSON of ``python -m avc audit``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.fitting.audit import constant_eps
from avc.fitting.curves import alignment_curve
from avc.fitting.diversity import diversity_summary
from avc.fitting.fits import METHODS, check_xy, random_folds
from avc.fitting.panel_input import Panel
from avc.fitting.refit_bootstrap import AUDIT_PAIRS, gain_intervals
from avc.theory.alignment import weighted_alignment

__all__ = ["audit_panel", "audit_target", "curve_ks", "eps_audit", "ranking"]

CURVE_METHODS = (
    "best single agent",
    "rescaled best single agent",
    "simple average",
    "NNLS",
    "simplex",
    "constant",
)


def _plain(value):
    value = float(value)
    return None if not np.isfinite(value) else round(value, 6)


def eps_audit(X, y, folds) -> dict:
    """Definition 1's ε of the hull (the LP) and of the best constant, on all items and held out
    over ``folds`` (each fold predicted from the others' fit; ε the largest error over all
    items), with the hull's weights on all items. What G.1 and G.2 can call for a user."""
    X, y = check_xy(X, y)
    fit = weighted_alignment(X.T, y)
    held, held_constant = 0.0, 0.0
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        part = weighted_alignment(X[train].T, y[train])
        held = max(held, float(np.abs(X[test] @ part.weights + part.offset - y[test]).max()))
        held_constant = max(held_constant, constant_eps(y[train], y[test]))
    return dict(
        hull=float(fit.eps),
        constant=constant_eps(y),
        hull_held_out=held,
        constant_held_out=held_constant,
        weights=fit.weights,
        offset=float(fit.offset),
    )


def curve_ks(n_agents: int, at_most: int = 40) -> list[int]:
    """The K of the curve: every K up to ``at_most`` agents, else ``at_most`` values spread
    evenly on a log scale from 1 to the number of agents (both included)."""
    if n_agents <= at_most:
        return list(range(1, n_agents + 1))
    return sorted({int(k) for k in np.round(np.geomspace(1, n_agents, at_most))} | {n_agents})


def _curve(X, y, n_perms, n_folds, seed) -> tuple[dict, dict]:
    ks = curve_ks(X.shape[1])
    frame = alignment_curve(
        X, y, ks=ks, n_perms=n_perms, n_folds=n_folds, seed=seed, fold_split="per_permutation"
    )
    by = frame.groupby(["method", "K"]).mse
    mean, low, high = by.mean(), by.quantile(0.025), by.quantile(0.975)
    curve = {"K": ks, "mse": {}, "low": {}, "high": {}, "nonzero": {}}
    for method in CURVE_METHODS:
        curve["mse"][method] = [_plain(v) for v in mean.loc[method]]
        curve["low"][method] = [_plain(v) for v in low.loc[method]]
        curve["high"][method] = [_plain(v) for v in high.loc[method]]
    nonzero = frame.groupby(["method", "K"]).nonzero.mean()
    for method in ("NNLS", "simplex"):
        curve["nonzero"][method] = [_plain(v) for v in nonzero.loc[method]]
    sparsity = {m: _plain(nonzero.loc[(m, ks[-1])]) for m in ("NNLS", "simplex")}
    return curve, sparsity


def audit_target(
    X,
    y,
    names=None,
    *,
    n_folds: int = 5,
    n_splits: int = 10,
    n_boot: int = 1000,
    n_perms: int = 20,
    seed: int = 0,
    clip=None,
    refit: bool = True,
    refit_splits: int = 1,
) -> dict:
    """The audit of one target ``y`` (items,) by agents ``X`` (items x agents): the ``targets``
    entry of the audit's JSON (see the module's docstring), in plain numbers.

    ``n_folds`` folds, ``n_splits`` fold splits for the gains, ``n_boot`` item resamples for their
    intervals (``refit=False``: the fixed-fit intervals only), ``n_perms`` agent orders for the
    curve; every draw from ``seed``. ``clip=(low, high)``: predictions kept on the target's scale
    (as F.4 keeps them on [0, 1] or 0.5-5 stars). Chapters F and G can take their numbers from the
    parts: ``eps``, ``gains`` (refit intervals), ``gains_fixed_fit``, ``diversity``, ``curve``.
    """
    X, y = check_xy(X, y)
    names = [str(n) for n in names] if names is not None else [f"agent {j}" for j in range(X.shape[1])]
    if len(y) < 2 * n_folds:
        raise ValueError(f"{len(y)} items are too few for {n_folds} folds (two items per fold).")
    folds = random_folds(len(y), n_folds, np.random.default_rng(seed))  # the first split of the gains
    eps = eps_audit(X, y, folds)
    table = gain_intervals(
        X,
        y,
        AUDIT_PAIRS,
        n_folds,
        n_splits,
        n_boot,
        seed=seed,
        clip=clip,
        refit=refit,
        refit_splits=refit_splits,
    )
    gains, fixed = {}, {}
    for row in table.itertuples(index=False):
        gains.setdefault(row.method, {})[row.over] = {
            "gain": _plain(row.gain),
            "low": _plain(row.low),
            "high": _plain(row.high),
        }
        fixed.setdefault(row.method, {})[row.over] = {
            "low": _plain(row.fixed_low),
            "high": _plain(row.fixed_high),
        }
    curve, sparsity = _curve(X, y, n_perms, n_folds, seed)
    weights = pd.Series(eps.pop("weights"), index=names)
    carriers = weights[weights > 1e-6].sort_values(ascending=False)
    sparsity["hull"] = int(len(carriers))
    return {
        "items": int(len(y)),
        "agents": int(X.shape[1]),
        "eps": {key: _plain(value) for key, value in eps.items() if key != "offset"},
        "gains": gains,
        "diversity": diversity_summary(X, y, names),
        "gains_fixed_fit": fixed,
        "curve": curve,
        "sparsity": sparsity,
        "hull_weights": {str(k): _plain(v) for k, v in carriers.items()},
        "hull_offset": _plain(eps["offset"]),
    }


def ranking(result: dict) -> pd.DataFrame:
    """Targets from the worst served to the best: held-out ε of the hull over the constant's
    (above 1: the market predicts this user's extremes no better than a constant), with the
    in-sample ε and half the target's range (the constant's ε) beside it."""
    rows = {
        name: dict(
            ratio_held_out=(t["eps"]["hull_held_out"] or 0) / t["eps"]["constant_held_out"]
            if t["eps"]["constant_held_out"]
            else float("nan"),
            eps_held_out=t["eps"]["hull_held_out"],
            constant_held_out=t["eps"]["constant_held_out"],
            eps=t["eps"]["hull"],
            half_range=t["eps"]["constant"],
        )
        for name, t in result["targets"].items()
    }
    frame = pd.DataFrame(rows).T.astype(float)
    frame.index.name = "target"
    return frame.sort_values("ratio_held_out", ascending=False)


def audit_panel(panel: Panel, **options) -> dict:
    """Every target of a checked :class:`~avc.fitting.panel_input.Panel`: ``{"targets": {name:
    audit_target(...)}, "panel": ..., "ranking": ...}``, the JSON ``python -m avc audit`` writes
    (``options`` as :func:`audit_target`'s). With several targets, ``ranking`` lists them from
    the worst served, and ``range_effect`` gives the correlation over targets of the in-sample ε
    with half the target's range (None with fewer than three targets)."""
    result = {"targets": {}}
    for name, target in panel.targets.items():
        agents = panel.agents.loc[target.index]
        result["targets"][name] = audit_target(
            agents.to_numpy(), target.to_numpy(), agents.columns, **options
        )
    result["panel"] = {
        "source": panel.source,
        "items": int(len(panel.agents)),
        "agents": [str(a) for a in panel.agents.columns],
        "filled": {
            "rule": "a missing score is filled with the agent's median",
            "count": panel.n_filled,
            "by_agent": panel.filled,
        },
        "dropped_agents": panel.dropped_agents,
        "ignored_columns": panel.ignored_columns,
        "methods": list(METHODS),
    }
    order = ranking(result)
    result["ranking"] = [
        {"target": str(name), **{key: _plain(value) for key, value in row.items()}}
        for name, row in order.iterrows()
    ]
    result["range_effect"] = (
        _plain(np.corrcoef(order["eps"], order["half_range"])[0, 1]) if len(order) >= 3 else None
    )
    return result
