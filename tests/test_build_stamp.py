"""The test command skips the book build only when _build/html was built from exactly the current
sources and executed chapters (scripts/build_stamp.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import build_stamp  # noqa: E402


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    (root / "book" / "b_model.ipynb").write_text("{}")
    (root / "_config.yml").write_text("title: t\n")
    (root / ".gitignore").write_text("_build/\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    cache = tmp_path / "cache"
    (cache / "executed" / "abc").mkdir(parents=True)
    (cache / "executed" / "abc" / "base.ipynb").write_text('{"outputs": 1}')
    return root, cache


CHANGES = {
    "edited chapter": lambda root, cache: (root / "book" / "b_model.ipynb").write_text('{"x": 1}'),
    "new untracked page": lambda root, cache: (root / "book" / "new.md").write_text("# new"),
    "deleted config": lambda root, cache: (root / "_config.yml").unlink(),
    "chapter executed again": lambda root, cache: (cache / "executed" / "abc" / "base.ipynb").write_text(
        "{}"
    ),
    "another chapter executed": lambda root, cache: (
        (cache / "executed" / "def").mkdir(),
        (cache / "executed" / "def" / "base.ipynb").write_text("{}"),
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_to_what_the_pages_are_made_of_changes_the_stamp(repo, change):
    root, cache = repo
    before = build_stamp.stamp([], root=root, cache=cache)
    assert before is not None and before == build_stamp.stamp([], root=root, cache=cache)
    CHANGES[change](root, cache)
    assert build_stamp.stamp([], root=root, cache=cache) != before


def test_ignored_files_and_build_outputs_do_not_change_it_but_build_arguments_do(repo):
    root, cache = repo
    before = build_stamp.stamp([], root=root, cache=cache)
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("<html>")
    assert build_stamp.stamp([], root=root, cache=cache) == before
    assert build_stamp.stamp(["--builder", "dirhtml"], root=root, cache=cache) != before


def test_outside_a_git_work_tree_there_is_no_stamp(tmp_path):
    (tmp_path / "book").mkdir()
    assert build_stamp.stamp([], root=tmp_path / "book", cache=tmp_path) is None


def test_a_missing_or_different_stamp_file_means_build_again(repo, monkeypatch, tmp_path):
    root, cache = repo
    monkeypatch.setattr(build_stamp, "REPO_ROOT", root)
    monkeypatch.setattr(build_stamp.execution_cache, "cache_path", lambda: cache)
    stamp_file = root / "_build" / "html" / ".avc-build-stamp"
    monkeypatch.setattr(build_stamp, "STAMP", stamp_file)
    assert not build_stamp.matches([])  # no build yet
    stamp_file.parent.mkdir(parents=True)
    build_stamp.write([])
    assert build_stamp.matches([])
    (root / "book" / "b_model.ipynb").write_text('{"edited": true}')
    assert not build_stamp.matches([])
