"""Scoring items with persona prompts on any OpenAI-compatible server, with a resumable cache.

One client path serves every backend (OpenAI, vLLM, Ollama, a llama.cpp server started by
:mod:`avc.local_llm` ...): the ``openai`` package's ``AsyncOpenAI`` pointed at ``base_url``.
The API key is read from the environment variable named in the config and is never stored or
printed. The client retries 429 and 5xx replies with exponential backoff and honours
``retry-after``; each call has a timeout; concurrency is bounded by a semaphore.

Every reply is parsed by :func:`parse_score`: a single integer in 0–100, or an explicit
invalid status (empty, refusal, non-numeric, out of range, ambiguous) kept with its raw text.
Nothing invalid is turned into a number.

Every reply is written at once to a SQLite cache (:mod:`avc.score_cache`), one row per
(server, model, system prompt, item, sampling parameters). A rerun sends no request for a cached
row; a run killed at any moment loses at most the requests in flight and never duplicates a row.
Requests that fail after the client's retries (timeouts, server errors) are *not* cached, so a
rerun tries them again. A lost connection, a refused key or a wrong path stops the whole run at
once (:class:`ScoringAborted`) instead of failing every remaining call one by one.

The checks a paid run needs before its first request (is the server there, is the model known,
how many calls will this cost) are in :mod:`avc.live`.

Panels recorded for the book are replayed offline by :func:`load_panel`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from avc.paths import PROJECT_DATA_DIR, cache_dir
from avc.score_cache import (
    CALL_COLUMNS,
    CacheCorruptError,
    CacheNotWritableError,
    ScoreCache,
    call_key,
    local_server_id,
    normalise_server,
    rekey,
    sha256_text,
)

__all__ = [
    "CacheCorruptError",
    "CacheNotWritableError",
    "ClientConfig",
    "IncompleteRunError",
    "MissingAPIKeyError",
    "ParsedScore",
    "ScoreCache",
    "ScoringAborted",
    "ScoringRun",
    "complete_many",
    "expected_score",
    "yes_probability",
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


class ScoringAborted(RuntimeError):
    """A fault that every further call would hit too (the server went away, the key or the path
    was refused): the run stopped at once; every reply received so far is cached."""


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


def yes_probability(content_logprobs) -> float | None:
    """100 x P(Yes) from the first answer token's alternatives: the probability of the tokens that
    read "yes" over that of "yes" and "no" (case and spaces ignored), on the 0-100 scale (the
    expected answer when Yes counts 100 and No 0). ``None`` when neither is among them."""
    if not content_logprobs:
        return None
    mass = {"yes": 0.0, "no": 0.0}
    for alt in _field(content_logprobs[0], "top_logprobs") or []:
        token = _field(alt, "token").strip().lower()
        if token in mass:
            mass[token] += float(np.exp(_field(alt, "logprob")))
    total = mass["yes"] + mass["no"]
    return None if total == 0 else 100.0 * mass["yes"] / total


READINGS = {"expected_score": expected_score, "yes_probability": yes_probability}
"""How a reply's log-probabilities are read into the ``expected_score`` column."""


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
    reading: str = "expected_score"
    """What the log-probabilities are read as (a key of :data:`READINGS`): the expected integer
    score, or ``"yes_probability"`` for a Yes/No question (100 x P(Yes))."""
    seed: int | None = None
    """Sent with every request when set (servers that honour it sample reproducibly); part of
    the cache key. :func:`avc.live.check_server` drops it for a server that refuses it."""
    server_id: str | None = None
    """The server's identity in the cache key; by default the normalised ``base_url``. A server
    whose address changes from run to run (:mod:`avc.local_llm`) names itself here."""

    @property
    def server(self) -> str:
        """Where replies come from, as the cache records it."""
        return self.server_id or normalise_server(self.base_url)

    @property
    def url(self) -> str:
        """The address requests go to (for messages)."""
        return normalise_server(self.base_url)

    def sampling(self) -> dict:
        """The parameters that change a reply, and so belong to a cache row's identity."""
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs if self.logprobs else None,
        }
        if self.seed is not None:  # absent rather than null: rows recorded before seeds keep their keys
            params["seed"] = self.seed
        if self.reading != "expected_score":  # likewise: only a non-default reading enters the key
            if self.reading not in READINGS:
                raise ValueError(f"reading must be one of {sorted(READINGS)}; got {self.reading!r}.")
            params["reading"] = self.reading
        return params

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
    if config.seed is not None:
        kwargs["seed"] = config.seed
    start = time.perf_counter()
    reply = await client.chat.completions.create(**kwargs)
    latency = time.perf_counter() - start
    choice = reply.choices[0] if reply.choices else None
    text = choice.message.content if choice is not None and choice.message is not None else None
    content_logprobs = getattr(getattr(choice, "logprobs", None), "content", None) if choice is not None else None
    usage = reply.usage
    return dict(
        raw_text=text,
        expected_score=READINGS[config.reading](content_logprobs) if config.logprobs else None,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        latency_s=latency,
        model_reported=getattr(reply, "model", None),
        system_fingerprint=getattr(reply, "system_fingerprint", None),
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
    """One line per call that failed after the client's retries: ``persona / item: error``."""
    n_not_sent: int = 0
    """Calls never sent because the run was aborted (see :class:`ScoringAborted`)."""

    @property
    def invalid_rate(self) -> pd.Series:
        """Share of invalid replies per persona."""
        return self.calls.assign(invalid=self.calls.status != "ok").groupby("persona_id")["invalid"].mean()

    @property
    def complete(self) -> bool:
        return self.n_failed == 0 and self.n_not_sent == 0

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

    def report(self) -> str:
        """One line for the reader: made, cached, failed (with the first failure's reason)."""
        line = (f"{self.n_called:,} calls made, {self.n_cached:,} from the cache, {self.n_failed:,} failed"
                f" in {self.wall_s:.0f} s")
        if self.n_not_sent:
            line += f", {self.n_not_sent:,} not sent"
        if self.failures:
            line += f"; first failure: {self.failures[0]}"
        return line

    def raise_if_incomplete(self) -> None:
        """Stop with a message saying how many calls are missing and that a rerun resumes."""
        if self.complete:
            return
        missing = self.n_failed + self.n_not_sent
        first = f" First failure: {self.failures[0]}." if self.failures else ""
        raise IncompleteRunError(
            f"{missing:,} of {self.n_requested:,} calls have no reply ({self.n_failed:,} failed, {self.n_not_sent:,} "
            f"not sent).{first} Run the same command again: the {self.n_cached + self.n_called:,} replies in hand "
            "are cached, and a rerun only sends the missing calls."
        )


class IncompleteRunError(RuntimeError):
    """Some calls of a live run got no reply; the others are cached and a rerun resumes."""


def default_cache_path() -> Path:
    return cache_dir() / "scores.sqlite"


def open_cache(cache: ScoreCache | str | os.PathLike | None) -> tuple[ScoreCache, bool]:
    """The cache to use and whether the caller owns it (and must close it)."""
    if isinstance(cache, ScoreCache):
        return cache, False
    return ScoreCache(cache if cache is not None else default_cache_path()), True


def call_jobs(config: ClientConfig, personas: pd.DataFrame, items: pd.DataFrame) -> list[dict]:
    """One job per (persona, item), persona-major, each with its cache key."""
    for frame, cols in ((personas, ("persona_id", "prompt")), (items, ("item_id", "text"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"missing column(s) {missing}; expected {list(cols)}.")
    server, params = config.server, config.sampling()
    params_json = json.dumps(params, sort_keys=True)
    item_shas = [sha256_text(text) for text in items.text]
    jobs = []
    for persona in personas.itertuples(index=False):
        prompt_sha = sha256_text(persona.prompt)
        for item, item_sha in zip(items.itertuples(index=False), item_shas):
            jobs.append(dict(key=call_key(server, config.model, prompt_sha, item_sha, params_json), server=server,
                             model=config.model, persona_id=persona.persona_id, prompt=persona.prompt,
                             prompt_sha=prompt_sha, item_id=item.item_id, text=item.text, item_sha=item_sha,
                             params=params_json))
    return jobs


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

    Calls that fail after the client's retries (timeouts, 429, 5xx, a refused request) are listed
    in ``failures`` and the run goes on. A fault every further call would hit (the connection
    lost, the key refused, the path not found) stops the run at once: the calls not yet sent are
    counted in ``n_not_sent`` and the first such fault is the first failure. Either way nothing
    received is lost, and :meth:`ScoringRun.raise_if_incomplete` says so.
    """
    jobs = call_jobs(config, personas, items)
    store, owned = open_cache(cache)
    try:
        cached = store.keys()
        pending = [j for j in jobs if j["key"] not in cached]
        outcome = {"failures": [], "not_sent": 0}
        start = time.perf_counter()
        if pending:
            store.check_space(len(pending))
            _run(_score_pending(config, pending, store, outcome, progress))
        wall = time.perf_counter() - start
        calls = store.frame([j["key"] for j in jobs])
    finally:
        if owned:
            store.close()
    failures, not_sent = outcome["failures"], outcome["not_sent"]
    return ScoringRun(
        scores=panel_from_calls(calls),
        calls=calls,
        n_requested=len(jobs),
        n_cached=len(jobs) - len(pending),
        n_called=len(pending) - len(failures) - not_sent,
        n_failed=len(failures),
        wall_s=wall,
        failures=failures,
        n_not_sent=not_sent,
    )


def _is_fatal(err: Exception) -> bool:
    """Faults that the next call would hit as well: stop rather than fail every call in turn."""
    from openai import APIConnectionError, APITimeoutError, AuthenticationError, NotFoundError, PermissionDeniedError

    if isinstance(err, APITimeoutError):  # a slow reply: the next may be fine
        return False
    return isinstance(err, APIConnectionError | AuthenticationError | PermissionDeniedError | NotFoundError)


async def _score_pending(config, pending, store: ScoreCache, outcome: dict, progress: bool):
    from openai import APIConnectionError, APIStatusError

    try:  # a notebook widget where ipywidgets is installed; a text bar otherwise (no warning box)
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm

    client = config.client()
    gate = asyncio.Semaphore(config.concurrency)
    bar = tqdm(total=len(pending), desc=f"scoring with {config.model}", unit="call", disable=not progress)
    aborted = asyncio.Event()

    async def one(job):
        async with gate:
            if aborted.is_set():
                outcome["not_sent"] += 1
                return
            try:
                reply = await _chat(client, config, job["prompt"], job["text"])
            except (APIConnectionError, APIStatusError) as err:
                line = f"{job['persona_id']} / {job['item_id']}: {type(err).__name__}: {err}"
                if _is_fatal(err) and not aborted.is_set():
                    aborted.set()
                    outcome["failures"].insert(0, f"{line} (run stopped: every further call would fail the same way)")
                else:
                    outcome["failures"].append(line)
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
    # pandas 3 reads back the exact floats that were written, so a re-export changes no digit
    calls = pd.read_csv(path, dtype={"raw_text": str, "model_reported": str, "system_fingerprint": str})
    if "server" not in calls.columns:  # recorded before servers were part of the key
        calls = rekey(calls, panel_server(domain))
    return calls


def panel_server(domain: str) -> str:
    """The server the committed panel of ``domain`` was recorded on (the local llama.cpp server
    of :mod:`avc.local_llm`, named by its model file)."""
    provenance = load_provenance(domain)
    return provenance.get("server") or local_server_id(provenance["model_file_sha256"])


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
