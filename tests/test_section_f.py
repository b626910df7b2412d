"""Section F's targets and comparisons (avc.fitting.section_f) and its panel source
(avc.panels.section_f), on small synthetic panels and on the recorded one."""

import numpy as np
import pandas as pd
import pytest

from avc.chapter.formatting import interval_text, tidy
from avc.fitting import section_f as F
from avc.panels import section_f as source
from avc.panels.yes_no import reading_signal


def synthetic(n_items=40, n_agents=6, seed=0):
    rng = np.random.default_rng(seed)
    items = [f"i{k}" for k in range(n_items)]
    ethics = pd.DataFrame(rng.integers(0, 101, (n_items, n_agents + 1)).astype(float), index=items)
    ethics.columns = ["baseline", *[f"p{j}" for j in range(n_agents)]]
    movies = ethics.copy()
    targets = {
        "ethics": pd.DataFrame({"label": rng.integers(0, 2, n_items)}, index=items),
        "movielens": pd.DataFrame({"mean_rating": rng.uniform(1, 5, n_items)}, index=items),
    }
    return {"ethics": ethics, "movielens": movies}, targets


def test_designs_put_each_target_on_its_scale_and_fill_invalid_replies_with_the_median():
    panels, targets = synthetic()
    panels["ethics"].iloc[3, 2] = np.nan  # an invalid reply of agent p1
    panels["ethics"]["p5"] = np.nan  # an agent with no valid score at all
    lines = []
    designs, usable = F.designs(panels, targets, n_folds=5, echo=lines.append)
    X, y = designs[F.LABELS]
    assert X.shape == (40, 5) and np.allclose(y, 1 - targets["ethics"].label)
    assert X[3, 1] == panels["ethics"]["p1"].median() / 100
    assert "ethics: 1 agents gave no valid score and are left out" in lines
    Xm, ym = designs[F.MOVIES]
    assert np.allclose(Xm, panels["movielens"].drop(columns="baseline").to_numpy() * 5 / 100)
    assert usable == {F.BASELINE: 40, F.LABELS: 40, F.MOVIES: 40}


def test_a_target_with_too_few_items_is_skipped_with_a_reason():
    panels, targets = synthetic(n_items=9)
    lines = []
    designs, usable = F.designs(panels, targets, n_folds=5, echo=lines.append)
    assert designs == {} and set(usable.values()) == {9}
    assert any("9 usable items, too few for 5-fold cross-validation" in line for line in lines)


def test_offset_gains_give_both_intervals_and_refitting_widens_them():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (80, 5))
    y = np.clip(X[:, :3].mean(axis=1) + rng.normal(0, 0.05, 80), 0, 1)  # a mixture plus noise
    result = F.offset_gains(X, y, F.LABELS, n_folds=4, n_splits=2, n_boot=60, seed=0)
    gains = result["gains"]
    assert len(gains) == 12 and set(gains.fit) == {"no offset", "with offset"}
    assert (gains.low <= gains.high).all() and (gains.fixed_low <= gains.fixed_high).all()
    assert gains.refit_width.mean() > gains.fixed_width.mean()  # refitting adds variance
    raw = gains[
        (gains.method == "simplex") & (gains.over == "best single agent") & (gains.fit == "no offset")
    ]
    assert raw.gain.iloc[0] > 0.3  # the mixture beats any one agent on a mixed target
    assert 0 <= F.affine_share(result["mse"]) <= 1.5
    cells = F.gain_cells(gains, {F.LABELS: "labels"}, interval_text)
    assert cells.shape == (6, 2) and cells.iloc[0, 0].count("[") == 1
    quoted = F.quoted_gains(gains, {F.LABELS: result["r2"]}, tidy)
    assert {"el_simplex_mix_gain_off", "el_simplex_mix_fixed_low_off", "el_best_r2"} <= set(quoted)


def test_size_sweep_starts_at_four_items_per_fold_or_the_whole_panel():
    rng = np.random.default_rng(4)
    X, y = rng.uniform(0, 1, (24, 4)), rng.uniform(0, 1, 24)
    lines = []
    sweep = F.size_sweep(X, y, n_folds=3, n_subsets=2, seed=0, target_index=0, intercept=False)
    assert sweep.index[0] == 12 and sweep.index[-1] == 24
    small = F.size_sweep(X[:8], y[:8], n_folds=3, n_subsets=2, seed=0, target_index=0, intercept=False,
                         echo=lines.append)  # fmt: skip
    assert small.index[0] == 8 and lines == ["F.5: 8 items, fewer than four per fold: the sizes start at 8"]
    values = F.size_values(pd.concat({F.LABELS: sweep}))
    assert values["el_size_n_small"] == 12 and values["el_size_simplex_full"] == sweep.iloc[-1, 1]


def test_the_yes_no_signal_of_a_reading_that_tracks_the_rating_exactly():
    items = [f"m{k}" for k in range(100)]
    rating = pd.Series(np.linspace(1, 5, 100), index=items)
    baseline = pd.Series(np.random.default_rng(0).uniform(0, 100, 100), index=items)
    signal, values = reading_signal(baseline, 20 * rating, rating)
    assert values["yesno_corr"] == pytest.approx(1.0) and signal.movies.tolist() == [100, 100]
    assert values["yesno_corr_80"] == pytest.approx(1.0)


def test_the_recorded_panel_reads_as_the_chapter_says():
    personas = source.personas_for(3)
    lines = []
    calls, targets = source.panel_calls("replay", personas, echo=lines.append)
    assert len(lines) == 2 and lines[0].startswith("ethics: qwen2.5-coder")
    panel = source.read_panel(calls["ethics"], personas["ethics"].persona_id, "ethics")
    assert list(panel.columns) == list(personas["ethics"].persona_id) and len(panel) == len(targets["ethics"])
