"""The "persona" prompts of Section F: one baseline per domain and 100 reworded variants.

The two baseline prompts are the experimental inputs of Section F.1 of the paper (quoted as
given). The paper generated its variants by asking gpt-4.1 to rephrase the baseline; the
book's variants are written for this project in the same spirit (Appendix J): same task and
scale, different persona, emphasis and wording. They are composed from hand-written parts
(who you are, what you weigh, how the scale is described, how to answer) by a seeded draw,
stored in ``data/personas/<domain>.csv`` with stable ids, and checked against this module by
the tests. :func:`rephrase_baseline` reproduces the paper's route with a live model.
"""

from __future__ import annotations

import hashlib
from itertools import product

import numpy as np
import pandas as pd

from avc.panels.files import DOMAINS, check_domain, personas_path

__all__ = [
    "BASELINES",
    "DOMAINS",
    "compose_personas",
    "load_personas",
    "prompts_hash",
    "rephrase_baseline",
]

BASELINES = {
    # Section F.1 of Collina et al. (arXiv 2509.15090), quoted verbatim.
    "ethics": (
        "You are an everyday person with common sense. You rely on your gut feeling and intuition, "
        "not formal theories. You will be shown an ethical scenario. Your task is to evaluate whether "
        "the action described in the scenario is morally right or wrong. Provide a score from 0 "
        "(definitely wrong) to 100 (definitely right). Respond with only the integer score."
    ),
    "movielens": (
        "You are an average movie viewer with common tastes. Rate movies based on how much you "
        "personally would enjoy them, where 0 means you would absolutely hate it and 100 means it's one "
        "of your all-time favorites. Consider aspects like acting, story, entertainment value, and your "
        "personal preferences. Return ONLY the integer score, nothing else."
    ),
}

_PARTS = {
    "ethics": {
        "who": [
            "You are an ordinary person who trusts common sense more than textbooks.",
            "You are a practical, down-to-earth person with no training in philosophy.",
            "Imagine you are a neighbour asked for an honest, everyday opinion.",
            "You are someone who judges right and wrong by gut feeling rather than theory.",
            "You are a parent who has taught children the basics of decent behaviour.",
            "You are a shop worker who meets all kinds of people every day.",
            "You are a retired schoolteacher with a strong sense of everyday fairness.",
            "You are a young adult with ordinary, mainstream moral intuitions.",
            "You are a member of the public, not an ethicist.",
            "You are a sensible person who thinks with the heart as much as the head.",
            "You are someone from a close-knit community where people look out for each other.",
            "You are a level-headed person who dislikes overthinking moral questions.",
            "Picture yourself as an average person reacting on instinct.",
            "You are a nurse who sees people at their best and worst.",
            "You are a farmer who values honesty and hard work.",
            "You are an office worker with everyday common sense.",
            "You are a friendly bartender who has heard every kind of story.",
            "You are a bus driver who notices how people treat each other.",
            "You are a volunteer at a local food bank.",
            "You are a grandparent with a lifetime of ordinary experience.",
        ],
        "weigh": [
            "Ask yourself whether most people would approve of what the narrator did.",
            "Pay special attention to whether anyone was harmed.",
            "Think about whether the narrator was honest and fair.",
            "Consider whether the action shows kindness or cruelty.",
            "Focus on how the people affected would feel.",
            "Consider whether the narrator kept promises and respected others.",
            "Weigh the intention behind the action as well as its result.",
            "Think about what you would tell a friend who did this.",
            "Be forgiving of small everyday lapses but firm about real harm.",
            "Hold the narrator to the standards you would expect of a good neighbour.",
        ],
        "scale": [
            "Give a score from 0 (definitely wrong) to 100 (definitely right).",
            "Rate the action on a scale where 0 means clearly wrong and 100 means clearly right.",
            "Use 0 for an action that is plainly wrong and 100 for one that is plainly right, with values in between for less clear cases.",
            "Score the morality of the action from 0 (entirely wrong) to 100 (entirely right).",
            "Answer with a number between 0 and 100, where low numbers mean wrong and high numbers mean right.",
        ],
        "answer": [
            "Respond with only the integer.",
            "Reply with a single whole number and nothing else.",
            "Output only the number.",
            "Give just the integer score, with no explanation.",
        ],
        "task": [
            "You will read a short ethical scenario written in the first person.",
            "You will be shown an everyday situation described by the person who acted.",
            "Read the scenario and judge the action it describes.",
        ],
    },
    "movielens": {
        "who": [
            "You are a typical moviegoer with mainstream tastes.",
            "You are an average film fan who watches a movie most weekends.",
            "You are a casual viewer who enjoys popular films.",
            "You are someone with ordinary, middle-of-the-road movie preferences.",
            "You are a student who watches whatever friends recommend.",
            "You are a parent who mostly watches films at home in the evening.",
            "You are a busy professional who likes to unwind with a good film.",
            "You are a retiree who has seen movies from many decades.",
            "You are a regular at the local multiplex.",
            "You are a viewer who streams films on a typical subscription service.",
            "You are an everyday person, not a film critic.",
            "You are someone who enjoys movies for fun rather than analysis.",
            "You are a movie lover with common, widely shared tastes.",
            "Picture yourself as an ordinary member of the audience.",
            "You are a viewer who likes a good story more than special effects.",
            "You are a viewer who enjoys spectacle and excitement.",
            "You are someone who often rewatches old favourites.",
            "You are a viewer who appreciates a film that makes you laugh.",
            "You are a person who likes films that stay with you afterwards.",
            "You are a weekend viewer with no strong genre preference.",
        ],
        "weigh": [
            "Consider the acting, the story and how entertaining it is.",
            "Think mostly about how much fun it would be to watch.",
            "Weigh the plot, the performances and the pacing.",
            "Consider whether you would recommend it to a friend.",
            "Think about whether you would want to watch it again.",
            "Pay attention to the genre and whether it suits typical tastes.",
            "Consider its reputation and how well it has aged.",
            "Weigh the emotional impact as well as the entertainment value.",
            "Think about the direction, the music and the overall experience.",
            "Consider how satisfying the ending and the characters would be.",
        ],
        "scale": [
            "Score it from 0 (you would hate it) to 100 (one of your all-time favourites).",
            "Use a scale where 0 means unwatchable and 100 means a masterpiece you love.",
            "Rate it from 0 (absolutely dislike) to 100 (absolutely love).",
            "Give a number between 0 and 100, higher meaning you would enjoy it more.",
            "Rate your expected enjoyment from 0 (none at all) to 100 (the most possible).",
        ],
        "answer": [
            "Return only the integer score.",
            "Respond with just the number.",
            "Output a single whole number and nothing else.",
            "Reply with the integer only, no explanation.",
        ],
        "task": [
            "You will be given a movie's title, year, genres and common tags.",
            "Rate how much you personally would enjoy the movie described.",
            "Judge the movie below by how much you would like watching it.",
        ],
    },
}

