"""Seeded random persuasion games for the theorem checks of Chapters C, D and E, and the
rejection samplers that keep the games in which a check *could fail*.

A check of "Alice gets at least ``U_A(C*) - 2ε`` in every equilibrium" is **vacuous** on a game
where even the worst profile of the menu meets the bound: it would pass whatever the equilibrium
search returned. The samplers below redraw such games for the families that ask for it. The
filter is on the game (its prior, utilities and menu), never on its equilibria, so it cannot
bias the check toward holding. Every draw comes from the ``rng`` passed in, in a fixed order, so
a chapter's seed fixes every game.
"""

from __future__ import annotations

import numpy as np

from avc.checks import menus, theorem_checks
from avc.checks.random_games import misaligned_panel, to_unit_interval, withholding_panel
from avc.theory import games, persuasion
from avc.theory.alignment import weighted_alignment
from avc.theory.concavification import aligned_value
from avc.theory.model import CommonPrior, first_best, no_information_value

__all__ = [
    "MAX_TRIES",
    "draw_game",
    "draw_quantal_game",
    "draw_selection_game",
    "heard_alone",
    "informative_instance",
    "protocol_instance",
    "quantal_game",
    "random_game",
    "value_of_information",
]

MAX_TRIES = 1000
"""Draws a sampler makes before it gives up with a ``RuntimeError`` (naming the family)."""


def value_of_information(prior, user) -> float:
    """What knowing the state is worth to a best-responding Alice: first best minus the value of
    knowing nothing."""
    return float(prior @ user.max(axis=0) - (user @ prior).max())


def random_game(rng: np.random.Generator, n_states: int, n_actions: int, k: int, noise: float):
    """A uniform prior draw, Alice's utility uniform on ``[0, 1]`` and ``k`` differently
    misaligned Bobs (:func:`~avc.checks.random_games.misaligned_panel`, spread drawn in
    ``(0.2, 1)``, ``noise`` on top), all mapped onto ``[0, 1]``: ``(prior, user, agents)``."""
    prior = rng.dirichlet(np.ones(n_states))
    user = rng.uniform(size=(n_actions, n_states))
    agents = misaligned_panel(rng, user, k, spread=rng.uniform(0.2, 1.0), noise=noise)
    return (prior, *to_unit_interval(user, agents))


def draw_game(rng: np.random.Generator, family: str, n_states: int, n_actions: int, k: int, max_noise: float):
    """One game of Chapter C's families and how many draws it took: ``(prior, user, agents,
    draws)``.

    * ``"plain"``: :func:`random_game`, with noise uniform up to ``max_noise`` (exactly in the
      hull a fifth of the time);
    * ``"valuable information"``: the same draws, kept only when knowing the state is worth more
      than ``2ε`` to Alice;
    * ``"withholding"``: :func:`~avc.checks.random_games.withholding_panel` with three states
      (the shape's ``n_states`` and ``n_actions`` are not used).
    """
    if family == "withholding":
        return (*withholding_panel(rng, 3, k, noise=rng.uniform(0, 0.1)), 1)
    if family not in ("plain", "valuable information"):
        raise ValueError(f"unknown family {family!r}")
    for tries in range(1, MAX_TRIES + 1):
        noise = rng.uniform(0, max_noise) if rng.uniform() < 0.8 else 0.0
        prior, user, agents = random_game(rng, n_states, n_actions, k, noise)
        if family == "plain":
            return prior, user, agents, tries
        if value_of_information(prior, user) > 2 * weighted_alignment(agents, user).eps + 1e-6:
            return prior, user, agents, tries
    raise RuntimeError(f"no game with valuable information in {MAX_TRIES} draws")


def informative_instance(
    rng: np.random.Generator, n_states: int, n_actions: int, min_value_of_information: float = 0.05
):
    """A prior and Alice's utility for which one perfectly aligned **two-signal** agent is worth
    at least ``min_value_of_information`` over knowing nothing: ``(prior, user, U_A(C*), C*)``."""
    while True:
        prior = rng.dirichlet(np.ones(n_states))
        user = rng.uniform(size=(n_actions, n_states))
        aligned, scheme = aligned_value(prior, user, n_signals=2)
        if aligned - (user @ prior).max() >= min_value_of_information:
            return prior, user, aligned, scheme


def draw_selection_game(
    rng: np.random.Generator, family: str, n_states: int, n_actions: int, k: int, noise: float
):
    """One game of Chapter E: ``(prior, user, agents, U_A(C*), C*, draws)``, utilities on ``[0, 1]``.

    :func:`informative_instance` and ``k`` differently misaligned agents with ``noise`` (redrawn
    below ``noise`` on a retry). ``"plain"`` keeps the first draw; ``"valuable information"``
    keeps a game only when the aligned two-signal agent is worth more than ``2ε`` over silence.
    """
    if family not in ("plain", "valuable information"):
        raise ValueError(f"unknown family {family!r}")
    for tries in range(1, MAX_TRIES + 1):
        prior, user, aligned, scheme = informative_instance(rng, n_states, n_actions)
        noise_now = noise * rng.uniform() if tries > 1 else noise
        agents = misaligned_panel(rng, user, k, spread=rng.uniform(0.2, 1.0), noise=noise_now)
        lo, hi = min(user.min(), agents.min()), max(user.max(), agents.max())
        user, agents = to_unit_interval(user, agents)
        aligned = (aligned - lo) / (hi - lo)
        eps = weighted_alignment(agents, user).eps
        if family == "plain" or aligned - 2 * eps > (user @ prior).max() + 1e-6:
            return prior, user, agents, aligned, scheme, tries
    raise RuntimeError(f"no valuable game in {MAX_TRIES} draws")


