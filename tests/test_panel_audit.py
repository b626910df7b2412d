"""The panel audit (avc.fitting.panel_audit and python -m avc audit): known answers on synthetic
panels, the same predictions as Chapter F's held-out path, intervals that refit, the JSON of
issue 28, and bad input refused before any work."""

import json

import numpy as np
import pandas as pd
import pytest

from avc.cli import main
from avc.fitting import panel_audit
from avc.fitting.diversity import agent_target_correlations, diversity, diversity_summary
from avc.fitting.held_out import fold_predictions, held_out_predictions
from avc.fitting.holdout import out_of_fold_predictions
from avc.fitting.panel_input import PanelError, prepare_panel, read_panel
from avc.fitting.refit_bootstrap import AUDIT_PAIRS, gain_intervals, refit_gain_draws

FAST = dict(n_folds=4, n_splits=3, n_boot=60, n_perms=3, seed=1)


def agents(rng, n_items=120, n_agents=8):
    """Agents that err in different directions: independent uniform scores on 0-100."""
    return rng.uniform(0, 100, size=(n_items, n_agents))


def test_a_target_inside_the_hull_has_eps_zero_and_mixing_pays():
    rng = np.random.default_rng(0)
    X = agents(rng)
    y = X @ rng.dirichlet(np.ones(X.shape[1]))  # a convex mixture: in the hull
    result = panel_audit.audit_target(X, y, **FAST)
    folds = np.array_split(np.arange(len(y)), 4)
    shifted = panel_audit.eps_audit(X, y + 7.0, folds)  # Definition 1's offset: still in the hull
    assert shifted["hull"] < 1e-6 and shifted["hull_held_out"] < 1e-6 and abs(shifted["offset"] - 7) < 1e-6
    eps = result["eps"]
    assert eps["hull"] < 1e-6 and eps["hull_held_out"] < 1e-6
    assert eps["constant"] > 10 and eps["constant_held_out"] > 10
    for method in ("NNLS", "simplex"):
        gains = result["gains"][method]
        # exact mixtures: every baseline is beaten by nearly all of its error
        assert gains["raw best"]["gain"] > 0.9 and gains["affine best"]["gain"] > 0.9
        assert gains["affine best"]["low"] > 0.9  # the mixing gain, refit interval included
    assert result["sparsity"]["hull"] <= X.shape[1]


def test_one_agent_rescaled_and_shifted_gains_over_the_raw_agent_but_not_by_mixing():
    rng = np.random.default_rng(1)
    X = agents(rng)
    y = 0.4 * X[:, 2] + 30.0 + rng.normal(0, 0.5, size=len(X))  # agent 2, scaled and shifted
    result = panel_audit.audit_target(X, y, **FAST)
    nnls, simplex = result["gains"]["NNLS"], result["gains"]["simplex"]
    assert nnls["raw best"]["gain"] > 0.5  # the raw agent is far off: fitting it pays a lot ...
    # ... but NNLS adds nothing to its affine map: no mixing gain (its extra weights only fit noise)
    assert -0.3 < nnls["affine best"]["gain"] < 0.02 and nnls["affine best"]["low"] < 0
    # the simplex's weights sum to one: it cannot even rescale, so it does no better than the affine agent
    assert simplex["affine best"]["gain"] < 0.05
    assert result["eps"]["hull"] > 1.0  # 0.4 x agent is not a convex mixture: outside the hull


def test_held_out_predictions_equal_chapter_f_route():
    rng = np.random.default_rng(2)
    X = agents(rng, 60, 6) / 100
    y = np.clip(X @ rng.dirichlet(np.ones(6)) + rng.normal(0, 0.1, 60), 0, 1)
    for intercept in (False, True):
        slow = np.clip(out_of_fold_predictions(X, y, 5, 3, seed=4, intercept=intercept), 0, 1)
        fast = held_out_predictions(X, y, 5, 3, seed=4, intercept=intercept, clip=(0, 1))
        assert fast.shape == slow.shape and np.abs(fast - slow).max() < 1e-9


