"""The executed-chapter cache is keyed on everything a chapter's outputs depend on."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import execution_cache  # noqa: E402


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "src" / "avc").mkdir(parents=True)
    (root / "data" / "panels").mkdir(parents=True)
    (root / "src" / "avc" / "model.py").write_text("X = 1\n")
    (root / "data" / "panels" / "ethics.csv").write_text("a,b\n1,2\n")
    (root / "requirements.lock").write_text("numpy==2.0.0\n")
    datasets = tmp_path / "datasets"
    (datasets / "movielens").mkdir(parents=True)
    (datasets / "movielens" / "ratings.csv").write_text("1,2,3\n")
    monkeypatch.setattr(execution_cache, "REPO_ROOT", root)
    monkeypatch.setenv("AVC_DATA_DIR", str(datasets))
    return root, datasets


@pytest.mark.parametrize("change", ["src", "data", "lock", "datasets", "env", "new_module"])
def test_any_input_changes_the_key(repo, monkeypatch, change):
    root, datasets = repo
    before = execution_cache.inputs_hash()
    assert execution_cache.inputs_hash() == before  # deterministic
    if change == "src":
        (root / "src" / "avc" / "model.py").write_text("X = 2\n")
    elif change == "data":
        (root / "data" / "panels" / "ethics.csv").write_text("a,b\n1,3\n")
    elif change == "lock":
        (root / "requirements.lock").write_text("numpy==2.0.1\n")
    elif change == "datasets":
        (datasets / "movielens" / "ratings.csv").write_text("1,2,3\n4,5,6\n")
    elif change == "env":
        monkeypatch.setenv("AVC_LLM_GGUF", "/models/other.gguf")
    elif change == "new_module":
        (root / "src" / "avc" / "extra.py").write_text("")
    assert execution_cache.inputs_hash() != before


def test_bytecode_and_checkpoints_do_not_change_the_key(repo):
    root, _ = repo
    before = execution_cache.inputs_hash()
    (root / "src" / "avc" / "__pycache__").mkdir()
    (root / "src" / "avc" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    assert execution_cache.inputs_hash() == before


def test_link_points_the_build_cache_at_the_keyed_folder(repo, monkeypatch, tmp_path):
    root, _ = repo
    monkeypatch.setattr(execution_cache, "CACHE_ROOT", root / "_build" / "jupyter-cache")
    monkeypatch.setattr(execution_cache, "CACHE_LINK", root / "_build" / ".jupyter_cache")
    first = execution_cache.link()
    assert (root / "_build" / ".jupyter_cache").resolve() == first.resolve()
    (root / "src" / "avc" / "model.py").write_text("X = 3\n")
    second = execution_cache.link()
    assert second != first and (root / "_build" / ".jupyter_cache").resolve() == second.resolve()


def test_a_stored_execution_with_an_error_or_an_unrun_cell_is_reported():
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    clean = new_notebook(
        cells=[
            new_markdown_cell("# t"),
            new_code_cell("x = 1", execution_count=1),
            new_code_cell(
                "print(x)", execution_count=2, outputs=[new_output("stream", name="stdout", text="1\n")]
            ),
        ]
    )
    assert execution_cache.stored_execution_problems(clean) == []
    broken = nbformat.from_dict(clean)
    broken.cells[2].outputs = [
        new_output("error", ename="AssertionError", evalue="bound failed", traceback=[])
    ]
    broken.cells[1].execution_count = None
    assert execution_cache.stored_execution_problems(broken) == [
        "Cell 0 was not executed",
        "Cell 1 raised AssertionError: bound failed",
    ]
