"""``python -m avc``: the reader's and the auditor's commands.

    python -m avc chapters                      # every chapter and its parameters, with defaults
    python -m avc run b_model -p max_agents 200 # rerun one chapter with other parameters

Each command lives in its own module (:mod:`avc.cli.chapters`, ...) and registers itself in
:data:`COMMANDS`. A command reports a failure in one line on stderr: exit code 2 for input it
refuses (a parameter, a file), 1 for a run that failed; ``-v`` prints the whole traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from avc.cli import audit, chapters, score

__all__ = ["COMMANDS", "main"]

COMMANDS = {
    "chapters": chapters.add_list_command,
    "run": chapters.add_run_command,
    "audit": audit.add_audit_command,
    "score": score.add_score_command,
}
"""Command name -> function that adds its subparser (and sets ``handler``)."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avc", description="Run the chapters of the book.")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the whole traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, add in COMMANDS.items():
        add(sub, name)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except Exception as err:  # a command's own failures carry their exit code and message
        if args.verbose:
            traceback.print_exc()
        code = getattr(err, "exit_code", 1)
        print(f"error: {err}" if code == 2 else f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return code
