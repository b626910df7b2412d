"""``python -m avc chapters`` and ``python -m avc run CHAPTER -p NAME VALUE ...``.

``run`` checks every ``-p NAME VALUE`` against the chapter's parameters cell (an unknown name, a
value of the wrong type) and against the chapter's rules (:mod:`avc.chapter.specs`: a value or a
combination it cannot use) before a kernel starts. The executed notebook is written to ``runs/``
(ignored by git) under a name that records the parameters. A run that fails is reported in one
line naming the exception and the executed notebook that holds its traceback; a run that
succeeds prints its summary lines (the counts of a live run, the claims' verdict).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from avc.chapter.params import (
    BOOK_DIR,
    ParameterError,
    chapter_parameters,
    chapter_path,
    chapters,
    parse_value,
)
from avc.chapter.specs import check_parameters
from avc.paths import REPO_ROOT

__all__ = ["ChapterFailed", "RUNS_DIR", "add_list_command", "add_run_command", "run_chapter", "summary_lines"]

RUNS_DIR = REPO_ROOT / "runs"
SUMMARY = re.compile(r"calls made, .* from the cache|statements about .* (checked|are shown)")
"""The lines of a chapter's output that ``run`` repeats on the terminal."""
PATH_VARIABLES = ("AVC_CACHE_DIR", "AVC_DATA_DIR", "AVC_LLM_GGUF")


class ChapterFailed(RuntimeError):
    """The chapter raised: one line with the exception and where its traceback is."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _refused(err: ParameterError) -> ParameterError:
    err.exit_code = 2
    return err


def parse_overrides(name: str, overrides: dict[str, str]) -> dict:
    """The ``-p`` values read as their defaults' types; unknown names refused."""
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
    return parameters


def output_path(name: str, parameters: dict) -> Path:
    """``runs/<chapter>__<name>-<value>...ipynb``, distinct for distinct values: where a value has
    characters a file name cannot keep (``[(2, 2, 0.2)]``), a short hash of the exact values
    follows the readable part."""
    if not parameters:
        return RUNS_DIR / f"{name}__defaults.ipynb"
    shown = {k: re.sub(r"[^A-Za-z0-9.]+", "_", str(v)) for k, v in parameters.items()}
    readable = "".join(f"__{k}-{shown[k]}" for k in sorted(parameters))
    if all(shown[k] == str(v) for k, v in parameters.items()) and len(readable) <= 150:
        return RUNS_DIR / f"{name}{readable}.ipynb"
    exact = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=repr).encode()).hexdigest()[:8]
    return RUNS_DIR / f"{name}{readable[:150]}__{exact}.ipynb"


def absolute_path_variables() -> None:
    """Make the ``AVC_*`` paths absolute where the user stands (the kernel runs in ``book/``)."""
    for key in PATH_VARIABLES:
        value = os.environ.get(key)
        if value:
            os.environ[key] = str(Path(value).expanduser().resolve())


def run_figures_dir(output: Path) -> Path:
    """Where a run saves its figures: ``AVC_FIGURES_DIR`` when the user set it, else a folder beside
    the executed notebook (``runs/<notebook name>.figures/``), so that a run with other parameters
    never overwrites the book's figures (``_build/figures``)."""
    chosen = os.environ.get("AVC_FIGURES_DIR")
    return Path(chosen).expanduser().resolve() if chosen else output.with_suffix(".figures")


@contextmanager
def environment(**values: str):
    """Set environment variables for the kernel papermill starts, and restore them afterwards."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def summary_lines(notebook_path: Path) -> list[str]:
    """The summary lines a chapter printed (see :data:`SUMMARY`), in order."""
    notebook = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    lines = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) if output.get("output_type") == "stream" else ""
            joined = re.sub(r"\n  ", " ", text)  # wrapped lines continue with two spaces
            lines += [line for line in joined.splitlines() if SUMMARY.search(line)]
    return lines


def failing_line(traceback: list[str]) -> str:
    """The source line a bare ``assert`` failed on, from a kernel's traceback (``---> 25 assert ...``)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(traceback))
    marked = re.findall(r"^-+> *\d+ (.*)$", plain, re.M)
    return f"at `{marked[-1].strip()}`" if marked else ""


def run_chapter(name: str, overrides: dict[str, str], progress: bool | None = None) -> Path:
    """Run chapter ``name`` with papermill, parameters ``overrides`` (strings, checked first). The
    progress bar shows on a terminal only (``progress=None``), so a log holds only what the run says.
    The run's figures go to :func:`run_figures_dir`, not over the book's own."""
    progress = sys.stderr.isatty() if progress is None else progress
    chapter = chapter_path(name)
    parameters = parse_overrides(name, overrides)
    check_parameters(name, parameters)
    import papermill  # after the checks: it takes a second to import, and a refusal needs none of it

    from avc.cli.kernels import AsyncPrivateSocketKernelManager

    absolute_path_variables()
    RUNS_DIR.mkdir(exist_ok=True)
    output = output_path(name, parameters)
    try:
        with environment(AVC_FIGURES_DIR=str(run_figures_dir(output))):
            papermill.execute_notebook(
                str(chapter),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(BOOK_DIR),
                extra_arguments=["--log-level=ERROR"],  # the kernel's start-up warnings are not the chapter's
                kernel_manager_class=AsyncPrivateSocketKernelManager,  # no port to lose to a local server
            )
    except papermill.PapermillExecutionError as err:
        where = os.path.relpath(output)
        message = f"{err.ename}: {err.evalue or failing_line(err.traceback)} (the traceback is in {where})"
        raise ChapterFailed(message, exit_code=2 if err.ename == "ParameterError" else 1) from err
    return output


def add_list_command(sub, name: str) -> None:
    parser = sub.add_parser(name, help="list the chapters and their parameters")
    parser.set_defaults(handler=_list)


def _list(args) -> int:
    for name in chapters():
        print(name)
        for key, spec in chapter_parameters(name).items():
            print(f"    {key} = {spec['default']!r}  ({spec['type']}) {spec['help']}")
    return 0


def add_run_command(sub, name: str) -> None:
    parser = sub.add_parser(name, help="run one chapter with papermill")
    parser.add_argument("chapter")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    parser.set_defaults(handler=_run)


def _run(args) -> int:
    try:
        output = run_chapter(args.chapter, dict(args.parameter))
    except ParameterError as err:
        raise _refused(err) from err
    except ChapterFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    for line in summary_lines(output):
        print(line)
    figures = run_figures_dir(output)
    if figures.is_dir():
        print(f"figures (SVG) written to {os.path.relpath(figures)}")
    print(f"executed notebook written to {os.path.relpath(output)}")
    return 0
