"""avc.checks.summaries: the chapters' summary tables as the page shows them, and the rows they
are built from (avc.checks.theorem_checks.BoundCheck.row)."""

import math

import numpy as np
import pandas as pd
import pytest

from avc.checks import menus, summaries, theorem_checks
from avc.theory import games


def test_scientific_and_powers_of_ten():
    assert summaries.scientific(0.0042) == "4.2·10⁻³"
    assert summaries.scientific(6.9e13) == "6.9·10¹³"
    assert summaries.scientific(1.26e16, digits=2) == "1.26·10¹⁶"
    assert summaries.power_of_ten(1e-7) == "10⁻⁷"
    assert summaries.power_of_ten(1e20) == "10²⁰"
    with pytest.raises(ValueError, match="power of ten"):
        summaries.power_of_ten(2e-7)


def test_yes_no_and_shares_text():
    assert summaries.yes_no(pd.Series([True, False])).tolist() == ["yes", "no"]
    shares = pd.Series({"plain": 1 / 3, "valuable information": 1.0})
    assert summaries.shares_text(shares) == "plain 33%, valuable information 100%"
    assert summaries.shares_text({}) == ""


def test_formatted_writes_shared_columns_with_their_heading_and_format():
    table = pd.DataFrame(
        {
            "games": [60, 60],
            "mean_eps": [0.12345, -0.0004],
            "could_fail": [0.7249, 1.0],
            "equilibria": [171999, 12],
            "other": [1.5, 2.5],
            "flag": [True, False],
        },
        index=pd.Index(["plain", "valuable information"], name="family"),
    )
    shown = summaries.formatted(table, index={"valuable information": "valuable info"})
    assert list(shown.columns) == ["games", "mean ε", "could fail", "equilibria", "other", "flag"]
    assert shown["mean ε"].tolist() == ["0.123", "0.000"]  # rounded, and no "-0.000"
    assert shown["could fail"].tolist() == ["72%", "100%"]
    assert shown["equilibria"].tolist() == ["171,999", "12"]
    assert shown["other"].tolist() == [1.5, 2.5]  # not a shared column: left as it is
    assert shown["flag"].tolist() == ["yes", "no"]
    assert list(shown.index) == ["plain", "valuable info"] and shown.index.name == "family"
    assert table.mean_eps.tolist() == [0.12345, -0.0004]  # the input is left alone


def test_formatted_overrides_and_rounds_the_whole_table_first():
    table = pd.DataFrame({"eps": [0.2449, 0.25], "x": [0.9996, 0.5]}, index=["a", "b"])
    shown = summaries.formatted(
        table, {"eps": "{:.2f}", "x": "{:.0%}"}, labels={"x": "share"}, digits=3, names="panel"
    )
    assert shown.columns.tolist() == ["ε", "share"] and shown.index.name == "panel"
    assert shown["ε"].tolist() == ["0.24", "0.25"]
    assert shown["share"].tolist() == ["100%", "50%"]  # 0.9996 rounded to 1.0 first
    assert summaries.formatted(table, {"eps": lambda v: f"<{v}>"})["ε"].tolist() == ["<0.2449>", "<0.25>"]


def test_formatted_writes_an_index_level():
    table = pd.DataFrame(
        {"priors": [3, 3, 4]},
        index=pd.MultiIndex.from_tuples(
            [("garbled", 1e-7), ("garbled", 1e-5), ("binary", 1e-6)], names=["family", "zeta"]
        ),
    )
    shown = summaries.formatted(table, index_formats={"zeta": summaries.power_of_ten}, names=["family", "ζ"])
    assert shown.index.tolist() == [("garbled", "10⁻⁷"), ("garbled", "10⁻⁵"), ("binary", "10⁻⁶")]
    assert shown.index.names == ["family", "ζ"]
    flat = summaries.formatted(
        pd.DataFrame({"priors": [1]}, index=pd.Index([1e-3], name="zeta")),
        index_formats={"zeta": summaries.power_of_ten},
    )
    assert flat.index.tolist() == ["10⁻³"] and flat.index.name == "zeta"


def test_every_shared_column_has_a_heading_and_a_usable_format():
    for name, (heading, fmt) in summaries.COLUMNS.items():
        assert heading and isinstance(heading, str), name
        assert fmt is None or callable(fmt) or isinstance(fmt.format(0.5), str), name


def test_check_row_carries_what_the_check_found():
    prior, user = np.array([0.5, 0.5]), np.array([[1.0, 0.0], [0.0, 1.0], [0.85, 0.85]])
    tilt = np.array([[-0.1, 0.1], [0.1, -0.1], [0.1, 0.1]])
    menu = menus.persuasion_menu(2)
    game = games.MultiSenderGame(prior, user, np.stack([user + tilt] * 2), [menu] * 2)
    check = theorem_checks.theorem1_check(game, [menus.full_revelation_index(menu)] * 2, 1.0)
    row = check.row(game=7, family="tight")
    assert list(row)[:2] == ["game", "family"] and row["game"] == 7
    assert row["eps"] == pytest.approx(0.1) and row["bound"] == pytest.approx(0.8)
    assert row["worst_equilibrium"] == pytest.approx(0.85) and row["slack"] == pytest.approx(0.05)
    assert row["holds"] and not row["could_fail"] and row["violating_profiles"] == 0
    assert row["share_used"] == pytest.approx(0.75) and row["n_equilibria"] == check.n_equilibria
    assert row["reference"] == 1.0 and row["delta"] == 0.0
    assert not math.isnan(row["slack"])


def test_scheme_table_writes_fractions_exactly():
    from fractions import Fraction

    half = Fraction(1, 2)
    table = summaries.scheme_table(
        {"defence": [[half, half], [0, 1]], "prosecutor": [[1, 0], [1, 0]]},
        ["guilty", "innocent"],
        ["says guilty", "says innocent"],
    )
    assert table.index.name == "state" and table.index.tolist() == ["guilty", "innocent"]
    assert table[("defence", "says guilty")].tolist() == ["1/2", "0"]
    assert table[("prosecutor", "says innocent")].tolist() == ["0", "0"]


def test_a_shared_column_of_flags_reads_yes_no():
    table = pd.DataFrame({"could_fail": [True, False], "share": [0.5, 1.0]})
    shares = table.assign(could_fail_share=table.share)
    shown = summaries.formatted(shares, {"could_fail_share": "{:.0%}"})
    assert shown["could fail"].tolist() == ["yes", "no"]
    assert shown["could_fail_share"].tolist() == ["50%", "100%"]
