"""Numbers as a reader sees them: rounded, with no float noise and no negative zeros.

Rounding ``-0.0004`` to two places gives ``-0.00``, and a solver's ``-4.4e-16`` prints as
itself; both read as findings on the page. These helpers round first and then drop the sign of
a zero.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["interval_text", "signed", "tidy"]


def tidy(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``table`` rounded to ``digits`` places, with every negative zero made ``0.0``."""
    table = table.round(digits)
    floats = table.select_dtypes("float").columns
    table[floats] = table[floats] + 0.0  # -0.0 + 0.0 is 0.0
    return table


def signed(value: float, digits: int = 2) -> str:
    """``value`` with its sign, rounded: ``signed(0.354)`` is ``"+0.35"``, and
    ``signed(-0.001)`` is ``"+0.00"``, not ``"-0.00"``."""
    return f"{round(float(value), digits) + 0.0:+.{digits}f}"


def interval_text(point: float, low: float, high: float, digits: int = 2) -> str:
    """A gain and its interval in one cell: ``"+0.35 (+0.29 to +0.41)"``."""
    return f"{signed(point, digits)} ({signed(low, digits)} to {signed(high, digits)})"
