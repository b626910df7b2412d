"""avc.llm.cache on its own, without a server: keys, server identities, storage, migration, repair.

Each test opens real SQLite files in a temporary folder and reads back what it wrote; the live
runs that use the cache are tested with servers in tests/test_live.py and tests/test_scoring.py.
"""

import hashlib
import json
import sqlite3
from collections import namedtuple

import pandas as pd
import pytest

from avc.llm import cache as C
from avc.llm.cache import (
    CALL_COLUMNS,
    OPENAI_DEFAULT_URL,
    UNKNOWN_SERVER,
    CacheCorruptError,
    CacheNotWritableError,
    ScoreCache,
    call_key,
    local_server_id,
    normalise_server,
    sha256_text,
)

pytestmark = pytest.mark.timeout(60)

PARAMS = {"temperature": 0.0, "max_tokens": 8}


def row(item="i0", server="http://127.0.0.1:9/v1", key=None, **fields):
    """One cache row with every column, keyed by its own call key unless ``key`` is given."""
    values = dict(
        server=server,
        model="m",
        persona_id="p",
        prompt_sha=sha256_text("You are P."),
        item_id=item,
        item_sha=sha256_text(f"text of {item}"),
        params=json.dumps(PARAMS, sort_keys=True),
        raw_text="42",
        score=42,
        status="ok",
        expected_score=None,
        prompt_tokens=10,
        completion_tokens=1,
        latency_s=0.1,
        created_at="2026-01-01T00:00:00Z",
        model_reported="m-2026",
        system_fingerprint="fp",
    )
    values.update(fields)
    if key is None:
        key = call_key(values["server"], values["model"], values["prompt_sha"], values["item_sha"], PARAMS)
    return {"key": key, **values}


def test_sha256_and_local_server_id():
    assert sha256_text("abc") == hashlib.sha256(b"abc").hexdigest()
    assert local_server_id("0123456789abcdef" + "f" * 48) == "avc-local-llama-cpp:0123456789abcdef"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTP://Example.COM:80/v1/", "http://example.com/v1"),
        ("https://example.com:443/v1", "https://example.com/v1"),
        ("http://example.com:443/v1", "http://example.com:443/v1"),  # a default port only for its scheme
        ("https://example.com:80/v1", "https://example.com:80/v1"),
        ("http://h:81", "http://h:81"),
        ("http://h:79", "http://h:79"),
        ("https://h:444", "https://h:444"),
        ("https://h:442", "https://h:442"),
        ("  http://127.0.0.1:8000/v1//  ", "http://127.0.0.1:8000/v1"),
    ],
)
def test_normalise_server(url, expected):
    assert normalise_server(url) == expected


def test_normalise_server_defaults_to_the_environment_then_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert normalise_server(None) == OPENAI_DEFAULT_URL
    assert normalise_server("") == OPENAI_DEFAULT_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "http://Proxy:8080/v1/")
    assert normalise_server(None) == "http://proxy:8080/v1"
    assert normalise_server("http://other/v1") == "http://other/v1"  # given beats the environment


@pytest.mark.parametrize("url", ["localhost:8000", "//host/v1", "http://", "/v1", "127.0.0.1"])
def test_normalise_server_refuses_what_is_not_a_url(url):
    with pytest.raises(ValueError, match="is not a URL"):
        normalise_server(url)


def test_normalise_server_refuses_a_non_string():
    with pytest.raises(ValueError, match="URL string"):
        normalise_server(123)


def test_call_key_depends_on_every_part_and_not_on_how_params_are_written():
    parts = ["http://s/v1", "m", "p" * 64, "i" * 64]
    key = call_key(*parts, {"b": 1, "a": 2})
    assert key == call_key(*parts, '{"a": 2, "b": 1}')
    expected = sha256_text(json.dumps([*parts, {"a": 2, "b": 1}], sort_keys=True))
    assert key == expected
    for i in range(4):
        changed = list(parts)
        changed[i] += "x"
        assert call_key(*changed, {"b": 1, "a": 2}) != key
    assert call_key(*parts, {"b": 1, "a": 3}) != key


