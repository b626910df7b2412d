"""Live scoring as a researcher paying for calls expects it: checked, planned, reported.

:func:`score_live` wraps :func:`avc.llm.runs.score_panel` in what a paid run needs around it:

1. **Parameters checked first** (:func:`check_backend`, :func:`check_n_items`): a typo in the
   backend or a non-positive item count is refused before anything else happens.
2. **Storage checked** before any request (the cache opens only if it can be written, and the
   disk must hold the run's rows): see :mod:`avc.llm.cache`.
3. **A plan** (:func:`plan_run`): calls to make, calls already cached, an estimate of the tokens
   and, for models with a known price, of the cost. A plan above ``max_calls`` is refused with
   the number to pass to allow it.
4. **The server checked** (:func:`check_server`) with one request to ``/models`` and one
   one-token completion: an unreachable server, a wrong path (404), a refused key (401/403) or an
   unknown model stops the run in seconds with one line naming the cause, the URL and the fix.
   Transient faults (429, 5xx, timeouts) are left to the client's retries.
5. **A report** after the run: calls made, cached and failed (with the first failure's reason);
   if anything failed the run stops with :class:`avc.llm.runs.IncompleteRunError`, which says that
   a rerun resumes from the cache.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import pandas as pd

from avc.llm.client import ClientConfig
from avc.llm.runs import ScoringRun, call_jobs, open_cache, score_panel

__all__ = [
    "BACKENDS",
    "CostGuardError",
    "DEFAULT_MAX_CALLS",
    "KNOWN_PRICES",
    "RunPlan",
    "ServerCheckError",
    "ServerInfo",
    "check_backend",
    "check_n_items",
    "check_server",
    "plan_run",
    "score_live",
    "score_live_many",
]

BACKENDS = ("replay", "openai", "local")
"""``replay``: the committed panel, offline; ``openai``: any OpenAI-compatible server
(``base_url``); ``local``: the llama.cpp server of :mod:`avc.llm.local`."""
DEFAULT_MAX_CALLS = 2_000

KNOWN_PRICES = {  # US dollars per million input and output tokens, OpenAI's list prices (2025)
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
}
"""Used for the cost estimate of a plan on OpenAI's own server when the config has no price;
check the provider's current prices before a large run."""


class CostGuardError(RuntimeError):
    """The planned run makes more calls than ``max_calls`` allows."""


class ServerCheckError(RuntimeError):
    """The server cannot serve this run (unreachable, wrong path, key refused, model unknown)."""


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(repr(b) for b in BACKENDS)}; got {backend!r}. "
            "Nothing was sent."
        )
    return backend


def check_n_items(n_items, replay_items: int, available: int) -> int:
    """The number of items a live run scores: ``None`` means as many as the replay panel has,
    ``"all"`` every item of the dataset, otherwise a positive integer (capped at ``available``)."""
    if n_items is None:
        return min(replay_items, available)
    if n_items == "all":
        return available
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise ValueError(
            f'n_items must be a positive integer, "all" or None (as many as the recorded panel: '
            f"{replay_items}); got {n_items!r}. Nothing was sent."
        )
    return min(n_items, available)


