"""python -m avc score: a market of different models on two real HTTP servers on 127.0.0.1
(fake_openai_server), the panel it writes, a rerun that sends no request, and a market file
refused before any request when it cannot be scored."""

import numpy as np
import pandas as pd
import pytest
from fake_openai_server import OpenAICompatibleTestServer, deterministic_score

from avc.cli import main
from avc.cli import score as score_command
from avc.llm.market import MarketError, human_target, read_market, score_market
from avc.panels.personas import load_personas

ITEMS = pd.DataFrame(
    {
        "item_id": [f"ethics-{i}" for i in range(12)],
        "text": [f"I did thing number {i} today." for i in range(12)],
        "label": [i % 2 for i in range(12)],
    }
)


def write_market(path, url_a, url_b, rows=None):
    rows = rows or [
        dict(agent="alpha", base_url=url_a, model="model-a", api_key_env="", prompt="You judge kindly."),
        dict(agent="beta", base_url=url_a, model="model-a", api_key_env="", prompt="You judge strictly."),
        dict(agent="gamma", base_url=url_b, model="model-b", api_key_env="", persona="baseline"),
        dict(agent="delta", base_url=url_b, model="model-b", api_key_env="", persona="ethics-p003"),
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def servers():
    with (
        OpenAICompatibleTestServer(models=("model-a",)) as a,
        OpenAICompatibleTestServer(models=("model-b",)) as b,
    ):
        yield a, b


@pytest.fixture
def offline_items(monkeypatch, tmp_path):
    """The command's items without the ETHICS dataset: the first N of ITEMS; its own cache."""
    monkeypatch.setattr(score_command, "load_items", lambda domain, n: ITEMS.head(n))
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path / "cache"))


def test_four_agents_on_two_servers_and_a_rerun_that_sends_nothing(tmp_path, servers, offline_items, capsys):
    a, b = servers
    market = write_market(tmp_path / "market.csv", a.base_url, b.base_url)
    out = tmp_path / "panel.csv"
    argv = ["score", str(market), "--domain", "ethics", "--n-items", "10", "--out", str(out)]
    assert main(argv) == 0
    first = pd.read_csv(out)
    assert list(first.columns) == ["item", "human", "alpha", "beta", "gamma", "delta"] and len(first) == 10
    assert np.allclose(first.human, 100 * (1 - ITEMS.label[:10]))  # the human target on 0-100
    prompts = {"alpha": "You judge kindly.", "beta": "You judge strictly."}
    personas = load_personas("ethics").set_index("persona_id").prompt
    prompts.update(gamma=personas["baseline"], delta=personas["ethics-p003"])
    for agent, prompt in prompts.items():  # each agent was asked on its own server with its own prompt
        assert list(first[agent]) == [deterministic_score(prompt, text) for text in ITEMS.text[:10]]
    assert a.completions == 20 + 1 and b.completions == 20 + 1  # 2 agents x 10 items, and one probe each
    requests = (a.requests, b.requests)
    printed = capsys.readouterr().out
    assert "plan for model-a" in printed and "plan for model-b" in printed

    assert main(argv) == 0  # the same market again: everything from the cache
    assert (a.requests, b.requests) == requests
    assert pd.read_csv(out).equals(first)
    assert "0 calls made, 10 from the cache" in capsys.readouterr().out

    # the panel is what the audit reads
    assert (
        main(["audit", str(out), "--target", "human", "--boot", "20", "--splits", "1", "--perms", "2"]) == 0
    )
    assert "target human: 10 items, 4 agents" in capsys.readouterr().out


def test_movies_are_read_as_expected_scores_when_the_server_gives_log_probabilities(tmp_path, servers):
    a, b = servers
    items = pd.DataFrame(
        {"item_id": ["movie-1", "movie-2"], "text": ["Film one", "Film two"], "mean_rating": [4.0, 2.5]}
    )
    rows = [dict(agent="alpha", base_url=a.base_url, model="model-a", api_key_env="", prompt="Rate it.")]
    market = read_market(write_market(tmp_path / "m.csv", a.base_url, b.base_url, rows), "movielens")
    panel = score_market(
        market, "movielens", items, tmp_path / "p.csv", cache=tmp_path / "s.sqlite", progress=False
    )
    assert np.allclose(panel.human, [80.0, 50.0])
    integers = [deterministic_score("Rate it.", text) for text in items.text]
    assert not np.allclose(panel.alpha, integers)  # the expected score, not the integer reply
    assert (abs(panel.alpha - integers) <= 10).all()


