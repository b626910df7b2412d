"""Statements about the recorded panel: asserted when it is replayed with the chapter's defaults,
reported (never raised) on another panel or with other parameters."""

import pytest

from avc.chapter.claims import Claims
from avc.chapter.params import changed_parameters, chapter_parameters


def run(claims_args, holds):
    lines = []
    claims = Claims(*claims_args, echo=lines.append)
    claims.check(True, "A holds")
    claims.check(holds, "B holds")
    return claims, lines


def test_replaying_with_the_defaults_asserts_each_statement():
    claims, lines = run((True, {}), holds=True)
    assert lines == ["checked on the recorded panel: A holds", "checked on the recorded panel: B holds"]
    assert claims.summary() == "all 2 statements about the recorded panel checked"
    with pytest.raises(AssertionError, match="the recorded panel no longer shows this: B holds"):
        run((True, {}), holds=False)


def test_replaying_with_other_parameters_reports_and_names_them():
    claims, lines = run((True, {"intercept": True, "n_perms": 3}), holds=False)
    assert "with intercept = True, n_perms = 3 they are reported, not asserted" in " ".join(lines[0].split())
    assert lines[1:] == ["shown with these parameters: A holds", "NOT shown with these parameters: B holds"]
    assert claims.shown == 1
    assert claims.summary() == "1 of 2 statements about the recorded panel are shown with these parameters"


def test_another_panel_reports_by_this_panel():
    claims, lines = run((False, {"n_perms": 3}), holds=False)
    assert lines == ["shown by this panel: A holds", "NOT shown by this panel: B holds"]
    assert claims.summary() == "1 of 2 statements about the recorded panel are shown by this panel"


def test_changed_parameters_compares_with_the_parameters_cell():
    defaults = {key: spec["default"] for key, spec in chapter_parameters("f_experiments").items()}
    assert defaults["intercept"] is False and defaults["backend"] == "replay"
    namespace = dict(defaults, unrelated_variable=1)
    assert changed_parameters("f_experiments", namespace) == {}
    namespace.update(intercept=True, n_perms=3)
    assert changed_parameters("f_experiments", namespace) == {"intercept": True, "n_perms": 3}
    lists = {key: spec["default"] for key, spec in chapter_parameters("g_market").items()}
    lists["agent_counts"] = [5, 100]
    assert changed_parameters("g_market", lists) == {"agent_counts": [5, 100]}


def test_a_simulation_names_itself_and_reports_with_other_sizes():
    lines = []
    claims = Claims(True, {}, echo=lines.append, subject="the simulation")
    claims.check(True, "competition helps")
    assert lines == ["checked on the simulation: competition helps"]
    with pytest.raises(AssertionError, match="the simulation no longer shows this: it hurts"):
        claims.check(False, "it hurts")
    small = Claims(True, {"n_markets": 2}, echo=lines.append, subject="the simulation")
    assert not small.check(False, "it hurts") and lines[-1] == "NOT shown with these parameters: it hurts"
