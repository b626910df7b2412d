"""The cache of executed chapters, shared by the book build and nbval.

A chapter's executed outputs depend on its code cells *and* on everything it imports or
reads: the package ``src/avc``, the project's ``data/``, the datasets in ``AVC_DATA_DIR``, the
locked library versions and the Python version. jupyter-cache keys each notebook on its code
cells only, so the folder that holds the cache is named after a hash of all the rest
(:func:`inputs_hash`): after any change to ``src/avc`` or ``data/`` the build and nbval find an
empty cache and execute every chapter again; with nothing changed, a chapter executed once (by
the build or by nbval) is reused by both.

    python scripts/execution_cache.py link   # point _build/.jupyter_cache at the current cache

``_config.yml`` names ``_build/.jupyter_cache`` as the build's cache; ``link`` makes it a
symbolic link to ``_build/jupyter-cache/<inputs hash>``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO_ROOT / "_build" / "jupyter-cache"
CACHE_LINK = REPO_ROOT / "_build" / ".jupyter_cache"
HASHED_TREES = ("src/avc", "data")
HASHED_FILES = ("requirements.lock", "requirements.txt", "pyproject.toml")
NOT_INPUTS = {"AVC_TEST_WORKERS", "AVC_NBVAL_FRESH", "AVC_REQUIRE_HTML", "AVC_VENV"}
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def _files(root: Path):
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIPPED_PARTS.intersection(path.parts) and path.suffix != ".pyc":
            yield path


def _dataset_dir() -> Path | None:
    """Where the chapters find MovieLens and ETHICS (AVC_DATA_DIR, else the download cache)."""
    if os.environ.get("AVC_DATA_DIR"):
        return Path(os.environ["AVC_DATA_DIR"]).expanduser()
    sys.path.insert(0, str(REPO_ROOT / "src"))
    try:
        from avc.paths import cache_dir

        return cache_dir()
    except Exception:  # noqa: BLE001 - without pooch there is no download cache either
        return None
    finally:
        sys.path.pop(0)


def inputs_hash() -> str:
    """SHA-256 (first 16 hex digits) of everything a chapter's outputs depend on besides its cells."""
    digest = hashlib.sha256()

    def feed(label: str, payload: bytes) -> None:
        digest.update(label.encode() + b"\0" + hashlib.sha256(payload).digest())

    feed("python", platform.python_version().encode())
    for rel in HASHED_FILES:
        path = REPO_ROOT / rel
        feed(rel, path.read_bytes() if path.exists() else b"<absent>")
    for tree in HASHED_TREES:
        for path in _files(REPO_ROOT / tree):
            feed(path.relative_to(REPO_ROOT).as_posix(), path.read_bytes())
    # The datasets are large and checked by SHA-256 when loaded: their names and sizes suffice.
    data = _dataset_dir()
    listing = [f"{p.relative_to(data).as_posix()} {p.stat().st_size}" for p in _files(data)] if data else []
    feed("datasets", "\n".join(listing).encode())
    # Environment variables of the package (which model file, which data folder, ...), not those
    # that only steer the tests and the scripts (how many workers, which virtual environment)
    feed(
        "environment",
        "\n".join(
            f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("AVC_") and k not in NOT_INPUTS
        ).encode(),
    )
    return digest.hexdigest()[:16]


def stored_execution_problems(notebook) -> list[str]:
    """What is wrong with an executed notebook read from the cache: code cells that did not
    run, and cells that raised (an empty list for a clean execution)."""
    problems = []
    for number, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        if not cell.source.strip():
            continue
        if cell.get("execution_count") is None and not cell.get("outputs"):
            problems.append(f"Cell {number} was not executed")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"Cell {number} raised {output.get('ename')}: {output.get('evalue')}")
    return problems


def cache_path() -> Path:
    """The cache folder for the current inputs (not created)."""
    return CACHE_ROOT / inputs_hash()


def link() -> Path:
    """Point ``_build/.jupyter_cache`` at :func:`cache_path` (creating it); returns the target."""
    target = cache_path()
    target.mkdir(parents=True, exist_ok=True)
    if CACHE_LINK.is_symlink() or CACHE_LINK.is_file():
        CACHE_LINK.unlink()
    elif CACHE_LINK.is_dir():  # a real folder left by an older build: it is keyed on nothing
        import shutil

        shutil.rmtree(CACHE_LINK)
    CACHE_LINK.symlink_to(target.relative_to(CACHE_LINK.parent), target_is_directory=True)
    return target


if __name__ == "__main__":
    if sys.argv[1:] == ["link"]:
        print(link())
    elif sys.argv[1:] == ["hash"]:
        print(inputs_hash())
    else:
        sys.exit("usage: python scripts/execution_cache.py link|hash")
