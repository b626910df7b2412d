"""Live runs against real HTTP servers on 127.0.0.1 (fake_openai_server): fail fast with the cause,
never mix servers in the cache, refuse costly or mistyped runs before any request, and keep
every reply when storage or the connection fails."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_openai_server import OpenAICompatibleTestServer, deterministic_score

from avc.llm import live
from avc.llm.cache import (
    UNKNOWN_SERVER,
    CacheNotWritableError,
    ScoreCache,
    call_key,
    local_server_id,
    normalise_server,
)
from avc.llm.client import ClientConfig
from avc.llm.runs import IncompleteRunError, panel_from_calls, score_panel
from avc.llm.server_check import ServerCheckError

PERSONAS = pd.DataFrame({"persona_id": ["a", "b"], "prompt": ["You are A.", "You are B."]})
ITEMS = pd.DataFrame({"item_id": ["i0", "i1", "i2"], "text": ["one", "two", "three"]})


def config(base_url, **kw):
    settings = dict(
        model="test-model", base_url=base_url, api_key_env=None, timeout=2.0, max_retries=1, concurrency=2
    )
    settings.update(kw)
    return ClientConfig(**settings)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def quiet(*_):
    pass


# ---------------------------------------------------------------- the cache key holds the server


def test_server_identity_is_normalised():
    assert normalise_server("HTTP://LocalHost:80/v1/") == "http://localhost/v1"
    assert normalise_server("https://api.openai.com:443/v1") == "https://api.openai.com/v1"
    assert normalise_server("http://127.0.0.1:8080/v1") != normalise_server("http://127.0.0.1:8081/v1")
    with pytest.raises(ValueError, match="not a URL"):
        normalise_server("localhost:8000")


def test_every_part_of_a_call_changes_its_key():
    base = ("http://a/v1", "m", "p" * 64, "i" * 64, {"temperature": 0.0})
    keys = {
        call_key(*base),
        call_key("http://b/v1", *base[1:]),
        call_key(base[0], "other", *base[2:]),
        call_key(*base[:2], "q" * 64, *base[3:]),
        call_key(*base[:3], "j" * 64, base[4]),
        call_key(*base[:4], {"temperature": 0.7}),
    }
    assert len(keys) == 6


def test_two_servers_with_one_model_name_never_share_replies(tmp_path):
    """The bug this guards against: a local server's replies cached under 'gpt-4.1-mini' were
    served to a later run against OpenAI."""
    cache = tmp_path / "c.sqlite"
    with (
        OpenAICompatibleTestServer(answers="random", seed=1) as first,
        OpenAICompatibleTestServer(answers="random", seed=2) as second,
    ):
        one = score_panel(config(first.base_url), PERSONAS, ITEMS, cache=cache, progress=False)
        two = score_panel(config(second.base_url), PERSONAS, ITEMS, cache=cache, progress=False)
        assert first.completions == 6 and second.completions == 6 and two.n_cached == 0
        assert set(one.calls.server) == {normalise_server(first.base_url)}
        assert set(two.calls.server) == {normalise_server(second.base_url)}
        # each server's replies come back to a run against that server, and only to it
        again = score_panel(config(second.base_url), PERSONAS, ITEMS, cache=cache, progress=False)
        assert again.n_cached == 6 and second.completions == 6
        assert again.scores.equals(two.scores)
    with ScoreCache(cache) as store:
        assert store.count() == 12


def test_two_models_on_one_server_never_share_replies(tmp_path):
    cache = tmp_path / "c.sqlite"
    with OpenAICompatibleTestServer(models=("m1", "m2")) as server:
        score_panel(config(server.base_url, model="m1"), PERSONAS, ITEMS, cache=cache, progress=False)
        other = score_panel(config(server.base_url, model="m2"), PERSONAS, ITEMS, cache=cache, progress=False)
        assert other.n_cached == 0 and server.completions == 12


def test_the_model_a_server_reports_and_its_fingerprint_are_recorded(tmp_path):
    with OpenAICompatibleTestServer() as server:
        run = score_panel(
            config(server.base_url, seed=7),
            PERSONAS.iloc[:1],
            ITEMS.iloc[:1],
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
    row = run.calls.iloc[0]
    assert row.model_reported == "test-model" and row.system_fingerprint == "fp_avc_test"
    assert json.loads(row.params)["seed"] == 7 and row.latency_s > 0


# ---------------------------------------------------------------- migration of older caches


def schema1_cache(path, rows):
    db = sqlite3.connect(path)
    db.execute("""CREATE TABLE calls (key TEXT PRIMARY KEY, model TEXT NOT NULL, persona_id TEXT NOT NULL,
        prompt_sha TEXT NOT NULL, item_id TEXT NOT NULL, item_sha TEXT NOT NULL, params TEXT NOT NULL, raw_text TEXT,
        score INTEGER, status TEXT NOT NULL, expected_score REAL, prompt_tokens INTEGER, completion_tokens INTEGER,
        latency_s REAL, created_at TEXT NOT NULL)""")
    db.executemany("INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def old_rows(cfg):
    """Schema-1 rows for PERSONAS x ITEMS, as the cache wrote them before servers were recorded."""
    from avc.llm.cache import sha256_text

    params = json.dumps(cfg.sampling(), sort_keys=True)
    rows = []
    for persona in PERSONAS.itertuples():
        for item in ITEMS.itertuples():
            old_key = sha256_text(
                json.dumps([cfg.model, persona.prompt, item.text, cfg.sampling()], sort_keys=True)
            )
            score = deterministic_score(persona.prompt, item.text)
            rows.append(
                (
                    old_key,
                    cfg.model,
                    persona.persona_id,
                    sha256_text(persona.prompt),
                    item.item_id,
                    sha256_text(item.text),
                    params,
                    str(score),
                    score,
                    "ok",
                    None,
                    5,
                    1,
                    0.1,
                    "2026-01-01T00:00:00",
                )
            )
    return rows


def test_an_older_cache_is_migrated_and_its_unknown_rows_are_never_served(tmp_path):
    cache = tmp_path / "old.sqlite"
    with OpenAICompatibleTestServer() as server:
        cfg = config(server.base_url)
        schema1_cache(cache, old_rows(cfg))
        with ScoreCache(cache) as store:
            frame = store.frame()
            assert len(frame) == 6 and set(frame.server) == {UNKNOWN_SERVER}
            plan = live.plan_run(cfg, PERSONAS, ITEMS, store)
        assert plan.to_call == 6 and plan.unattributed == 6 and "no recorded server" in plan.describe()
        run = score_panel(cfg, PERSONAS, ITEMS, cache=cache, progress=False)
        assert run.n_cached == 0 and server.completions == 6
    with ScoreCache(cache) as store:
        assert store.count() == 12  # the old rows are kept, not overwritten


def test_an_older_cache_of_a_known_server_keeps_working(tmp_path):
    """The recorder's caches and the committed panels came from the local server: re-keyed with
    its identity, a resumed recording finds every row and sends nothing."""
    cache = tmp_path / "panel.sqlite"
    local = local_server_id("ab" * 32)
    with OpenAICompatibleTestServer() as server:
        cfg = config(server.base_url, server_id=local)
        schema1_cache(cache, old_rows(cfg))
        with ScoreCache(cache, legacy_server=local) as store:
            assert store.count() == 6
        run = score_panel(cfg, PERSONAS, ITEMS, cache=cache, progress=False)
        assert run.n_cached == 6 and server.requests == 0
        assert run.scores.loc["i1", "b"] == deterministic_score("You are B.", "two")


def test_committed_panels_load_with_the_local_server_in_their_keys():
    from avc.llm.local import MODEL_SHA256
    from avc.panels import recorded as scoring

    calls = scoring.load_panel_calls("ethics")
    assert (calls.server == local_server_id(MODEL_SHA256)).all()
    recomputed = [
        call_key(*row)
        for row in calls[["server", "model", "prompt_sha", "item_sha", "params"]]
        .head(50)
        .itertuples(index=False, name=None)
    ]
    assert recomputed == calls.key.head(50).tolist()


# ---------------------------------------------------------------- fail fast, with the cause


def test_a_closed_port_fails_within_seconds_naming_the_connection(tmp_path):
    url = closed_port_url()
    start = time.perf_counter()
    with pytest.raises(ServerCheckError, match="cannot connect") as err:
        live.score_live(config(url), PERSONAS, ITEMS, cache=tmp_path / "c.sqlite", echo=quiet, progress=False)
    assert time.perf_counter() - start < 10
    assert "127.0.0.1" in str(err.value) and "running" in str(err.value)


def test_a_wrong_path_fails_fast_as_a_404(tmp_path):
    with OpenAICompatibleTestServer() as server:
        wrong = server.base_url.removesuffix("/v1")  # the /v1 forgotten
        with pytest.raises(ServerCheckError, match="404.*/v1"):
            live.score_live(
                config(wrong), PERSONAS, ITEMS, cache=tmp_path / "c.sqlite", echo=quiet, progress=False
            )
        assert server.completions == 0


def test_a_refused_key_and_an_unknown_model_fail_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("AVC_TEST_KEY", "sk-wrong")
    with OpenAICompatibleTestServer(api_key="sk-right") as server:
        with pytest.raises(ServerCheckError, match="key was refused.*AVC_TEST_KEY"):
            live.score_live(
                config(server.base_url, api_key_env="AVC_TEST_KEY"),
                PERSONAS,
                ITEMS,
                cache=tmp_path / "c.sqlite",
                echo=quiet,
                progress=False,
            )
        monkeypatch.setenv("AVC_TEST_KEY", "sk-right")
        with pytest.raises(ServerCheckError, match="does not know the model 'gpt-4.1-mini'.*test-model"):
            live.score_live(
                config(server.base_url, api_key_env="AVC_TEST_KEY", model="gpt-4.1-mini"),
                PERSONAS,
                ITEMS,
                cache=tmp_path / "c.sqlite",
                echo=quiet,
                progress=False,
            )
        assert server.completions == 0


def test_a_server_that_refuses_seed_is_used_without_it(tmp_path):
    lines = []
    with OpenAICompatibleTestServer(accept_seed=False) as server:
        run = live.score_live(
            config(server.base_url, seed=3),
            PERSONAS,
            ITEMS,
            cache=tmp_path / "c.sqlite",
            echo=lines.append,
            progress=False,
        )
    assert run.n_called == 6 and "seed refused" in lines[1]
    assert all("seed" not in json.loads(p) for p in run.calls.params)


def test_a_server_lost_mid_run_stops_the_run_and_keeps_every_reply(tmp_path):
    """A connection error is not a per-call failure to shrug off: the run stops at once (not one
    retry cycle per remaining call), says so, and a rerun resumes from the cache."""
    cache = tmp_path / "c.sqlite"
    many = pd.DataFrame({"item_id": [f"i{n}" for n in range(60)], "text": [f"item {n}" for n in range(60)]})
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fake_openai_server.py")), "--delay-s", "0.02"],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = server.stdout.readline().strip()
    import threading

    def kill_after_some_replies():  # the server dies during the run, once replies have arrived
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            try:
                with sqlite3.connect(cache) as db:
                    if db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] >= 5:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.02)
        server.kill()

    threading.Thread(target=kill_after_some_replies, daemon=True).start()
    start = time.perf_counter()
    try:
        run = score_panel(config(url, concurrency=1), PERSONAS, many, cache=cache, progress=False)
    finally:
        server.kill()
        server.wait()
    assert time.perf_counter() - start < 40
    assert 5 <= run.n_called < 120 and run.n_not_sent > 0
    assert "connection failed" in run.failures[0] and "run stopped" in run.failures[0]
    with pytest.raises(IncompleteRunError, match="rerun only sends the missing calls"):
        run.raise_if_incomplete()
    with ScoreCache(cache) as store:
        assert store.count() == run.n_called


# ---------------------------------------------------------------- the cost guard


def test_the_plan_is_printed_and_a_large_plan_refused_before_any_request(tmp_path):
    lines = []
    with OpenAICompatibleTestServer() as server:
        with pytest.raises(live.CostGuardError, match="6 calls, more than max_calls = 5.*-p max_calls 6"):
            live.score_live(
                config(server.base_url),
                PERSONAS,
                ITEMS,
                cache=tmp_path / "c.sqlite",
                max_calls=5,
                echo=lines.append,
                progress=False,
            )
        assert server.requests == 0 and "6 calls to make, 0 cached" in lines[0]
        run = live.score_live(
            config(server.base_url),
            PERSONAS,
            ITEMS,
            cache=tmp_path / "c.sqlite",
            max_calls=6,
            echo=lines.append,
            progress=False,
        )
        assert run.n_called == 6 and "6 calls made, 0 from the cache, 0 failed" in lines[-1]
        before = server.requests
        live.score_live(
            config(server.base_url),
            PERSONAS,
            ITEMS,
            cache=tmp_path / "c.sqlite",
            max_calls=0,
            echo=lines.append,
            progress=False,
        )  # all cached: allowed at max_calls 0, and no check either
        assert server.requests == before and "0 calls to make, 6 cached" in lines[-2]


def test_openai_prices_give_a_cost_estimate():
    cfg = ClientConfig(model="gpt-4.1-mini", api_key_env=None, max_tokens=8)

    class Empty:
        def keys(self):
            return set()

        def count_unattributed(self, *_):
            return 0

    plan = live.plan_run(cfg, PERSONAS, ITEMS, Empty())
    assert plan.cost_usd == pytest.approx(plan.prompt_tokens * 0.4e-6 + plan.completion_tokens * 1.6e-6)
    assert "$" in plan.describe()
    assert live.plan_run(config("http://127.0.0.1:9/v1"), PERSONAS, ITEMS, Empty()).cost_usd is None


@pytest.mark.parametrize("value", [0, -3, 2.5, "some", True])
def test_n_items_must_be_positive_or_all(value):
    with pytest.raises(ValueError, match="n_items must be a positive integer"):
        live.check_n_items(value, replay_items=200, available=1000)


def test_n_items_defaults():
    assert live.check_n_items(None, replay_items=200, available=1000) == 200
    assert live.check_n_items("all", replay_items=200, available=1000) == 1000
    assert live.check_n_items(5000, replay_items=200, available=1000) == 1000


def test_a_mistyped_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of 'replay', 'openai', 'local'; got 'replya'"):
        live.check_backend("replya")


# ---------------------------------------------------------------- storage problems before the first request


def _as_unprivileged(script: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a child that must respect file permissions: as root (as CI runs), the
    child loses the capabilities that override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2

    def drop():
        if os.geteuid() == 0:
            for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
                if prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=drop, env=env, timeout=120
    )


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_read_only_storage_is_reported_before_any_request(tmp_path, read_only):
    folder = tmp_path / "cache"
    folder.mkdir()
    cache = folder / "c.sqlite"
    ScoreCache(cache).close()  # a valid cache, with rows the run would keep
    if read_only == "file":
        os.chmod(cache, 0o444)
        os.chmod(folder, 0o777)
    else:
        os.chmod(folder, 0o555)
        os.chmod(cache, 0o666)
    probe = _as_unprivileged(f"open(r'{cache if read_only == 'file' else folder / 'x'}', 'a')")
    assert probe.returncode != 0, "the child could still write: the test would prove nothing"
    with OpenAICompatibleTestServer() as server:
        script = textwrap.dedent(f"""
            import pandas as pd
            from avc.llm import live
            from avc.llm.client import ClientConfig
            from avc.llm.cache import CacheNotWritableError
            personas = pd.DataFrame({{"persona_id": ["a"], "prompt": ["You are A."]}})
            items = pd.DataFrame({{"item_id": ["i0"], "text": ["one"]}})
            cfg = ClientConfig(model="test-model", base_url="{server.base_url}", api_key_env=None)
            try:
                live.score_live(cfg, personas, items, cache=r"{cache}", progress=False)
            except CacheNotWritableError as err:
                print("REFUSED:", err)
        """)
        result = _as_unprivileged(script)
        assert server.requests == 0, result.stdout + result.stderr
    assert "REFUSED:" in result.stdout, result.stdout + result.stderr
    assert "permission or disk-space problem" in result.stdout and "not a damaged cache" in result.stdout


def test_a_full_disk_is_reported_before_any_request(tmp_path, monkeypatch):
    import shutil

    from avc.llm import cache as score_cache

    real = shutil.disk_usage

    def almost_full(path):
        usage = real(path)
        return usage._replace(free=1_000)

    with OpenAICompatibleTestServer() as server:
        monkeypatch.setattr(score_cache.shutil, "disk_usage", almost_full)
        with pytest.raises(CacheNotWritableError, match="MB free"):
            live.score_live(
                config(server.base_url),
                PERSONAS,
                ITEMS,
                cache=tmp_path / "c.sqlite",
                echo=quiet,
                progress=False,
            )
        assert server.requests == 0


def test_panel_from_calls_keeps_agents_with_no_valid_reply():
    calls = pd.DataFrame({"item_id": ["i0", "i0"], "persona_id": ["baseline", "a"], "score": [50.0, None]})
    panel = panel_from_calls(calls)
    assert list(panel.columns) == ["baseline", "a"] and panel["a"].isna().all()


def test_panels_with_different_sampling_keep_their_own_settings(tmp_path):
    """Two panels on one server (ETHICS without, movies with log-probabilities): the server is
    checked once, and each panel is scored, cached and found again with its own settings."""
    plain, with_logprobs = config("x", max_tokens=5), config("x", max_tokens=3, logprobs=True)
    with OpenAICompatibleTestServer() as server:
        plain, with_logprobs = (
            ClientConfig(**{**c.__dict__, "base_url": server.base_url}) for c in (plain, with_logprobs)
        )
        runs = live.score_live_many(
            {"a": (plain, PERSONAS, ITEMS), "b": (with_logprobs, PERSONAS, ITEMS)},
            cache=tmp_path / "c.sqlite",
            echo=quiet,
            progress=False,
        )
        assert runs["b"].calls.expected_score.notna().all() and runs["a"].calls.expected_score.isna().all()
        assert server.completions == 12 + 1  # both panels, and one probe
        again = live.score_live_many(
            {"a": (plain, PERSONAS, ITEMS), "b": (with_logprobs, PERSONAS, ITEMS)},
            cache=tmp_path / "c.sqlite",
            echo=quiet,
            progress=False,
        )
        assert server.completions == 13 and all(r.n_cached == 6 for r in again.values())


def test_yes_no_reading_is_the_probability_of_yes(tmp_path):
    from avc.llm.parsing import yes_probability
    from avc.panels.yes_no import YES_NO_PROMPT

    assert yes_probability(
        [
            {
                "token": "Yes",
                "top_logprobs": [
                    {"token": "Yes", "logprob": np.log(0.3)},
                    {"token": " no", "logprob": np.log(0.1)},
                    {"token": "NO", "logprob": np.log(0.1)},
                ],
            }
        ]
    ) == pytest.approx(60.0)
    assert yes_probability([{"token": "x", "top_logprobs": [{"token": "x", "logprob": 0.0}]}]) is None
    persona = pd.DataFrame({"persona_id": ["yes/no"], "prompt": [YES_NO_PROMPT]})
    with OpenAICompatibleTestServer() as server:
        cfg = config(server.base_url, logprobs=True, max_tokens=1, reading="yes_probability")
        run = score_panel(cfg, persona, ITEMS, cache=tmp_path / "c.sqlite", progress=False)
        numbers = score_panel(
            config(server.base_url, logprobs=True, max_tokens=1),
            persona,
            ITEMS,
            cache=tmp_path / "c.sqlite",
            progress=False,
        )
    expected = [min(max(deterministic_score(YES_NO_PROMPT, t) / 100, 0.01), 0.99) * 100 for t in ITEMS.text]
    assert run.calls.set_index("item_id").loc[ITEMS.item_id, "expected_score"].tolist() == pytest.approx(
        expected
    )
    assert numbers.n_cached == 0  # another reading is another call
    with pytest.raises(ValueError, match="reading must be one of"):
        ClientConfig(model="m", reading="vibes").sampling()
