"""How differently a panel's agents err: the diversity measures of Chapter F (F.2).

The hull condition needs agents that are wrong in *different* ways. Three measures say how far a
panel is from one judge repeated: the correlation over items between two agents (its mean over
all pairs), the share of the agents' joint variation carried by their first principal component
(of the correlation matrix), and each agent's correlation with the target. Agents constant over
the items have no correlation and are counted apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["agent_target_correlations", "diversity", "diversity_summary"]


def diversity(X, y):
    """How differently the agents err: pairwise correlation, first principal component, fit to y.

    ``X``: items x agents; ``y``: the target on the same items. Returns ``(measures, pairwise,
    with_target)``: a dict of ``constant_agents``, ``mean_pairwise_corr``, ``first_pc_share``,
    ``median_corr_with_target``, ``best_corr_with_target``, ``agent_sd`` (sd over items, mean
    over agents) and ``target_sd``; the correlation of every pair of non-constant agents; and
    each non-constant agent's correlation with ``y``. NaN measures (and empty arrays) where fewer
    than two agents vary or the target is constant.

    Chapter F's F.2 calls this as ``diversity(X, y)`` (it is the chapter's former function,
    moved here unchanged).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    varying = X.std(axis=0) > 0
    Z = X[:, varying]
    if Z.shape[1] < 2 or y.std() == 0:  # nothing varies enough to correlate (possible on a tiny live panel)
        nan = float("nan")
        return (
            dict(
                constant_agents=int((~varying).sum()),
                mean_pairwise_corr=nan,
                first_pc_share=nan,
                median_corr_with_target=nan,
                best_corr_with_target=nan,
                agent_sd=float(X.std(axis=0).mean()),
                target_sd=float(y.std()),
            ),
            np.array([]),
            np.array([]),
        )
    corr = np.corrcoef(Z.T)
    pairwise = corr[~np.eye(len(corr), dtype=bool)]
    eigen = np.linalg.eigvalsh(corr)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        with_target = np.array([np.corrcoef(Z[:, j], y)[0, 1] for j in range(Z.shape[1])])
    return (
        dict(
            constant_agents=int((~varying).sum()),
            mean_pairwise_corr=float(pairwise.mean()) if len(pairwise) else np.nan,
            first_pc_share=float(eigen[0] / eigen.sum()),
            median_corr_with_target=float(np.nanmedian(with_target)),
            best_corr_with_target=float(np.nanmax(with_target)),
            agent_sd=float(Z.std(axis=0).mean()),
            target_sd=float(y.std()),
        ),
        pairwise,
        with_target,
    )


def agent_target_correlations(X, y, names=None) -> pd.Series:
    """Each agent's correlation with the target over the items, by name (NaN for an agent that is
    constant over the items, or for every agent if the target is)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    names = list(names) if names is not None else [f"agent {j}" for j in range(X.shape[1])]
    out = np.full(X.shape[1], np.nan)
    if y.std() > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            for j in np.flatnonzero(X.std(axis=0) > 0):
                out[j] = np.corrcoef(X[:, j], y)[0, 1]
    return pd.Series(out, index=names, name="correlation with the target")


def diversity_summary(X, y, names=None, bins: int = 20) -> dict:
    """The measures of :func:`diversity` in plain numbers (None for NaN), with each agent's
    correlation with the target by name and a histogram of the pairwise correlations over
    ``bins`` equal bins of [-1, 1]: the ``diversity`` entry of an audit's JSON
    (:func:`avc.fitting.panel_audit.audit_target`)."""
    measures, pairwise, _ = diversity(X, y)
    counts, edges = np.histogram(np.clip(pairwise, -1, 1), bins=bins, range=(-1, 1))
    with_target = agent_target_correlations(X, y, names)
    out = {key: _plain(value) for key, value in measures.items()}
    out["corr_with_target"] = {str(k): _plain(v) for k, v in with_target.items()}
    out["pairwise_corr_histogram"] = {"edges": edges.round(6).tolist(), "counts": counts.astype(int).tolist()}
    return out


def _plain(value):
    value = float(value)
    return None if not np.isfinite(value) else value