def test_weighted_folds_equal_repeated_rows():
    """A bootstrap's counts weigh the training rows exactly as repeating them would."""
    rng = np.random.default_rng(3)
    X, y = agents(rng, 30, 4), rng.uniform(0, 100, 30)
    counts = rng.integers(1, 4, size=30).astype(float)
    folds = [np.arange(0, 10), np.arange(10, 20), np.arange(20, 30)]
    repeated = np.repeat(np.arange(30), counts.astype(int))
    rows_of = {i: np.flatnonzero(repeated == i) for i in range(30)}
    long_folds = [np.concatenate([rows_of[i] for i in fold]) for fold in folds]
    for intercept in (False, True):
        weighted = fold_predictions(X, y, folds, intercept, weights=counts)
        long = fold_predictions(X[repeated], y[repeated], long_folds, intercept)
        first = [rows_of[i][0] for i in range(30)]
        assert np.allclose(weighted, long[:, first], rtol=1e-7, atol=1e-7)


def test_refit_intervals_use_the_same_resamples_and_are_reproducible():
    rng = np.random.default_rng(5)
    X = agents(rng, 80, 6)
    y = X @ rng.dirichlet(np.ones(6)) + rng.normal(0, 15, 80)
    pairs = AUDIT_PAIRS[:3]
    first = refit_gain_draws(X, y, pairs, n_boot=30, n_folds=4, seed=2)
    again = refit_gain_draws(X, y, pairs, n_boot=30, n_folds=4, seed=2)
    assert first.shape == (30, 3) and np.array_equal(first, again, equal_nan=True)
    table = gain_intervals(X, y, pairs, n_folds=4, n_splits=3, n_boot=30, seed=2)
    assert list(table.over) == ["raw best", "rescaled best", "affine best"]
    assert (table.low <= table.high).all() and (table.fixed_low <= table.fixed_high).all()
    fixed_only = gain_intervals(X, y, pairs, n_folds=4, n_splits=3, n_boot=30, seed=2, refit=False)
    assert np.allclose(fixed_only.gain, table.gain) and fixed_only.low.isna().all()


def test_diversity_measures_on_a_known_panel():
    a = np.array([1.0, 2, 3, 4, 5, 6])
    b = np.array([2.0, 1, 4, 3, 6, 5])
    X = np.column_stack([a, a, -a, b, np.ones(6)])  # two copies, a mirror, a cousin, a constant
    measures, pairwise, with_target = diversity(X, a)
    assert measures["constant_agents"] == 1 and len(with_target) == 4
    corr_ab = np.corrcoef(a, b)[0, 1]
    expected = np.mean([1, -1, corr_ab, -1, corr_ab, -corr_ab])  # the six pairs of four agents
    assert np.isclose(measures["mean_pairwise_corr"], expected)
    assert np.isclose(measures["best_corr_with_target"], 1.0)
    named = agent_target_correlations(X, a, list("vwxyz"))
    assert np.isnan(named["z"]) and np.isclose(named["x"], -1.0)
    summary = diversity_summary(X, a, list("vwxyz"))
    assert (
        summary["corr_with_target"]["z"] is None and sum(summary["pairwise_corr_histogram"]["counts"]) == 12
    )


def write_panel(path, n_items=40, n_agents=5, seed=7):
    rng = np.random.default_rng(seed)
    X = agents(rng, n_items, n_agents)
    frame = pd.DataFrame(X, columns=[f"model-{j}" for j in range(n_agents)])
    frame.insert(0, "human", X @ rng.dirichlet(np.ones(n_agents)))
    frame.insert(1, "alice", np.clip(frame.human + rng.normal(0, 10, n_items), 0, 100))
    frame.insert(0, "item", [f"i{j}" for j in range(n_items)])
    frame.insert(1, "title", [f"movie {j}" for j in range(n_items)])  # a text column: not an agent
    frame.to_csv(path, index=False)
    return frame


def test_the_command_writes_the_json_of_the_issue(tmp_path, capsys):
    write_panel(tmp_path / "panel.csv")
    out = tmp_path / "audit.json"
    argv = [str(tmp_path / "panel.csv"), "--target", "human", "--target", "alice", "--json", str(out)]
    code = main(["audit", *argv, "--boot", "40", "--splits", "2", "--perms", "2", "--folds", "4"])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["targets"]) == {"human", "alice"}
    for target in result["targets"].values():
        assert target["items"] == 40 and target["agents"] == 5
        assert set(target["eps"]) == {"hull", "constant", "hull_held_out", "constant_held_out"}
        assert set(target["gains"]) == {"NNLS", "simplex"}
        for gains in target["gains"].values():
            assert set(gains) == {"raw best", "rescaled best", "affine best", "constant"}
            for entry in gains.values():
                assert set(entry) == {"gain", "low", "high"} and entry["low"] <= entry["high"]
        assert "mean_pairwise_corr" in target["diversity"]
    assert result["targets"]["human"]["eps"]["hull"] < 1e-6
    assert [row["target"] for row in result["ranking"]] == ["alice", "human"]  # the worse served first
    assert result["panel"]["ignored_columns"] == ["title"] and result["panel"]["filled"]["count"] == 0
    printed = capsys.readouterr().out
    assert "target alice" in printed and "served worst first" in printed