def heard_alone(prior, util, scheme, lam: float | None = None) -> float:
    """``U_A(C)``: Alice's utility when she hears one sender using ``scheme`` and no one else
    (λ-quantal when ``lam`` is given)."""
    return float(persuasion.utility_under(persuasion.induced_outcome(prior, [scheme], util, lam), util))


def quantal_game(rng: np.random.Generator, family: str, lam: float):
    """A two-state game of Chapter D with two Bobs and a λ-quantal Alice: ``(game, noisy)``.

    ``"withholding"``: :func:`~avc.checks.random_games.withholding_panel`; otherwise (``"plain"``)
    two or three actions and two differently misaligned Bobs, on ``[0, 1]``. Each Bob's menu is
    Chapter C's grid plus ``noisy``, noisy revelation with η drawn from {0.02, 0.05, 0.1}, last.
    """
    if family == "withholding":
        prior, user, agents = withholding_panel(rng, 2, 2, noise=rng.uniform(0, 0.05))
    elif family == "plain":
        n_actions = int(rng.choice([2, 3]))
        prior, user = rng.dirichlet(np.ones(2)), rng.uniform(size=(n_actions, 2))
        agents = misaligned_panel(rng, user, 2, spread=rng.uniform(0.2, 1.0), noise=rng.uniform(0, 0.15))
        user, agents = to_unit_interval(user, agents)
    else:
        raise ValueError(f"unknown family {family!r}")
    noisy = menus.noisy_revelation(2, float(rng.choice([0.02, 0.05, 0.1])))
    game = games.MultiSenderGame(prior, user, agents, [menus.persuasion_menu(2) + [noisy]] * 2, lam=lam)
    return game, noisy


def draw_quantal_game(rng: np.random.Generator, family: str, lam: float, max_tries: int = 200):
    """One game of Chapter D's families: ``(game, noisy)`` from :func:`quantal_game`.

    ``"plain"`` keeps the first draw; ``"valuable information"`` (plain draws) and
    ``"withholding"`` keep a game only when some profile of the menu violates Theorem 2's bound
    with noisy revelation as the reference, so that the check could fail.
    """
    if family not in ("plain", "valuable information", "withholding"):
        raise ValueError(f"unknown family {family!r}")
    for _ in range(max_tries):
        game, noisy = quantal_game(rng, "withholding" if family == "withholding" else "plain", lam)
        if family == "plain":
            return game, noisy
        reference = heard_alone(game.prior, game.receiver_util, noisy, lam)
        statement, _ = theorem_checks.theorem2_check(game, [len(game.strategies[0]) - 1] * 2, reference)
        if statement.could_fail:
            return game, noisy
    raise RuntimeError(f"no {family} game that could fail in {max_tries} draws")


def protocol_instance(rng: np.random.Generator, family: str, max_noise: float):
    """A game of Chapter C.5 (the paper's protocol): ``(prior, user, agents)`` on ``[0, 1]``.

    The common prior over ``(x_A, x_B, y)``, ``x_A`` in {0, 1}, ``x_B`` in {0, 1, 2} and two
    states, makes ``P(y = 1 | x_A, x_B)`` far from 1/2 (logits of scale 2.5). Alice has three
    actions and there are two Bobs: ``"valuable x_B"`` draws Alice uniformly and the Bobs
    differently misaligned (noise up to ``max_noise``); ``"withholding"`` gives Alice two bets
    and a safe action and the Bobs a shared tilt toward the safe action, which tempts them to
    stay silent. A draw is kept only when knowing ``x_B`` is worth more than ``2ε`` to Alice
    (OPT minus what her own feature gives her), so that the check could fail.
    """
    if family not in ("valuable x_B", "withholding"):
        raise ValueError(f"unknown family {family!r}")
    for _ in range(MAX_TRIES):
        p_y1 = 1 / (1 + np.exp(-rng.normal(scale=2.5, size=(2, 3))))
        features = rng.dirichlet(2 * np.ones(6)).reshape(2, 3)
        prior = CommonPrior(np.stack([features * (1 - p_y1), features * p_y1], axis=-1))
        if family == "withholding":
            loss = rng.uniform(0.05, 0.4)
            user = np.array([[1.0, 0.0], [0.0, 1.0], [1 - loss, 1 - loss]])
            tilt = loss / 2 * rng.uniform(0.5, 1.5) * np.array([[-1, 1], [1, -1], [1, 1]])
            spread, noise = rng.uniform(0, 0.3), rng.uniform(0, 0.1)
            agents = misaligned_panel(rng, user, 2, spread=spread, noise=noise) + tilt
        else:
            user = rng.uniform(size=(3, 2))
            spread, noise = rng.uniform(0.2, 1.0), rng.uniform(0, max_noise)
            agents = misaligned_panel(rng, user, 2, spread=spread, noise=noise)
        user, agents = to_unit_interval(user, agents)
        eps = weighted_alignment(agents, user).eps
        if first_best(prior, user) - no_information_value(prior, user) > 2 * eps:
            return prior, user, agents
    raise RuntimeError(f"no {family} protocol game in {MAX_TRIES} draws")
