"""Section F's panel, recorded or scored live: the calls, the items' targets, and the panel matrix.

Chapter F reads the panel committed in ``data/panels/`` by default (``backend="replay"``) and
scores a new one on request, on any OpenAI-compatible server (``"openai"``) or the local llama.cpp
server (``"local"``), through :func:`avc.llm.live.score_live_many`: plan, cost guard, server check,
cache, resume. Either way it gets the same two things per domain: every call (raw text, status,
score, expected score) and the items' targets (ETHICS ``label``, MovieLens ``mean_rating``).
"""

from __future__ import annotations

import pandas as pd

from avc.llm import live
from avc.llm.client import ClientConfig
from avc.llm.runs import panel_from_calls
from avc.panels.files import DOMAINS
from avc.panels.personas import load_personas
from avc.panels.recorded import load_panel_calls, load_panel_items, load_provenance

__all__ = ["live_config", "live_items", "panel_calls", "personas_for", "provenance_line", "read_panel"]


def personas_for(n_agents: int) -> dict[str, pd.DataFrame]:
    """The baseline persona and the first ``n_agents`` others, per domain (baseline first)."""
    return {domain: load_personas(domain).head(n_agents + 1) for domain in DOMAINS}


def live_config(domain: str, model: str, base_url, api_key_env, seed: int) -> ClientConfig:
    """The client of a live run: movies ask for log-probabilities (the expected score)."""
    return ClientConfig(
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        seed=seed,
        logprobs=domain == "movielens",
        max_tokens=3 if domain == "movielens" else 5,
    )


def live_items(domain: str, n_items) -> pd.DataFrame:
    """The first ``n_items`` of the domain's seeded item order (``None``: as many as recorded)."""
    from avc.panels.datasets import ethics_items, movielens_items

    pool = ethics_items() if domain == "ethics" else movielens_items()
    n = live.check_n_items(n_items, replay_items=len(load_panel_items(domain)), available=len(pool))
    return pool.head(n)


def provenance_line(domain: str) -> str:
    """Model, runtime, sampling, calls, invalid share and dates of the recorded panel."""
    prov = load_provenance(domain)
    sampling = ", ".join(f"{k} {v}" for k, v in prov["sampling"].items())
    return (
        f"{domain}: {prov['model']} ({prov['runtime']}), sampling {sampling}, {prov['calls']:,} calls, "
        f"invalid {prov['invalid_rate']:.1%}, recorded {prov['first_call'][:10]} to {prov['last_call'][:10]}"
    )


def panel_calls(backend: str, personas: dict, *, echo=print, **live_settings) -> tuple[dict, dict]:
    """Every call and the items' targets, per domain: replayed, or scored live with
    ``live_settings`` (``model``, ``base_url``, ``api_key_env``, ``seed``, ``n_items``,
    ``max_calls``) through :func:`avc.llm.live.score_live_many`."""
    if backend == "replay":
        for domain in personas:
            echo(provenance_line(domain))
        return {d: load_panel_calls(d) for d in personas}, {d: load_panel_items(d) for d in personas}
    s = live_settings
    chosen = {domain: live_items(domain, s["n_items"]) for domain in personas}
    if backend == "local":
        from avc.llm.local import LocalLLMServer

        with LocalLLMServer() as server:
            configs = {
                d: server.config(logprobs=d == "movielens", max_tokens=3 if d == "movielens" else 5)
                for d in personas
            }
            runs = live.score_live_many(
                {d: (configs[d], personas[d], chosen[d]) for d in personas},
                max_calls=s["max_calls"],
                echo=echo,
            )
    else:
        configs = {
            d: live_config(d, s["model"], s["base_url"], s["api_key_env"], s["seed"]) for d in personas
        }
        runs = live.score_live_many(
            {d: (configs[d], personas[d], chosen[d]) for d in personas}, max_calls=s["max_calls"], echo=echo
        )
    return {d: run.calls for d, run in runs.items()}, {d: chosen[d].set_index("item_id") for d in personas}


def read_panel(calls: pd.DataFrame, persona_ids, domain: str, echo=print) -> pd.DataFrame:
    """Items x agents (baseline first) on the 0-100 scale: movies read as the expected score where
    the server gave log-probabilities for at least half the calls, else as the integer reply."""
    panel = panel_from_calls(calls)
    if domain == "movielens":
        expected = panel_from_calls(calls.assign(score=calls.expected_score))
        if expected.notna().to_numpy().mean() >= 0.5:
            panel = expected
        else:
            echo("movielens: the server gave no log-probabilities; movies are read as the integer reply")
    return panel[[p for p in persona_ids if p in panel.columns]]
