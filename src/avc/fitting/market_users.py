"""A market of models and its many users (Chapter G): the experiments' loops and G.3's games.

Chapter G audits one market of agents for several targets (G.1), for every MovieLens user and
for synthetic users scattered around the consensus (G.2), and plays the persuasion game of
Chapter C for a population of users facing the same agents (G.3). What the chapter shows is the
fit (:func:`avc.theory.alignment.weighted_alignment`) and the comparison with a constant
(:func:`avc.fitting.audit.constant_eps`); the loops that repeat them live here:

- :func:`audit_values`: the numbers of G.1's audits by name, for the prose;
- :func:`market_size_curve`: ε of the first ``k`` agents of random orders, fitted on two thirds
  of the items and held out on the rest, beside the constant's (Figure G.1);
- :func:`user_targets`, :func:`user_audit`, :func:`users_frame`, :func:`users_summary`: each
  MovieLens user's ratings as a target, audited on their own movies and held out;
- :func:`synthetic_users`, :func:`synthetic_summary`: users drawn as the consensus plus noise;
- :func:`betting_markets`, :func:`betting_population`, :func:`utility_table`: G.3's agents and
  users in the betting game (two states; bet on either, or take a safe action);
- :func:`moves`, :func:`loss_text`, :func:`little_verdict`, :func:`two_decimals`,
  :func:`quoted_list`: the few words of the prose that depend on the numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from avc.fitting.audit import AuditResult, constant_eps
from avc.fitting.fits import random_folds
from avc.fitting.panel_audit import eps_audit
from avc.theory.alignment import weighted_alignment

__all__ = [
    "AUDIT_FIELDS",
    "USER_COLUMNS",
    "audit_values",
    "betting_markets",
    "betting_population",
    "little_verdict",
    "loss_text",
    "market_size_curve",
    "moves",
    "quoted_list",
    "synthetic_summary",
    "synthetic_users",
    "two_decimals",
    "user_audit",
    "user_targets",
    "users_frame",
    "users_summary",
    "utility_table",
]

AUDIT_FIELDS = ("eps", "eps_constant", "eps_holdout", "eps_constant_holdout")
"""The fields of an :class:`~avc.fitting.audit.AuditResult` that G.1's prose cites."""


def audit_values(audits: Mapping[str, AuditResult], keys: Mapping[str, str]) -> dict[str, float]:
    """For each audit, under its short key (``keys[name]``, e.g. ``"eb"``): ``<key>_eps``,
    ``<key>_eps_constant``, ``<key>_eps_holdout``, ``<key>_eps_constant_holdout``, and the
    ratios hull / constant ``<key>_fitted_ratio`` (on all items) and ``<key>_holdout_ratio``."""
    out = {}
    for name, result in audits.items():
        key = keys[name]
        out[f"{key}_fitted_ratio"] = float(result.eps / result.eps_constant)
        for field in AUDIT_FIELDS:
            out[f"{key}_{field}"] = float(getattr(result, field))
        out[f"{key}_holdout_ratio"] = float(result.eps_holdout / result.eps_constant_holdout)
    return out


