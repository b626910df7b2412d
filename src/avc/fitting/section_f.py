"""Section F's three targets and the comparisons Chapter F makes on them.

The recorded panel gives three targets: ETHICS scored by the **baseline** persona (the paper's
"human"), ETHICS's real human **labels**, and MovieLens's mean ratings. :func:`designs` turns the
panel into an agent matrix and a target per target, on the error scale of each ([0, 1] for ETHICS,
stars for movies). :func:`offset_gains` makes F.4's held-out comparison, with and without an
offset, through :func:`avc.fitting.refit_bootstrap.gain_intervals` (the intervals ``avc audit``
reports: item resamples with every fit redone, beside the resamples of held-out errors with the
fits held fixed); :func:`size_sweep` is F.5's rerun on random subsets of the items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from avc.fitting.curves import alignment_curve
from avc.fitting.diversity import diversity
from avc.fitting.fits import METHODS
from avc.fitting.held_out import held_out_predictions
from avc.fitting.holdout import bootstrap_gain
from avc.fitting.refit_bootstrap import gain_intervals

__all__ = [
    "BASELINE",
    "LABELS",
    "MOVIES",
    "SHORT",
    "affine_share",
    "average_gain",
    "TARGET_KINDS",
    "design",
    "designs",
    "diversity_shown",
    "diversity_values",
    "size_values",
    "diversity_table",
    "gain_cells",
    "offset_gains",
    "quoted_gains",
    "size_sweep",
]

BASELINE, LABELS, MOVIES = "ETHICS (baseline prompt)", "ETHICS (human labels)", "MovieLens (mean rating)"
TARGET_KINDS = {
    BASELINE: ("ethics", "baseline"),
    LABELS: ("ethics", "human labels"),
    MOVIES: ("movielens", ""),
}
SHORT = {BASELINE: "eb", LABELS: "el", MOVIES: "ml"}
"""The prefix of each target's glued values (``el_simplex_mix_gain_off`` ...)."""
SCALES = {BASELINE: (0.0, 1.0), LABELS: (0.0, 1.0), MOVIES: (0.5, 5.0)}
"""Each target's scale: predictions are kept on it (ETHICS [0, 1], movies 0.5 to 5 stars)."""
OVER = {"best single agent": "raw", "rescaled best single agent": "mix", "constant": "r2"}
OFFSETS = {"no offset": False, "with offset": True}


