"""Scoring against a real OpenAI-compatible HTTP server on 127.0.0.1 (fake_openai_server), no mocks."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from fake_openai_server import OpenAICompatibleTestServer, deterministic_score

from avc.llm.cache import CacheCorruptError, ScoreCache
from avc.llm.client import ClientConfig, MissingAPIKeyError
from avc.llm.parsing import expected_score, parse_score
from avc.llm.runs import score_panel
from avc.panels import personas as P

PERSONAS = pd.DataFrame({"persona_id": ["a", "b"], "prompt": ["You are A.", "You are B."]})


def items(*texts):
    return pd.DataFrame({"item_id": [f"i{n}" for n in range(len(texts))], "text": list(texts)})


def config(server, **kw):
    settings = dict(
        model="test-model",
        base_url=server.base_url,
        api_key_env=None,
        timeout=1.0,
        max_retries=2,
        concurrency=4,
    )
    settings.update(kw)
    return ClientConfig(**settings)


@pytest.mark.parametrize(
    "text, score, status",
    [
        ("85", 85, "ok"),
        (" 85.\n", 85, "ok"),
        ("Score: 7", 7, "ok"),
        ("85/100", 85, "ok"),
        ("0", 0, "ok"),
        ("100", 100, "ok"),
        ("", None, "empty"),
        (None, None, "empty"),
        ("I'm sorry, I cannot help with that.", None, "refusal"),
        ("banana", None, "non_numeric"),
        ("150", None, "out_of_range"),
        ("-5", None, "out_of_range"),
        ("72.5", None, "out_of_range"),
        ("between 60 and 70", None, "ambiguous"),
        ("Sorry, I cannot rate this: 50", None, "refusal"),
    ],
)
def test_parse_score(text, score, status):
    parsed = parse_score(text)
    assert (parsed.score, parsed.status) == (score, status)


def test_expected_score_whole_number_and_digit_tokens():
    whole = [
        {
            "token": "80",
            "top_logprobs": [
                {"token": "80", "logprob": np.log(0.5)},
                {"token": "90", "logprob": np.log(0.5)},
                {"token": "!", "logprob": np.log(0.1)},
            ],
        }
    ]
    assert expected_score(whole) == pytest.approx(85.0)
    digits = [
        {
            "token": "8",
            "top_logprobs": [
                {"token": "8", "logprob": np.log(0.75)},
                {"token": "9", "logprob": np.log(0.25)},
            ],
        },
        {"token": "5", "top_logprobs": []},
    ]
    assert expected_score(digits) == pytest.approx(0.75 * 85 + 0.25 * 95)
    assert expected_score([]) is None
    assert expected_score([{"token": "x", "top_logprobs": [{"token": "x", "logprob": 0.0}]}]) is None


def test_scores_are_cached_and_a_rerun_sends_nothing(tmp_path):
    with OpenAICompatibleTestServer() as server:
        run = score_panel(
            config(server),
            PERSONAS,
            items("one", "two", "three"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert run.n_called == 6 and server.requests == 6
        assert run.scores.loc["i1", "b"] == deterministic_score("You are B.", "two")
        again = score_panel(
            config(server),
            PERSONAS,
            items("one", "two", "three"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert server.requests == 6 and again.n_cached == 6 and again.n_called == 0
        assert again.scores.equals(run.scores)
        # another sampling parameter is another call
        score_panel(
            config(server, temperature=0.7),
            PERSONAS,
            items("one"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert server.requests == 8


def test_429_with_retry_after_and_a_transient_500_are_retried(tmp_path):
    with OpenAICompatibleTestServer(retry_after_s=0.2) as server:
        start = time.perf_counter()
        run = score_panel(
            config(server, concurrency=1),
            PERSONAS.iloc[:1],
            items("rate-limit-once x", "error-once y"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert run.n_failed == 0 and run.scores.notna().all().all()
        assert server.requests == 4  # each item: one refused request, one retry
        assert time.perf_counter() - start >= 0.2  # the retry waited for retry-after


def test_persistent_errors_and_hangs_fail_without_being_cached(tmp_path):
    with OpenAICompatibleTestServer(hang_s=3.0) as server:
        cfg = config(server, timeout=0.3, max_retries=1)
        run = score_panel(
            cfg,
            PERSONAS.iloc[:1],
            items("always-500 x", "hang y", "fine z"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert run.n_failed == 2 and run.n_called == 1
        assert any("InternalServerError" in f for f in run.failures) and any(
            "no reply before the timeout" in f for f in run.failures
        )
        assert run.calls.item_id.tolist() == ["i2"]
        before = server.requests
        rerun = score_panel(
            cfg,
            PERSONAS.iloc[:1],
            items("always-500 x", "hang y", "fine z"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
        assert rerun.n_cached == 1 and server.requests > before  # the failures are tried again


def test_invalid_replies_are_kept_as_invalid_with_their_text(tmp_path):
    with OpenAICompatibleTestServer() as server:
        run = score_panel(
            config(server),
            PERSONAS.iloc[:1],
            items("garbage a", "refuse b", "out-of-range c", "empty d", "ok e"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
    calls = run.calls.set_index("item_id")
    assert calls.loc["i0", "status"] == "non_numeric" and calls.loc["i0", "raw_text"] == "banana"
    assert calls.loc["i1", "status"] == "refusal"
    assert calls.loc["i2", "status"] == "out_of_range" and calls.loc["i2", "raw_text"] == "150"
    assert calls.loc["i3", "status"] == "empty"
    assert run.scores["a"].isna().sum() == 4 and run.scores.loc["i4", "a"] >= 0
    assert run.invalid_rate["a"] == pytest.approx(0.8)


def test_logprob_expected_score_is_recorded(tmp_path):
    with OpenAICompatibleTestServer() as server:
        run = score_panel(
            config(server, logprobs=True),
            PERSONAS.iloc[:1],
            items("fifty"),
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
    row = run.calls.iloc[0]
    assert row.status == "ok" and np.isfinite(row.expected_score)
    assert abs(row.expected_score - row.score) <= 10


@pytest.mark.heavy
def test_kill_and_resume_loses_nothing_and_duplicates_nothing(tmp_path):
    cache = tmp_path / "c.sqlite"
    n_items = 60  # 120 calls; the child is killed after 40
    with OpenAICompatibleTestServer(delay_s=0.01) as server:
        script = textwrap.dedent(f"""
            import pandas as pd
            from avc.llm.client import ClientConfig
            from avc.llm.runs import score_panel
            personas = pd.DataFrame({{"persona_id": ["a", "b"], "prompt": ["You are A.", "You are B."]}})
            items = pd.DataFrame({{"item_id": [f"i{{n}}" for n in range({n_items})], "text": [f"item {{n}}" for n in range({n_items})]}})
            cfg = ClientConfig(model="test-model", base_url="{server.base_url}", api_key_env=None, concurrency=2)
            score_panel(cfg, personas, items, cache=r"{cache}", progress=False)
        """)
        child = subprocess.Popen([sys.executable, "-c", script])
        deadline = time.monotonic() + 60
        done_before_kill = 0
        while time.monotonic() < deadline and child.poll() is None:
            if cache.exists():
                try:
                    done_before_kill = (
                        sqlite3.connect(cache, timeout=5).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
                    )
                except sqlite3.Error:
                    done_before_kill = 0
                if done_before_kill >= 40:
                    break
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert 40 <= done_before_kill < 2 * n_items, "the child should be killed mid-run"
        with ScoreCache(cache) as store:
            survived = store.count()
        assert survived >= done_before_kill
        personas = PERSONAS
        all_items = pd.DataFrame(
            {"item_id": [f"i{n}" for n in range(n_items)], "text": [f"item {n}" for n in range(n_items)]}
        )
        run = score_panel(config(server, concurrency=2), personas, all_items, cache=cache, progress=False)
        assert run.n_cached == survived and run.n_called == 2 * n_items - survived
    with ScoreCache(cache) as store:
        frame = store.frame()
    assert len(frame) == 2 * n_items and frame.key.is_unique
    assert run.scores.notna().all().all()


def test_corrupt_cache_gives_a_clear_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheCorruptError, match="not a readable SQLite database"):
        ScoreCache(bad)


def test_missing_api_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("AVC_TEST_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="AVC_TEST_KEY"):
        ClientConfig(model="m", api_key_env="AVC_TEST_KEY").client()
    monkeypatch.setenv("AVC_TEST_KEY", "sk-test-not-real")
    assert ClientConfig(model="m", api_key_env="AVC_TEST_KEY").api_key() == "sk-test-not-real"
    assert "sk-test" not in repr(ClientConfig(model="m", api_key_env="AVC_TEST_KEY"))


def test_committed_personas_match_their_composition():
    for domain in P.DOMAINS:
        committed = P.load_personas(domain, include_baseline=False)
        assert committed.equals(P.compose_personas(domain))
        assert len(committed) == 100 and committed.prompt.is_unique
        with_baseline = P.load_personas(domain)
        assert (
            with_baseline.persona_id.iloc[0] == "baseline"
            and with_baseline.prompt.iloc[0] == P.BASELINES[domain]
        )
    assert "0 (definitely wrong) to 100 (definitely right)" in P.BASELINES["ethics"]


def test_rephrase_baseline_goes_through_the_same_client(tmp_path):
    with OpenAICompatibleTestServer() as server:
        replies = P.rephrase_baseline("movielens", 3, config(server))
    assert len(replies) == 3 and server.requests == 3