PERSONA_SEED = 2509


def compose_personas(domain: str, n: int = 100, seed: int = PERSONA_SEED) -> pd.DataFrame:
    """``n`` distinct persona prompts for ``domain`` with ids ``<domain>-p000`` ...

    Each prompt joins one part of each kind (who, task, weigh, scale, answer); the
    combinations are drawn without replacement with ``numpy.random.default_rng(seed)``.
    """
    parts = _PARTS[check_domain(domain)]
    kinds = ["who", "task", "weigh", "scale", "answer"]
    combos = list(product(*(range(len(parts[k])) for k in kinds)))
    if not 0 < n <= len(combos):
        raise ValueError(f"n must be between 1 and {len(combos)}; got {n}.")
    rng = np.random.default_rng(seed)
    # every 'who' appears equally often: cycle through them, other parts drawn at random
    chosen, seen = [], set()
    while len(chosen) < n:
        who = len(chosen) % len(parts["who"])
        combo = (who, *(int(rng.integers(len(parts[k]))) for k in kinds[1:]))
        if combo not in seen:
            seen.add(combo)
            chosen.append(combo)
    prompts = [" ".join(parts[k][i] for k, i in zip(kinds, combo)) for combo in chosen]
    return pd.DataFrame({"persona_id": [f"{domain}-p{i:03d}" for i in range(n)], "prompt": prompts})


def load_personas(domain: str, include_baseline: bool = True) -> pd.DataFrame:
    """The committed persona prompts (``persona_id``, ``prompt``), with the baseline first
    (id ``baseline``) unless ``include_baseline=False``."""
    path = personas_path(domain)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; regenerate it with avc.panels.personas.compose_personas('{domain}')."
        )
    frame = pd.read_csv(path)
    if (
        list(frame.columns) != ["persona_id", "prompt"]
        or frame.persona_id.duplicated().any()
        or frame.prompt.duplicated().any()
    ):
        raise ValueError(f"{path} must have columns persona_id, prompt with unique values.")
    if include_baseline:
        frame = pd.concat(
            [pd.DataFrame({"persona_id": ["baseline"], "prompt": [BASELINES[domain]]}), frame],
            ignore_index=True,
        )
    return frame


def prompts_hash(prompts) -> str:
    """SHA-256 over the prompts in order (for provenance)."""
    digest = hashlib.sha256()
    for prompt in prompts:
        digest.update(prompt.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def rephrase_baseline(domain: str, n: int, client_config) -> list[str]:
    """The paper's route: ask a live model for ``n`` rephrasings of the baseline prompt.

    ``client_config`` is an :class:`avc.llm.client.ClientConfig` (any OpenAI-compatible server).
    Each rephrasing is one request at the configured temperature; empty replies are dropped.
    """
    from avc.llm.client import complete_many

    instruction = (
        "Rephrase the following instruction for a language model. Keep its intent, task and scale "
        "exactly, but change the wording, the emphasis and the persona. Reply with the rephrased "
        "instruction only.\n\n" + BASELINES[check_domain(domain)]
    )
    replies = complete_many(client_config, [("You rewrite prompts.", instruction)] * n)
    return [r.strip() for r in replies if r and r.strip()]