def _estimated_tokens(text: str) -> int:
    """About four characters a token for English text (OpenAI's rule of thumb)."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class RunPlan:
    """What a live run would do, before it does it."""

    model: str
    server: str
    to_call: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    unattributed: int = 0
    """Rows of an older cache for this model whose server is unknown: never served."""

    def describe(self) -> str:
        cost = (
            f", about ${self.cost_usd:,.2f}"
            if self.cost_usd is not None
            else " (no price known for this model)"
        )
        line = (
            f"plan for {self.model} at {self.server}: {self.to_call:,} calls to make, {self.cached:,} cached; "
            f"about {self.prompt_tokens:,} input and at most {self.completion_tokens:,} output tokens{cost}"
        )
        if self.unattributed:
            line += (
                f"; {self.unattributed:,} older cached replies of this model have no recorded server and are "
                "not used"
            )
        return line


def _price(config: ClientConfig) -> tuple[float, float] | None:
    if config.price_per_million_input is not None:
        return config.price_per_million_input, config.price_per_million_output or 0.0
    if config.url == "https://api.openai.com/v1":
        return KNOWN_PRICES.get(config.model)
    return None


def plan_run(config: ClientConfig, personas: pd.DataFrame, items: pd.DataFrame, store) -> RunPlan:
    """Count the calls a run would make and estimate their tokens and cost."""
    jobs = call_jobs(config, personas, items)
    cached = store.keys()
    pending = [j for j in jobs if j["key"] not in cached]
    prompt_tokens = sum(_estimated_tokens(j["prompt"]) + _estimated_tokens(j["text"]) + 8 for j in pending)
    completion_tokens = len(pending) * config.max_tokens
    price = _price(config)
    cost = None if price is None else prompt_tokens * price[0] / 1e6 + completion_tokens * price[1] / 1e6
    return RunPlan(
        model=config.model,
        server=config.server,
        to_call=len(pending),
        cached=len(jobs) - len(pending),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        unattributed=store.count_unattributed(config.model, json.dumps(config.sampling(), sort_keys=True)),
    )


@dataclass(frozen=True)
class ServerInfo:
    """What the server said about itself in the check."""

    url: str
    models: tuple[str, ...] | None
    """The ids ``/models`` lists (None where the server has no such list)."""
    model_reported: str | None
    system_fingerprint: str | None
    seed_accepted: bool | None


def _fail(cause: str, url: str, fix: str) -> ServerCheckError:
    return ServerCheckError(f"{cause} at {url}: {fix} Nothing was scored.")


def check_server(config: ClientConfig, timeout: float = 10.0) -> tuple[ServerInfo, ClientConfig]:
    """Ask the server for its models and for one one-token reply, and turn what goes wrong into
    one line naming the cause, the URL and the fix. Returns what the server reported and the
    config to use (without ``seed`` if the server refuses that parameter)."""
    import openai

    url = config.url
    client = openai.OpenAI(base_url=config.base_url, api_key=config.api_key(), timeout=timeout, max_retries=2)
    unreachable_fix = (
        "is the server running, and are host and port right? (base_url of an OpenAI-compatible "
        "server usually ends in /v1)"
    )
    models = None
    try:
        models = tuple(sorted(m.id for m in client.models.list()))
    except openai.APIConnectionError as err:  # includes timeouts
        raise _fail(
            f"cannot connect to the server ({type(err).__name__}: {err.__cause__ or err})",
            url,
            unreachable_fix,
        ) from None
    except openai.AuthenticationError as err:
        raise _fail(
            f"the API key was refused (401: {err.message})", url, f"check the key in ${config.api_key_env}."
        ) from None
    except openai.APIStatusError:
        models = None  # no model list here (404 or other): the completion below decides

    if models is not None and config.model not in models:
        shown = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "")
        raise _fail(
            f"the server does not know the model {config.model!r}",
            url,
            f"pass one it serves (-p model NAME): {shown or 'it lists none'}.",
        )

    def probe(with_seed: bool):
        kwargs = dict(
            model=config.model,
            max_tokens=1,
            temperature=0.0,
            messages=[{"role": "user", "content": "Reply with the number 1."}],
        )
        if with_seed and config.seed is not None:
            kwargs["seed"] = config.seed
        return client.chat.completions.create(**kwargs)

    seed_accepted = None
    try:
        try:
            reply = probe(with_seed=True)
            seed_accepted = True if config.seed is not None else None
        except openai.BadRequestError as err:
            if config.seed is None or "seed" not in str(err).lower():
                raise
            reply, seed_accepted = probe(with_seed=False), False
    except openai.APIConnectionError as err:
        raise _fail(f"cannot connect to the server ({type(err).__name__})", url, unreachable_fix) from None
    except openai.AuthenticationError as err:
        raise _fail(
            f"the API key was refused (401: {err.message})", url, f"check the key in ${config.api_key_env}."
        ) from None
    except openai.PermissionDeniedError as err:
        raise _fail(
            f"the API key may not use {config.model!r} (403: {err.message})",
            url,
            "use a key with access to this model, or another model.",
        ) from None
    except openai.NotFoundError as err:
        if models is None:
            raise _fail(
                f"{url}/chat/completions was not found (404)",
                url,
                "the path is wrong: base_url should be the server's OpenAI-compatible root, which usually "
                "ends in /v1.",
            ) from None
        raise _fail(
            f"the model {config.model!r} was not found (404: {err.message})",
            url,
            "pass a model the server serves (-p model NAME).",
        ) from None
    except openai.BadRequestError as err:
        raise _fail(
            f"the server refused a minimal request (400: {err.message})",
            url,
            "check the model name and the server's OpenAI compatibility.",
        ) from None
    info = ServerInfo(
        url=url,
        models=models,
        model_reported=getattr(reply, "model", None),
        system_fingerprint=getattr(reply, "system_fingerprint", None),
        seed_accepted=seed_accepted,
    )
    return info, (replace(config, seed=None) if seed_accepted is False else config)


def score_live(
    config: ClientConfig,
    personas: pd.DataFrame,
    items: pd.DataFrame,
    *,
    max_calls: int = DEFAULT_MAX_CALLS,
    cache=None,
    progress: bool = True,
    echo=print,
) -> ScoringRun:
    """Plan, check, score and report a live run; raise before the first request if it cannot or
    may not run, and after the last if any call got no reply (a rerun resumes from the cache)."""
    return score_live_many(
        {"": (config, personas, items)}, max_calls=max_calls, cache=cache, progress=progress, echo=echo
    )[""]


def score_live_many(
    runs: dict[str, tuple[ClientConfig, pd.DataFrame, pd.DataFrame]],
    *,
    max_calls: int = DEFAULT_MAX_CALLS,
    cache=None,
    progress: bool = True,
    echo=print,
) -> dict[str, ScoringRun]:
    """:func:`score_live` for several panels (e.g. one per domain) under one plan: every plan is
    printed and ``max_calls`` bounds their total before anything is sent; each server is checked
    once; each panel's run is reported, and the first incomplete one stops the rest."""
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 0:
        raise ValueError(f"max_calls must be a non-negative integer; got {max_calls!r}.")

    def say(name, text):
        echo(f"{name}: {text}" if name else text)

    store, owned = open_cache(cache)
    results = {}
    try:
        plans = {
            name: plan_run(config, personas, items, store) for name, (config, personas, items) in runs.items()
        }
        for name, plan in plans.items():
            say(name, plan.describe())
        total = sum(plan.to_call for plan in plans.values())
        if total > max_calls:
            raise CostGuardError(
                f"this run would make {total:,} calls, more than max_calls = {max_calls:,}. Nothing was sent. "
                f"To allow it, pass -p max_calls {total} (or make it smaller with n_items or n_agents)."
            )
        if total:
            store.check_space(total)
        checked = {}
        for name, (config, personas, items) in runs.items():
            if plans[name].to_call:
                server = (config.url, config.model, config.seed, config.api_key_env)
                if server not in checked:
                    info, _ = check_server(config)
                    checked[server] = info.seed_accepted
                    seed = {
                        True: f"seed {config.seed} accepted",
                        False: "seed refused (not sent)",
                        None: "no seed",
                    }
                    say(
                        name,
                        f"server {info.url} answers as {info.model_reported!r}"
                        + (f" (fingerprint {info.system_fingerprint})" if info.system_fingerprint else "")
                        + f"; {seed[info.seed_accepted]}",
                    )
                if checked[server] is False:  # this panel's own settings, without the refused seed
                    config = replace(config, seed=None)
            run = score_panel(config, personas, items, cache=store, progress=progress)
            say(name, run.report())
            run.raise_if_incomplete()
            results[name] = run
    finally:
        if owned:
            store.close()
    return results
