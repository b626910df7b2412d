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
import re
import sys
from pathlib import Path

from avc.chapter.params import (
    BOOK_DIR,
    ParameterError,
    chapter_parameters,
    chapter_path,
    chapters,
    parse_value,
)
from avc.paths import REPO_ROOT

__all__ = ["RUNS_DIR", "main", "run_chapter"]

RUNS_DIR = REPO_ROOT / "runs"


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
    papermill.execute_notebook(
        str(chapter_path(name)),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=progress,
        cwd=str(BOOK_DIR),
    )
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
