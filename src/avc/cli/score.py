"""``python -m avc score MARKET.csv --domain ethics|movielens --n-items N --out PANEL.csv``.

Every agent of the market file (one row each: ``agent``, ``base_url``, ``model``,
``api_key_env``, ``prompt`` or ``persona``; see :mod:`avc.llm.market`) scores the same first
``N`` items of the domain on its own server and model, through Chapter F's live path (plan, cost
guard ``--max-calls``, server checks, cache, resume). The output panel (``item``, ``human`` on
0-100, one column per agent) is what ``python -m avc audit PANEL --target human`` reads. The
market file, the options and the output folder are checked before any request; a rerun of the
same market sends none.
"""

from __future__ import annotations

__all__ = ["add_score_command", "load_items"]


def add_score_command(sub, name: str) -> None:
    parser = sub.add_parser(name, help="score a market of models on the same items (writes a panel)")
    parser.add_argument("market", metavar="MARKET.csv", help="one row per agent: agent, base_url, model, ...")
    parser.add_argument("--domain", required=True, help="ethics or movielens")
    parser.add_argument("--n-items", type=int, required=True, metavar="N", help="items every agent scores")
    parser.add_argument("--out", required=True, metavar="PANEL.csv", help="the panel to write")
    parser.add_argument(
        "--max-calls", type=int, default=2000, metavar="N", help="refuse a plan above N calls"
    )
    parser.set_defaults(handler=_score)


def load_items(domain: str, n_items: int):
    """The first ``n_items`` items of Chapter F's seeded order of the domain's dataset."""
    from avc.llm.market import MarketError
    from avc.panels.datasets import ethics_items, movielens_items

    if domain == "ethics":
        try:
            return ethics_items(n_items)
        except ValueError as err:
            raise MarketError(f"--n-items {n_items}: {err}") from None
    pool = movielens_items()
    if n_items > len(pool):
        raise MarketError(f"--n-items {n_items}: MovieLens has {len(pool)} movies with more than 20 ratings.")
    return pool.head(n_items)


def _score(args) -> int:
    from avc.llm.market import DOMAINS, MarketError, read_market, score_market
    from avc.panels.personas import load_personas

    if args.domain not in DOMAINS:
        raise MarketError(f"--domain must be one of {', '.join(DOMAINS)}; got {args.domain!r}.")
    if args.n_items < 1:
        raise MarketError(f"--n-items must be a positive integer; got {args.n_items}.")
    personas = load_personas(args.domain).set_index("persona_id").prompt
    market = read_market(args.market, args.domain, personas)
    items = load_items(args.domain, args.n_items)
    panel = score_market(market, args.domain, items, args.out, max_calls=args.max_calls)
    invalid = int(panel.drop(columns=["item", "human"]).isna().sum().sum())
    print(
        f"panel written to {args.out}: {len(panel)} items x {panel.shape[1] - 2} agents, {invalid} invalid replies"
    )
    return 0
