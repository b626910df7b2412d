"""The summary tables of the theorem chapters, formatted for the page in one call.

A chapter groups its checks (by family of games, by kind of market, by prior) with pandas and
hands the table of numbers to :func:`formatted`, which writes every column the way a reader
reads it: ε to three places, shares as percentages, counts with thousands separators, flags as
yes/no, astronomically large bounds as ``2.2·10¹³``. The columns the chapters share are named
once, in :data:`COLUMNS` (the name a chapter aggregates into, the heading on the page and the
format); a table passes ``labels`` and ``formats`` only for what is its own.

Numbers are rounded before they are written, and a rounded zero loses its sign, so a solver's
``-4e-16`` reads ``0.000``, never ``-0.000``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "formatted", "power_of_ten", "scheme_table", "scientific", "shares_text", "yes_no"]

SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
FIXED = re.compile(r"^\{:\.(\d+)f\}$")


def scientific(x: float, digits: int = 1) -> str:
    """``x`` as a reader writes it: ``scientific(0.0042)`` is ``"4.2·10⁻³"``."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa}·10{str(int(exponent)).translate(SUPERSCRIPTS)}"


def power_of_ten(x: float) -> str:
    """An exact power of ten as 10 with a superscript: ``1e-07`` is ``"10⁻⁷"``; a ``ValueError``
    for anything else."""
    exponent = round(math.log10(x))
    if not math.isclose(x, 10.0**exponent):
        raise ValueError(f"{x} is not a power of ten")
    return f"10{str(exponent).translate(SUPERSCRIPTS)}"


def yes_no(flags: pd.Series) -> pd.Series:
    """``True``/``False`` as ``"yes"``/``"no"``."""
    return flags.map({True: "yes", False: "no"})


def shares_text(shares: Mapping) -> str:
    """``{"plain": 0.33, "withholding": 0.85}`` (or a Series) as ``"plain 33%, withholding 85%"``."""
    return ", ".join(f"{name} {share:.0%}" for name, share in dict(shares).items())


Format = str | Callable | None

COLUMNS: dict[str, tuple[str, Format]] = {
    "games": ("games", None),
    "eps": ("ε", "{:.3f}"),
    "aligned_value": ("U_A(C*)", "{:.3f}"),
    "priors": ("priors", None),
    "mean_eps": ("mean ε", "{:.3f}"),
    "could_fail": ("could fail", "{:.0%}"),
    "equilibria": ("equilibria", "{:,}"),
    "n_equilibria": ("equilibria", "{:,}"),
    "worst_loss": ("largest loss", "{:.3f}"),
    "max_share": ("share of 2ε", "{:.2f}"),
    "worst_equilibrium": ("worst equilibrium", "{:.3f}"),
    "oblivious": ("oblivious", "{:.3f}"),
    "best_equilibrium": ("best equilibrium", "{:.3f}"),
    "no_information": ("no information", "{:.3f}"),
    "mean_delta": ("mean δ", "{:.3f}"),
    "corollary1": ("Corollary 1", "{:.3f}"),
    "proposition2": ("Proposition 2", scientific),
    "bound": ("bound", "{:.3f}"),
    "worst_violation": ("violation", "{:.3f}"),
    "mean_eps_u": ("mean εᵤ", "{:.3f}"),
    "max_eps_u": ("largest εᵤ", "{:.3f}"),
    "max_rounds": ("most rounds", None),
    "zeta": ("ζ", scientific),
    "delta_conv": ("δ conv", scientific),
    "lam": ("λ", "{:.2f}"),
    "estimation": ("estimation", "{:.3f}"),
    "quantal": ("quantal", "{:.3f}"),
    "share_one_agent": ("one agent", "{:.2f}"),
    "share_competition": ("competition", "{:.2f}"),
    "reached_aligned": ("reached C*", "{:.0%}"),
}
"""Column name -> (heading on the page, format): a format string, a function of one value, or
None (written as it is; a column of flags is written yes/no)."""


def _rounded(column: pd.Series, digits: int) -> pd.Series:
    return np.round(column, digits) + 0.0  # -0.0 + 0.0 is 0.0


def _written(column: pd.Series, fmt: Format) -> pd.Series:
    if fmt is None:
        return yes_no(column) if column.dtype == bool else column
    if callable(fmt):
        return column.map(fmt)
    fixed = FIXED.match(fmt)
    if fixed:
        column = _rounded(column, int(fixed[1]))
    return column.map(fmt.format)


def formatted(
    table: pd.DataFrame,
    formats: Mapping[str, Format] | None = None,
    labels: Mapping[str, str] | None = None,
    index: Mapping | None = None,
    names: list | str | None = None,
    index_formats: Mapping[str, Callable] | None = None,
    digits: int | None = None,
) -> pd.DataFrame:
    """``table`` as the page shows it.

    Every column is written with its format from ``formats``; else a column of flags as yes/no;
    else with its format from :data:`COLUMNS`; else it is left as it is. Each is headed by its label from ``labels``, else from
    :data:`COLUMNS`, else by its own name. A fixed-point format (``"{:.3f}"``) rounds first.
    ``digits`` rounds every float column of the table before any format; ``index`` renames
    index entries (``{"valuable information": "valuable info"}``), ``index_formats`` writes an
    index level with a function, and ``names`` renames the index levels.
    """
    formats, labels = dict(formats or {}), dict(labels or {})
    shown = table.copy()
    if digits is not None:
        floats = shown.select_dtypes("float").columns
        shown[floats] = shown[floats].round(digits) + 0.0
    for column in shown.columns:
        if column in formats:
            fmt = formats[column]
        elif shown[column].dtype == bool:
            fmt = None  # flags read yes/no
        else:
            fmt = COLUMNS.get(column, (None, None))[1]
        shown[column] = _written(shown[column], fmt)
    for level, write in (index_formats or {}).items():
        if isinstance(shown.index, pd.MultiIndex):
            position = shown.index.names.index(level)
            shown.index = shown.index.set_levels(shown.index.levels[position].map(write), level=position)
        else:
            shown.index = shown.index.map(write).rename(shown.index.name)
    if index:
        shown = shown.rename(index=dict(index))
    if names is not None:
        shown = shown.rename_axis(names)
    headings = {c: labels.get(c, COLUMNS.get(c, (c, None))[0]) for c in shown.columns}
    return shown.rename(columns=headings)


def scheme_table(schemes: Mapping, states: list[str], signals: list[str]) -> pd.DataFrame:
    """Signalling schemes ``P(signal | state)`` side by side, one block of columns per sender,
    each entry written exactly (a ``Fraction`` stays ``1/2``)::

        scheme_table({"defence": scheme}, ["guilty", "innocent"], ["says guilty", "says innocent"])
    """
    blocks = {
        name: pd.DataFrame([[str(x) for x in row] for row in scheme], index=states, columns=signals)
        for name, scheme in schemes.items()
    }
    return pd.concat(blocks, axis=1).rename_axis("state")
