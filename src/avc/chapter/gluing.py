"""Numbers from a chapter's computation into its prose, one call per table of values.

A chapter's markdown cites computed values with myst-nb's ``{glue:text}`name:.3f` ``; the code
cell that computes them hands over the whole table at once::

    glue_all({"b_opt": opt, "b_own_only": own_only, "b_lab_worth": opt - own_only})

instead of one ``glue(...)`` line per number.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["Glued", "glue_all", "plain"]


def plain(value):
    """``value`` as a plain Python object: numpy scalars become ``int``, ``float`` or ``bool``
    (myst-nb formats a glued number from its text form, and numpy 2 writes ``np.float64(0.5)``)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


class Glued(dict):
    """The values :func:`glue_all` glued, by name (plain Python numbers and strings). A cell that
    ends with ``glue_all(...)`` shows nothing: the prose shows the values."""

    def _ipython_display_(self) -> None:
        pass


def glue_all(mapping: Mapping, display: bool = False) -> Glued:
    """Glue every value of ``mapping`` (a dict, or a pandas Series of named values) under its
    name, for ``{glue:text}`` in the chapter's markdown; return the values glued, by name.

    ``display=False`` (the default) keeps the values off the page: the prose shows them."""
    from myst_nb import glue

    items = dict(mapping.items())
    bad = [name for name in items if not isinstance(name, str) or not name.isidentifier()]
    if bad:
        raise ValueError(f"glue names must be identifiers (letters, digits, _); got {bad}")
    glued = Glued((name, plain(value)) for name, value in items.items())
    for name, value in glued.items():
        glue(name, value, display=display)
    return glued
