"""Where things live: resolved from this file, never from the working directory.

papermill runs a notebook in the caller's directory while nbval and jupyter-book run it
in ``book/``; every path the book needs is therefore computed here.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]
"""The repository root (valid for the editable install ``pip install -e .``)."""

PROJECT_DATA_DIR = REPO_ROOT / "data"
"""Small files the project makes itself (recorded agent scores, prompts)."""


def cache_dir() -> Path:
    """Folder for downloaded third-party datasets.

    ``AVC_CACHE_DIR`` wins when set; otherwise the user cache of the platform
    (for example ``~/.cache/avc`` on Linux).
    """
    override = os.environ.get("AVC_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(import_pooch().os_cache("avc"))


def import_pooch():
    """pooch, imported without the warning box it would leave on a notebook's page.

    pooch imports ``tqdm.auto``, which warns "IProgress not found" inside a Jupyter kernel
    that has no ipywidgets. The book never shows pooch's progress bar
    (``progressbar=False``), so the warning would only print a stderr box with a local path.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import pooch
    return pooch


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in blocks (files of gigabytes are fine)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
