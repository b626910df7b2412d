"""The committed notebooks: stripped of outputs, one parameters cell each, and runnable by
papermill with tiny parameters from any working directory."""

import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from avc.chapter.text import OUTPUT_WIDTH
from avc.paths import REPO_ROOT

BOOK = REPO_ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.glob("*.ipynb"))
SMOKE_PARAMETERS = {
    stem: params
    for stem, params in json.loads((Path(__file__).parent / "smoke_parameters.json").read_text()).items()
    if not stem.startswith("_")
}
SMOKE_OUTPUT = REPO_ROOT / "_build" / "papermill-smoke"


def parameter_cells(notebook) -> list:
    return [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def test_there_are_notebooks():
    expected = {
        "intro",
        "b_model",
        "c_competition",
        "d_quantal",
        "e_selection",
        "f_experiments",
        "g_market",
        "h_noisy_agents",
        "i_oblivious",
        "status",
    }
    assert expected <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_one_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run nbstripout {path} before committing"
    assert len(parameter_cells(notebook)) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_page(path):
    """A code line wider than the box runs off the right edge of the rendered page (the box
    shows OUTPUT_WIDTH monospace characters; tests/test_html.py measures it)."""
    notebook = nbformat.read(path, as_version=4)
    wide = [
        f"cell {i}: {line[:60]}... ({len(line)} characters)"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > OUTPUT_WIDTH
    ]
    assert not wide, f"{path.name}: code lines over {OUTPUT_WIDTH} characters:\n" + "\n".join(wide)


def test_every_smoke_entry_names_a_notebook():
    assert set(SMOKE_PARAMETERS) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.heavy
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_smoke_run(path, tmp_path, monkeypatch):
    parameters = SMOKE_PARAMETERS.get(path.stem, {})
    declared = set(papermill.inspect_notebook(str(path)))
    unknown = set(parameters) - declared
    assert not unknown, (
        f"smoke parameters {unknown} are not in {path.name}'s parameters cell ({sorted(declared)})"
    )
    # papermill runs in the caller's directory: run from an unrelated one to prove that
    # the chapter resolves its paths through avc, not through the working directory.
    monkeypatch.chdir(tmp_path)
    SMOKE_OUTPUT.mkdir(parents=True, exist_ok=True)
    output = SMOKE_OUTPUT / path.name
    papermill.execute_notebook(
        str(path), str(output), parameters=parameters, kernel_name="python3", progress_bar=False
    )
    executed = nbformat.read(output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert (len(injected) == 1) == bool(parameters)


# Parameters checked elsewhere than by a check_* call of avc.cli in the chapter, and why
CHECKED_ELSEWHERE = {
    ("f_experiments", "n_items"): "live.check_n_items",
    ("f_experiments", "max_calls"): "live.score_live_many refuses a negative or non-integer max_calls",
    ("status", "packages"): "any list of names: one that is not installed is listed as such",
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_numeric_parameter_is_checked_before_any_work(path):
    """A value a chapter cannot use (0 games, a negative noise) is refused with a message that
    names the parameter, not met by an error deep inside the computation."""
    from avc.chapter.params import chapter_parameters

    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    unchecked = [
        name
        for name, spec in chapter_parameters(path.stem).items()
        if name != "seed"
        and (path.stem, name) not in CHECKED_ELSEWHERE
        and isinstance(spec["default"], (int, float, list))
        and not isinstance(spec["default"], bool)
        and not re.search(rf'check_\w+\(\s*"{re.escape(name)}",\s*{re.escape(name)}\b', code)
        and not re.search(rf"\bfor \w+ in {re.escape(name)}:\s*\n(\s+check_\w+\(.*\n)+", code)
    ]
    assert not unchecked, f"{path.name}: no check_* call for the parameters {unchecked}"