def test_rows_are_stored_read_back_and_never_duplicated(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"  # the folder is created
    with ScoreCache(path) as cache:
        assert cache.count() == 0 and cache.keys() == set()
        first = row("i0")
        cache.put(first)
        cache.put(dict(first, raw_text="99", score=99))  # same key: the first reply stays
        cache.put(row("i1", key="my-key"))
        assert cache.count() == 2 and cache.keys() == {first["key"], "my-key"}
        frame = cache.frame()
        assert list(frame.columns) == CALL_COLUMNS and len(frame) == 2
        assert frame.set_index("key").loc[first["key"], "score"] == 42
        assert list(cache.frame([first["key"]]).item_id) == ["i0"]
        assert cache.frame([]).empty
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    reopened = ScoreCache(path)  # a current cache is opened as it is: no migration, no new keys
    assert reopened.keys() == {first["key"], "my-key"} and reopened.repaired == 0
    reopened.close()


def test_put_many_counts_new_rows_and_rekeys_rows_without_a_server(tmp_path):
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        frame = pd.DataFrame([row("i0", key="kept-0"), row("i1", key="kept-1")])
        assert cache.put_many(frame) == 2
        assert cache.put_many(frame) == 0  # nothing new
        assert cache.keys() == {"kept-0", "kept-1"}  # rows that name their server keep their keys
        legacy = pd.DataFrame([row("i2")]).drop(columns=["server", "model_reported", "system_fingerprint"])
        assert cache.put_many(legacy, legacy_server="http://legacy/v1") == 1
        stored = cache.frame().set_index("item_id").loc["i2"]
        assert stored.server == "http://legacy/v1"
        assert stored.key == call_key("http://legacy/v1", "m", stored.prompt_sha, stored.item_sha, PARAMS)
        partial = pd.DataFrame([row("i3", key="x"), row("i4", key="y")])
        partial.loc[1, "server"] = None  # one row without a server: both are re-keyed
        assert cache.put_many(partial) == 2
        stored = cache.frame().set_index("item_id")
        assert stored.loc["i4", "server"] == UNKNOWN_SERVER
        assert stored.loc["i3", "key"] == call_key(
            "http://127.0.0.1:9/v1", "m", stored.loc["i3", "prompt_sha"], stored.loc["i3", "item_sha"], PARAMS
        )


def test_put_many_reads_an_empty_reply_back_as_the_empty_text(tmp_path):
    # a CSV gives NaN for an empty reply; it was the text "" (an answer), unlike a missing text
    frame = pd.DataFrame(
        [
            row("i0", raw_text=None, score=None, status="empty"),
            row("i1", raw_text=None, score=None, status="non_numeric"),
        ]
    )
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        assert cache.put_many(frame) == 2
        texts = cache.frame().set_index("item_id").raw_text
        assert texts["i0"] == "" and pd.isna(texts["i1"])


def test_fault_rows_of_an_older_cache_are_repaired_on_opening(tmp_path):
    path = tmp_path / "c.sqlite"
    with ScoreCache(path) as cache:
        cache.put(row("fault", raw_text=None, score=None, status="empty"))  # a server fault, stored
        cache.put(row("answer", raw_text="", score=None, status="empty"))  # the model's empty answer
        cache.put(row("ok"))
    with ScoreCache(path) as cache:
        assert cache.repaired == 1
        assert sorted(cache.frame().item_id) == ["answer", "ok"]
    with ScoreCache(path) as cache:
        assert cache.repaired == 0


def schema1_cache(path, rows):
    """A cache as avc wrote it before servers were recorded (no server columns)."""
    columns = [c for c in CALL_COLUMNS if c not in ("server", "model_reported", "system_fingerprint")]
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE calls ({', '.join(columns)})")
        db.executemany(
            f"INSERT INTO calls VALUES ({','.join('?' * len(columns))})",
            [[r[c] for c in columns] for r in rows],
        )
    db.close()


def test_a_schema_1_cache_is_migrated_with_the_legacy_server(tmp_path):
    path = tmp_path / "old.sqlite"
    schema1_cache(path, [row("i0", key="old-key-0"), row("i1", key="old-key-1")])
    with ScoreCache(path, legacy_server="http://known/v1") as cache:
        frame = cache.frame().set_index("item_id")
        assert set(frame.server) == {"http://known/v1"} and frame.model_reported.isna().all()
        assert frame.loc["i0", "key"] == call_key(
            "http://known/v1", "m", frame.loc["i0", "prompt_sha"], frame.loc["i0", "item_sha"], PARAMS
        )
        assert cache.count() == 2
        assert cache.count_unattributed("m", json.dumps(PARAMS, sort_keys=True)) == 0
    unknown = tmp_path / "unknown.sqlite"
    schema1_cache(unknown, [row("i0"), row("i1"), row("i2", model="other")])
    with ScoreCache(unknown) as cache:
        assert set(cache.frame().server) == {UNKNOWN_SERVER}
        assert cache.count_unattributed("m", json.dumps(PARAMS, sort_keys=True)) == 2
        assert cache.count_unattributed("m", "{}") == 0
    with sqlite3.connect(unknown) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "calls_schema1" not in tables and "calls" in tables


def test_a_file_that_is_not_a_database_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(CacheCorruptError, match="is not a readable SQLite database.*Move it aside"):
        ScoreCache(path)


def test_a_folder_that_cannot_be_created_is_reported_as_storage(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(CacheNotWritableError, match="cannot be written: its folder cannot be created"):
        ScoreCache(blocker / "c.sqlite")


def test_permission_problems_are_told_apart_from_damage():
    for text in ("attempt to write a readonly database", "unable to open database file", "disk is full"):
        assert C._is_permission_problem(sqlite3.OperationalError(text)) is True
    for text in ("no such table: calls", "database schema has changed"):
        assert C._is_permission_problem(sqlite3.OperationalError(text)) is False


def test_check_space_at_its_boundary(tmp_path, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    needed = 1_000 * C.BYTES_PER_ROW + 10_000_000
    assert C.BYTES_PER_ROW == 2_000  # the estimate of a row the check relies on
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        monkeypatch.setattr(C.shutil, "disk_usage", lambda path: Usage(10**12, 0, needed))
        cache.check_space(1_000)  # exactly enough
        monkeypatch.setattr(C.shutil, "disk_usage", lambda path: Usage(10**12, 0, needed - 1))
        with pytest.raises(CacheNotWritableError, match="cannot be written: 12 MB free.*about 12 MB.*ENOSPC"):
            cache.check_space(1_000)
        with pytest.raises(CacheNotWritableError):
            cache.check_space(10**9)