def market_size_curve(X, y, agent_counts: Sequence[int], n_orders: int, rng: np.random.Generator):
    """ε as the market grows, for one target ``y`` (items,) and agents ``X`` (items x agents).

    ``n_orders`` times: the agents in a random order and a random third of the items (at least
    two) held out; for every ``k`` in ``agent_counts`` the LP's weights of the first ``k`` agents
    are fitted on the other items. One row per (order, k): ``hull_fitted`` (ε on the fitting
    items), ``hull_held_out`` (the same weights on the held-out items), and the constant's ε
    fitted on the same items, on them (``constant_fitted``) and held out
    (``constant_held_out``). The markets of one order are nested."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n_test = max(2, len(y) // 3)
    rows = []
    for order in range(n_orders):
        agents = rng.permutation(X.shape[1])
        items = rng.permutation(len(y))
        test, train = items[:n_test], items[n_test:]
        for k in agent_counts:
            cols = agents[:k]
            fit = weighted_alignment(X[np.ix_(train, cols)].T, y[train])
            predicted = X[np.ix_(test, cols)] @ fit.weights + fit.offset
            rows.append(
                dict(
                    agents=k,
                    order=order,
                    hull_fitted=fit.eps,
                    constant_fitted=constant_eps(y[train]),
                    hull_held_out=float(np.abs(predicted - y[test]).max()),
                    constant_held_out=constant_eps(y[train], y[test]),
                )
            )
    return pd.DataFrame(rows)


def moves(first: float, last: float) -> str:
    """``"stays at 1.14"`` or ``"moves from 0.64 to 0.84"`` (two decimals)."""
    first_text, last_text = f"{first:.2f}", f"{last:.2f}"
    if first_text == last_text:
        return f"stays at {first_text}"
    return f"moves from {first_text} to {last_text}"


def user_targets(ratings: pd.DataFrame | None, item_ids: Sequence[str], min_ratings: int) -> Iterator:
    """``(user, items, stars)`` for every user with at least ``min_ratings`` ratings among the
    panel's movies: ``items`` the panel's item ids (``"movielens-<movieId>"``) of the movies the
    user rated, ``stars`` their ratings (a Series, in the same order). ``ratings`` is MovieLens'
    table (userId, movieId, rating); ``None`` (the dataset is absent) yields nothing."""
    if ratings is None:
        return
    panel_movies = {int(item.split("-")[1]): item for item in item_ids}
    rated = ratings[ratings.movieId.isin(panel_movies)]
    counts = rated.groupby("userId").size()
    for user in counts[counts >= min_ratings].index:
        theirs = rated[rated.userId == user]
        yield user, [panel_movies[m] for m in theirs.movieId], theirs.rating


def user_audit(X, y, n_folds: int, rng: np.random.Generator) -> dict[str, float]:
    """One user's ε on their own movies and held out, each beside the constant's.

    ``eps`` and ``eps_constant`` on all the user's movies; ``eps_held_out`` and
    ``eps_constant_held_out`` with every movie predicted from the other folds of ``n_folds``
    random folds drawn from ``rng`` (:func:`avc.fitting.panel_audit.eps_audit`)."""
    y = np.asarray(y, dtype=float)
    result = eps_audit(X, y, random_folds(len(y), n_folds, rng))
    return dict(
        eps=result["hull"],
        eps_constant=result["constant"],
        eps_held_out=result["hull_held_out"],
        eps_constant_held_out=result["constant_held_out"],
    )


USER_COLUMNS = (
    "user",
    "n_rated",
    "rating_sd",
    "eps",
    "eps_constant",
    "eps_held_out",
    "eps_constant_held_out",
)
"""The columns of a row of G.2's users table (before the ratio is added)."""


def users_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """G.2's users table from its rows, with ``held_out_ratio`` (hull over constant, held out);
    empty, with the same columns, when there are no rows."""
    users = pd.DataFrame(list(rows)) if len(rows) else pd.DataFrame(columns=list(USER_COLUMNS))
    users["held_out_ratio"] = users.eps_held_out / users.eps_constant_held_out
    return users


def users_summary(users: pd.DataFrame) -> dict:
    """G.2's numbers: ``g2_users`` (how many), ``g2_range_corr`` (correlation of the in-sample ε
    with half the rating range, the constant's ε), ``g2_median_ratio`` (median held-out ratio)
    and ``g2_share_better`` (share of users whose held-out ratio is below 1). NaN for all but the
    count when there are no users (fewer than two: NaN correlation)."""
    if not len(users):
        nan = float("nan")
        return dict(g2_users=0, g2_range_corr=nan, g2_median_ratio=nan, g2_share_better=nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(users.eps, users.eps_constant)[0, 1]) if len(users) > 1 else float("nan")
    return dict(
        g2_users=int(len(users)),
        g2_range_corr=corr,
        g2_median_ratio=float(users.held_out_ratio.median()),
        g2_share_better=float((users.held_out_ratio < 1).mean()),
    )


def synthetic_users(
    X, consensus, spreads: Sequence[float], n_per_spread: int, agent_counts: Sequence[int], rng
) -> pd.DataFrame:
    """Synthetic users: the ``consensus`` rating (items,) plus independent normal noise of each
    sd in ``spreads``, clipped to the star scale [0.5, 5]; ``n_per_spread`` users per spread.
    Each user's agents come in a random order and her ε is fitted (on all items) for the first
    ``k`` agents, every ``k`` in ``agent_counts``; one row per (spread, user, k) with ``eps`` and
    the constant's ``eps_constant``."""
    X, consensus = np.asarray(X, dtype=float), np.asarray(consensus, dtype=float)
    rows = []
    for spread in spreads:
        for user in range(n_per_spread):
            target = np.clip(consensus + rng.normal(0, spread, size=len(consensus)), 0.5, 5)
            order = rng.permutation(X.shape[1])
            for k in agent_counts:
                rows.append(
                    dict(
                        spread=spread,
                        user=user,
                        agents=k,
                        eps=weighted_alignment(X[:, order[:k]].T, target).eps,
                        eps_constant=constant_eps(target),
                    )
                )
    return pd.DataFrame(rows)


