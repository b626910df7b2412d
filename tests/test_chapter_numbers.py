"""The Sphinx extension that numbers boxes per chapter (_ext/chapter_numbers.py).

The built pages are checked by tests/test_html.py (box_numbers); this tests the renumbering on
Sphinx's own data structure, so a failure points at the extension rather than at a page.
"""

from __future__ import annotations

import importlib.util

from avc.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("chapter_numbers", REPO_ROOT / "_ext" / "chapter_numbers.py")
chapter_numbers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chapter_numbers)


def test_chapter_prefix_is_the_letter_of_the_page_name():
    assert chapter_numbers.chapter_prefix("book/f_experiments") == ("F",)
    assert chapter_numbers.chapter_prefix("book/intro") == ()
    assert chapter_numbers.chapter_prefix("book/status") == ()
    assert chapter_numbers.chapter_prefix("index") == ()


def test_book_wide_numbers_restart_per_chapter_in_the_page_order():
    book_wide = {
        "book/b_model": {"exercise": {"ex-b2": (2,), "ex-b1": (1,)}, "definition": {"def-b": (1,)}},
        "book/c_competition": {
            "exercise": {"ex-c1": (3,), "ex-c3": (10,), "ex-c2": (4,)},
            "theorem": {"thm-c": (1,)},
        },
        "book/intro": {"figure": {"fig-a": (7,), "fig-b": (5,)}},
    }
    assert chapter_numbers.renumber_per_chapter(book_wide) == {
        "book/b_model": {
            "exercise": {"ex-b1": ("B", 1), "ex-b2": ("B", 2)},
            "definition": {"def-b": ("B", 1)},
        },
        "book/c_competition": {
            "exercise": {"ex-c1": ("C", 1), "ex-c2": ("C", 2), "ex-c3": ("C", 3)},
            "theorem": {"thm-c": ("C", 1)},
        },
        "book/intro": {"figure": {"fig-b": (1,), "fig-a": (2,)}},
    }


def test_a_chapter_over_two_pages_shares_one_count():
    """Chapter D spans d_quantal and d_equilibria: the continuation goes on from D's last box."""
    book_wide = {
        "book/d_quantal": {"exercise": {"ex-d1": (5,), "ex-d2": (6,)}, "theorem": {"thm-d3": (3,)}},
        "book/d_equilibria": {"exercise": {"ex-d3": (7,), "ex-d4": (8,)}, "theorem": {"thm-d5": (5,)}},
        "book/e_selection": {"exercise": {"ex-e1": (9,)}},
    }
    renumbered = chapter_numbers.renumber_per_chapter(book_wide)
    assert renumbered["book/d_quantal"]["exercise"] == {"ex-d1": ("D", 1), "ex-d2": ("D", 2)}
    assert renumbered["book/d_equilibria"]["exercise"] == {"ex-d3": ("D", 3), "ex-d4": ("D", 4)}
    assert renumbered["book/d_equilibria"]["theorem"] == {"thm-d5": ("D", 2)}
    assert renumbered["book/e_selection"]["exercise"] == {"ex-e1": ("E", 1)}
