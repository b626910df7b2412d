"""Every chapter's parameter rules (avc.chapter.specs), swept over pairs of values: each pair is
accepted or refused with a ParameterError naming one of the two, never met by another error, and a
value refused alone stays refused beside any other value (issue 25)."""

import itertools
import json
import math
from pathlib import Path

import pytest

from avc.chapter.params import ParameterError, chapter_parameters, is_integer
from avc.chapter.specs import CHAPTER_RULES, check_parameters

SMOKE_PARAMETERS = json.loads((Path(__file__).parent / "smoke_parameters.json").read_text())

SWEEP = [-1, 0, 1, 2, 3, 10**9, 1.5, math.nan, math.inf, "x", None]


def numeric(chapter: str) -> list[str]:
    return [
        name
        for name, spec in chapter_parameters(chapter).items()
        if (is_integer(spec["default"]) or isinstance(spec["default"], float))
    ]


def verdict(chapter: str, values: dict) -> str | None:
    """None if accepted, else the refusal's message; any other exception fails the test."""
    try:
        check_parameters(chapter, values)
    except ParameterError as err:
        return str(err)
    return None


@pytest.mark.parametrize("chapter", sorted(CHAPTER_RULES))
def test_single_values_are_refused_by_name_or_accepted(chapter):
    for name in numeric(chapter):
        for value in SWEEP:
            message = verdict(chapter, {name: value})
            assert message is None or name in message, (chapter, name, value, message)
            if isinstance(value, float) and not math.isfinite(value) or value in ("x", None, -1):
                assert message is not None, f"{chapter}: {name} = {value!r} accepted"


@pytest.mark.parametrize("chapter", sorted(CHAPTER_RULES))
def test_pairs_are_refused_by_name_or_accepted(chapter):
    names = numeric(chapter)
    values = [-1, 0, 1, 2, 10**9]
    checked = 0
    for first, second in itertools.combinations(names, 2):
        for a, b in itertools.product(values, values):
            message = verdict(chapter, {first: a, second: b})
            if message is not None:
                assert first in message or second in message, (chapter, first, a, second, b, message)
            for name, value, other in ((first, a, second), (second, b, first)):
                alone = verdict(chapter, {name: value})
                if alone is not None and other not in alone:  # not a rule about the pair
                    assert message is not None, (
                        f"{chapter}: {name} = {value!r} refused alone, accepted in a pair"
                    )
            checked += 1
    assert checked == 25 * math.comb(len(names), 2)


def test_the_pair_rules_bind():
    assert "n_items must be at least 10" in verdict(
        "f_experiments", {"backend": "openai", "n_items": 8, "n_folds": 5}
    )
    assert verdict("f_experiments", {"backend": "openai", "n_items": 10, "n_folds": 5}) is None
    assert "n_definition9_games must be an integer from 0 to 12" in verdict(
        "e_selection", {"n_games": 12, "n_definition9_games": 13}
    )
    assert verdict("e_selection", {"n_games": 12, "n_definition9_games": 12}) is None


def test_enumerations_that_outgrow_the_machine_are_refused_with_their_size():
    assert "n_game_grid = 40" in verdict("g_market", {"n_game_grid": 40}) and "GiB" in verdict(
        "g_market", {"n_game_grid": 40}
    )
    assert "GiB" in verdict("h_noisy_agents", {"settings": [[2, 2, 1e-4]]})
    assert verdict("h_noisy_agents", {"settings": [[2, 2, 0.2]]}) is None
    assert "settings[0] must be [|A|, |Y|, ε]" in verdict("h_noisy_agents", {"settings": [[2, 2]]})


def test_every_chapter_has_rules():
    from avc.chapter.params import chapters

    assert set(chapters()) - {"references"} <= set(CHAPTER_RULES)


def smallest_accepted(chapter: str) -> dict:
    """Every count parameter at the smallest value the chapter's rules accept together with the
    others at theirs (two passes: a bound one count puts on another, e.g. E's
    n_definition9_games <= n_games, is lowered first); seeds are left alone."""
    counts = [
        n for n, spec in chapter_parameters(chapter).items() if is_integer(spec["default"]) and n != "seed"
    ]
    chosen = {}
    for _ in range(2):
        for name in counts:
            accepted = (v for v in range(0, 1000) if verdict(chapter, {**chosen, name: v}) is None)
            # the default where no other value is accepted (a live-only parameter in a replay)
            chosen[name] = next(accepted, chapter_parameters(chapter)[name]["default"])
    return chosen


# Smoke runs (tests/test_notebooks.py) run every chapter at the smallest values its rules accept,
# so that what the rules accept is known to run; these few keep a larger value, and why.
SMOKE_LARGER = {
    ("g_market", "min_user_ratings"): "fewer ratings admit more MovieLens users: a slower run",
}


@pytest.mark.parametrize("chapter", sorted(set(CHAPTER_RULES) - {"status"}))
def test_the_smoke_run_is_at_the_smallest_values_the_rules_accept(chapter):
    """A sweep of 0, 1 and 2 once found some twenty values that died deep inside a chapter: the
    smoke run of each chapter uses every count at its minimum at once, so the rules and the
    chapter cannot drift apart."""
    smoke = SMOKE_PARAMETERS.get(chapter, {})
    for name, smallest in smallest_accepted(chapter).items():
        if (chapter, name) in SMOKE_LARGER:
            assert smoke.get(name, smallest) >= smallest
        else:
            assert smoke.get(name) == smallest or (
                smallest == chapter_parameters(chapter)[name]["default"] and name not in smoke
            ), (chapter, name, smoke.get(name), smallest)
