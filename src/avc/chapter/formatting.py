"""Numbers as a reader sees them: rounded, with no float noise and no negative zeros.

Rounding ``-0.0004`` to two places gives ``-0.00``, and a solver's ``-4.4e-16`` prints as
itself; both read as findings on the page. These helpers round first and then drop the sign of
a zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["count", "interval_text", "signed", "tidy"]


def tidy(values, digits: int = 3):
    """``values`` (a table, a column, an array or a number) rounded to ``digits`` places, with
    every negative zero made ``0.0``; a table's columns that are not floats are left as they are."""
    if isinstance(values, pd.DataFrame):
        table = values.round(digits)
        floats = table.select_dtypes("float").columns
        table[floats] = table[floats] + 0.0  # -0.0 + 0.0 is 0.0
        return table
    return np.round(values, digits) + 0.0


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "game")`` is ``"1 game"``, ``count(3, "game")`` is ``"3 games"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def signed(value: float, digits: int = 2) -> str:
    """``value`` with its sign, rounded: ``signed(0.354)`` is ``"+0.35"``, and
    ``signed(-0.001)`` is ``"+0.00"``, not ``"-0.00"``."""
    return f"{round(float(value), digits) + 0.0:+.{digits}f}"


def interval_text(point: float, low: float, high: float, digits: int = 2) -> str:
    """A gain and its interval in one cell: ``"+0.35 [+0.29, +0.41]"``."""
    return f"{signed(point, digits)} [{signed(low, digits)}, {signed(high, digits)}]"
