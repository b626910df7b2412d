"""avc.fitting.market_users: Chapter G's loops give what the chapter's inline code gave (the same
draws from the same generator, the same numbers), and each piece on its own."""

import numpy as np
import pandas as pd
import pytest

from avc.fitting.audit import audit, constant_eps, held_out_eps
from avc.fitting.market_users import (
    USER_COLUMNS,
    audit_values,
    betting_markets,
    betting_population,
    little_verdict,
    loss_text,
    market_size_curve,
    moves,
    quoted_list,
    synthetic_summary,
    synthetic_users,
    two_decimals,
    user_audit,
    user_targets,
    users_frame,
    users_summary,
    utility_table,
)
from avc.theory.alignment import weighted_alignment


def panel(n_items=24, n_agents=6, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n_items, n_agents))
    y = X[:, :3].mean(axis=1) + rng.normal(0, 0.1, n_items)
    return X, y


def test_audit_values_names_every_number_and_its_ratios():
    X, y = panel()
    result = audit(X, y, n_splits=3, seed=0)
    values = audit_values({"target": result}, {"target": "t"})
    assert set(values) == {
        "t_eps",
        "t_eps_constant",
        "t_eps_holdout",
        "t_eps_constant_holdout",
        "t_fitted_ratio",
        "t_holdout_ratio",
    }
    assert values["t_eps"] == result.eps and values["t_eps_constant"] == constant_eps(y)
    assert values["t_fitted_ratio"] == result.eps / result.eps_constant
    assert values["t_holdout_ratio"] == result.eps_holdout / result.eps_constant_holdout
    assert all(type(v) is float for v in values.values())


def old_growth_rows(X, y, agent_counts, n_orders, rng):
    """Chapter G's inline loop before the rewrite, for one target."""
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


def test_market_size_curve_is_the_chapter_loop_and_nested():
    X, y = panel()
    curve = market_size_curve(X, y, [1, 3, 6], 4, np.random.default_rng(5))
    pd.testing.assert_frame_equal(curve, old_growth_rows(X, y, [1, 3, 6], 4, np.random.default_rng(5)))
    assert len(curve) == 12 and list(curve.agents[:3]) == [1, 3, 6]
    steps = curve.sort_values("agents").groupby("order").hull_fitted.diff().dropna()
    assert (steps <= 1e-6).all()  # nested markets never fit worse
    assert (curve.hull_fitted >= -1e-9).all() and (curve.constant_held_out > 0).all()
    # accepts the chapter's DataFrame and Series and draws the same
    frame = market_size_curve(pd.DataFrame(X), pd.Series(y), [1, 3, 6], 4, np.random.default_rng(5))
    pd.testing.assert_frame_equal(frame, curve)


def test_moves_compares_at_two_decimals():
    assert moves(1.141, 1.139) == "stays at 1.14"
    assert moves(0.6449, 0.84) == "moves from 0.64 to 0.84"
    assert moves(0.93, 0.63) == "moves from 0.93 to 0.63"


RATINGS = pd.DataFrame(
    {
        "userId": [1, 1, 1, 2, 2, 3, 3, 3, 3],
        "movieId": [10, 20, 99, 10, 20, 10, 20, 30, 99],
        "rating": [4.0, 3.5, 5.0, 2.0, 1.0, 0.5, 5.0, 3.0, 1.0],
    }
)
ITEMS = ["movielens-10", "movielens-20", "movielens-30"]


def test_user_targets_keeps_users_with_enough_panel_movies():
    found = list(user_targets(RATINGS, ITEMS, 2))
    assert [user for user, _, _ in found] == [1, 2, 3]
    user, items, stars = found[2]
    assert items == ["movielens-10", "movielens-20", "movielens-30"]  # movie 99 is not in the panel
    assert list(stars) == [0.5, 5.0, 3.0] and isinstance(stars, pd.Series)
    assert [user for user, _, _ in user_targets(RATINGS, ITEMS, 3)] == [3]
    assert list(user_targets(None, ITEMS, 1)) == []  # no dataset, no users


def old_user_audit(X, y, n_folds, rng):
    """Chapter G's user_audit before the rewrite."""
    folds = np.array_split(rng.permutation(len(y)), n_folds)
    held, held_constant = 0.0, 0.0
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        held = max(held, held_out_eps(X, y, train, test))
        held_constant = max(held_constant, constant_eps(y[train], y[test]))
    return dict(
        eps=weighted_alignment(X.T, y).eps,
        eps_constant=constant_eps(y),
        eps_held_out=held,
        eps_constant_held_out=held_constant,
    )


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_user_audit_is_the_chapter_function(n_folds):
    X, y = panel(n_items=13, n_agents=5, seed=n_folds)
    rng_new, rng_old = np.random.default_rng(9), np.random.default_rng(9)
    assert user_audit(X, y, n_folds, rng_new) == old_user_audit(X, y, n_folds, rng_old)
    assert rng_new.random() == rng_old.random()  # the same draws were taken
    found = user_audit(X, y, n_folds, np.random.default_rng(0))
    assert found["eps_constant"] == pytest.approx((y.max() - y.min()) / 2)
    assert found["eps_held_out"] >= found["eps"] - 1e-9  # held out, every item is fitted without itself


