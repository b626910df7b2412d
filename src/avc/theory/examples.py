"""Worked utility families from the paper, as labelled arrays.

* :func:`courtroom_utilities`: the judge and the two advocates of Appendix I.
* :func:`drug_market`: the doctor and the drug companies of the introduction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

__all__ = ["UtilityFamily", "courtroom", "courtroom_utilities", "drug_market"]


@dataclass(frozen=True)
class UtilityFamily:
    """A user's utility and named agents' utilities on labelled actions and states."""

    actions: tuple[str, ...]
    states: tuple[str, ...]
    user: np.ndarray
    agents: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.actions), len(self.states))
        for name, util in {"user": self.user, **self.agents}.items():
            if np.shape(util) != shape:
                raise ValueError(
                    f"{name}'s utility is shaped {np.shape(util)}, expected {shape} (actions x states)."
                )

    @property
    def agent_names(self) -> list[str]:
        return list(self.agents)

    def agent_stack(self) -> np.ndarray:
        """The agents' utilities stacked as ``(k, n_actions, n_states)``."""
        return np.stack([np.asarray(u, dtype=float) for u in self.agents.values()])

    def table(self) -> pd.DataFrame:
        """One row per (player, action), one column per state: for display."""
        frames = {
            name: pd.DataFrame(
                np.asarray(u), index=pd.Index(self.actions, name="action"), columns=self.states
            )
            for name, u in {"user": self.user, **self.agents}.items()
        }
        return pd.concat(frames, names=["player"])


def courtroom_utilities() -> UtilityFamily:
    """Appendix I: a judge (Alice), a prosecutor and a defence attorney.

    Actions acquit/convict, states guilty/innocent. The judge's utility is the sum of the
    advocates' (so it lies in the non-negative cone of theirs, with weights (1, 1)).
    The defence's table is the judge's minus the prosecutor's.
    """
    judge = np.array([[1.0, 2.0], [2.0, 1.0]])
    prosecutor = np.array([[0.0, 0.0], [2.0, 1.0]])
    return UtilityFamily(
        actions=("acquit", "convict"),
        states=("guilty", "innocent"),
        user=judge,
        agents={"prosecutor": prosecutor, "defence": judge - prosecutor},
    )


def drug_market(
    quality,
    manufacturer: Sequence[int | None],
    bonus: float,
    actions: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
) -> UtilityFamily:
    """The introduction's doctor and drug companies.

    ``quality[a, y]`` is how well treatment ``a`` works in state ``y`` (the doctor's utility);
    ``manufacturer[a]`` is the company (0..k-1) that makes treatment ``a``, or ``None`` for a
    treatment nobody sells (e.g. rest). Company ``i`` values ``quality + bonus`` on its own
    drugs and ``quality`` elsewhere. When every treatment has a maker, the companies'
    average is the doctor's utility plus the constant ``bonus / k``.
    """
    quality = np.asarray(quality, dtype=float)
    if quality.ndim != 2 or len(manufacturer) != quality.shape[0]:
        raise ValueError(
            "quality must be (n_treatments, n_states) with one manufacturer entry per treatment."
        )
    makers = sorted({m for m in manufacturer if m is not None})
    if makers != list(range(len(makers))):
        raise ValueError(f"Manufacturers must be numbered 0..k-1 with none skipped; got {makers}.")
    agents = {}
    for company in makers:
        own = np.array([m == company for m in manufacturer], dtype=float)[:, None]
        agents[f"company {company}"] = quality + bonus * own
    if actions is None:
        actions = [
            f"treatment {a}" + ("" if m is None else f" (company {m})") for a, m in enumerate(manufacturer)
        ]
    states = tuple(states) if states is not None else tuple(f"state {y}" for y in range(quality.shape[1]))
    return UtilityFamily(actions=tuple(actions), states=states, user=quality, agents=agents)


def courtroom(prior_guilty=Fraction(2, 3)) -> dict:
    """Appendix I, exactly: two obliviously optimal advocates and a judge who hears both.

    The state is guilty with probability ``prior_guilty`` (default 2/3, which must lie in
    (1/2, 1)); the judge acquits on ties (acquit is action 0, so this is the book's lowest-
    index rule). Each advocate commits to the scheme that would be optimal if the judge
    heard *only him*:

    * the prosecutor sends no information: the prior already makes the judge convict;
    * the defence always says "innocent" when innocent and, when guilty, says "innocent" with
      probability ``q = (1 - p) / p``, the most that keeps the posterior at exactly 1/2 (a tie,
      so the judge acquits).

    Returns exact fractions: ``alice_oblivious`` (the judge's utility hearing both, ``1 + p``),
    ``first_best`` (2), each advocate's own value, and the schemes and induced law.
    """
    from avc.theory.persuasion import as_exact, induced_outcome, utility_under

    p = Fraction(prior_guilty)
    if not Fraction(1, 2) < p < 1:
        raise ValueError(
            f"courtroom() gives the closed-form oblivious schemes for 1/2 < prior_guilty < 1; got {p}. "
            "For other priors compute them with avc.theory.persuasion.optimal_scheme."
        )
    family = courtroom_utilities()
    judge, prosecutor, defence = (as_exact(u) for u in (family.user, *family.agents.values()))
    prior = as_exact([p, 1 - p])
    q = (1 - p) / p
    prosecutor_scheme = as_exact([[1, 0], [1, 0]])  # signals: "guilty", "innocent"
    defence_scheme = as_exact([[1 - q, q], [0, 1]])
    both = induced_outcome(prior, [prosecutor_scheme, defence_scheme], judge)
    alone = {
        name: induced_outcome(prior, [s], judge)
        for name, s in (("prosecutor", prosecutor_scheme), ("defence", defence_scheme))
    }
    return {
        "prior": prior,
        "prosecutor_scheme": prosecutor_scheme,
        "defence_scheme": defence_scheme,
        "joint_oblivious": both,
        "alice_oblivious": utility_under(both, judge),
        "first_best": sum(prior[y] * max(judge[:, y]) for y in range(2)),
        "prosecutor_alone": utility_under(alone["prosecutor"], prosecutor),
        "defence_alone": utility_under(alone["defence"], defence),
    }
