"""Scoring a panel: every (persona, item) call made once, each reply cached as it arrives.

:func:`score_panel` sends the calls the cache (:mod:`avc.llm.cache`) does not hold, one row per
(server, model, system prompt, item, sampling parameters), and writes every reply at once: a rerun
sends no request for a cached row, and a run killed at any moment loses at most the requests in
flight. Requests that fail after the client's retries are *not* cached, so a rerun tries them again;
a fault that every further call would hit (a lost connection, a refused key, a wrong path) stops the
whole run at once (:class:`ScoringAborted`). The checks a paid run needs before its first request
are in :mod:`avc.llm.live`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from avc.llm.cache import (
    ScoreCache,
    call_key,
    sha256_text,
)
from avc.llm.client import ClientConfig, MalformedReply, chat_once, run_sync
from avc.llm.parsing import parse_score
from avc.paths import cache_dir

__all__ = [
    "CONSECUTIVE_FAILURES_TO_STOP",
    "IncompleteRunError",
    "ScoringAborted",
    "ScoringRun",
    "call_jobs",
    "default_cache_path",
    "describe_failure",
    "open_cache",
    "panel_from_calls",
    "score_panel",
]


class ScoringAborted(RuntimeError):
    """A fault that every further call would hit too (the server went away, the key or the path
    was refused): the run stopped at once; every reply received so far is cached."""


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
    url: str = ""
    """Where the requests went (for messages)."""

    @property
    def n_invalid(self) -> int:
        """Replies that arrived but hold no valid score (empty, refusal, non-numeric ...)."""
        return int((self.calls.status != "ok").sum()) if len(self.calls) else 0

    @property
    def first_invalid(self) -> str | None:
        """The raw text of the first invalid reply, quoted for a message (at most 60 characters)."""
        bad = self.calls[self.calls.status != "ok"] if len(self.calls) else self.calls
        if not len(bad):
            return None
        row = bad.iloc[0]
        text = "" if pd.isna(row.raw_text) else str(row.raw_text)
        shown = text if len(text) <= 60 else text[:57] + "..."
        return f"{shown!r} ({row.status})"

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
            requested=self.n_requested,
            from_cache=self.n_cached,
            calls_made=self.n_called,
            failed=self.n_failed,
            prompt_tokens=tokens_in,
            completion_tokens=tokens_out,
            wall_s=round(self.wall_s, 2),
            invalid_rate=float((self.calls.status != "ok").mean()) if len(self.calls) else float("nan"),
        )
        if config is not None and config.price_per_million_input is not None:
            out["estimated_cost_usd"] = round(
                tokens_in * config.price_per_million_input / 1e6
                + tokens_out * (config.price_per_million_output or 0) / 1e6,
                4,
            )
        return out

    def report(self) -> str:
        """One line for the reader: made, cached, failed, invalid (with the first of each)."""
        line = (
            f"{self.n_called:,} calls made, {self.n_cached:,} from the cache, {self.n_failed:,} failed, "
            f"{self.n_invalid:,} invalid replies in {self.wall_s:.0f} s"
        )
        if self.n_not_sent:
            line += f", {self.n_not_sent:,} not sent"
        if self.failures:
            line += f"; first failure: {self.failures[0]}"
        if self.n_invalid:
            line += f"; first invalid reply: {self.first_invalid}"
        return line

    def raise_if_incomplete(self) -> None:
        """Stop with a message saying how many calls are missing and that a rerun resumes."""
        if self.complete:
            return
        missing = self.n_failed + self.n_not_sent
        first = f" First failure: {self.failures[0]}." if self.failures else ""
        where = f" at {self.url}" if self.url else ""
        raise IncompleteRunError(
            f"{missing:,} of {self.n_requested:,} calls have no reply{where} ({self.n_failed:,} failed, "
            f"{self.n_not_sent:,} not sent).{first} Run the same command again: the "
            f"{self.n_cached + self.n_called:,} replies in hand are cached, and a rerun only sends the missing calls."
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
            jobs.append(
                dict(
                    key=call_key(server, config.model, prompt_sha, item_sha, params_json),
                    server=server,
                    model=config.model,
                    persona_id=persona.persona_id,
                    prompt=persona.prompt,
                    prompt_sha=prompt_sha,
                    item_id=item.item_id,
                    text=item.text,
                    item_sha=item_sha,
                    params=params_json,
                )
            )
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
            run_sync(_score_pending(config, pending, store, outcome, progress))
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
        url=config.url,
    )


CONSECUTIVE_FAILURES_TO_STOP = 5
"""A server that fails this many calls in a row (after the client's retries of each) is taken to
fail them all: the run stops instead of trying every remaining call."""


def describe_failure(err: Exception) -> str:
    """The cause of a failed call in a few words: HTTP status, timeout, connection, malformed reply."""
    import openai

    if isinstance(err, MalformedReply):
        return f"malformed reply: {err}"
    if isinstance(err, json.JSONDecodeError | openai.APIResponseValidationError):
        return f"malformed reply: not the JSON of a chat completion ({type(err).__name__})"
    if isinstance(err, openai.RateLimitError):
        return "HTTP 429 (rate limited) after the client's retries"
    if isinstance(err, openai.APIStatusError):
        return f"HTTP {err.status_code} ({type(err).__name__}) after the client's retries"
    if isinstance(err, openai.APITimeoutError):
        return "no reply before the timeout"
    if isinstance(err, openai.APIConnectionError):
        return f"connection failed ({err.__cause__ or err})"
    return f"{type(err).__name__}: {err}"


def _is_fatal(err: Exception) -> bool:
    """Faults that the next call would hit as well: stop rather than fail every call in turn."""
    from openai import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
    )

    if isinstance(err, APITimeoutError):  # a slow reply: the next may be fine
        return False
    return isinstance(err, APIConnectionError | AuthenticationError | PermissionDeniedError | NotFoundError)


async def _score_pending(config, pending, store: ScoreCache, outcome: dict, progress: bool):
    try:  # a notebook widget where ipywidgets is installed; a text bar otherwise (no warning box)
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm

    client = config.client()
    gate = asyncio.Semaphore(config.concurrency)
    bar = tqdm(total=len(pending), desc=f"scoring with {config.model}", unit="call", disable=not progress)
    aborted = asyncio.Event()
    in_a_row = [0]

    def stop(line: str, why: str) -> None:
        if not aborted.is_set():
            aborted.set()
            outcome["failures"].insert(0, f"{line} (run stopped: {why})")
        else:
            outcome["failures"].append(line)

    def failed(job, err: Exception) -> None:
        line = f"{job['persona_id']} / {job['item_id']}: {describe_failure(err)}"
        in_a_row[0] += 1
        if _is_fatal(err):
            stop(line, "every further call would fail the same way")
        elif in_a_row[0] >= CONSECUTIVE_FAILURES_TO_STOP:
            stop(line, f"{in_a_row[0]} calls in a row failed, so the server fails them all")
        else:
            outcome["failures"].append(line)

    async def one(job):
        async with gate:
            if aborted.is_set():
                outcome["not_sent"] += 1
                return
            try:
                reply = await chat_once(client, config, job["prompt"], job["text"])
                parsed = parse_score(reply["raw_text"])
            except Exception as err:  # a failed call: counted and reported, never cached as a score
                failed(job, err)
                bar.update()
                return
            try:  # committed at once, whatever happens to the next call
                store.put(
                    dict(
                        job,
                        **reply,
                        score=parsed.score,
                        status=parsed.status,
                        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    )
                )
            except Exception:
                aborted.set()  # storage failed: send nothing more
                raise
            in_a_row[0] = 0
            bar.update()

    try:
        # persona-major order: start the tasks in that order; the semaphore keeps it roughly
        results = await asyncio.gather(*(one(job) for job in pending), return_exceptions=True)
    finally:
        bar.close()
        await client.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # every other reply is already committed
        raise errors[0]


def panel_from_calls(calls: pd.DataFrame) -> pd.DataFrame:
    """Items x personas matrix of valid scores (NaN where invalid), baseline column first."""
    if calls.empty:
        return pd.DataFrame()
    table = calls.pivot_table(
        index="item_id", columns="persona_id", values="score", aggfunc="first", dropna=False
    )
    table = table.reindex(index=pd.unique(calls.item_id))
    columns = sorted(table.columns, key=lambda c: (c != "baseline", c))
    table = table[columns].astype(float)
    table.columns.name = None
    return table