BAD_MARKETS = [
    (dict(model=""), "agent 'beta' has no model"),
    (dict(base_url=""), "agent 'beta' has no base_url"),
    (dict(agent="alpha"), "the agent name 'alpha' is already used on line 2"),
    (dict(prompt="", persona="ethics-p999"), "no ethics persona 'ethics-p999'"),
    (dict(base_url="127.0.0.1:8000/v1"), "must start with http:// or https://"),
    (dict(persona="baseline"), "has both a prompt and a persona"),
]


@pytest.mark.parametrize("change, message", BAD_MARKETS)
def test_a_bad_market_row_is_refused_before_any_request(
    tmp_path, servers, offline_items, capsys, change, message
):
    a, b = servers
    rows = [
        dict(agent="alpha", base_url=a.base_url, model="model-a", api_key_env="", prompt="P1", persona=""),
        dict(agent="beta", base_url=b.base_url, model="model-b", api_key_env="", prompt="P2", persona=""),
    ]
    rows[1].update(change)
    market = write_market(tmp_path / "market.csv", a.base_url, b.base_url, rows)
    code = main(
        ["score", str(market), "--domain", "ethics", "--n-items", "4", "--out", str(tmp_path / "p.csv")]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("error: ") and "\n" not in error
    assert message in error and "market.csv, line 3" in error  # the file and the row
    assert a.requests == 0 and b.requests == 0 and not (tmp_path / "p.csv").exists()


def test_options_and_the_cost_guard_are_checked_before_any_request(tmp_path, servers, offline_items, capsys):
    a, b = servers
    market = write_market(tmp_path / "market.csv", a.base_url, b.base_url)
    cases = [
        (["--domain", "chess", "--n-items", "4"], "--domain must be one of ethics, movielens"),
        (["--domain", "ethics", "--n-items", "0"], "--n-items must be a positive integer"),
        (["--domain", "ethics", "--n-items", "10", "--max-calls", "30"], "pass --max-calls 40"),
    ]
    for options, message in cases:
        assert main(["score", str(market), *options, "--out", str(tmp_path / "p.csv")]) == 2
        assert message in capsys.readouterr().err
    missing_folder = tmp_path / "nowhere" / "p.csv"
    assert (
        main(["score", str(market), "--domain", "ethics", "--n-items", "4", "--out", str(missing_folder)])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    pd.DataFrame({"agent": ["x"], "model": ["m"]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(MarketError, match="no column base_url"):
        read_market(tmp_path / "short.csv", "ethics")
    assert a.requests == 0 and b.requests == 0


def test_human_targets_are_on_the_agents_scale():
    assert list(human_target(ITEMS.head(2), "ethics").human) == [
        100.0,
        0.0,
    ]  # 100: not wrong, like an agent's 100
    movies = pd.DataFrame({"mean_rating": [0.5, 5.0]})
    assert list(human_target(movies, "movielens").human) == [10.0, 100.0]


@pytest.mark.skipif(
    not __import__("os").environ.get("AVC_DATA_DIR"),
    reason="AVC_DATA_DIR is not set: no local copy of ETHICS",
)
def test_the_items_are_chapter_fs_first_ethics_scenarios(tmp_path, servers, monkeypatch):
    from avc.panels.datasets import ethics_items

    a, b = servers
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path / "cache"))
    market = write_market(tmp_path / "market.csv", a.base_url, b.base_url)
    out = tmp_path / "panel.csv"
    assert main(["score", str(market), "--domain", "ethics", "--n-items", "3", "--out", str(out)]) == 0
    expected = ethics_items(3)
    panel = pd.read_csv(out)
    assert list(panel.item) == list(expected.item_id)
    assert np.allclose(panel.human, 100 * (1 - expected.label))