def test_missing_scores_are_filled_with_the_agents_median_and_counted(tmp_path):
    frame = write_panel(tmp_path / "panel.csv")
    frame.loc[[0, 3], "model-1"] = np.nan
    frame.loc[5, "model-4"] = np.nan
    frame.loc[7, "human"] = np.nan  # a missing target leaves the item out of that target
    panel = prepare_panel(frame, ["human"], n_folds=4, source="panel.csv")
    assert panel.n_filled == 3 and panel.filled == {"model-1": 2, "model-4": 1}
    assert panel.agents.loc["i0", "model-1"] == frame["model-1"].median()
    assert len(panel.targets["human"]) == 39


def test_the_report_is_a_rendered_notebook_with_figures(tmp_path):
    write_panel(tmp_path / "panel.csv", n_items=24, n_agents=4)
    report = tmp_path / "audit.html"
    argv = ["audit", str(tmp_path / "panel.csv"), "--target", "human", "--report", str(report)]
    assert main([*argv, "--boot", "20", "--splits", "1", "--perms", "2", "--folds", "3"]) == 0
    html = report.read_text()
    assert html.count("data:image/png;base64") >= 3  # the gains, the diversity and the curve
    assert "Held-out gains" in html and "Traceback" not in html


BAD_INPUTS = [
    (["--target", "bob"], "no target column 'bob'"),
    (["--target", "human", "--agents", "model-0", "model-0"], "named twice"),
    (["--target", "human", "--folds", "30"], "fewer than the 60 that 30 folds need"),
    (["--target", "human", "--agents", "model-0", "title"], "agent column 'title' is not numeric"),
    (["--target", "human", "--folds", "1"], "--folds must be at least 2"),
]


@pytest.mark.parametrize("options, message", BAD_INPUTS)
def test_bad_input_is_refused_before_any_work(tmp_path, capsys, monkeypatch, options, message):
    write_panel(tmp_path / "panel.csv")

    def no_work(*args, **kwargs):
        raise AssertionError("the audit started on input it should have refused")

    monkeypatch.setattr(panel_audit, "audit_panel", no_work)
    code = main(["audit", str(tmp_path / "panel.csv"), *options])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("error: ") and "\n" not in error
    assert message in error
    if "folds" not in message:
        assert "panel.csv" in error  # names the file


def test_a_broken_agent_column_and_duplicate_names_in_the_file(tmp_path):
    frame = write_panel(tmp_path / "panel.csv")
    broken = frame.astype({"model-2": object})
    broken.loc[4, "model-2"] = "twelve"  # mostly numbers, one text: an agent column with a bad value
    broken.to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(
        PanelError, match=r"broken.csv: the agent column 'model-2' is not numeric \(item 'i4': 'twelve'\)"
    ):
        prepare_panel(read_panel(tmp_path / "broken.csv"), ["human"], source=str(tmp_path / "broken.csv"))
    text = (tmp_path / "panel.csv").read_text().splitlines()
    text[0] = text[0].replace("model-3", "model-1")
    (tmp_path / "twice.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(PanelError, match="twice.csv: the column name.*'model-1' appear more than once"):
        read_panel(tmp_path / "twice.csv")
    with pytest.raises(PanelError, match="no such file"):
        read_panel(tmp_path / "absent.csv")
    with pytest.raises(PanelError, match="'human' has the same value .* on every item"):
        prepare_panel(frame.assign(human=3.0), ["human"], source="panel.csv")


def test_parquet_panels_are_read_or_refused_with_the_fix(tmp_path):
    frame = write_panel(tmp_path / "panel.csv")
    try:
        frame.to_parquet(tmp_path / "panel.parquet")
    except ImportError:  # no Parquet engine here: a file that only its name makes Parquet
        (tmp_path / "panel.parquet").write_bytes(b"PAR1")
        with pytest.raises(PanelError, match="needs pyarrow.*save the panel as CSV"):
            read_panel(tmp_path / "panel.parquet")
        return
    assert read_panel(tmp_path / "panel.parquet").equals(frame)
