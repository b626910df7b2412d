"""Where and how to call a model: one client path for every OpenAI-compatible server.

OpenAI, vLLM, Ollama and the llama.cpp server of :mod:`avc.llm.local` are all reached through the
``openai`` package's ``AsyncOpenAI`` pointed at ``base_url`` (:class:`ClientConfig`). The API key is
read from the environment variable named in the config and is never stored or printed. The client
retries 429 and 5xx replies with exponential backoff and honours ``retry-after``; each call has a
timeout; concurrency is bounded by a semaphore. This subpackage is the only place that imports
``openai``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from avc.llm.cache import (
    normalise_server,
)
from avc.llm.parsing import READINGS

__all__ = [
    "ClientConfig",
    "MalformedReply",
    "MissingAPIKeyError",
    "chat_once",
    "complete_many",
    "config_dict",
    "run_sync",
]


class MalformedReply(ValueError):
    """The server answered 200 but not with a chat completion (no choices, no message content):
    a fault of the server, not the model's answer, so it is never cached as a score."""


class MissingAPIKeyError(RuntimeError):
    """The environment variable that should hold the API key is unset or empty."""


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
    the cache key. :func:`avc.llm.server_check.check_server` drops it for a server that refuses it."""
    server_id: str | None = None
    """The server's identity in the cache key; by default the normalised ``base_url``. A server
    whose address changes from run to run (:mod:`avc.llm.local`) names itself here."""

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

        return AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key(), timeout=self.timeout, max_retries=self.max_retries
        )


def run_sync(coro):
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


async def chat_once(client, config: ClientConfig, system: str, user: str) -> dict:
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
    choices = getattr(reply, "choices", None)
    if not choices:
        raise MalformedReply("the server's reply has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        raise MalformedReply("the server's reply has no message content")
    content_logprobs = getattr(getattr(choice, "logprobs", None), "content", None)
    usage = getattr(reply, "usage", None)
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
                return (await chat_once(client, config, system, user))["raw_text"]

        try:
            return await asyncio.gather(*(one(s, u) for s, u in messages))
        finally:
            await client.close()

    return run_sync(main())


def config_dict(config: ClientConfig) -> dict:
    """The config without anything secret (there is nothing secret in it: only the key's name)."""
    return asdict(config)
