"""A chapter's parameters: read from its parameters cell, and checked before any work.

:func:`chapter_parameters` reads the ``NAME = literal  # help`` statements of a chapter's cell
tagged ``parameters``; :func:`parse_value` reads a command-line value as the default's type. The
``check_*`` functions refuse a value a chapter cannot use with a :class:`ParameterError` that
names the parameter, the value and what would work.
"""

from __future__ import annotations

import ast
import io
import json
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
    # plain JSON, not nbformat: chapters call this from their kernel (changed_parameters), and
    # importing nbformat's schema validation there would cost about a second
    notebook = json.loads(chapter_path(name).read_text(encoding="utf-8"))
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


def check_at_least(name: str, value, minimum: int, reason: str = "") -> int:
    """Refuse a chapter parameter that is not an integer of at least ``minimum``, saying why."""
    if not is_integer(value) or value < minimum:
        why = f" ({reason})" if reason else ""
        raise ParameterError(f"{name} must be an integer of at least {minimum}{why}; got {value!r}.")
    return value


def check_number(name: str, value, *, at_least=None, above=None, below=None, reason: str = "") -> float:
    """Refuse a chapter parameter that is not a number in the range given (``at_least``: ≥,
    ``above``: >, ``below``: <), saying why."""
    bounds = [
        f"{word} {bound:g}"
        for word, bound in (("at least", at_least), ("above", above), ("below", below))
        if bound is not None
    ]
    fits = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (at_least is None or value >= at_least)
        and (above is None or value > above)
        and (below is None or value < below)
    )
    if not fits:
        why = f" ({reason})" if reason else ""
        raise ParameterError(f"{name} must be a number {' and '.join(bounds)}{why}; got {value!r}.")
    return float(value)


def check_counts(name: str, values) -> list[int]:
    """Refuse a chapter parameter that is not a non-empty list of positive integers."""
    if not isinstance(values, (list, tuple)) or not values or any(not is_integer(v) or v < 1 for v in values):
        raise ParameterError(
            f"{name} must be a non-empty list of positive integers, e.g. [5, 100]; got {values!r}."
        )
    return list(values)


def chapter_path(name: str) -> Path:
    known = chapters()
    if name not in known:
        raise ParameterError(f"no chapter named {name!r}; the chapters are: {', '.join(known)}.")
    return known[name]


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
        return list(value)
    elif type(value) is type(default):
        return value
    raise ParameterError(
        f"expected a value of type {type(default).__name__} (like {default!r}); got {text!r}."
    )
