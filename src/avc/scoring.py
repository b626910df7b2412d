"""Scoring items with persona prompts on any OpenAI-compatible server, with a resumable cache.

One client path serves every backend (OpenAI, vLLM, Ollama, a llama.cpp server started by
:mod:`avc.local_llm` ...): the ``openai`` package's ``AsyncOpenAI`` pointed at ``base_url``.
The API key is read from the environment variable named in the config and is never stored or
printed. The client retries 429 and 5xx replies with exponential backoff and honours
``retry-after``; each call has a timeout; concurrency is bounded by a semaphore.

Every reply is parsed by :func:`parse_score`: a single integer in 0–100, or an explicit
invalid status (empty, refusal, non-numeric, out of range, ambiguous) kept with its raw text.
Nothing invalid is turned into a number.

Every reply is written at once to a SQLite cache (standard library, WAL journal), one row per
(model, system prompt, item, sampling parameters). A rerun sends no request for a cached row;
a run killed at any moment loses at most the requests in flight and never duplicates a row.
Requests that fail after the client's retries (timeouts, server errors) are *not* cached, so a
rerun tries them again.

Panels recorded for the book are replayed offline by :func:`load_panel`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from avc.paths import PROJECT_DATA_DIR, cache_dir

__all__ = [
    "CacheCorruptError",
    "ClientConfig",
    "MissingAPIKeyError",
    "ParsedScore",
    "ScoreCache",
    "ScoringRun",
    "complete_many",
    "expected_score",
    "load_panel",
    "load_panel_calls",
    "load_panel_items",
    "load_provenance",
    "panel_from_calls",
    "parse_score",
    "score_panel",
]


class MissingAPIKeyError(RuntimeError):
    """The environment variable that should hold the API key is unset or empty."""


class CacheCorruptError(RuntimeError):
    """The SQLite cache file cannot be read."""


# ---------------------------------------------------------------------------- parsing

_REFUSAL = re.compile(r"\b(sorry|cannot|can't|can not|unable|as an ai|i won't|i will not|not able to)\b", re.I)
_INTEGER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?(?!\d|\.\d)")


@dataclass(frozen=True)
class ParsedScore:
    score: int | None
    status: str
    """``ok``, ``empty``, ``refusal``, ``non_numeric``, ``out_of_range`` or ``ambiguous``."""


def parse_score(text: str | None) -> ParsedScore:
    """The integer score in 0–100 in a reply, or an explicit reason why there is none.

    Accepted: the reply holds exactly one number, an integer, optionally written ``N/100``
    (e.g. ``"85"``, ``" 85.\\n"``, ``"Score: 85"``, ``"85/100"``). Rejected with a status:
    nothing (``empty``), a refusal, no number (``non_numeric``), a number outside 0–100 or not
    an integer (``out_of_range``), several numbers (``ambiguous``).
    """
    if text is None or not text.strip():
        return ParsedScore(None, "empty")
    body = re.sub(r"(\d)\s*/\s*100\b", r"\1", text.strip())
    numbers = _INTEGER.findall(body)
    if not numbers:
        return ParsedScore(None, "refusal" if _REFUSAL.search(body) else "non_numeric")
    if len(numbers) > 1:
        return ParsedScore(None, "ambiguous")
    value = float(numbers[0])
    if value != int(value) or not 0 <= value <= 100:
        return ParsedScore(None, "out_of_range")
    if _REFUSAL.search(body):
        return ParsedScore(None, "refusal")
    return ParsedScore(int(value), "ok")


def expected_score(content_logprobs) -> float | None:
    """The expected score implied by the first answer token's alternatives, when available.

    ``content_logprobs`` is the reply's per-token list (``choice.logprobs.content``): each
    entry has ``token`` and ``top_logprobs`` (``token``, ``logprob``). Each alternative for
    the first token that is made of digits is completed with the digits the reply actually
    continued with (for tokenizers that split numbers digit by digit) and kept if the result
    is an integer in 0–100; the expectation is taken over the kept alternatives, renormalised.
    With whole-number tokens (as in OpenAI's tokenizers) this is the exact expectation over
    integer answers; with digit tokens it varies the leading digit only. ``None`` when there
    is nothing to use.
    """
    if not content_logprobs:
        return None
    first, rest = content_logprobs[0], content_logprobs[1:]
    continuation = ""
    for entry in rest:
        token = _field(entry, "token").strip()
        if not token.isdigit():
            break
        continuation += token
    values, weights = [], []
    for alt in _field(first, "top_logprobs") or []:
        token = _field(alt, "token").strip()
        if not token.isdigit():
            continue
        for candidate in (token + continuation, token):
            if len(candidate) <= 3 and 0 <= int(candidate) <= 100:
                values.append(int(candidate))
                weights.append(np.exp(_field(alt, "logprob")))
                break
    if not weights:
        return None
    weights = np.asarray(weights)
    return float(np.dot(values, weights) / weights.sum())


def _field(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


# ---------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to call a model. The key itself is read from ``api_key_env`` at call time."""

    model: str
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    """Name of the environment variable holding the key; None for servers that need none."""
    temperature: float = 0.0
    max_tokens: int = 8
    timeout: float = 60.0
    max_retries: int = 5
    concurrency: int = 8
    logprobs: bool = False
    top_logprobs: int = 10
    price_per_million_input: float | None = None
    price_per_million_output: float | None = None

    def sampling(self) -> dict:
        """The parameters that change a reply, and so belong to a cache row's identity."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs if self.logprobs else None,
        }

    def api_key(self) -> str:
        if self.api_key_env is None:
            return "not-needed"
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise MissingAPIKeyError(
                f"No API key: the environment variable {self.api_key_env} is not set. Export it "
                f"(export {self.api_key_env}=...) or, for a local server that needs no key, use "
                "api_key_env=None."
            )
        return key

    def client(self):
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key(), timeout=self.timeout, max_retries=self.max_retries)


# ---------------------------------------------------------------------------- cache

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
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
    created_at TEXT NOT NULL
)
"""
CALL_COLUMNS = [
    "key", "model", "persona_id", "prompt_sha", "item_id", "item_sha", "params", "raw_text", "score",
    "status", "expected_score", "prompt_tokens", "completion_tokens", "latency_s", "created_at",
]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def call_key(model: str, prompt: str, item_text: str, params: dict) -> str:
    """The identity of a call: model, system prompt, item text and sampling parameters."""
    return _sha(json.dumps([model, prompt, item_text, params], sort_keys=True))


class ScoreCache:
    """Replies keyed by :func:`call_key`, in SQLite with a WAL journal; one commit per row."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise CacheCorruptError(
                f"The score cache {self.path} is not a readable SQLite database ({err}). Move it aside "
                "(its rows cannot be recovered here) and rerun: the calls will be made again."
            ) from err

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM calls")}

    def put(self, row: dict) -> None:
        values = [row.get(c) for c in CALL_COLUMNS]
        with self._lock:
            self._db.execute(f"INSERT OR IGNORE INTO calls VALUES ({','.join('?' * len(CALL_COLUMNS))})", values)

    def put_many(self, rows: pd.DataFrame) -> int:
        """Insert rows (e.g. a committed record being resumed); returns how many were new."""
        before = self.count()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"INSERT OR IGNORE INTO calls VALUES ({','.join('?' * len(CALL_COLUMNS))})",
                rows[CALL_COLUMNS].astype(object).where(rows[CALL_COLUMNS].notna(), None).itertuples(index=False, name=None),
            )
            self._db.execute("COMMIT")
        return self.count() - before

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def frame(self, keys: Sequence[str] | None = None) -> pd.DataFrame:
        frame = pd.read_sql_query("SELECT * FROM calls", self._db)
        return frame if keys is None else frame[frame.key.isin(set(keys))]


# ---------------------------------------------------------------------------- calls


def _run(coro):
    """Run a coroutine from synchronous code, also inside Jupyter's running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as err:  # re-raised in the caller's thread
            result["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


async def _chat(client, config: ClientConfig, system: str, user: str) -> dict:
    kwargs = dict(
        model=config.model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        temperature=config.temperature,
        max_tokens=config.max_tokens,
    )
    if config.logprobs:
        kwargs.update(logprobs=True, top_logprobs=config.top_logprobs)
    start = time.perf_counter()
    reply = await client.chat.completions.create(**kwargs)
    latency = time.perf_counter() - start
    choice = reply.choices[0] if reply.choices else None
    text = choice.message.content if choice is not None and choice.message is not None else None
    content_logprobs = getattr(getattr(choice, "logprobs", None), "content", None) if choice is not None else None
    usage = reply.usage
    return dict(
        raw_text=text,
        expected_score=expected_score(content_logprobs) if config.logprobs else None,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        latency_s=latency,
    )


def complete_many(config: ClientConfig, messages: Sequence[tuple[str, str]]) -> list[str | None]:
    """Plain completions (no cache, no parsing) for ``(system, user)`` pairs, concurrently."""

    async def main():
        client = config.client()
        gate = asyncio.Semaphore(config.concurrency)

        async def one(system, user):
            async with gate:
                return (await _chat(client, config, system, user))["raw_text"]

        try:
            return await asyncio.gather(*(one(s, u) for s, u in messages))
        finally:
            await client.close()

    return _run(main())


@dataclass
class ScoringRun:
    """What :func:`score_panel` did and found."""

    scores: pd.DataFrame
    """Items x personas, scores 0–100, NaN where the reply was invalid or the call failed."""
    calls: pd.DataFrame
    """One row per (persona, item) requested, from the cache (raw text, status, tokens ...)."""
    n_requested: int
    n_cached: int
    n_called: int
    n_failed: int
    wall_s: float
    failures: list[str]

    @property
    def invalid_rate(self) -> pd.Series:
        """Share of invalid replies per persona."""
        return self.calls.assign(invalid=self.calls.status != "ok").groupby("persona_id")["invalid"].mean()

    def summary(self, config: ClientConfig | None = None) -> dict:
        tokens_in = int(self.calls.prompt_tokens.fillna(0).sum())
        tokens_out = int(self.calls.completion_tokens.fillna(0).sum())
        out = dict(
            requested=self.n_requested, from_cache=self.n_cached, calls_made=self.n_called, failed=self.n_failed,
            prompt_tokens=tokens_in, completion_tokens=tokens_out, wall_s=round(self.wall_s, 2),
            invalid_rate=float((self.calls.status != "ok").mean()) if len(self.calls) else float("nan"),
        )
        if config is not None and config.price_per_million_input is not None:
            out["estimated_cost_usd"] = round(
                tokens_in * config.price_per_million_input / 1e6 + tokens_out * (config.price_per_million_output or 0) / 1e6, 4
            )
        return out


def default_cache_path() -> Path:
    return cache_dir() / "scores.sqlite"


def score_panel(
    config: ClientConfig,
    personas: pd.DataFrame,
    items: pd.DataFrame,
    cache: ScoreCache | str | os.PathLike | None = None,
    progress: bool = True,
) -> ScoringRun:
    """Score every item with every persona prompt, using and filling the cache.

    ``personas`` has columns ``persona_id`` and ``prompt`` (the system prompt); ``items`` has
    ``item_id`` and ``text`` (the user message). Calls run persona by persona (so a server
    that reuses a shared prompt prefix can), at most ``config.concurrency`` at a time.
    """
    for frame, cols in ((personas, ("persona_id", "prompt")), (items, ("item_id", "text"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"missing column(s) {missing}; expected {list(cols)}.")
    owned = not isinstance(cache, ScoreCache)
    store = ScoreCache(cache if cache is not None else default_cache_path()) if owned else cache
    params = config.sampling()
    params_json = json.dumps(params, sort_keys=True)
    jobs = []
    for persona in personas.itertuples(index=False):
        prompt_sha = _sha(persona.prompt)
        for item in items.itertuples(index=False):
            jobs.append(dict(key=call_key(config.model, persona.prompt, item.text, params), model=config.model,
                             persona_id=persona.persona_id, prompt=persona.prompt, prompt_sha=prompt_sha,
                             item_id=item.item_id, text=item.text, item_sha=_sha(item.text), params=params_json))
    try:
        cached = store.keys()
        pending = [j for j in jobs if j["key"] not in cached]
        failures: list[str] = []
        start = time.perf_counter()
        if pending:
            _run(_score_pending(config, pending, store, failures, progress))
        wall = time.perf_counter() - start
        calls = store.frame([j["key"] for j in jobs])
    finally:
        if owned:
            store.close()
    n_called = len(pending) - len(failures)
    return ScoringRun(
        scores=panel_from_calls(calls),
        calls=calls,
        n_requested=len(jobs),
        n_cached=len(jobs) - len(pending),
        n_called=n_called,
        n_failed=len(failures),
        wall_s=wall,
        failures=failures,
    )


async def _score_pending(config, pending, store: ScoreCache, failures: list, progress: bool):
    from openai import APIConnectionError, APIStatusError, APITimeoutError
    from tqdm.auto import tqdm

    client = config.client()
    gate = asyncio.Semaphore(config.concurrency)
    bar = tqdm(total=len(pending), desc=f"scoring with {config.model}", unit="call", disable=not progress)

    async def one(job):
        async with gate:
            try:
                reply = await _chat(client, config, job["prompt"], job["text"])
            except (APITimeoutError, APIConnectionError, APIStatusError) as err:
                failures.append(f"{job['persona_id']} / {job['item_id']}: {type(err).__name__}: {err}")
                bar.update()
                return
            parsed = parse_score(reply["raw_text"])
            store.put(dict(job, **reply, score=parsed.score, status=parsed.status,
                           created_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
            bar.update()

    try:
        # persona-major order: start the tasks in that order; the semaphore keeps it roughly
        await asyncio.gather(*(one(job) for job in pending))
    finally:
        bar.close()
        await client.close()


# ---------------------------------------------------------------------------- panels


def panel_from_calls(calls: pd.DataFrame) -> pd.DataFrame:
    """Items x personas matrix of valid scores (NaN where invalid), baseline column first."""
    if calls.empty:
        return pd.DataFrame()
    table = calls.pivot_table(index="item_id", columns="persona_id", values="score", aggfunc="first", dropna=False)
    table = table.reindex(index=pd.unique(calls.item_id))
    columns = sorted(table.columns, key=lambda c: (c != "baseline", c))
    table = table[columns].astype(float)
    table.columns.name = None
    return table


PANEL_FILES = {"calls": "calls.csv.gz", "items": "items.csv", "provenance": "provenance.json"}


def panel_path(domain: str, part: str = "calls") -> Path:
    """Where one part of the committed panel of ``domain`` lives: ``data/panels/<domain>_calls.csv.gz``,
    ``_items.csv`` or ``_provenance.json`` (``part`` is a key of :data:`PANEL_FILES`)."""
    from avc.personas import _check_domain

    return PROJECT_DATA_DIR / "panels" / f"{_check_domain(domain)}_{PANEL_FILES[part]}"


def load_panel_calls(domain: str) -> pd.DataFrame:
    """Every recorded call of the committed panel for ``domain`` (raw text, status, tokens ...)."""
    path = panel_path(domain)
    if not path.is_file():
        raise FileNotFoundError(
            f"No recorded panel for {domain!r} at {path}. Record one with "
            f"`python scripts/record_panel.py --domain {domain}` (needs the local model), or score live "
            "with avc.scoring.score_panel."
        )
    # round_trip: the exact floats that were written, so a re-export changes no digit.
    return pd.read_csv(path, dtype={"raw_text": str}, float_precision="round_trip")


def load_panel(domain: str, value: str = "score") -> pd.DataFrame:
    """The recorded panel: a DataFrame indexed by item id, one column per persona id plus
    ``baseline``; scores on 0–100, NaN where the reply was invalid.

    ``value="expected_score"`` gives the log-probability expected scores instead, where the
    recording has them.
    """
    calls = load_panel_calls(domain)
    if value == "expected_score":
        calls = calls.assign(score=calls.expected_score)
    elif value != "score":
        raise ValueError("value must be 'score' or 'expected_score'.")
    return panel_from_calls(calls)


def load_panel_items(domain: str) -> pd.DataFrame:
    """The recorded items' targets, indexed by item id, without any dataset text.

    ETHICS: ``label`` (1 = the action is clearly morally wrong). MovieLens: ``mean_rating``
    (stars) and ``n_ratings``. Derived from the datasets (see data/README.md for licences), so
    the chapters run offline with no dataset on the machine.
    """
    path = panel_path(domain, "items")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; it is written by scripts/record_panel.py with the panel.")
    return pd.read_csv(path).set_index("item_id")


def load_provenance(domain: str) -> dict:
    """Model, model file hash, runtime, prompts' hash, sampling parameters, dates, counts."""
    return json.loads(panel_path(domain, "provenance").read_text())


def config_dict(config: ClientConfig) -> dict:
    """The config without anything secret (there is nothing secret in it: only the key's name)."""
    return asdict(config)
