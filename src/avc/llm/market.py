"""A market of different models scoring the same items: the panel ``python -m avc audit`` reads.

The book's own agents are 100 rewordings of one prompt sent to one model; the paper's premise is
about *different* providers' models. A market file lists the agents, one per row:

``agent``
    the agent's name (a column of the output; names must be unique);
``base_url``
    its OpenAI-compatible server (e.g. ``https://api.openai.com/v1``, ``http://127.0.0.1:8080/v1``);
``model``
    the model name that server serves;
``api_key_env``
    the environment variable that holds its key (empty: the server needs none);
``prompt`` or ``persona``
    its system prompt, or the id of one of the book's personas (``data/personas``, e.g.
    ``baseline`` or ``ethics-p007``).

:func:`read_market` checks the whole file before any request (:class:`MarketError` names the
file, the line, the column and the fix); :func:`score_market` builds one
:class:`~avc.llm.client.ClientConfig` per agent and scores every agent on the same items through
:func:`avc.llm.live.score_live_many`, so a market gets Chapter F's plan and cost guard, server
checks, cache, resume and failure handling: a rerun of the same market sends no request. The
items (from :func:`avc.panels.datasets.ethics_items` or :func:`~avc.panels.datasets.movielens_items`)
and the personas are passed in by the caller (``python -m avc score``, :mod:`avc.cli.score`), as
this layer sits below :mod:`avc.panels`. The
output has one row per item: ``item``, the human target on the agents' 0-100 scale (ETHICS:
``100 * (1 - label)``, so 100 is "not wrong" like an agent's 100; MovieLens: ``20 *`` the mean
rating in stars) and one column per agent (NaN where a reply was invalid; the audit fills those
with the agent's median). Movies are read as the expected score over the first answer token's
log-probabilities where the server returns them (as F does), otherwise as the integer reply.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from avc.llm.client import ClientConfig
from avc.llm.live import CostGuardError, score_live_many
from avc.llm.runs import ScoringRun

__all__ = [
    "DOMAINS",
    "MARKET_COLUMNS",
    "MarketError",
    "human_target",
    "market_runs",
    "panel_from_runs",
    "read_market",
    "score_market",
]

DOMAINS = ("ethics", "movielens")
MARKET_COLUMNS = ("agent", "base_url", "model", "api_key_env", "prompt", "persona")
_SETTINGS = {"ethics": dict(logprobs=False, max_tokens=5), "movielens": dict(logprobs=True, max_tokens=3)}
"""Each domain's sampling, as Chapter F's live run has it."""


class MarketError(ValueError):
    """The market file (or an option) cannot be scored as given; nothing was sent. ``python -m
    avc`` prints it as one line and exits with code 2."""

    exit_code = 2


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()


def read_market(path, domain: str, personas=None) -> pd.DataFrame:
    """The market file checked row by row: columns ``agent``, ``base_url``, ``model``,
    ``api_key_env`` (None where empty), ``prompt`` (a persona id resolved through ``personas``,
    a mapping id -> prompt such as ``load_personas(domain).set_index("persona_id").prompt``)."""
    path = Path(path)
    if domain not in DOMAINS:
        raise MarketError(f"--domain must be one of {', '.join(DOMAINS)}; got {domain!r}.")
    if not path.is_file():
        raise MarketError(
            f"{path}: no such file; a market is a CSV with columns agent, base_url, model, api_key_env, prompt."
        )
    try:
        market = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise MarketError(f"{path}: not a readable CSV ({err}).") from None
    market.columns = [str(c).strip() for c in market.columns]
    missing = [c for c in ("agent", "base_url", "model") if c not in market.columns]
    if missing:
        raise MarketError(
            f"{path}: no column {', '.join(missing)}; a market needs the columns agent, base_url, model, "
            "api_key_env (may be empty) and prompt or persona."
        )
    if "prompt" not in market.columns and "persona" not in market.columns:
        raise MarketError(
            f"{path}: no column prompt or persona; give each agent a system prompt or a persona id."
        )
    unknown = [c for c in market.columns if c not in MARKET_COLUMNS]
    if unknown:
        raise MarketError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(MARKET_COLUMNS)}."
        )
    if market.empty:
        raise MarketError(f"{path}: no agents; add one row per agent.")
    personas = pd.Series({} if personas is None else dict(personas), dtype=object)
    rows, seen = [], {}
    for number, row in enumerate(market.to_dict("records"), start=2):  # line 1 is the header
        where = f"{path}, line {number}"
        agent = _text(row.get("agent"))
        if not agent:
            raise MarketError(f"{where}: the agent has no name; fill the column agent.")
        if agent in seen:
            raise MarketError(
                f"{where}: the agent name {agent!r} is already used on line {seen[agent]}; every agent needs "
                "its own name (it becomes a column of the panel)."
            )
        seen[agent] = number
        if agent in ("item", "human"):
            raise MarketError(
                f"{where}: {agent!r} is the name of a column the panel has already; rename the agent."
            )
        url, model = _text(row.get("base_url")), _text(row.get("model"))
        for column, value, example in (
            ("base_url", url, "e.g. http://127.0.0.1:8080/v1"),
            ("model", model, "the name its server serves"),
        ):
            if not value:
                raise MarketError(f"{where}: agent {agent!r} has no {column}; fill it ({example}).")
        if not re.match(r"^https?://", url):
            raise MarketError(
                f"{where}: agent {agent!r}: base_url {url!r} must start with http:// or https://."
            )
        prompt, persona = _text(row.get("prompt")), _text(row.get("persona"))
        if prompt and persona:
            raise MarketError(f"{where}: agent {agent!r} has both a prompt and a persona; keep one.")
        if persona:
            if persona not in personas.index:
                known = (
                    f"one of {personas.index[0]} ... {personas.index[-1]}" if len(personas) else "a prompt"
                )
                raise MarketError(
                    f"{where}: agent {agent!r}: no {domain} persona {persona!r} in data/personas; use {known}, "
                    "or give a prompt instead."
                )
            prompt = personas[persona]
        if not prompt:
            raise MarketError(f"{where}: agent {agent!r} has no prompt; fill prompt or persona.")
        rows.append(
            dict(
                agent=agent,
                base_url=url,
                model=model,
                api_key_env=_text(row.get("api_key_env")) or None,
                prompt=prompt,
            )
        )
    return pd.DataFrame(rows)


def human_target(items: pd.DataFrame, domain: str) -> pd.DataFrame:
    """``items`` with the column ``human``: the human target on the agents' 0-100 scale."""
    if domain == "ethics":
        return items.assign(human=100.0 * (1 - items["label"]))
    return items.assign(human=20.0 * items["mean_rating"])


