"""avc.llm.parsing at its boundaries: which replies become a score, and how log-probabilities are read.

Every case is an exact expectation worked out by hand; the boundaries of the 0-100 scale are tried
on both sides (100 and 0 accepted, 101 and -1 refused), so an off-by-one in the range is caught.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from avc.llm.parsing import READINGS, ParsedScore, expected_score, parse_score, yes_probability

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "text, score, status",
    [
        # the boundaries of the scale, on both sides
        ("100", 100, "ok"),
        ("101", None, "out_of_range"),
        ("0", 0, "ok"),
        ("-1", None, "out_of_range"),
        ("1", 1, "ok"),
        ("99", 99, "ok"),
        ("100/100", 100, "ok"),
        ("101/100", None, "out_of_range"),
        ("100.0", 100, "ok"),  # a whole number written with a decimal point
        ("99.5", None, "out_of_range"),
        ("0.5", None, "out_of_range"),
        # forms a model writes
        ("Score: 42", 42, "ok"),
        (" 42.\n", 42, "ok"),
        ("42/100", 42, "ok"),
        # nothing, or no number
        ("", None, "empty"),
        ("   \n", None, "empty"),
        (None, None, "empty"),
        ("banana", None, "non_numeric"),
        ("I am unable to rate this.", None, "refusal"),
        # exactly one number, or it is ambiguous
        ("60 or 70", None, "ambiguous"),
        ("1, 2, 3", None, "ambiguous"),
        # a refusal that still names a number is a refusal
        ("Sorry, I can't: 50", None, "refusal"),
    ],
)
def test_parse_score(text, score, status):
    assert parse_score(text) == ParsedScore(score, status)


def test_a_parsed_score_is_an_int():
    parsed = parse_score("100.0")
    assert type(parsed.score) is int


def alternatives(*pairs):
    """A first token's ``top_logprobs`` from (token, probability) pairs."""
    return [{"token": token, "logprob": float(np.log(p))} for token, p in pairs]


def test_expected_score_renormalises_over_the_integer_alternatives():
    # 80 and 90 at 0.3 each, and a non-number: the expectation is over the two numbers only
    reply = [{"token": "80", "top_logprobs": alternatives(("80", 0.3), ("90", 0.3), ("!", 0.2))}]
    assert expected_score(reply) == pytest.approx(85.0, rel=1e-12)


def test_expected_score_at_the_ends_of_the_scale():
    both_ends = [{"token": "0", "top_logprobs": alternatives(("0", 0.25), ("100", 0.25))}]
    assert expected_score(both_ends) == pytest.approx(50.0, rel=1e-12)
    over = [{"token": "90", "top_logprobs": alternatives(("101", 0.25), ("90", 0.25))}]
    assert expected_score(over) == pytest.approx(90.0, rel=1e-12)  # 101 is not on the scale
    assert expected_score([{"token": "x", "top_logprobs": alternatives(("x", 1.0))}]) is None


def test_expected_score_completes_digit_tokens_with_the_reply():
    # the reply was "8" "5" "." : each first-digit alternative is completed with "5"
    reply = [
        {"token": "8", "top_logprobs": alternatives(("8", 0.6), ("9", 0.2), ("1", 0.2))},
        {"token": "5", "top_logprobs": []},
        {"token": ".", "top_logprobs": []},
        {"token": "7", "top_logprobs": []},  # after the non-digit: not part of the number
    ]
    # 85 and 95, and "15"; all on the scale
    assert expected_score(reply) == pytest.approx(0.6 * 85 + 0.2 * 95 + 0.2 * 15, rel=1e-12)
    # the reply was "1" "0" "0": "100" completes, "2" + "00" = 200 is off the scale and falls back to 2
    hundred = [
        {"token": "1", "top_logprobs": alternatives(("1", 0.5), ("2", 0.5))},
        {"token": "0", "top_logprobs": []},
        {"token": "0", "top_logprobs": []},
    ]
    assert expected_score(hundred) == pytest.approx(0.5 * 100 + 0.5 * 2, rel=1e-12)


def test_expected_score_reads_objects_as_well_as_dicts():
    first = SimpleNamespace(
        token="7", top_logprobs=[SimpleNamespace(token=" 70", logprob=0.0)]
    )  # the openai client's objects, and a token with a leading space
    assert expected_score([first]) == 70.0


def test_expected_score_without_anything_to_read():
    assert expected_score([]) is None and expected_score(None) is None
    assert expected_score([{"token": "5", "top_logprobs": None}]) is None


def test_yes_probability():
    reply = [{"token": "Yes", "top_logprobs": alternatives((" Yes", 0.3), ("yes", 0.15), ("NO", 0.15))}]
    assert yes_probability(reply) == pytest.approx(75.0, rel=1e-12)  # 0.45 / 0.6
    only_no = [{"token": "No", "top_logprobs": alternatives(("No", 0.4), ("Maybe", 0.6))}]
    assert yes_probability(only_no) == 0.0
    certain = [{"token": "Yes", "top_logprobs": alternatives(("Yes", 1.0))}]  # total exactly 1
    assert yes_probability(certain) == 100.0
    neither = [{"token": "Maybe", "top_logprobs": alternatives(("Maybe", 0.5), ("Perhaps", 0.5))}]
    assert yes_probability(neither) is None
    assert yes_probability([]) is None and yes_probability(None) is None
    assert yes_probability([{"token": "Yes", "top_logprobs": None}]) is None
    obj = [SimpleNamespace(token="yes", top_logprobs=[SimpleNamespace(token="yes", logprob=np.log(0.5))])]
    assert yes_probability(obj) == 100.0


def test_readings_name_their_functions():
    assert READINGS == {"expected_score": expected_score, "yes_probability": yes_probability}
