"""The panels recorded for the book, replayed offline: every call, the items' targets, provenance."""

from __future__ import annotations

import json

import pandas as pd

from avc.llm.cache import (
    local_server_id,
    rekey,
)
from avc.llm.runs import panel_from_calls
from avc.panels.files import panel_path

__all__ = ["load_panel", "load_panel_calls", "load_panel_items", "load_provenance", "panel_server"]


def load_panel_calls(domain: str) -> pd.DataFrame:
    """Every recorded call of the committed panel for ``domain`` (raw text, status, tokens ...)."""
    path = panel_path(domain)
    if not path.is_file():
        raise FileNotFoundError(
            f"No recorded panel for {domain!r} at {path}. Record one with "
            f"`python scripts/record_panel.py --domain {domain}` (needs the local model), or score live "
            "with avc.llm.runs.score_panel."
        )
    # pandas 3 reads back the exact floats that were written, so a re-export changes no digit
    calls = pd.read_csv(path, dtype={"raw_text": str, "model_reported": str, "system_fingerprint": str})
    if "server" not in calls.columns:  # recorded before servers were part of the key
        calls = rekey(calls, panel_server(domain))
    return calls


def panel_server(domain: str) -> str:
    """The server the committed panel of ``domain`` was recorded on (the local llama.cpp server
    of :mod:`avc.llm.local`, named by its model file)."""
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
        raise FileNotFoundError(
            f"{path} is missing; it is written by scripts/record_panel.py with the panel."
        )
    return pd.read_csv(path).set_index("item_id")


def load_provenance(domain: str) -> dict:
    """Model, model file hash, runtime, prompts' hash, sampling parameters, dates, counts."""
    return json.loads(panel_path(domain, "provenance").read_text())