def market_runs(market: pd.DataFrame, domain: str, items: pd.DataFrame, seed: int | None = 0) -> dict:
    """``{agent: (ClientConfig, personas, items)}`` for :func:`avc.llm.live.score_live_many`: one
    config per agent (its server, model and key), one persona (its prompt) named after it."""
    runs = {}
    for row in market.itertuples(index=False):
        config = ClientConfig(
            model=row.model,
            base_url=row.base_url,
            api_key_env=row.api_key_env,
            seed=seed,
            **_SETTINGS[domain],
        )
        persona = pd.DataFrame({"persona_id": [row.agent], "prompt": [row.prompt]})
        runs[row.agent] = (config, persona, items[["item_id", "text"]])
    return runs


def panel_from_runs(runs: dict[str, ScoringRun], items: pd.DataFrame, domain: str) -> pd.DataFrame:
    """One row per item: ``item``, ``human``, and each agent's score (0-100, NaN if invalid)."""
    panel = pd.DataFrame({"item": items["item_id"].to_numpy(), "human": items["human"].to_numpy()})
    for agent, run in runs.items():
        calls = run.calls.drop_duplicates("item_id").set_index("item_id")
        score = calls["score"].astype(float)
        if domain == "movielens" and "expected_score" in calls:
            expected = pd.to_numeric(calls["expected_score"], errors="coerce")
            if expected.notna().mean() >= 0.5:  # the server gave log-probabilities: F's reading
                score = expected
        panel[agent] = score.reindex(panel["item"]).to_numpy()
    return panel


def score_market(
    market: pd.DataFrame,
    domain: str,
    items: pd.DataFrame,
    out,
    *,
    max_calls: int = 2000,
    cache=None,
    progress: bool = True,
    echo=print,
) -> pd.DataFrame:
    """Score the checked ``market`` (:func:`read_market`) on ``items`` (``item_id``, ``text`` and
    the domain's target) and write the panel to ``out`` (CSV); returns the panel. The output
    folder and ``max_calls`` are checked, and every plan printed, before the first request."""
    out = Path(out)
    if not out.expanduser().resolve().parent.is_dir():
        raise MarketError(f"--out {out}: the folder {out.parent} does not exist; create it first.")
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 0:
        raise MarketError(f"--max-calls must be a non-negative integer; got {max_calls!r}.")
    items = human_target(items, domain)
    echo(f"{len(market)} agents on {market.base_url.nunique()} server(s), {len(items)} {domain} items")
    try:
        runs = score_live_many(
            market_runs(market, domain, items), max_calls=max_calls, cache=cache, progress=progress, echo=echo
        )
    except CostGuardError as err:
        total = re.search(r"would make ([\d,]+) calls", str(err))
        needed = total.group(1).replace(",", "") if total else "N"
        raise MarketError(
            f"this market would make {needed} calls, more than --max-calls {max_calls}. Nothing was sent. "
            f"To allow it, pass --max-calls {needed} (or score fewer items with --n-items)."
        ) from None
    panel = panel_from_runs(runs, items, domain)
    panel.to_csv(out, index=False)
    return panel
