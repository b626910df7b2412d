"""The reader's toolkit: list the chapters and rerun one with other parameters.

    python -m avc chapters                      # every chapter and its parameters, with defaults
    python -m avc run b_model -p max_agents 200 # run one chapter with papermill

``run`` checks every ``-p NAME VALUE`` against the chapter's parameters cell: an unknown name,
or a value whose type does not match the default's, is refused with a message that lists the
valid parameters. The executed notebook is written to ``runs/`` (ignored by git) under a name
that records the parameters, and its path is printed.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from pathlib import Path

from avc.paths import REPO_ROOT

__all__ = [
    "changed_parameters",
    "chapter_parameters",
    "chapters",
    "check_at_least",
    "check_counts",
    "check_number",
    "main",
    "parse_parameters",
    "parse_value",
    "run_chapter",
]

BOOK_DIR = REPO_ROOT / "book"
RUNS_DIR = REPO_ROOT / "runs"


class ParameterError(ValueError):
    """A parameter name or value that the chapter does not accept."""


def chapters() -> dict[str, Path]:
    """Chapter name (notebook stem) -> path, in book order."""
    return {p.stem: p for p in sorted(BOOK_DIR.glob("*.ipynb"))}


def chapter_parameters(name: str) -> dict[str, dict]:
    """The chapter's parameters: ``{name: {"default": value, "type": str, "help": comment}}``."""
    # plain JSON, not nbformat: chapters call this from their kernel (changed_parameters), and
    # importing nbformat's schema validation there would cost about a second
    notebook = json.loads(_chapter_path(name).read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    source = cells[0]["source"]
    return parse_parameters(source if isinstance(source, str) else "".join(source))


def changed_parameters(name: str, values: dict) -> dict:
    """The parameters of chapter ``name`` whose value in ``values`` (a chapter passes
    ``globals()``) differs from the default in its parameters cell: ``{name: value}``."""
    return {key: values[key] for key, spec in chapter_parameters(name).items()
            if key in values and values[key] != spec["default"]}


def parse_parameters(source: str) -> dict[str, dict]:
    """Each ``NAME = literal  # help`` statement of a parameters cell (a literal may span
    lines; the help is the statement's comments). Statements that are not a literal
    assigned to one name are left out: papermill can set only literals."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    out = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue
        statement = "".join(lines[node.lineno - 1:node.end_lineno])
        comments = [tok.string.lstrip("#").strip()
                    for tok in tokenize.generate_tokens(io.StringIO(statement).readline)
                    if tok.type == tokenize.COMMENT]
        out[node.targets[0].id] = {"default": value, "type": type(value).__name__,
                                   "help": " ".join(c for c in comments if c)}
    return out


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_at_least(name: str, value, minimum: int, reason: str = "") -> int:
    """Refuse a chapter parameter that is not an integer of at least ``minimum``, saying why."""
    if not _is_integer(value) or value < minimum:
        why = f" ({reason})" if reason else ""
        raise ParameterError(f"{name} must be an integer of at least {minimum}{why}; got {value!r}.")
    return value


def check_number(name: str, value, *, at_least=None, above=None, below=None, reason: str = "") -> float:
    """Refuse a chapter parameter that is not a number in the range given (``at_least``: ≥,
    ``above``: >, ``below``: <), saying why."""
    bounds = [f"{word} {bound:g}" for word, bound in (("at least", at_least), ("above", above), ("below", below))
              if bound is not None]
    fits = (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (at_least is None or value >= at_least) and (above is None or value > above)
            and (below is None or value < below))
    if not fits:
        why = f" ({reason})" if reason else ""
        raise ParameterError(f"{name} must be a number {' and '.join(bounds)}{why}; got {value!r}.")
    return float(value)


def check_counts(name: str, values) -> list[int]:
    """Refuse a chapter parameter that is not a non-empty list of positive integers."""
    if (not isinstance(values, (list, tuple)) or not values
            or any(not _is_integer(v) or v < 1 for v in values)):
        raise ParameterError(f"{name} must be a non-empty list of positive integers, e.g. [5, 100]; got {values!r}.")
    return list(values)


def _chapter_path(name: str) -> Path:
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
    raise ParameterError(f"expected a value of type {type(default).__name__} (like {default!r}); got {text!r}.")


def run_chapter(name: str, overrides: dict[str, str], progress: bool = True) -> Path:
    """Run chapter ``name`` with papermill, parameters ``overrides`` (strings, checked)."""
    import papermill

    declared = chapter_parameters(name)
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        valid = ", ".join(f"{k} (default {v['default']!r})" for k, v in declared.items()) or "none"
        raise ParameterError(f"{name} has no parameter {', '.join(unknown)}; its parameters are: {valid}.")
    parameters = {}
    for key, text in overrides.items():
        try:
            parameters[key] = parse_value(text, declared[key]["default"])
        except ParameterError as err:
            raise ParameterError(f"parameter {key}: {err}") from None
    suffix = "".join(f"__{k}-{re.sub(r'[^A-Za-z0-9.]+', '_', str(v))}" for k, v in sorted(parameters.items()))
    RUNS_DIR.mkdir(exist_ok=True)
    output = RUNS_DIR / f"{name}{suffix or '__defaults'}.ipynb"
    papermill.execute_notebook(str(_chapter_path(name)), str(output), parameters=parameters,
                               kernel_name="python3", progress_bar=progress, cwd=str(BOOK_DIR))
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avc", description="Run the chapters of the book.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("chapters", help="list the chapters and their parameters")
    run = sub.add_parser("run", help="run one chapter with papermill")
    run.add_argument("chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    args = parser.parse_args(argv)
    if args.command == "chapters":
        for name in chapters():
            print(name)
            for key, spec in chapter_parameters(name).items():
                print(f"    {key} = {spec['default']!r}  ({spec['type']}) {spec['help']}")
        return 0
    try:
        output = run_chapter(args.chapter, dict(args.parameter))
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"executed notebook written to {output}")
    return 0
