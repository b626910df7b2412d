"""What every chapter accepts as parameters, checked in one place before any work.

:func:`check_parameters` is called twice with the same rules: by ``python -m avc run`` before a
kernel starts (a refusal is one line and exit code 2) and by the chapter's first cell (for a
reader who runs it with papermill or in JupyterLab). Each chapter's rules refuse single values
(types, NaN, infinities, zero or negative counts, seeds numpy cannot take), combinations
(items against folds, more agents than the panel has) and enumerations that would outgrow the
machine's memory, naming the parameters and the values that work.

:func:`start_chapter` checks and returns the chapter's :class:`~avc.chapter.claims.Claims`.
"""

from __future__ import annotations

from collections.abc import Callable

from avc.chapter.claims import Claims
from avc.chapter.params import (
    ParameterError,
    changed_parameters,
    chapter_parameters,
    check_at_least,
    check_choice,
    check_counts,
    check_memory,
    check_number,
    check_seed,
    check_text,
    is_integer,
)
from avc.llm.live import BACKENDS

__all__ = ["CHAPTER_RULES", "check_parameters", "start_chapter"]

RECORDED_AGENTS = 100
"""Personas in each domain's list and agents in the recorded panels (the baseline aside)."""
LIVE_ONLY = ("model", "base_url", "api_key_env", "n_items", "max_calls")
"""Parameters of chapter F that only a live run uses."""


