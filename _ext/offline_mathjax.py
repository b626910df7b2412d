"""Serve MathJax 3 from the built book instead of a CDN, so equations render offline.

The MathJax files come from the PyPI package ``sphinx-mathjax-offline`` (MathJax 3.2.2,
Apache-2.0), pinned in requirements.txt. This extension sets Sphinx's ``mathjax_path`` to the
local copy and copies the files into ``_build/html/_static/mathjax`` after a successful build.
A missing package is an error (not a silent fall-back to the CDN).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

DISTRIBUTION = "sphinx-mathjax-offline"
ENTRY = "tex-chtml.js"  # TeX input, CommonHTML output: what Sphinx's default CDN build loads


def mathjax_dir() -> Path:
    """The folder of the installed MathJax 3 copy (the one holding ``tex-chtml.js``)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise ExtensionError(
            f"{DISTRIBUTION} is not installed: it serves MathJax to the offline book "
            "(install requirements.lock, e.g. by running scripts/build_book.sh)"
        ) from err
    for file in dist.files or []:
        if file.name == ENTRY and file.parent.name == "mathjax":
            return Path(dist.locate_file(file)).parent
    raise ExtensionError(f"{DISTRIBUTION} holds no mathjax/{ENTRY}")


def _set_path(app) -> None:
    mathjax_dir()  # fail early, before any page is written
    app.config.mathjax_path = f"mathjax/{ENTRY}"


def _copy(app, exc) -> None:
    if exc is None and app.builder.format == "html":
        copy_asset(str(mathjax_dir()), str(Path(app.outdir) / "_static" / "mathjax"))


def setup(app):
    app.connect("builder-inited", _set_path)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
