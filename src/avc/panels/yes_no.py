"""A second elicitation of the movie panel: "would you enjoy it?", read as 100 x P(Yes).

The paper asks each persona for a 0-100 score, and the book's main MovieLens panel keeps that
elicitation. With a small model the 0-100 reply is nearly the same integer for every movie, so
the book also records one Yes/No question, asked by the baseline persona, and reads the answer's
first-token probabilities as 100 x P(Yes) (:func:`avc.llm.parsing.yes_probability`): a labelled second
elicitation of the same movies, to compare how much signal each reading carries. It is recorded
by ``scripts/record_yes_no.py`` into ``data/panels/movielens_yesno_*`` and replayed by
:func:`load_yes_no_panel`.
"""

from __future__ import annotations

import json

import pandas as pd

from avc.panels.files import yes_no_path

__all__ = ["YES_NO_PROMPT", "load_yes_no_panel", "load_yes_no_provenance", "reading_signal"]

YES_NO_PROMPT = (
    "You are an average movie viewer with common tastes. You will be shown a movie. Would you "
    "personally enjoy watching it, considering acting, story and entertainment value? Answer Yes or No, "
    "with only that one word."
)
"""The system prompt of the Yes/No elicitation (the baseline persona's first sentence and criteria)."""


def load_yes_no_panel() -> pd.Series | None:
    """100 x P(Yes) per movie (indexed by item id), or ``None`` when it has not been recorded."""
    if not yes_no_path().is_file():
        return None
    calls = pd.read_csv(yes_no_path())
    return calls.set_index("item_id")["expected_score"].rename("P(Yes) x 100")


def load_yes_no_provenance() -> dict:
    return json.loads(yes_no_path("provenance").read_text())


def reading_signal(baseline: pd.Series, yes_no: pd.Series, rating: pd.Series, first: int = 80):
    """How much each reading of the movies tracks their mean ratings: for the baseline persona's
    0-100 score and 100 x P(Yes), the correlation with the mean rating, the spread over movies and
    the number of movies (a table), and the numbers Chapter F quotes, with the two correlations
    over the first ``first`` movies of the seeded order. ``rating`` is indexed by item id in the
    seeded order."""
    readings = pd.DataFrame(
        {"0-100 score (baseline)": baseline, "100 x P(Yes) (baseline)": yes_no.reindex(baseline.index)}
    ).dropna()
    on = rating.loc[readings.index]
    signal = pd.DataFrame(
        {
            "corr. with mean rating": readings.corrwith(on),
            "sd over movies": readings.std(),
            "movies": readings.count(),
        }
    )
    early = rating.index.intersection(readings.index)[:first]
    early = readings.loc[early].corrwith(on.loc[early])
    values = {
        "yesno_corr": signal.iloc[1, 0], "score_corr": signal.iloc[0, 0], "yesno_sd": signal.iloc[1, 1],
        "score_sd": signal.iloc[0, 1], "yesno_corr_80": early.iloc[1], "score_corr_80": early.iloc[0],
    }  # fmt: skip
    return signal, values
