"""avc.checks.menus: the Bobs' menus and the lookup of the reference rule in them."""

import numpy as np
import pytest

from avc.checks import menus
from avc.theory import persuasion, protocol


def test_scheme_index_finds_the_first_exact_match():
    menu = [np.eye(2), np.full((2, 2), 0.5), np.eye(2)]
    assert menus.scheme_index(menu, np.full((2, 2), 0.5)) == 1
    assert menus.scheme_index(menu, np.eye(2)) == 0
    assert menus.full_revelation_index(menu) == 0


def test_scheme_index_refuses_a_menu_without_the_scheme():
    almost = np.eye(2) * (1 - 1e-12) + 1e-12 / 2
    with pytest.raises(ValueError, match="does not contain"):
        menus.scheme_index([almost, np.full((2, 2), 0.5)], np.eye(2))
    with pytest.raises(ValueError, match="does not contain"):
        menus.full_revelation_index([persuasion.no_information(3)])


def test_full_revelation_sits_where_the_chapters_found_it():
    for n_states in (2, 3):
        menu = menus.persuasion_menu(n_states)
        i = menus.full_revelation_index(menu)
        assert np.array_equal(menu[i], np.eye(n_states))
        assert i == next(j for j, s in enumerate(menu) if np.array_equal(s, np.eye(n_states)))


def test_persuasion_menu_sizes():
    # two states: every 2x2 row-stochastic scheme on a grid of quarters (5 x 5); three: one
    # scheme per partition of the states (Bell number 5)
    assert len(menus.persuasion_menu(2)) == 25
    assert len(menus.persuasion_menu(3)) == 5
    for scheme in menus.persuasion_menu(3):
        assert np.allclose(scheme.sum(axis=1), 1)


def test_two_signal_menu_has_every_split_of_the_states():
    menu = menus.two_signal_menu(3)
    assert len(menu) == 27 and len(menus.two_signal_menu(4)) == 81
    assert all(s.shape == (3, 2) for s in menu)
    for split in persuasion.deterministic_schemes(3, 2):
        menus.scheme_index(menu, split)  # raises if a split is missing
    assert len(menus.two_signal_menu(2)) == 25


def test_noisy_revelation():
    noisy = menus.noisy_revelation(2, 0.1)
    assert np.allclose(noisy, [[0.95, 0.05], [0.05, 0.95]])
    assert np.array_equal(menus.noisy_revelation(3, 0.0), np.eye(3))
    assert np.allclose(menus.noisy_revelation(3, 1.0), 1 / 3)
    with pytest.raises(ValueError):
        menus.noisy_revelation(2, 1.5)


def test_rule_in_words_names_coarsenings_of_x_b():
    menu = protocol.bob_menu(3, 2)
    words = {menus.rule_in_words(rule) for rule in menu}
    assert "say only whether x_B = 2" in words
    assert "say only whether x_B = 0" in words
    named = [r for r in menu if not r.name.startswith("disclose blocks")]
    assert named and all(menus.rule_in_words(r) == r.name for r in named)

    class Rule:
        name = "disclose blocks (0, 1, 2, 2)"
        partition = (0, 1, 2, 2)

    assert menus.rule_in_words(Rule()) == "say only which of {0} / {1} / {2, 3} holds x_B"
