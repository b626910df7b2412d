"""The reply cache of live scoring: one SQLite row per call, keyed by everything that shapes the reply.

A call's identity (:func:`call_key`) is the **server** (:func:`normalise_server`), the model name,
the system prompt, the item and the sampling parameters. The server is part of it because a model
name alone does not say where a reply came from: two OpenAI-compatible servers happily answer to
the same name (a local llama.cpp server started with the default ``gpt-4.1-mini`` would otherwise
feed its replies to a later run against OpenAI). Prompt and item enter through their SHA-256, so
the key can be recomputed from a stored row, which is what the migration below needs.

Each row also keeps what the server said about itself: the model name it reports
(``model_reported``) and its ``system_fingerprint``, with tokens and the request's latency.

**Migration.** Caches written before the server was recorded (schema 1, no ``server`` column) are
upgraded in place when opened: the rows keep their replies, gain the new columns and are re-keyed
with ``legacy_server``. Nobody knows which server a schema-1 row of a user's cache came from, so by
default they get :data:`UNKNOWN_SERVER`, which no live run ever asks for: they stay on disk but are
never served. The recorder's caches and the committed panels came from the local server of
:mod:`avc.llm.local`, so they are re-keyed with its identity and keep working.

**Storage problems are found before any request.** Opening a cache checks that its folder and file
can be written (a real write in a rolled-back transaction) and :meth:`ScoreCache.check_space`
compares the free space with what a run will write, so a read-only or full disk stops a paid run
before its first request instead of after it, when the replies would be lost.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

__all__ = [
    "CALL_COLUMNS",
    "CacheCorruptError",
    "CacheNotWritableError",
    "OPENAI_DEFAULT_URL",
    "ScoreCache",
    "UNKNOWN_SERVER",
    "call_key",
    "local_server_id",
    "normalise_server",
    "sha256_text",
]

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
UNKNOWN_SERVER = "unknown (cached before avc recorded the server)"
SCHEMA_VERSION = 2
BYTES_PER_ROW = 2_000
"""A generous estimate of one cached row on disk (text, hashes, index, WAL), for the space check."""


class CacheCorruptError(RuntimeError):
    """The SQLite cache file cannot be read."""


class CacheNotWritableError(RuntimeError):
    """The cache's file or folder cannot be written (permissions, a read-only or full disk)."""


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_server(base_url: str | None) -> str:
    """A server's identity from its base URL: scheme and host lower-cased, default ports and
    trailing slashes dropped. ``None`` means what the ``openai`` client would call: the
    ``OPENAI_BASE_URL`` environment variable if set, else OpenAI itself."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL
    if not isinstance(url, str):
        raise ValueError(f"base_url must be a URL string such as http://127.0.0.1:8000/v1; got {url!r}.")
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"base_url {url!r} is not a URL; expected something like http://127.0.0.1:8000/v1.")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in {("http", 80), ("https", 443)} else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def local_server_id(model_sha256: str) -> str:
    """The identity of a llama.cpp server started by :mod:`avc.llm.local` on the model file with
    this SHA-256 (its port changes from run to run; the file it serves does not)."""
    return f"avc-local-llama-cpp:{model_sha256[:16]}"


def call_key(server: str, model: str, prompt_sha: str, item_sha: str, params: dict | str) -> str:
    """The identity of a call: server, model name, system prompt and item (by SHA-256), sampling."""
    params_json = params if isinstance(params, str) else json.dumps(params, sort_keys=True)
    return sha256_text(
        json.dumps([server, model, prompt_sha, item_sha, json.loads(params_json)], sort_keys=True)
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    server TEXT NOT NULL,
    model TEXT NOT NULL,
    persona_id TEXT NOT NULL,
    prompt_sha TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_sha TEXT NOT NULL,
    params TEXT NOT NULL,
    raw_text TEXT,
    score INTEGER,
    status TEXT NOT NULL,
    expected_score REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL,
    created_at TEXT NOT NULL,
    model_reported TEXT,
    system_fingerprint TEXT
)
"""
CALL_COLUMNS = [
    "key",
    "server",
    "model",
    "persona_id",
    "prompt_sha",
    "item_id",
    "item_sha",
    "params",
    "raw_text",
    "score",
    "status",
    "expected_score",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "created_at",
    "model_reported",
    "system_fingerprint",
]
_ADDED_IN_SCHEMA_2 = ("server", "model_reported", "system_fingerprint")


def rekey(rows: pd.DataFrame, server: str) -> pd.DataFrame:
    """Rows of the schema before servers were recorded, given ``server`` and the current keys."""
    rows = rows.copy()
    for column in _ADDED_IN_SCHEMA_2:
        if column not in rows.columns:
            rows[column] = None
    rows["server"] = rows["server"].fillna(server)
    rows["key"] = [
        call_key(*values)
        for values in rows[["server", "model", "prompt_sha", "item_sha", "params"]].itertuples(
            index=False, name=None
        )
    ]
    return rows


