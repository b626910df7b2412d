"""Where the project's own data files live: persona prompts and the recorded panels, in one place.

Every path under ``data/`` that a module reads or the recorder writes is made here, so that a file
moved or renamed is changed once.
"""

from __future__ import annotations

from pathlib import Path

from avc.paths import PROJECT_DATA_DIR

__all__ = ["DOMAINS", "PANEL_FILES", "check_domain", "panel_path", "personas_path", "yes_no_path"]

DOMAINS = ("ethics", "movielens")
"""The two domains of Section F: ETHICS commonsense scenarios and MovieLens movies."""

PANEL_FILES = {"calls": "calls.csv.gz", "items": "items.csv", "provenance": "provenance.json"}


def check_domain(domain: str) -> str:
    """``domain`` if it is one of :data:`DOMAINS`, else a ``ValueError`` that lists them."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}; got {domain!r}.")
    return domain


def panel_path(domain: str, part: str = "calls") -> Path:
    """Where one part of the committed panel of ``domain`` lives: ``data/panels/<domain>_calls.csv.gz``,
    ``_items.csv`` or ``_provenance.json`` (``part`` is a key of :data:`PANEL_FILES`)."""
    return PROJECT_DATA_DIR / "panels" / f"{check_domain(domain)}_{PANEL_FILES[part]}"


def personas_path(domain: str) -> Path:
    """``data/personas/<domain>.csv``: the persona prompts of one domain."""
    return PROJECT_DATA_DIR / "personas" / f"{check_domain(domain)}.csv"


def yes_no_path(part: str = "calls") -> Path:
    """``data/panels/movielens_yesno_calls.csv.gz`` or ``_provenance.json``."""
    return (
        PROJECT_DATA_DIR
        / "panels"
        / {"calls": "movielens_yesno_calls.csv.gz", "provenance": "movielens_yesno_provenance.json"}[part]
    )