def test_users_frame_and_summary_with_and_without_users():
    empty = users_frame([])
    assert list(empty.columns) == [*USER_COLUMNS, "held_out_ratio"] and len(empty) == 0
    summary = users_summary(empty)
    assert summary["g2_users"] == 0 and all(np.isnan(summary[k]) for k in summary if k != "g2_users")
    rows = [
        dict(
            user=u, n_rated=5, rating_sd=1.0, eps=e, eps_constant=c, eps_held_out=h, eps_constant_held_out=1.0
        )
        for u, e, c, h in [(1, 0.5, 1.0, 0.8), (2, 1.0, 2.0, 1.2), (3, 1.4, 3.0, 1.1), (4, 0.3, 0.5, 0.9)]
    ]
    users = users_frame(rows)
    assert list(users.held_out_ratio) == [0.8, 1.2, 1.1, 0.9]
    summary = users_summary(users)
    assert summary["g2_users"] == 4
    assert summary["g2_median_ratio"] == pytest.approx(1.0)
    assert summary["g2_share_better"] == 0.5
    assert summary["g2_range_corr"] == pytest.approx(np.corrcoef(users.eps, users.eps_constant)[0, 1])
    assert np.isnan(users_summary(users.iloc[:1])["g2_range_corr"])  # one user: no correlation


def old_synthetic(X, consensus, n_per_spread, agent_counts, rng):
    """Chapter G's synthetic-user loop before the rewrite."""
    rows = []
    for spread in (0.1, 0.3, 0.6):
        for u in range(n_per_spread):
            target = np.clip(consensus + rng.normal(0, spread, size=len(consensus)), 0.5, 5)
            order = rng.permutation(X.shape[1])
            for k in agent_counts:
                rows.append(
                    dict(
                        spread=spread,
                        user=u,
                        agents=k,
                        eps=weighted_alignment(X[:, order[:k]].T, target).eps,
                        eps_constant=constant_eps(target),
                    )
                )
    return pd.DataFrame(rows)


def test_synthetic_users_are_the_chapter_loop():
    X, _ = panel(n_items=15, n_agents=6)
    X = 0.5 + 4.5 * X  # stars
    consensus = X.mean(axis=1)
    new = synthetic_users(X, consensus, (0.1, 0.3, 0.6), 3, [2, 6], np.random.default_rng(4))
    pd.testing.assert_frame_equal(new, old_synthetic(X, consensus, 3, [2, 6], np.random.default_rng(4)))
    assert len(new) == 3 * 3 * 2
    steps = new.sort_values("agents").groupby(["spread", "user"]).eps.diff().dropna()
    assert (steps <= 1e-6).all()
    assert (new.eps_constant <= 2.25).all()  # clipped to [0.5, 5]: half the range is at most 2.25


def test_synthetic_summary_adds_the_constant_row():
    frame = pd.DataFrame(
        dict(
            spread=[0.1, 0.1, 0.3, 0.3] * 2,
            user=[0, 0, 0, 0, 1, 1, 1, 1],
            agents=[5, 10, 5, 10] * 2,
            eps=[0.4, 0.3, 0.6, 0.5, 0.2, 0.1, 0.8, 0.7],
            eps_constant=[1.0, 1.0, 1.5, 1.5, 2.0, 2.0, 2.5, 2.5],
        )
    )
    median_eps, table = synthetic_summary(frame)
    assert list(median_eps.index) == [5, 10] and list(median_eps.columns) == [0.1, 0.3]
    assert median_eps.loc[10, 0.3] == pytest.approx(0.6)
    assert list(table.index) == [5, 10, "constant"] and table.index.name == "agents"
    assert list(table.columns) == ["noise 0.1 stars", "noise 0.3 stars"]
    assert list(table.loc["constant"]) == [1.5, 2.0]


def test_betting_market_and_its_users():
    markets, population = betting_markets(), betting_population()
    assert set(markets) == {"opposite biases", "shared bias toward safety"}
    assert all(m.shape == (3, 3, 2) for m in markets.values())
    assert all(u.shape == (3, 2) for u in population.values())
    opposite = markets["opposite biases"]
    for name in ("the centre", "leans to bet 0"):  # in the hull of opposite biases
        assert weighted_alignment(opposite, population[name]).eps < 1e-9
    assert weighted_alignment(opposite, population["leans to safety"]).eps > 1e-3
    sharer = population["shares the safety bias"]
    assert (sharer[2] > sharer[:2]).all()  # safe beats either bet in both states
    markets["opposite biases"][0, 0, 0] = 99.0  # each call builds fresh arrays
    assert betting_markets()["opposite biases"][0, 0, 0] == 1.5


def test_utility_table_lists_every_agent_and_user():
    table = utility_table(betting_markets(), betting_population())
    assert table.shape == (10, 6)
    assert table.loc[("users", "the centre")].tolist() == [1.0, 0.0, 0.0, 1.0, 0.55, 0.55]
    assert table.loc[("opposite biases", "agent 1"), ("bet on 0", "y = 0")] == 1.5


def test_the_words_that_depend_on_the_numbers():
    assert loss_text(0.0, 0.025) == "loses nothing in any equilibrium"
    assert loss_text(0.031, 0.025) == "loses at most 0.03 (Theorem 1 allows 0.05)"
    assert little_verdict(pd.Series([0.0, 0.05, 0.1])) == "it tells them little or nothing"
    assert little_verdict(pd.Series([0.0, 0.5, 0.0])) == "it tells 2 of the 3 little or nothing"
    assert little_verdict(pd.Series([0.2, 0.5])) == "it still tells each of them something"
    assert two_decimals([-0.001, 0.0199, 0.45]) == "0.00, 0.02, 0.45"
    assert quoted_list(["a"]) == '"a"'
    assert quoted_list(["a", "b"]) == '"a" and "b"'
    assert quoted_list(["a", "b", "c"]) == '"a", "b" and "c"'
