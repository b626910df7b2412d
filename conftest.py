"""Execute each chapter once, for the book build and for nbval together.

The book build (jupyter-book, ``execute_notebooks: cache``) and nbval share one jupyter-cache
folder, named after a hash of ``src/avc``, ``data/``, the datasets and the locked environment
(``scripts/execution_cache.py``); jupyter-cache itself matches each notebook on its code cells.

- When nbval executes a chapter and every cell passes, the executed notebook is stored in that
  cache, so the build that follows renders it without executing it again.
- When the cache already holds this exact chapter for these exact inputs (the build, or an
  earlier nbval run, executed it without error), nbval's per-cell items for it are replaced by
  one item, ``<chapter>.ipynb::executed``, that checks the stored execution: every code cell
  ran and none raised. Nothing is executed a second time.

``AVC_NBVAL_FRESH=1`` turns the reuse off (nbval executes every chapter, and still stores it).
"""

from __future__ import annotations

import fcntl
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent
BOOK = REPO_ROOT / "book"
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import execution_cache  # noqa: E402

LANGUAGE_INFO = {
    "name": "python",
    "version": platform.python_version(),
    "mimetype": "text/x-python",
    "file_extension": ".py",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "pygments_lexer": "ipython3",
    "nbconvert_exporter": "python",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "heavy: takes several seconds here (a chapter in a kernel, a child process, a large "
        "sample); scheduled first, so that the two workers of scripts/test.sh finish together",
    )
    if _nbval_on(config):
        _kernels_on_private_sockets()


def _kernels_on_private_sockets() -> None:
    """nbval's kernels talk over Unix sockets in a folder of their own (avc.cli.kernels), as
    ``avc run``'s do. Over TCP, a port that jupyter_client picked and released can be taken
    before the kernel binds it, here by the live tests' servers and their many client
    connections on the other worker: the kernel dies at start or prints a heartbeat traceback
    ("Address already in use"), a known race under pytest-xdist."""
    import nbval.kernel

    from avc.cli.kernels import PrivateSocketKernelManager

    nbval.kernel.KernelManager = PrivateSocketKernelManager


def _nbval_on(config) -> bool:
    return bool(getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False))


@contextmanager
def _locked_cache():
    """The jupyter-cache of the current inputs, held under a file lock (two xdist workers)."""
    from jupyter_cache import get_cache

    folder = execution_cache.cache_path()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield get_cache(str(folder))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cached_record(path: Path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    with _locked_cache() as cache:
        try:
            record = cache.match_cache_notebook(notebook)
        except KeyError:
            return None
        return record.pk, cache.get_cache_bundle(record.pk).nb, record.data or {}


class CachedExecution(pytest.Item):
    """nbval's verdict on a chapter, read from the execution stored for the current inputs."""

    def __init__(self, *, pk, notebook, data, **kwargs):
        super().__init__(**kwargs)
        self.pk, self.notebook, self.data = pk, notebook, data

    def runtest(self):
        problems = execution_cache.stored_execution_problems(self.notebook)
        if problems:
            raise AssertionError(
                f"{self.path.name}: the stored execution (cache record {self.pk}) is not clean:\n"
                + "\n".join(problems)
            )

    def reportinfo(self):
        seconds = self.data.get("execution_seconds")
        took = f", executed in {seconds:.1f} s" if seconds else ""
        return self.path, None, f"{self.path.name}: reused execution (cache record {self.pk}{took})"


class CachedNotebook(pytest.File):
    def __init__(self, *, record, **kwargs):
        super().__init__(**kwargs)
        self.record = record

    def collect(self):
        pk, notebook, data = self.record
        yield CachedExecution.from_parent(self, name="executed", pk=pk, notebook=notebook, data=data)


def pytest_collect_file(file_path: Path, parent):
    config = parent.config
    if file_path.suffix != ".ipynb" or not _nbval_on(config) or os.environ.get("AVC_NBVAL_FRESH") == "1":
        return None
    if file_path.parent != BOOK:
        return None
    record = _cached_record(file_path)
    if record is None:
        return None
    config.stash.setdefault(_REUSED, set()).add(file_path)
    return CachedNotebook.from_parent(parent, path=file_path, record=record)


_REUSED = pytest.StashKey[set]()
_FAILED = pytest.StashKey[set]()
_STARTED = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    reused = config.stash.get(_REUSED, set())
    if reused:
        items[:] = [
            i
            for i in items
            if isinstance(i, CachedExecution)
            or Path(i.path) not in reused
            or not type(i).__name__ == "IPyNbCell"
        ]
    # With pytest-xdist (--dist loadgroup) the cells of one notebook share a kernel, so they
    # must run on one worker; every other test is spread over the workers one by one.
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.xdist_group(name=Path(item.path).name))
    # Longest first: the tests marked heavy (a chapter in a kernel, a child process) go to the
    # front, so the short ones fill the tail and neither worker waits on a late long test. A
    # stable sort: within each kind the collection order is kept.
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and Path(item.path).parent == BOOK


def pytest_runtest_setup(item):
    if _is_nbval_cell(item):
        item.config.stash.setdefault(_STARTED, {}).setdefault(Path(item.path), time.perf_counter())


def pytest_runtest_logreport(report):
    if report.failed and "::Cell " in report.nodeid:
        _failed_files.add(report.nodeid.split("::")[0])


_failed_files: set[str] = set()


def pytest_runtest_teardown(item, nextitem):
    """After the last cell of a chapter that nbval executed without a failure: store it."""
    if not _is_nbval_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    nodeid_file = item.nodeid.split("::")[0]
    if nodeid_file in _failed_files:
        return
    nbfile = item.parent
    executed = {}
    for sibling in item.session.items:
        if sibling.parent is nbfile:
            if sibling.test_outputs is None:  # a cell that did not run: store nothing
                return
            executed[id(sibling.cell)] = sibling.test_outputs
    import copy

    import nbformat
    from jupyter_cache.base import CacheBundleIn

    notebook = copy.deepcopy(nbfile.nb)
    count = 0
    for cell, original in zip(notebook.cells, nbfile.nb.cells):
        if cell.cell_type != "code":
            continue
        if id(original) not in executed:
            return
        count += 1
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(o)) for o in executed[id(original)]]
        for output in cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
    notebook.metadata["language_info"] = LANGUAGE_INFO
    started = item.config.stash.get(_STARTED, {}).get(Path(item.path), time.perf_counter())
    with _locked_cache() as cache:
        cache.cache_notebook_bundle(
            CacheBundleIn(
                notebook,
                str(item.path),
                data={"execution_seconds": time.perf_counter() - started, "executed_by": "nbval"},
            ),
            check_validity=False,
            overwrite=True,
        )
