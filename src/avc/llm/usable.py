"""Whether a live panel's replies can carry the analysis, said before the analysis fails.

A model that answers every prompt with prose, or with nothing, still costs every call. When too few
of its replies hold a score, :func:`require_usable` stops the chapter with one message that says
how many replies were invalid, quotes the first, and says what to try, instead of an error deep
inside a fit. The replies stay cached, so a second model or prompt can be compared at no cost.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["TooFewUsableReplies", "invalid_summary", "require_usable"]


class TooFewUsableReplies(RuntimeError):
    """No target of a live panel has enough items with valid scores to fit and hold out."""


def invalid_summary(calls: pd.DataFrame) -> str:
    """``"80 of 96 replies invalid (first: '' (empty))"`` for one panel's calls."""
    bad = calls[calls.status != "ok"]
    if not len(bad):
        return f"0 of {len(calls):,} replies invalid"
    first = bad.iloc[0]
    text = "" if pd.isna(first.raw_text) else str(first.raw_text)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{len(bad):,} of {len(calls):,} replies invalid (first: {text!r}, {first.status})"


def require_usable(calls: dict[str, pd.DataFrame], usable: dict[str, int], needed: int, why: str) -> None:
    """Raise :class:`TooFewUsableReplies` when no target has ``needed`` usable items.

    ``calls``: each panel's calls (``status``, ``raw_text``); ``usable``: each target's number of
    items with valid scores; ``why``: what the ``needed`` items are for (for the message)."""
    if any(n >= needed for n in usable.values()):
        return
    counts = "; ".join(f"{name}: {invalid_summary(frame)}" for name, frame in calls.items())
    items = ", ".join(f"{name} {n}" for name, n in usable.items())
    raise TooFewUsableReplies(
        f"too few usable replies to fit anything: {counts}. Usable items per target: {items}; each "
        f"target needs at least {needed} ({why}). Every reply is cached. Try another model, a larger "
        "max_tokens (the reply may be cut off), or a prompt that asks for a bare number."
    )
