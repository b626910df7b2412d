"""Reading a model's reply into a score: an integer in 0–100, or an explicit reason why there is none.

:func:`parse_score` accepts a reply holding exactly one integer in 0–100 and gives every other reply
an invalid status (empty, refusal, non-numeric, out of range, ambiguous), kept with its raw text:
nothing invalid is turned into a number. :func:`expected_score` and :func:`yes_probability` read the
first answer token's log-probabilities instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ParsedScore", "READINGS", "expected_score", "parse_score", "yes_probability"]

_REFUSAL = re.compile(
    r"\b(sorry|cannot|can't|can not|unable|as an ai|i won't|i will not|not able to)\b", re.I
)

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
