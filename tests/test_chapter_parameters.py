"""Every chapter's parameter rules (avc.chapter.specs), swept over pairs of values: each pair is
accepted or refused with a ParameterError naming one of the two, never met by another error, and a
value refused alone stays refused beside any other value (issue 25)."""

import itertools
import math

import pytest

from avc.chapter.params import ParameterError, chapter_parameters, is_integer
from avc.chapter.specs import CHAPTER_RULES, check_parameters

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
    """Each count parameter at the smallest value the chapter's rules accept (seeds left alone)."""
    smallest = {}
    for name, spec in chapter_parameters(chapter).items():
        if is_integer(spec["default"]) and name != "seed":
            # the default where no other value is accepted (a live-only parameter in a replay)
            accepted = (v for v in range(0, 1000) if verdict(chapter, {name: v}) is None)
            smallest[name] = next(accepted, spec["default"])
    return smallest


@pytest.mark.heavy
@pytest.mark.parametrize("chapter", sorted(set(CHAPTER_RULES) - {"status"}))
def test_a_chapter_runs_at_the_smallest_values_it_accepts(chapter, tmp_path, monkeypatch):
    """What the rules accept, the chapter can use: every count at its minimum at once runs to the
    end (a sweep of 0, 1 and 2 once found some twenty values that died deep inside a chapter)."""
    import papermill

    from avc.chapter.params import chapter_path

    smallest = smallest_accepted(chapter)
    assert verdict(chapter, smallest) is None
    monkeypatch.chdir(tmp_path)
    papermill.execute_notebook(
        str(chapter_path(chapter)), str(tmp_path / "out.ipynb"), parameters=smallest, progress_bar=False
    )
