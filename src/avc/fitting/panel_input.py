"""A panel an auditor brings: read, checked and prepared before any fit.

A *panel* is a table with one row per item: an id column, one or more *target* columns (a
user's or a reference's scores of the items) and one column per *agent* (a model's scores of the
same items). :func:`read_panel` reads CSV, gzipped CSV or Parquet; :func:`prepare_panel` checks it
and returns a :class:`Panel` ready for :mod:`avc.fitting.panel_audit`. Everything that would make
an audit fail or mean nothing is refused here with a :class:`PanelError` that names the file, the
column and the fix, before any work:

- a target that is not a column, or not numeric;
- an agent column that is not numeric (a column whose values are mostly numbers but not all);
- two agents with the same name (in the file's header or in the list asked for);
- fewer items with a target value than the folds need (two per fold).

**Missing scores.** An agent's missing score on an item is filled with that agent's median over
the items it scored (the rule of Chapter F); an agent with no score at all is left out. Items
whose target is missing are left out of that target's audit. :class:`Panel` records how many
scores were filled and which agents were dropped, and the audit reports both.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ID_COLUMNS", "Panel", "PanelError", "prepare_panel", "read_panel", "recorded_panel"]

ID_COLUMNS = ("item", "item_id", "id")
"""Column names taken as the items' id when none is given (the first one present)."""


class PanelError(ValueError):
    """The panel cannot be audited as given; the message names the file, the column and the fix.
    ``python -m avc`` prints it as one line and exits with code 2."""

    exit_code = 2


@dataclass
class Panel:
    """A checked panel: agents' scores with the missing ones filled, and the targets."""

    source: str
    agents: pd.DataFrame
    """Items x agents, every value finite (missing scores filled with the agent's median)."""
    targets: dict[str, pd.Series]
    """Target name -> its values on the items that have one (indexed like ``agents``)."""
    filled: dict[str, int] = field(default_factory=dict)
    """Agent -> number of its scores that were missing and filled with its median."""
    dropped_agents: list[str] = field(default_factory=list)
    """Agents with no score at all, left out."""
    ignored_columns: list[str] = field(default_factory=list)
    """Text columns that are neither the id, a target nor an agent."""

    @property
    def n_filled(self) -> int:
        return int(sum(self.filled.values()))


