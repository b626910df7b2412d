"""Every exercise works as written (issue 27, point 5): the convention below, and each solution
applied to its chapter and checked.

The convention. An exercise is a sphinx-exercise block labelled ``ex-<chapter letter><n>``
(``ex-b1``; the introduction's letter is ``a``) with a ``{solution} ex-b1`` block. The solution
holds exactly two fenced ```` ```python ```` blocks:

1. the change a student makes, run right after the code cell tagged ``exercise-<letter><n>``
   (``exercise-b1`` for ``ex-b1``);
2. a block whose first line is ``# check``, with the asserts that check the number the exercise
   states, run right after the code cell tagged ``exercise-<letter><n>-check`` (or, when no
   cell has that tag, right after the change). The notebook is cut after it.

:func:`exercise_notebook` builds that notebook from the chapter; the heavy test runs it with
the chapter's default parameters, from a temporary folder, in the warm kernel
(``tests/warm_kernel.py``): the exercise notebooks of one chapter are run together, the cells they
share once, each change and what follows it in its own fork of that state.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from warm_kernel import Branch

from avc.paths import REPO_ROOT

BOOK = REPO_ROOT / "book"
CHAPTERS = sorted(p for p in BOOK.glob("*.ipynb") if p.stem != "status")
LETTERS = {"intro": "a"}
# Chapters whose exercises do not follow the convention yet: a chapter leaves this set when they do.
EXERCISES_PENDING: set[str] = set()

MARKDOWN = MarkdownIt("commonmark").use(colon_fence_plugin)
DIRECTIVE = re.compile(r"\{(exercise|solution)\}\s*(\S*)")


def letter(chapter: str) -> str:
    return LETTERS.get(chapter, chapter[0])


@dataclass
class Exercise:
    chapter: str
    label: str
    has_exercise: bool = False
    solution: str | None = None  # the solution block's body, None when there is none

    def python_blocks(self) -> list[str]:
        if self.solution is None:
            return []
        return [
            t.content
            for t in MARKDOWN.parse(self.solution)
            if t.type == "fence" and t.info.strip() == "python"
        ]


def directives(source: str):
    """(kind, argument, body) of each {exercise} and {solution} block, fenced with backticks or
    colons, anywhere in a markdown cell."""
    for token in MARKDOWN.parse(source):
        if token.type not in ("fence", "colon_fence"):
            continue
        match = DIRECTIVE.match(token.info.strip())
        if match:
            yield match[1], match[2], token.content
        else:
            yield from directives(token.content) if token.info.strip().startswith("{") else ()


def exercises(path: Path) -> dict[str, Exercise]:
    """The chapter's exercises by label (an exercise without a label is listed under '')."""
    notebook = nbformat.read(path, as_version=4)
    found: dict[str, Exercise] = {}
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for kind, argument, body in directives(cell.source):
            if kind == "exercise":
                label = re.search(r"^:label:\s*(\S+)", body, flags=re.M)
                label = label[1] if label else ""
                found.setdefault(label, Exercise(path.stem, label)).has_exercise = True
            else:
                found.setdefault(argument, Exercise(path.stem, argument)).solution = body
    return found


def tag(label: str) -> str:
    """The cell tag of exercise ``label``: ``exercise-b1`` for ``ex-b1``."""
    return "exercise-" + label.removeprefix("ex-")


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def problems(path: Path) -> list[str]:
    """What breaks the convention in one chapter (empty when it is followed)."""
    notebook = nbformat.read(path, as_version=4)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    found = exercises(path)
    pattern = re.compile(rf"ex-{letter(path.stem)}\d+")
    out = []
    for label, ex in found.items():
        if not pattern.fullmatch(label):
            out.append(f"label {label!r} is not ex-{letter(path.stem)}<n>")
            continue
        if not ex.has_exercise:
            out.append(f"{label}: a solution without an exercise")
        if ex.solution is None:
            out.append(f"{label}: no {{solution}} block")
            continue
        if ":class: dropdown" not in ex.solution:
            out.append(f"{label}: the solution is not a dropdown")
        blocks = ex.python_blocks()
        if len(blocks) != 2:
            out.append(f"{label}: the solution has {len(blocks)} python blocks, not 2")
            continue
        change, check = blocks
        if not check.startswith("# check"):
            out.append(f"{label}: the second python block does not start with '# check'")
        if not any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(check))):
            out.append(f"{label}: the check asserts nothing")
        if not [n for n in ast.parse(change).body if not isinstance(n, ast.Pass | ast.Expr)]:
            out.append(f"{label}: the change binds no name (it does nothing a later cell can see)")
        at = [i for i in code if tag(label) in tags(notebook.cells[i])]
        check_at = [i for i in code if f"{tag(label)}-check" in tags(notebook.cells[i])]
        if len(at) != 1:
            out.append(f"{label}: {len(at)} code cells tagged {tag(label)}, not 1")
        if len(check_at) > 1 or (at and check_at and check_at[0] < at[0]):
            out.append(f"{label}: the cell tagged {tag(label)}-check must be one, after the change")
    return out