def design(panel: pd.DataFrame, targets: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Agent matrix X (items x agents, on the target's error scale) and target y. An agent with
    no valid score is left out; an invalid reply is the agent's median over the other items."""
    domain, kind = TARGET_KINDS[name]
    agents = panel.drop(columns="baseline")
    agents = agents.drop(columns=agents.columns[agents.isna().all()])
    agents = agents.fillna(agents.median())
    targets = targets.loc[panel.index]
    if domain == "movielens":
        return agents.to_numpy() * 5 / 100, targets["mean_rating"].to_numpy()
    if kind == "human labels":
        return agents.to_numpy() / 100, 1.0 - targets["label"].to_numpy()
    keep = panel["baseline"].notna().to_numpy()
    return agents.to_numpy()[keep] / 100, panel["baseline"].to_numpy()[keep] / 100


def designs(panels: dict, targets: dict, n_folds: int, echo=print) -> tuple[dict, dict]:
    """Every target with enough items for ``n_folds``-fold cross-validation (two items per fold),
    and each target's number of usable items (0 when no agent gave a valid score)."""
    out, usable = {}, {}
    for domain, panel in panels.items():
        empty = int(panel.drop(columns="baseline").isna().all().sum())
        if empty:
            echo(f"{domain}: {empty} agents gave no valid score and are left out")
    for name, (domain, _) in TARGET_KINDS.items():
        X, y = design(panels[domain], targets[domain], name)
        usable[name] = len(y) if X.shape[1] else 0
        if usable[name] >= 2 * n_folds:
            out[name] = (X, y)
        else:
            echo(f"{name}: {usable[name]} usable items, too few for {n_folds}-fold cross-validation; skipped")
    return out, usable


MEASURES = {
    "constant_agents": "agents constant over the items",
    "mean_pairwise_corr": "mean correlation between two agents",
    "first_pc_share": "share of the first principal component",
    "median_corr_with_target": "median correlation with the target",
    "best_corr_with_target": "best correlation with the target",
    "agent_sd": "spread of an agent (sd over items, mean)",
    "target_sd": "spread of the target (sd over items)",
}
"""F.2's measures, as the page names them."""


def diversity_shown(table: pd.DataFrame, tidy) -> pd.DataFrame:
    """F.2's table for the page: one row per measure, one column per target, counts as counts
    and the rest to two places."""
    shown = tidy(table.T.astype(float), 2)
    shown = shown.apply(
        lambda row: row.map(("{:.0f}" if row.name == "constant_agents" else "{:.2f}").format), axis=1
    )
    return shown.rename(index=MEASURES)


def diversity_values(table: pd.DataFrame) -> dict:
    """The diversity numbers the text quotes: the movies' and the first ETHICS target's."""
    movie, ethics = table.loc[MOVIES], table.loc[[n for n in table.index if n.startswith("ETHICS")][0]]
    return {
        "movie_pairwise": movie.mean_pairwise_corr,
        "movie_pc1": movie.first_pc_share,
        "movie_target_corr": movie.median_corr_with_target,
        "ethics_pairwise": ethics.mean_pairwise_corr,
        "ethics_pc1": ethics.first_pc_share,
        "movie_agent_sd": movie.agent_sd,
        "movie_target_sd": movie.target_sd,
    }


def size_values(size_gain: pd.DataFrame) -> dict:
    """F.5's numbers the text quotes, per target: the simplex's gain over the raw best agent on the
    smallest and the full panel, NNLS's worst, and the smallest size."""
    values = {}
    for name in dict.fromkeys(size_gain.index.get_level_values(0)):
        raw, short = size_gain.loc[name, "over best single"], SHORT[name]
        values[f"{short}_size_simplex_small"] = raw.simplex.iloc[0]
        values[f"{short}_size_simplex_full"] = raw.simplex.iloc[-1]
        values[f"{short}_size_nnls_worst"] = raw.NNLS.min()
        values[f"{short}_size_n_small"] = int(raw.index[0])
    return values


def diversity_table(designs: dict) -> tuple[pd.DataFrame, dict, dict]:
    """F.2's measures per target (:func:`avc.fitting.diversity.diversity`), and the pairwise and
    with-target correlations behind them."""
    rows, pairwise, with_target = {}, {}, {}
    for name, (X, y) in designs.items():
        rows[name], pairwise[name], with_target[name] = diversity(X, y)
    return pd.DataFrame(rows).T, pairwise, with_target


def offset_gains(X, y, name: str, n_folds: int, n_splits: int, n_boot: int, seed: int) -> dict:
    """F.4 for one target: the gains of NNLS and simplex over the raw best agent, the rescaled
    best agent and the constant, fitted with and without an offset, with both intervals; the
    held-out R² of every method; how far the farthest prediction fell off the target's scale."""
    pairs = [(m, flag, over) for flag in OFFSETS.values() for m in ("NNLS", "simplex") for over in OVER]
    table = gain_intervals(
        X, y, pairs, n_folds=n_folds, n_splits=n_splits, n_boot=n_boot, seed=seed, clip=SCALES[name]
    )
    table["fit"] = table.intercept.map({flag: fit for fit, flag in OFFSETS.items()})
    r2, mse, off_scale, errors = {}, {}, {}, {}
    for fit, flag in OFFSETS.items():
        raw = held_out_predictions(X, y, n_folds, n_splits, seed, flag)
        kept = np.clip(raw, *SCALES[name])
        off_scale[fit] = pd.Series(np.abs(kept - raw).max(axis=(0, 2)), index=list(METHODS))
        errors[fit] = ((kept - y) ** 2).mean(axis=0)  # (method, item), averaged over the splits
        mse[fit] = pd.Series(errors[fit].mean(axis=1), index=list(METHODS))
        r2[fit] = (1 - mse[fit] / mse[fit]["constant"]).drop("constant")
    return dict(
        gains=table.assign(target=name), r2=pd.DataFrame(r2).T, mse=pd.DataFrame(mse).T,
        off_scale=pd.DataFrame(off_scale).T, errors=errors,
    )  # fmt: skip


def average_gain(errors: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """The plain average's held-out gain over the raw best agent, with its item-bootstrap
    interval (fits fixed), from the ``(method, item)`` errors of :func:`offset_gains`."""
    index = {m: i for i, m in enumerate(METHODS)}
    return bootstrap_gain(
        errors[index["simple average"]], errors[index["best single agent"]], n_boot, seed=seed
    )


def affine_share(mse: pd.DataFrame, method: str = "NNLS") -> float:
    """How much of ``method``'s held-out improvement over the raw best agent (no offset) one agent
    makes alone with its best scale and offset: (raw - affine) / (raw - method)."""
    raw = mse.loc["no offset", "best single agent"]
    affine = mse.loc["with offset", "rescaled best single agent"]
    return float((raw - affine) / (raw - mse.loc["no offset", method]))


def gain_cells(gains: pd.DataFrame, labels: dict, interval_text) -> pd.DataFrame:
    """F.4's table: one row per target, fit and baseline, one column per mixture; each cell a gain
    with its interval (refitting every resample) in brackets."""
    names = {"best single agent": "raw best", "rescaled best single agent": "rescaled best"}
    names["constant"] = "constant (R²)"
    shown = gains.assign(
        target=gains.target.map(labels),
        **{"gain over": gains.over.map(names)},
        cell=[interval_text(*r) for r in gains[["gain", "low", "high"]].to_numpy()],
    )
    rows = ["target", "fit", "gain over"]
    order = pd.MultiIndex.from_frame(shown[rows].drop_duplicates())
    cells = shown.set_index([*rows, "method"]).cell.unstack("method").reindex(order)
    cells.columns.name = None
    return cells


def quoted_gains(gains: pd.DataFrame, r2: dict, tidy) -> dict:
    """Every gain the text quotes, by name: ``<target>_<method>_<raw|mix|r2>_<gain|low|high>``
    (``_off`` with an offset; ``fixed_low``/``fixed_high`` the intervals with fits held fixed),
    and each target's best held-out R²."""
    values = {}
    for row in gains.itertuples():
        key = f"{SHORT[row.target]}_{row.method.lower()}_{OVER[row.over]}"
        suffix = "_off" if row.fit == "with offset" else ""
        for field in ("gain", "low", "high", "fixed_low", "fixed_high"):
            values[f"{key}_{field}{suffix}"] = float(tidy(getattr(row, field), 2))  # no "-0%" on the page
    for name, table in r2.items():
        values[f"{SHORT[name]}_best_r2"] = float(table.max().max())
    return values


def size_sweep(X, y, n_folds: int, n_subsets: int, seed: int, target_index: int, intercept: bool, echo=print):
    """F.5: the held-out gains of NNLS and simplex at full K over the raw and the rescaled best
    agent, on ``n_subsets`` random item subsets of six sizes, from four items per fold (or the
    whole panel, if smaller) to all items; each gain is one minus the ratio of errors summed over
    the subsets. Each target draws from its own generator (``[seed, target_index]``)."""
    rng = np.random.default_rng([seed, target_index])
    smallest = min(4 * n_folds, len(y))  # a small live panel starts lower
    if smallest < 4 * n_folds:
        echo(f"F.5: {len(y)} items, fewer than four per fold: the sizes start at {smallest}")
    rows = []
    for n in np.unique(np.linspace(smallest, len(y), 6).astype(int)):
        for subset in range(n_subsets):  # at full size the subsets are all items, with different folds
            chosen = rng.choice(len(y), size=n, replace=False)
            curve = alignment_curve(
                X[chosen], y[chosen], ks=[X.shape[1]], n_perms=1, n_folds=n_folds, seed=seed + subset,
                intercept=intercept,
            )  # fmt: skip
            rows.append(dict(items=n, subset=subset, **curve.groupby("method").mse.mean()))
    sums = pd.DataFrame(rows).groupby("items")[list(METHODS)].sum()
    over = {
        "over best single": "best single agent",
        "over rescaled best single": "rescaled best single agent",
    }
    return pd.concat(
        {
            key: pd.DataFrame({m: 1 - sums[m] / sums[base] for m in ("NNLS", "simplex")})
            for key, base in over.items()
        },
        axis=1,
    )