def _header(path: Path) -> list[str]:
    """The column names exactly as the file's first line has them (pandas renames duplicates)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def read_panel(path) -> pd.DataFrame:
    """Read a panel file (``.csv``, ``.csv.gz`` or ``.parquet``) as it is; refuse duplicate column
    names and unreadable files with a :class:`PanelError`."""
    path = Path(path)
    if not path.is_file():
        raise PanelError(f"{path}: no such file; pass the path of a CSV, CSV.gz or Parquet panel.")
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise PanelError(
                f"{path}: reading Parquet needs pyarrow, which is not installed; install it "
                "(pip install pyarrow) or save the panel as CSV."
            ) from None
        header = [str(c) for c in frame.columns]
    elif name.endswith((".csv", ".csv.gz")):
        header = _header(path)
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise PanelError(
                f"{path}: not a readable CSV ({err}); one row per item, one column per agent."
            ) from None
    else:
        raise PanelError(f"{path}: unknown format; the panel must be .csv, .csv.gz or .parquet.")
    twice = sorted(name for name, count in Counter(header).items() if count > 1)
    if twice:
        raise PanelError(
            f"{path}: the column name(s) {', '.join(repr(t) for t in twice)} appear more than once; every "
            "agent needs its own name: rename the copies (e.g. 'model-a-1', 'model-a-2')."
        )
    if frame.empty:
        raise PanelError(f"{path}: the panel has no rows; it needs one row per item.")
    return frame


def _numeric(column: pd.Series) -> pd.Series | None:
    """The column as floats if every non-missing value is a number, else None."""
    if pd.api.types.is_bool_dtype(column):
        return None
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    converted = pd.to_numeric(column, errors="coerce")
    return converted.astype(float) if converted.notna().sum() == column.notna().sum() else None


def _not_a_number(source: str, name: str, column: pd.Series, role: str) -> PanelError:
    values = pd.to_numeric(column, errors="coerce")
    bad = column[values.isna() & column.notna()]
    row, value = bad.index[0], bad.iloc[0]
    more = f", and {len(bad) - 1} more" if len(bad) > 1 else ""
    return PanelError(
        f"{source}: the {role} column {name!r} is not numeric (item {row!r}: {value!r}{more}); make every "
        "value a number or leave it empty (a missing score)."
    )


def prepare_panel(
    frame: pd.DataFrame,
    targets,
    agents=None,
    id_column: str | None = None,
    n_folds: int = 5,
    source: str = "the panel",
) -> Panel:
    """Check ``frame`` and split it into agents and targets (see the module's docstring).

    ``targets``: the target column names. ``agents``: the agent column names (default: every
    numeric column other than the targets and the id). ``id_column``: the items' id (default:
    the first of :data:`ID_COLUMNS` present, else the row number). ``source`` names the file in
    messages. What F or G should call to audit a DataFrame they already hold.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    if not targets:
        raise PanelError(
            f"{source}: no target given; name the column of the user's scores with --target COL."
        )
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in columns), None)
    elif id_column not in columns:
        raise PanelError(f"{source}: no id column {id_column!r}; the columns are {', '.join(columns)}.")
    if id_column is not None:
        if frame[id_column].duplicated().any():
            twice = frame[id_column][frame[id_column].duplicated()].iloc[0]
            raise PanelError(
                f"{source}: the id column {id_column!r} repeats {twice!r}; give every item one row."
            )
        frame = frame.set_index(id_column)
    for twice in sorted(t for t, count in Counter(targets).items() if count > 1):
        raise PanelError(f"{source}: the target {twice!r} is given twice; name each target once.")
    for target in targets:
        if target not in frame.columns:
            raise PanelError(
                f"{source}: no target column {target!r}; the columns are {', '.join(map(repr, frame.columns))}. "
                "Pass one of them with --target (names are case-sensitive)."
            )
    if agents is not None:
        agents = list(agents)
        twice = sorted(a for a, count in Counter(agents).items() if count > 1)
        if twice:
            raise PanelError(
                f"{source}: the agent(s) {', '.join(map(repr, twice))} are named twice in --agents; name each agent once."
            )
        for agent in agents:
            if agent not in frame.columns:
                raise PanelError(
                    f"{source}: no agent column {agent!r}; the columns are {', '.join(map(repr, frame.columns))}."
                )
            if agent in targets:
                raise PanelError(f"{source}: {agent!r} is both a target and an agent; drop it from --agents.")
    ignored = []
    scores = {}
    for name in frame.columns:
        if name in targets or (agents is not None and name not in agents):
            continue
        values = _numeric(frame[name])
        if values is None:
            parsed = pd.to_numeric(frame[name], errors="coerce")
            mostly_numbers = parsed.notna().sum() > 0.5 * frame[name].notna().sum()
            if agents is not None or mostly_numbers:
                raise _not_a_number(source, name, frame[name], "agent")
            ignored.append(name)  # a text column (titles, prompts): not an agent
            continue
        scores[name] = values
    target_values = {}
    for target in targets:
        values = _numeric(frame[target])
        if values is None:
            raise _not_a_number(source, target, frame[target], "target")
        target_values[target] = values
    scores = pd.DataFrame(scores, index=frame.index)
    empty = [a for a in scores.columns if scores[a].isna().all()]
    scores = scores.drop(columns=empty)
    if scores.shape[1] == 0:
        raise PanelError(
            f"{source}: no agent column with a score; an agent is a numeric column other than the targets "
            f"({', '.join(targets)}) and the id."
        )
    finite = scores.replace([np.inf, -np.inf], np.nan)
    filled = {a: int(n) for a, n in finite.isna().sum().items() if n}
    scores = finite.fillna(finite.median())
    kept = {}
    for target, values in target_values.items():
        values = values.replace([np.inf, -np.inf], np.nan).dropna()
        if len(values) < 2 * n_folds:
            raise PanelError(
                f"{source}: the target {target!r} has {len(values)} items with a value, fewer than the "
                f"{2 * n_folds} that {n_folds} folds need (two per fold); add items or pass --folds "
                f"{max(2, len(values) // 2)}."
                if len(values) >= 4
                else f"{source}: the target {target!r} has {len(values)} items with a value; an audit needs "
                "at least 4 (two folds of two)."
            )
        if values.nunique() < 2:
            raise PanelError(
                f"{source}: the target {target!r} has the same value ({values.iloc[0]:g}) on every item; "
                "there is nothing to fit: check the column (or its missing values)."
            )
        kept[target] = values
    return Panel(
        source=source,
        agents=scores,
        targets=kept,
        filled=filled,
        dropped_agents=empty,
        ignored_columns=ignored,
    )


def recorded_panel(domain: str) -> pd.DataFrame:
    """The book's committed panel of ``domain`` (:mod:`avc.panels.recorded`) in the format
    ``python -m avc audit`` reads and ``python -m avc score`` writes: ``item``, ``human`` on the
    agents' 0-100 scale (ETHICS: ``100 * (1 - label)``; MovieLens: ``20 *`` the mean rating),
    ``baseline`` (the baseline prompt, Chapter F's other ETHICS target) and one column per persona
    (0-100; movies read as the expected score, as F reads them; empty where a reply was invalid)."""
    from avc.panels.recorded import load_panel, load_panel_items

    movies = domain == "movielens"
    scores = load_panel(domain, value="expected_score" if movies else "score")
    items = load_panel_items(domain).loc[scores.index]
    human = 20.0 * items["mean_rating"] if movies else 100.0 * (1 - items["label"])
    frame = pd.concat(
        [pd.Series(scores.index, index=scores.index, name="item"), human.rename("human"), scores], axis=1
    )
    return frame.reset_index(drop=True)