def _intro(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_companies", p["n_companies"], 2, "a mixture needs two companies")
    check_number("bonus", p["bonus"], at_least=0)


def _b_model(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("max_agents", p["max_agents"], 2, "a mixture needs two agents")
    check_at_least("n_repetitions", p["n_repetitions"], 1)
    check_number("noise_half_width", p["noise_half_width"], at_least=0, at_most=10)
    check_at_least("n_transcripts", p["n_transcripts"], 1)


def _c_competition(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_games", p["n_games"], 3, "one game per family")
    check_number("max_noise", p["max_noise"], at_least=0, at_most=10, reason="utilities lie in [0, 1]")
    check_at_least("n_definition9_checks", p["n_definition9_checks"], 1)
    check_at_least("n_protocol_games", p["n_protocol_games"], 1)


def _d_quantal(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_beliefs", p["n_beliefs"], 1)
    check_at_least("n_random_priors", p["n_random_priors"], 1)
    check_at_least("n_slow_priors", p["n_slow_priors"], 1)


def _d_equilibria(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_games", p["n_games"], 1)
    check_number("quantal_lambda", p["quantal_lambda"], above=0, reason="Alice's rationality")


def _e_selection(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_games", p["n_games"], 1)
    check_at_least(
        "n_definition9_games", p["n_definition9_games"], 0, "chosen among the n_games", at_most=p["n_games"]
    )
    check_at_least("n_markets", p["n_markets"], 1)
    check_at_least("market_size", p["market_size"], 2, "competition needs two agents", at_most=8)
    check_number("max_noise", p["max_noise"], at_least=0, at_most=10, reason="utilities lie in [0, 1]")
    check_number("agent_spread", p["agent_spread"], at_least=0, at_most=10)


def _f_experiments(p: dict) -> None:
    check_choice("backend", p["backend"], BACKENDS)
    check_seed("seed", p["seed"])
    check_at_least("n_agents", p["n_agents"], 1, "personas in each domain's list", at_most=RECORDED_AGENTS)
    check_at_least("n_perms", p["n_perms"], 1)
    check_at_least("n_folds", p["n_folds"], 2, "one fold is held out, the rest fit")
    check_at_least("n_splits", p["n_splits"], 1)
    check_at_least("n_boot", p["n_boot"], 1)
    check_at_least("n_subsets", p["n_subsets"], 1)
    if not isinstance(p["intercept"], bool):
        raise ParameterError(f"intercept must be True or False; got {p['intercept']!r}.")
    if p["backend"] == "replay":
        defaults = {k: v["default"] for k, v in chapter_parameters("f_experiments").items()}
        ignored = [k for k in LIVE_ONLY if k in defaults and p[k] != defaults[k]]
        if ignored:
            raise ParameterError(
                f"{', '.join(ignored)} only appl{'ies' if len(ignored) == 1 else 'y'} to a live run: the replay "
                "reads the recorded panel as it is. Add -p backend openai (or local) to score live, or drop "
                f"{'it' if len(ignored) == 1 else 'them'}."
            )
        return
    check_text("model", p["model"])
    check_text("base_url", p["base_url"], optional=True, reason="e.g. http://127.0.0.1:8000/v1")
    check_text("api_key_env", p["api_key_env"], optional=True, reason="the name of a variable, or None")
    if is_integer(p["max_calls"]):
        check_at_least("max_calls", p["max_calls"], 0)
    else:
        raise ParameterError(f"max_calls must be a non-negative integer; got {p['max_calls']!r}.")
    n_items = p["n_items"]
    if n_items not in (None, "all"):
        check_at_least("n_items", n_items, 1, 'or "all", or None: as many as the recorded panel')
        if n_items < 2 * p["n_folds"]:
            raise ParameterError(
                f"n_items = {n_items} with n_folds = {p['n_folds']}: each fold needs at least two items, so "
                f"n_items must be at least {2 * p['n_folds']} (or n_folds at most {max(2, n_items // 2)}). "
                "Nothing was sent."
            )


def _g_market(p: dict) -> None:
    check_seed("seed", p["seed"])
    check_at_least("n_splits", p["n_splits"], 1)
    check_counts(
        "agent_counts", p["agent_counts"], at_most=RECORDED_AGENTS, reason="agents in the recorded panel"
    )
    check_at_least("n_orders", p["n_orders"], 1)
    check_at_least("n_synthetic_users", p["n_synthetic_users"], 3, "one per noise level")
    check_at_least("min_user_ratings", p["min_user_ratings"], 1)
    check_at_least("n_user_folds", p["n_user_folds"], 2, "a held-out ε needs 2 folds")
    check_at_least("n_game_grid", p["n_game_grid"], 1)
    grid = p["n_game_grid"]
    if not _fits_memory(_g3_bytes(grid)):
        fits = 1  # the size grows with the grid: the largest that fits is found by counting up
        while fits + 1 < grid and _fits_memory(_g3_bytes(fits + 1)):
            fits += 1
        check_memory(
            f"n_game_grid = {grid} ({(grid + 1) ** 2:,} schemes per agent, {(grid + 1) ** 6:,} profiles in G.3)",
            _g3_bytes(grid),
            f"choose n_game_grid of at most {fits}",
        )


def _g3_bytes(grid: int) -> float:
    """G.3's payoff tensor: three senders with (grid + 1)² schemes each, two states, two signals;
    per profile the joint law, its flat copy and Alice's policy (56 floats)."""
    return ((grid + 1) ** 2) ** 3 * 56 * 8


def _fits_memory(needed: float) -> bool:
    try:
        check_memory("", needed, "")
    except ParameterError:
        return False
    return True


def _h_noisy_agents(p: dict) -> None:
    from avc.theory.random_utility import agents_needed

    check_seed("seed", p["seed"])
    check_at_least("n_draws", p["n_draws"], 1)
    check_number("delta", p["delta"], above=0, below=1, reason="a probability")
    settings = p["settings"]
    shape = "a non-empty list of [|A|, |Y|, ε] entries, e.g. [[2, 2, 0.2], [3, 4, 0.1]]"
    if not isinstance(settings, list | tuple) or not settings:
        raise ParameterError(f"settings must be {shape}; got {settings!r}.")
    for i, setting in enumerate(settings):
        if not isinstance(setting, list | tuple) or len(setting) != 3:
            raise ParameterError(f"settings[{i}] must be [|A|, |Y|, ε] (three numbers); got {setting!r}.")
        check_at_least(f"|A| in settings[{i}]", setting[0], 2)
        check_at_least(f"|Y| in settings[{i}]", setting[1], 1)
        check_number(f"ε in settings[{i}]", setting[2], above=0, below=1)
    check_at_least("n_lp_panels", p["n_lp_panels"], 1)
    check_choice("agent_kind", p["agent_kind"], ("bernoulli", "uniform"))
    for a, y, eps in settings:
        k_max = 2 * agents_needed(a, y, eps, p["delta"])
        check_memory(
            f"the setting [{a}, {y}, {eps}] ({k_max:,} agents, twice Proposition 3's count)",
            k_max * a * y * 8 * 4,
            "choose a larger ε (the count grows as 1/ε²) or a larger delta",
        )


def _i_oblivious(p: dict) -> None:
    check_at_least("n_priors", p["n_priors"], 1, at_most=10_000)
    check_at_least("grid_resolution", p["grid_resolution"], 1)
    check_number("tie_margin", p["tie_margin"], at_least=0, below=0.5, reason="a distance in probability")
    schemes = (p["grid_resolution"] + 1) ** 2  # two states, two signals
    check_memory(
        f"grid_resolution = {p['grid_resolution']} ({schemes:,} schemes per agent, {schemes**2:,} profiles)",
        schemes**2 * 64 * 8,
        "choose a smaller grid_resolution",
    )


def _status(p: dict) -> None:
    packages = p["packages"]
    if not isinstance(packages, list | tuple) or not all(isinstance(x, str) and x for x in packages):
        raise ParameterError(
            f'packages must be a list of package names, e.g. ["numpy", "avc"]; got {packages!r}.'
        )


CHAPTER_RULES: dict[str, Callable[[dict], None]] = {
    "intro": _intro,
    "b_model": _b_model,
    "c_competition": _c_competition,
    "d_quantal": _d_quantal,
    "d_equilibria": _d_equilibria,
    "e_selection": _e_selection,
    "f_experiments": _f_experiments,
    "g_market": _g_market,
    "h_noisy_agents": _h_noisy_agents,
    "i_oblivious": _i_oblivious,
    "j_audit": lambda p: (  # the smallest panel J audits has 200 items: two a fold at most
        check_seed("seed", p["seed"]),
        check_at_least("n_folds", p["n_folds"], 2, "one fold held out, two items each", at_most=100),
        check_at_least("n_splits", p["n_splits"], 1),
        check_at_least("n_boot", p["n_boot"], 1),
        check_at_least("n_perms", p["n_perms"], 1),
    ),
    "status": _status,
}
"""Each chapter's rules: a function of the parameter values that raises :class:`ParameterError`."""

SUBJECTS = {"c_competition": "the simulation", "e_selection": "the simulation"}
"""The chapters whose statements are about random games drawn with their seed and sizes."""


def check_parameters(name: str, values: dict) -> dict:
    """Refuse, with a :class:`ParameterError`, any value of chapter ``name``'s parameters (taken
    from ``values``, e.g. ``globals()``) that the chapter cannot use; return the values checked."""
    declared = chapter_parameters(name)
    params = {key: values.get(key, spec["default"]) for key, spec in declared.items()}
    rules = CHAPTER_RULES.get(name)
    if rules is not None:
        rules(params)
    return params


def start_chapter(name: str, values: dict) -> Claims:
    """Check the parameters of chapter ``name`` and return its claims: asserted when the recorded
    panel (or the simulation) is read with the default parameters, reported otherwise."""
    params = check_parameters(name, values)
    replaying = params.get("backend", "replay") == "replay"
    return Claims(
        replaying, changed_parameters(name, values), subject=SUBJECTS.get(name, "the recorded panel")
    )
