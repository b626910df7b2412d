"""Server faults against real HTTP servers on 127.0.0.1 (tests/fake_openai_server.py): no reply that
was paid for is lost, no fault is cached as the model's answer, a rerun sends only what is
missing, and a failing server stops the run early in one line (issue 25)."""

import sqlite3

import pandas as pd
import pytest
from fake_openai_server import OpenAICompatibleTestServer

from avc.llm import live
from avc.llm.cache import ScoreCache, normalise_server
from avc.llm.client import ClientConfig
from avc.llm.runs import CONSECUTIVE_FAILURES_TO_STOP, IncompleteRunError, score_panel
from avc.llm.server_check import ServerCheckError, check_server

PERSONAS = pd.DataFrame({"persona_id": ["a", "b"], "prompt": ["You are A.", "You are B."]})
ITEMS = pd.DataFrame({"item_id": [f"i{n}" for n in range(10)], "text": [f"item {n}" for n in range(10)]})
N_CALLS = len(PERSONAS) * len(ITEMS)


def config(server, **kw):
    settings = dict(
        model="test-model",
        base_url=server.base_url,
        api_key_env=None,
        timeout=2.0,
        max_retries=1,
        concurrency=2,
    )
    settings.update(kw)
    return ClientConfig(**settings)


def rows(cache) -> int:
    with ScoreCache(cache) as store:
        return store.count()


@pytest.mark.parametrize("fault", ["truncated-json", "no-choices", "no-content", "500"])
def test_one_faulty_reply_in_five_is_a_failed_call_and_every_good_reply_is_kept(tmp_path, fault):
    cache = tmp_path / "c.sqlite"
    with OpenAICompatibleTestServer(fault=fault, fault_every=5, retry_after_s=0.01) as server:
        run = score_panel(config(server, max_retries=0), PERSONAS, ITEMS, cache=cache, progress=False)
        # every fifth completion is faulty: 4 of the 20 calls fail, 16 replies arrive, all 16 are kept
        assert run.n_failed == 4 and run.n_called == 16 and rows(cache) == 16
        assert set(run.calls.status) == {"ok"}  # nothing faulty stored as the model's answer
        assert "4 failed, 0 invalid replies" in run.report()
        with pytest.raises(IncompleteRunError, match="4 of 20 calls have no reply at http://127.0.0.1"):
            run.raise_if_incomplete()
        server.fault = None  # the server recovers: a rerun sends the 4 missing calls and no other
        before = server.completions
        again = score_panel(config(server), PERSONAS, ITEMS, cache=cache, progress=False)
        assert server.completions - before == 4 and again.complete and rows(cache) == N_CALLS


def test_a_server_failing_every_call_stops_after_a_few_in_a_row(tmp_path):
    many = pd.DataFrame({"item_id": [f"i{n}" for n in range(40)], "text": [f"item {n}" for n in range(40)]})
    with OpenAICompatibleTestServer(fault="500", retry_after_s=0.01) as server:
        run = score_panel(
            config(server, max_retries=2), PERSONAS.head(1), many, cache=tmp_path / "c", progress=False
        )
        # at most the calls in flight when the streak reached the limit, three tries each
        assert server.completions <= 3 * (CONSECUTIVE_FAILURES_TO_STOP + 2) < 3 * len(many)
    assert run.n_called == 0 and run.n_not_sent >= len(many) - CONSECUTIVE_FAILURES_TO_STOP - 2
    assert (
        "HTTP 500" in run.failures[0]
        and f"{CONSECUTIVE_FAILURES_TO_STOP} calls in a row failed" in run.failures[0]
    )


def test_invalid_replies_are_counted_in_the_report(tmp_path):
    with OpenAICompatibleTestServer(answers="garbage") as server:
        run = score_panel(config(server), PERSONAS, ITEMS, cache=tmp_path / "c", progress=False)
    assert run.n_invalid == N_CALLS and run.complete  # replies, cached, but none holds a score
    assert f"{N_CALLS} calls made, 0 from the cache, 0 failed, {N_CALLS} invalid replies" in run.report()
    assert "first invalid reply: 'banana' (non_numeric)" in run.report()


@pytest.mark.parametrize(
    "fault, cause",
    [
        ("500", "answered HTTP 500"),
        ("429", "still answered 429"),
        ("truncated-json", "not the JSON of a chat completion"),
        ("no-choices", "no choices or no message content"),
    ],
)
def test_a_fault_at_the_server_check_is_one_line(fault, cause):
    with OpenAICompatibleTestServer(fault=fault, retry_after_s=0.01) as server:
        with pytest.raises(ServerCheckError) as err:
            check_server(config(server))
    message = str(err.value)
    assert (
        cause in message and normalise_server(server.base_url) in message and "Nothing was scored" in message
    )
    assert "\n" not in message


def test_an_old_cache_with_faults_stored_as_answers_is_repaired_on_opening(tmp_path):
    cache = tmp_path / "c.sqlite"
    with OpenAICompatibleTestServer() as server:
        score_panel(config(server), PERSONAS, ITEMS, cache=cache, progress=False)
        with sqlite3.connect(cache) as db:  # what an older avc stored for a reply without choices
            db.execute(
                "UPDATE calls SET raw_text = NULL, score = NULL, status = 'empty' WHERE item_id = 'i3'"
            )
            db.execute("UPDATE calls SET raw_text = '', score = NULL, status = 'empty' WHERE item_id = 'i4'")
        with ScoreCache(cache) as store:
            assert store.repaired == 2 and store.count() == N_CALLS - 2  # the model's "" stays
        lines = []
        before = server.completions
        run = live.score_live(config(server), PERSONAS, ITEMS, cache=cache, progress=False, echo=lines.append)
        assert server.completions - before == 2 + 1  # the two repaired calls, and the check's probe
        assert run.complete and rows(cache) == N_CALLS


def test_a_base_url_that_is_not_a_string_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="base_url must be a URL string such as http://127.0.0.1:8000/v1"):
        _ = ClientConfig(model="m", base_url=123).server
