"""Live scoring as a researcher paying for calls expects it: checked, planned, reported.

:func:`score_live` wraps :func:`avc.llm.runs.score_panel` in what a paid run needs around it:

1. **Parameters checked first** (:func:`check_backend`, :func:`check_n_items`): a typo in the
   backend or a non-positive item count is refused before anything else happens.
2. **Storage checked** before any request (the cache opens only if it can be written, and the
   disk must hold the run's rows): see :mod:`avc.llm.cache`.
3. **A plan** (:func:`plan_run`): calls to make, calls already cached, an estimate of the tokens
   and, for models with a known price, of the cost. A plan above ``max_calls`` is refused with
   the number to pass to allow it.
4. **The server checked** (:func:`avc.llm.server_check.check_server`) with one request to ``/models`` and one
   one-token completion: an unreachable server, a wrong path (404), a refused key (401/403) or an
   unknown model stops the run in seconds with one line naming the cause, the URL and the fix; so
   does a server that still answers 429 or 5xx, or malformed JSON, after the client's retries.
5. **A report** after the run: calls made, cached, failed and invalid (with the first of each);
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
from avc.llm.server_check import check_server

__all__ = [
    "BACKENDS",
    "CostGuardError",
    "DEFAULT_MAX_CALLS",
    "KNOWN_PRICES",
    "RunPlan",
    "check_backend",
    "check_n_items",
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
        if getattr(store, "repaired", 0):
            say(
                "",
                f"the cache held {store.repaired:,} rows an older avc stored from server faults (replies "
                "without content): removed, so their calls are made again",
            )
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
