"""A chapter's parameters: read from its parameters cell, and checked before any work.

:func:`chapter_parameters` reads the ``NAME = literal  # help`` statements of a chapter's cell
tagged ``parameters``; :func:`parse_value` reads a command-line value as the default's type. The
``check_*`` functions refuse a value a chapter cannot use with a :class:`ParameterError` that
names the parameter, the value and what would work.
"""

from __future__ import annotations

import ast
import copy
import functools
import io
import json
import math
import os
import tokenize
from pathlib import Path

from avc.paths import REPO_ROOT

__all__ = [
    "BOOK_DIR",
    "ParameterError",
    "changed_parameters",
    "chapter_parameters",
    "chapter_path",
    "chapters",
    "check_at_least",
    "check_counts",
    "check_number",
    "is_integer",
    "parse_parameters",
    "parse_value",
]

BOOK_DIR = REPO_ROOT / "book"


class ParameterError(ValueError):
    """A parameter name or value that the chapter does not accept."""


def chapters() -> dict[str, Path]:
    """Chapter name (notebook stem) -> path, in book order."""
    return {p.stem: p for p in sorted(BOOK_DIR.glob("*.ipynb"))}


def chapter_parameters(name: str) -> dict[str, dict]:
    """The chapter's parameters: ``{name: {"default": value, "type": str, "help": comment}}``."""
    path = chapter_path(name)
    return copy.deepcopy(_parameters_of(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _parameters_of(path: Path, mtime_ns: int) -> dict[str, dict]:
    # plain JSON, not nbformat: chapters call this from their kernel (changed_parameters), and
    # importing nbformat's schema validation there would cost about a second
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    source = cells[0]["source"]
    return parse_parameters(source if isinstance(source, str) else "".join(source))


def changed_parameters(name: str, values: dict) -> dict:
    """The parameters of chapter ``name`` whose value in ``values`` (a chapter passes
    ``globals()``) differs from the default in its parameters cell: ``{name: value}``."""
    return {
        key: values[key]
        for key, spec in chapter_parameters(name).items()
        if key in values and values[key] != spec["default"]
    }


def parse_parameters(source: str) -> dict[str, dict]:
    """Each ``NAME = literal  # help`` statement of a parameters cell (a literal may span
    lines; the help is the statement's comments). Statements that are not a literal
    assigned to one name are left out: papermill can set only literals."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    out = {}
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue
        statement = "".join(lines[node.lineno - 1 : node.end_lineno])
        comments = [
            tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(statement).readline)
            if tok.type == tokenize.COMMENT
        ]
        out[node.targets[0].id] = {
            "default": value,
            "type": type(value).__name__,
            "help": " ".join(c for c in comments if c),
        }
    return out


def is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _why(reason: str) -> str:
    return f" ({reason})" if reason else ""


def check_at_least(name: str, value, minimum: int, reason: str = "", *, at_most: int | None = None) -> int:
    """Refuse a chapter parameter that is not an integer of at least ``minimum`` (and at most
    ``at_most``), saying why."""
    if not is_integer(value) or value < minimum or (at_most is not None and value > at_most):
        span = f"of at least {minimum}" if at_most is None else f"from {minimum} to {at_most}"
        raise ParameterError(f"{name} must be an integer {span}{_why(reason)}; got {value!r}.")
    return value


def check_seed(name: str, value) -> int:
    """Refuse a seed numpy cannot take (a non-negative integer)."""
    return check_at_least(name, value, 0, "numpy seeds are non-negative integers")


def check_number(
    name: str, value, *, at_least=None, above=None, below=None, at_most=None, reason: str = ""
) -> float:
    """Refuse a chapter parameter that is not a finite number in the range given (``at_least``: ≥,
    ``above``: >, ``below``: <, ``at_most``: ≤), saying why. NaN and infinities are refused."""
    bounds = [
        f"{word} {bound:g}"
        for word, bound in (("at least", at_least), ("above", above), ("below", below), ("at most", at_most))
        if bound is not None
    ]
    fits = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (at_least is None or value >= at_least)
        and (above is None or value > above)
        and (below is None or value < below)
        and (at_most is None or value <= at_most)
    )
    if not fits:
        span = "a finite number " + " and ".join(bounds) if bounds else "a finite number"
        raise ParameterError(f"{name} must be {span.strip()}{_why(reason)}; got {value!r}.")
    return float(value)


def check_counts(name: str, values, *, at_most: int | None = None, reason: str = "") -> list[int]:
    """Refuse a chapter parameter that is not a non-empty list of positive integers (each at most
    ``at_most``)."""
    if (
        not isinstance(values, (list, tuple))
        or not values
        or any(not is_integer(v) or v < 1 or (at_most is not None and v > at_most) for v in values)
    ):
        span = "positive integers" if at_most is None else f"integers from 1 to {at_most}"
        raise ParameterError(
            f"{name} must be a non-empty list of {span}{_why(reason)}, e.g. [5, 100]; got {values!r}."
        )
    return list(values)


def check_choice(name: str, value, choices) -> str:
    """Refuse a value that is not one of ``choices``."""
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {shown}; got {value!r}.")
    return value


def check_text(name: str, value, *, optional: bool = False, reason: str = "") -> str | None:
    """Refuse a value that is not a non-empty string (or ``None`` when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "a non-empty string" + (" or None" if optional else "")
        raise ParameterError(f"{name} must be {what}{_why(reason)}; got {value!r}.")
    return value


def available_memory() -> int:
    """Bytes of memory this machine can still give (``MemAvailable`` on Linux, else all of it)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(what: str, needed_bytes: float, fix: str, *, share: float = 0.5) -> None:
    """Refuse an enumeration that would need more than ``share`` of the memory available, saying
    how much it would need and what to change (``fix``)."""
    budget = share * available_memory()
    if needed_bytes > budget:
        raise ParameterError(
            f"{what} would need about {needed_bytes / 2**30:,.1f} GiB of memory, and this machine has "
            f"{budget / 2**30:,.1f} GiB to spare ({share:.0%} of what is available): {fix}."
        )


def chapter_path(name: str) -> Path:
    known = chapters()
    if name not in known:
        raise ParameterError(f"no chapter named {name!r}; the chapters are: {', '.join(known)}.")
    return known[name]


def as_lists(value):
    """``value`` with every tuple inside it turned into a list (papermill writes lists, not tuples)."""
    if isinstance(value, list | tuple):
        return [as_lists(v) for v in value]
    return value


def parse_value(text: str, default):
    """Read ``text`` as a Python literal of the same kind as ``default`` (or keep it a string)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif isinstance(default, list | tuple) and isinstance(value, list | tuple):
        return as_lists(value)
    elif type(value) is type(default):
        return value
    raise ParameterError(
        f"expected a value of type {type(default).__name__} (like {default!r}); got {text!r}."
    )