def _is_permission_problem(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return any(
        s in text
        for s in (
            "readonly",
            "read-only",
            "unable to open",
            "disk i/o",
            "disk is full",
            "permission",
            "locking protocol",
        )
    )


class ScoreCache:
    """Replies keyed by :func:`call_key`, in SQLite with a WAL journal; one commit per row.

    ``legacy_server`` is the server given to rows of an older cache that did not record one
    (see the module's docstring). Opening raises :class:`CacheNotWritableError` when the cache
    cannot be written and :class:`CacheCorruptError` when the file is not a readable database.
    """

    def __init__(self, path: str | os.PathLike, legacy_server: str = UNKNOWN_SERVER):
        self.path = Path(path)
        self._lock = threading.Lock()
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CacheNotWritableError(
                self._storage_message(f"its folder cannot be created ({err.strerror})")
            ) from err
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            self._upgrade(legacy_server)
            self._probe_write()
            self.repaired = self._repair()
        except sqlite3.OperationalError as err:
            if _is_permission_problem(err):
                raise CacheNotWritableError(self._storage_message(str(err))) from err
            raise CacheCorruptError(self._corrupt_message(err)) from err
        except sqlite3.DatabaseError as err:
            raise CacheCorruptError(self._corrupt_message(err)) from err

    def _corrupt_message(self, err) -> str:
        return (
            f"The score cache {self.path} is not a readable SQLite database ({err}). Move it aside "
            "(its rows cannot be recovered here) and rerun: the calls will be made again."
        )

    def _storage_message(self, cause: str) -> str:
        return (
            f"The score cache {self.path} cannot be written: {cause}. This is a permission or disk-space "
            "problem, not a damaged cache: make the file and its folder writable (or free some space), or "
            "point AVC_CACHE_DIR at a writable folder. No request was sent."
        )

    def _upgrade(self, legacy_server: str) -> None:
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(calls)")]
        if not columns:
            self._db.execute(_SCHEMA)
        elif "server" not in columns:
            old = pd.read_sql_query("SELECT * FROM calls", self._db)
            new = rekey(old, legacy_server)
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ALTER TABLE calls RENAME TO calls_schema1")
                self._db.execute(_SCHEMA)
                self._insert(new)
                self._db.execute("DROP TABLE calls_schema1")
                self._db.execute("COMMIT")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _repair(self) -> int:
        """Remove the rows an older avc cached from server faults (a reply without choices or
        content was stored as the model's empty answer, with no text at all): they were never
        replies, and a rerun must request them again. A model's empty answer has the text ``""``
        and stays. Returns how many rows were removed."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM calls WHERE raw_text IS NULL AND status = 'empty'")
        return cursor.rowcount

    def _probe_write(self) -> None:
        """Fail now, not at the first reply, if rows cannot be written."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("CREATE TABLE IF NOT EXISTS _write_probe (x)")
            self._db.execute("ROLLBACK")

    def check_space(self, n_rows: int) -> None:
        """Raise :class:`CacheNotWritableError` if the disk cannot hold ``n_rows`` more rows."""
        free = shutil.disk_usage(self.path.parent).free
        needed = n_rows * BYTES_PER_ROW + 10_000_000
        if free < needed:
            raise CacheNotWritableError(
                self._storage_message(
                    f"{free / 1e6:.0f} MB free on its disk, and this run needs about {needed / 1e6:.0f} MB "
                    f"({errno.errorcode[errno.ENOSPC]})"
                )
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM calls")}

    def _insert(self, rows: pd.DataFrame) -> None:
        values = rows[CALL_COLUMNS].astype(object).where(rows[CALL_COLUMNS].notna(), None)
        self._db.executemany(
            f"INSERT OR IGNORE INTO calls ({','.join(CALL_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(CALL_COLUMNS))})",
            values.itertuples(index=False, name=None),
        )

    def put(self, row: dict) -> None:
        values = [row.get(c) for c in CALL_COLUMNS]
        try:
            with self._lock:
                self._db.execute(
                    f"INSERT OR IGNORE INTO calls ({','.join(CALL_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(CALL_COLUMNS))})",
                    values,
                )
        except sqlite3.OperationalError as err:
            raise CacheNotWritableError(
                self._storage_message(str(err)).replace(
                    "No request was sent.", "The reply in hand is lost; every earlier one is kept."
                )
            ) from err

    def put_many(self, rows: pd.DataFrame, legacy_server: str = UNKNOWN_SERVER) -> int:
        """Insert rows (e.g. a committed record being resumed); returns how many were new. Rows
        without a ``server`` are re-keyed with ``legacy_server`` first."""
        if "server" not in rows.columns or rows["server"].isna().any():
            rows = rekey(rows, legacy_server)
        if "raw_text" in rows.columns:  # a CSV reads an empty reply back as NaN: it was the text ""
            empty = rows["raw_text"].isna() & (rows["status"] == "empty")
            rows = rows.assign(raw_text=rows["raw_text"].astype(object).where(~empty, ""))
        before = self.count()
        with self._lock:
            self._db.execute("BEGIN")
            self._insert(rows)
            self._db.execute("COMMIT")
        return self.count() - before

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def count_unattributed(self, model: str, params_json: str) -> int:
        """Rows of an older cache with this model and sampling whose server nobody knows (never served)."""
        return self._db.execute(
            "SELECT COUNT(*) FROM calls WHERE server = ? AND model = ? AND params = ?",
            (UNKNOWN_SERVER, model, params_json),
        ).fetchone()[0]

    def frame(self, keys: Sequence[str] | None = None) -> pd.DataFrame:
        frame = pd.read_sql_query(f"SELECT {','.join(CALL_COLUMNS)} FROM calls", self._db)
        return frame if keys is None else frame[frame.key.isin(set(keys))]