def exercise_notebook(path: Path, label: str):
    """The chapter cut after the check of exercise ``label``: its cells up to the cell tagged
    ``exercise-<letter><n>``, the change, the cells up to the one tagged
    ``exercise-<letter><n>-check`` (if any), the check."""
    notebook = nbformat.read(path, as_version=4)
    change, check = exercises(path)[label].python_blocks()
    cells, inserted = [], False
    check_tag = f"{tag(label)}-check"
    has_check_cell = any(check_tag in tags(c) for c in notebook.cells)
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        if tag(label) in tags(cell):
            cells.append(nbformat.v4.new_code_cell(change, metadata={"tags": [f"solution-{label}"]}))
            inserted = True
        if inserted and (check_tag in tags(cell) or not has_check_cell):
            break
    cells.append(nbformat.v4.new_code_cell(check, metadata={"tags": [f"check-{label}"]}))
    notebook.cells = cells
    return notebook


def all_exercises():
    for path in CHAPTERS:
        for label, ex in exercises(path).items():
            if re.fullmatch(rf"ex-{letter(path.stem)}\d+", label) and len(ex.python_blocks()) == 2:
                # a chapter's exercises run together, so on one test worker
                yield pytest.param(
                    path, label, id=label, marks=pytest.mark.xdist_group(f"{path.stem}-exercises")
                )


def test_pending_chapters_are_chapters():
    assert EXERCISES_PENDING <= {p.stem for p in CHAPTERS}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_follow_the_convention(path):
    broken = problems(path)
    if path.stem in EXERCISES_PENDING:
        if not broken:
            pytest.fail(f"{path.stem}'s exercises follow the convention: remove it from EXERCISES_PENDING")
        pytest.xfail(f"{path.stem} not yet converted: " + "; ".join(broken))
    assert not broken, f"{path.name}: " + "; ".join(broken)


def test_exercise_notebook_is_cut_after_the_check():
    """The builder on a synthetic chapter: change after its cell, check after the check cell,
    nothing after."""
    import tempfile

    nb = nbformat.v4.new_notebook()
    solution = (
        "```{exercise}\n:label: ex-z1\n\nSet `n = 2`; then `m == 4`.\n```\n\n"
        "````{solution} ex-z1\n:class: dropdown\n\n```python\nn = 2\n```\n\n"
        "```python\n# check\nassert m == 4\n```\n````\n"
    )
    nb.cells = [
        nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters", "exercise-z1"]}),
        nbformat.v4.new_code_cell("m = n * 2", metadata={"tags": ["exercise-z1-check"]}),
        nbformat.v4.new_code_cell("raise RuntimeError('after the cut')"),
        nbformat.v4.new_markdown_cell(solution),
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "z_synthetic.ipynb"
        nbformat.write(nb, path)
        assert problems(path) == []
        built = exercise_notebook(path, "ex-z1")
    assert [c.source for c in built.cells] == ["n = 1", "n = 2\n", "m = n * 2", "# check\nassert m == 4\n"]
    namespace: dict = {}
    for cell in built.cells:
        exec(cell.source, namespace)
    assert namespace["m"] == 4


def exercise_branch(path: Path, label: str) -> Branch:
    notebook = exercise_notebook(path, label)
    return Branch.of_notebook(label, notebook)


_CHAPTER_RUNS: dict[Path, tuple[dict, dict]] = {}  # path -> (branches, results) by label


def chapter_exercise_runs(path: Path, kernel, folder: Path) -> tuple[dict, dict]:
    """Every exercise notebook of the chapter, run once per test worker in the warm kernel."""
    if path not in _CHAPTER_RUNS:
        labels = [p.values[1] for p in all_exercises() if p.values[0] == path]
        branches = {label: exercise_branch(path, label) for label in labels}
        results = kernel.run(list(branches.values()), folder, timeout=280)
        _CHAPTER_RUNS[path] = branches, results
    return _CHAPTER_RUNS[path]


@pytest.mark.heavy
@pytest.mark.parametrize("path, label", list(all_exercises()))
def test_solution_passes_its_check(path, label, warm_kernel, tmp_path_factory):
    """The chapter, with the solution's change applied, runs up to the check and the check holds
    (the message names the cell that raised otherwise)."""
    assert path.stem in EXERCISES_PENDING or not problems(path), problems(path)
    folder = tmp_path_factory.mktemp(f"{path.stem}-exercises", numbered=True)
    branches, results = chapter_exercise_runs(path, warm_kernel, folder)
    result = results[label]
    assert result.ok, result.failure(branches[label])
    assert result.cells_run == len(branches[label].cells)


def test_a_wrong_solution_fails_its_check(warm_kernel, tmp_path):
    """The runner can fail: I's first exercise with its change undone, and with its check's
    number changed, fail at the check; the untouched branch passes beside them."""
    path = BOOK / "i_oblivious.ipynb"
    label = sorted(p.values[1] for p in all_exercises() if p.values[0] == path)[0]
    right = exercise_branch(path, label)
    change = exercises(path)[label].python_blocks()[0]
    no_change = Branch("no change", [c for c in right.cells if c != change])
    assert len(no_change.cells) == len(right.cells) - 1
    wrong_check = Branch("wrong check", right.cells[:-1] + [right.cells[-1] + "\nassert False, 'changed'"])
    results = warm_kernel.run([right, no_change, wrong_check], tmp_path)
    assert results[right.id].ok, results[right.id].failure(right)
    assert not results["no change"].ok
    assert results["no change"].failed_cell == len(no_change.cells) - 1  # the check
    assert not results["wrong check"].ok
    assert results["wrong check"].failed_cell == len(right.cells) - 1
    assert "AssertionError: changed" in results["wrong check"].error
