"""Whether ``_build/html`` is the strict build of exactly the current sources.

``scripts/build_book.sh`` writes a stamp into ``_build/html`` after a build that passed (``-W``,
notebook errors fatal). The stamp is a SHA-256 of everything the pages are made from:

- every file of the repository that git tracks or would track (``git ls-files --cached
  --others --exclude-standard``: chapters, ``_config.yml``, ``_toc.yml``, ``_ext/``,
  ``_static/``, ``src/avc``, ``data/``, ...), by content;
- the executed chapters the pages render (``executed/*/base.ipynb`` in the execution cache of
  the current inputs, :mod:`execution_cache`), by content, and that cache's inputs hash;
- the arguments given to the build command.

``scripts/test.sh`` builds the book only when the stamp does not match: right after command 1,
with nothing changed, building again would render the same pages from the same files, so the
test command goes straight to the checks of the built pages. A fresh clone has no stamp.
Outside a git work tree there is no stamp either (the book is always built).

    python scripts/build_stamp.py write [build arguments...]
    python scripts/build_stamp.py check [build arguments...]   # exit 0: up to date
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import execution_cache

REPO_ROOT = execution_cache.REPO_ROOT
STAMP = REPO_ROOT / "_build" / "html" / ".avc-build-stamp"


def _source_files(root: Path) -> list[Path] | None:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    names = sorted({name for name in listed.decode().split("\0") if name})
    return [root / name for name in names]


def stamp(arguments: list[str], root: Path | None = None, cache: Path | None = None) -> str | None:
    """The stamp of the sources in ``root`` (by default the repository) and the executed chapters
    in ``cache`` (by default the execution cache of the current inputs); None outside a git work
    tree."""
    root = root or REPO_ROOT
    files = _source_files(root)
    if files is None:
        return None
    digest = hashlib.sha256()

    def feed(label: str, payload: bytes) -> None:
        digest.update(label.encode() + b"\0" + hashlib.sha256(payload).digest())

    for path in files:
        # a file deleted but still in the index is part of the state too
        feed(path.relative_to(root).as_posix(), path.read_bytes() if path.is_file() else b"<absent>")
    cache = cache or execution_cache.cache_path()
    feed("execution inputs", cache.name.encode())
    for executed in sorted(cache.glob("executed/*/base.ipynb")):
        feed(executed.relative_to(cache).as_posix(), executed.read_bytes())
    feed("arguments", "\0".join(arguments).encode())
    return digest.hexdigest()


def write(arguments: list[str]) -> None:
    value = stamp(arguments)
    if value is not None and STAMP.parent.is_dir():
        STAMP.write_text(value + "\n")


def matches(arguments: list[str]) -> bool:
    value = stamp(arguments)
    return value is not None and STAMP.is_file() and STAMP.read_text().strip() == value


if __name__ == "__main__":
    command, arguments = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "write":
        write(arguments)
    elif command == "check":
        sys.exit(0 if matches(arguments) else 1)
    else:
        sys.exit("usage: python scripts/build_stamp.py write|check [build arguments...]")