def synthetic_summary(synthetic: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(median_eps, table)``: the median ε by market size (rows) and spread (columns), and the
    table shown, the same with a last row ``constant`` (the constant's median ε) and columns
    named ``noise <sd> stars``."""
    median_eps = synthetic.groupby(["spread", "agents"]).eps.median().unstack(0)
    median_constant = synthetic.groupby("spread").eps_constant.median()
    constant_row = median_constant.to_frame().T.rename(index={"eps_constant": "constant"})
    table = pd.concat([median_eps, constant_row])
    table.columns = [f"noise {s} stars" for s in table.columns]
    table.index.name = "agents"
    return median_eps, table


ACTIONS = ("bet on state 0", "bet on state 1", "safe")
"""G.3's actions, the rows of every utility (its columns are the two states)."""


def _betting_directions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centre = np.array([[1.0, 0.0], [0.0, 1.0], [0.55, 0.55]])  # a bet pays 1 if right; safe 0.55
    toward_bet0 = np.array([[0.5, 0.5], [-0.5, -0.5], [0.0, 0.0]])
    toward_safety = np.array([[0.0, 0.0], [0.0, 0.0], [0.5, 0.5]])
    return centre, toward_bet0, toward_safety


def betting_markets() -> dict[str, np.ndarray]:
    """G.3's two markets of three agents (each ``(3, 3, 2)``: agent, action, state): one whose
    agents have **opposite** biases (one favours each bet, one mildly favours safety) and one
    whose agents **share** a bias toward the safe action."""
    centre, toward_bet0, toward_safety = _betting_directions()
    return {
        "opposite biases": np.stack(
            [centre + toward_bet0, centre - toward_bet0, centre + 0.2 * toward_safety]
        ),
        "shared bias toward safety": np.stack(
            [
                centre + toward_safety + 0.05 * toward_bet0,
                centre + toward_safety - 0.05 * toward_bet0,
                centre + 1.2 * toward_safety,
            ]
        ),
    }


def betting_population() -> dict[str, np.ndarray]:
    """G.3's four users (each ``(3, 2)``: action, state): the centre of the betting game, one
    leaning to bet 0, one leaning to safety, one who shares the second market's safety bias."""
    centre, toward_bet0, toward_safety = _betting_directions()
    return {
        "the centre": centre,
        "leans to bet 0": centre + 0.2 * toward_bet0,
        "leans to safety": centre + 0.3 * toward_safety,
        "shares the safety bias": centre + toward_safety,
    }


def utility_table(markets: Mapping[str, np.ndarray], population: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Every agent's and user's utility, one row each (``market`` or ``"users"``, then the name),
    one column per (action, state)."""
    rows = {}
    for market, agents in markets.items():
        for i, utility in enumerate(agents):  # "bias to safety": the table fits the column
            rows[(market.replace(" toward ", " to "), f"agent {i + 1}")] = np.asarray(utility).ravel()
    for name, utility in population.items():
        rows[("users", name)] = np.asarray(utility).ravel()
    short = [name.replace(" state ", " ") for name in ACTIONS]  # "bet on 0": the table fits the column
    columns = pd.MultiIndex.from_product([short, ["y = 0", "y = 1"]], names=["action", "state"])
    index = pd.MultiIndex.from_tuples(list(rows), names=["who", "name"])
    return pd.DataFrame(list(rows.values()), index=index, columns=columns)


def loss_text(loss: float, eps: float, tol: float = 1e-9) -> str:
    """What a user loses in the worst equilibrium against the aligned value, beside Theorem 1's
    allowance ``2 eps``."""
    if loss < tol:
        return "loses nothing in any equilibrium"
    return f"loses at most {loss:.2f} (Theorem 1 allows {2 * eps:.2f})"


def little_verdict(share: pd.Series, threshold: float = 0.1) -> str:
    """How much a market tells the users of ``share`` (what its worst equilibrium adds to their
    value of knowing nothing, as a share of what an aligned agent adds): "little or nothing"
    for a share at most ``threshold``."""
    little = share <= threshold
    if little.all():
        return "it tells them little or nothing"
    if little.any():
        return f"it tells {little.sum()} of the {len(share)} little or nothing"
    return "it still tells each of them something"


def two_decimals(values) -> str:
    """``"0.00, 0.02, 0.00"``: rounded before printing, so that no ``-0.00`` is shown."""
    return ", ".join(f"{round(float(v), 2) + 0.0:.2f}" for v in values)


def quoted_list(names: Sequence[str]) -> str:
    """``'"a", "b" and "c"'`` (one name: ``'"a"'``)."""
    quoted = [f'"{name}"' for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]
