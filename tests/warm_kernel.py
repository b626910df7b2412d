"""Run notebooks in forked children of one warm Python process: the test suite's kernel.

A papermill run pays, before its first cell, for a kernel (a new process, ZeroMQ, IPython) and
for the chapter's imports (numpy, scipy, pandas, matplotlib, avc): about 5 s of its 8 s for a small
chapter here. The exercise and smoke tests run some thirty chapters, so that start-up was most of
the test command's time. This module pays it once per test worker:

- :class:`WarmKernel` starts this file as a program, the *zygote*: it imports what the chapters
  import and then waits, single-threaded, for jobs. It never runs a notebook's code itself.
- For each job the zygote forks a child, which creates an IPython ``InteractiveShell`` (the
  object ipykernel wraps: the same magics, ``display``, tracebacks) and runs the cells there, in
  the job's working directory and environment. Nothing of one job reaches the next: each is a
  fresh fork of the untouched zygote.
- A job holds several *branches* (notebooks) that may share their first cells: an exercise
  notebook is its chapter up to the exercise's cell, then the change. The shared cells run once;
  where branches part, the child forks again, so each branch continues from exactly the state its
  own notebook would have reached. A chapter's exercises cost about one run of the chapter.

Each branch ends in a :class:`BranchResult`: whether every cell ran, else the first cell that
raised, with its exception and traceback. A job past its time limit is killed with its children.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

# What the chapters import, loaded once in the zygote (a name that fails to import is skipped: the
# chapter that needs it then imports it itself, and fails there if it must).
WARM_IMPORTS = (
    "numpy",
    "scipy.optimize",
    "scipy.linalg",
    "scipy.stats",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "IPython.core.interactiveshell",
    "IPython.display",
    "myst_nb",
    "papermill",
    "nbformat",
    "avc",
)


@dataclass
class Branch:
    """One notebook to run: its code cells' sources, in order."""

    id: str
    cells: list[str]
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_notebook(cls, branch_id: str, notebook) -> Branch:
        """The code cells of ``notebook`` (an nbformat notebook)."""
        return cls(branch_id, [c.source for c in notebook.cells if c.cell_type == "code"])


def papermill_notebook(path, parameters: dict):
    """The notebook at ``path`` as ``papermill.execute_notebook`` would run it: read with
    papermill's default cell metadata and, when there are ``parameters``, with them injected after
    the parameters cell."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    notebook = load_notebook_node(str(path))
    return parameterize_notebook(notebook, parameters, language="python") if parameters else notebook


@dataclass
class BranchResult:
    id: str
    ok: bool
    cells_run: int = 0
    failed_cell: int | None = None  # index into the branch's cells
    error: str = ""  # "Type: message" of the first exception
    traceback: str = ""
    seconds: float = 0.0

    def failure(self, branch: Branch) -> str:
        """A message for a failed test: the cell, its first lines, the traceback."""
        if self.ok:
            return ""
        if self.failed_cell is None:
            return f"{self.id}: {self.error}"
        source = branch.cells[self.failed_cell].strip().splitlines()[:3]
        return (
            f"{self.id}: code cell {self.failed_cell} of {len(branch.cells)} raised {self.error}\n"
            + "\n".join("    " + line for line in source)
            + "\n"
            + self.traceback
        )


class WarmKernel:
    """The zygote, started on first use; :meth:`run` sends it one job."""

    def __init__(self, cwd: Path):
        self.cwd = Path(cwd)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        environment = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.cwd,
            env=environment,
            text=True,
        )
        reply = self._reply(timeout=120)
        if reply != "ready":
            raise RuntimeError(f"the warm kernel did not start: {reply!r}")

    def _reply(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"the warm kernel gave no answer within {timeout:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm kernel exited with code {self.process.wait()}")
        return line.strip()

    def run(
        self,
        branches: list[Branch],
        cwd: Path,
        environment: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> dict[str, BranchResult]:
        """Run the branches (in ``cwd``, with ``environment`` added to the zygote's) and return
        their results by id. A branch without a result (the child was killed, or crashed) gets one
        that says so."""
        self.start()
        assert self.process is not None and self.process.stdin is not None
        with tempfile.TemporaryDirectory(prefix="warm-kernel-") as folder:
            job = Path(folder) / "job.json"
            job.write_text(
                json.dumps(
                    dict(
                        cwd=str(cwd),
                        environment=environment or {},
                        timeout=timeout,
                        results=folder,
                        branches=[b.__dict__ for b in branches],
                    )
                )
            )
            self.process.stdin.write(str(job) + "\n")
            self.process.stdin.flush()
            status = self._reply(timeout=timeout + 60)
            results = {}
            for branch in branches:
                found = Path(folder) / f"{_file_name(branch.id)}.json"
                if found.exists():
                    results[branch.id] = BranchResult(**json.loads(found.read_text()))
                else:
                    results[branch.id] = BranchResult(branch.id, ok=False, error=f"no result ({status})")
            return results

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def _file_name(branch_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in branch_id)


# ---------------------------------------------------------------- the zygote and its children


def _zygote() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the imports print goes to stderr, not into the replies
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (skipped: see WARM_IMPORTS)
            pass
    _import_package("avc")
    replies.write("ready\n")
    for line in sys.stdin:
        job = json.loads(Path(line.strip()).read_text())
        replies.write(_run_job(job) + "\n")


def _import_package(name: str) -> None:
    """Import every module of the package (what a chapter may import) but its ``__main__``,
    skipping modules that need an optional extra."""
    import importlib
    import pkgutil

    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        if module.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except Exception:  # noqa: BLE001 (an optional extra is missing: the chapter would fail there too)
            pass


_JOB_BEGAN = [0.0]


def _run_job(job: dict) -> str:
    pid = os.fork()
    if pid == 0:  # the job's child
        _JOB_BEGAN[0] = time.perf_counter()
        _exit_after(lambda: _start_job(job))
    deadline = time.monotonic() + job["timeout"]
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return f"exit {os.waitstatus_to_exitcode(status)}"
        time.sleep(0.02)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return f"killed after {job['timeout']:.0f} s"


def _start_job(job: dict) -> None:
    os.setpgid(0, 0)
    log = os.open(Path(job["results"]) / "output.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(job["cwd"])
    os.environ.update(job["environment"])
    branches = [Branch(**b) for b in job["branches"]]
    _run_branches(_new_shell(), branches, 0, Path(job["results"]))


def _exit_after(body) -> None:
    """End a forked child after ``body()``: exit code 0, or 1 with the traceback printed to the job's
    log (a branch that gets no result is reported as failed), never returning into the parent's code."""
    code = 0
    try:
        body()
    except BaseException:  # noqa: BLE001 (reported through the missing results)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _new_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history thread, no sqlite file: the children fork
    return InteractiveShell.instance(config=config)


def _run_branches(shell, branches: list[Branch], start: int, results: Path) -> None:
    """Run cells ``start`` onwards of branches that share their first ``start`` cells (already
    run in ``shell``): the cells they still share, then each group of branches that continue alike,
    the last group in this process and the others in forked children."""
    stop = start
    while all(len(b.cells) > stop for b in branches) and len({b.cells[stop] for b in branches}) == 1:
        stop += 1
    for index in range(start, stop):
        failure = _run_cell(shell, branches[0].cells[index])
        if failure is not None:
            for branch in branches:
                _write(
                    results,
                    BranchResult(
                        branch.id, False, index, index, *failure, time.perf_counter() - _JOB_BEGAN[0]
                    ),
                )
            return
    groups: dict[str | None, list[Branch]] = {}
    for branch in branches:
        groups.setdefault(branch.cells[stop] if len(branch.cells) > stop else None, []).append(branch)
    for branch in groups.pop(None, []):
        _write(results, BranchResult(branch.id, True, stop, seconds=time.perf_counter() - _JOB_BEGAN[0]))
    groups = list(groups.values())
    for group in groups[:-1]:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _exit_after(lambda group=group: _run_branches(shell, group, stop, results))
        os.waitpid(pid, 0)
    if groups:
        _run_branches(shell, groups[-1], stop, results)


def _run_cell(shell, source: str) -> tuple[str, str] | None:
    """None when the cell ran, else (``"Type: message"``, the traceback)."""
    outcome = shell.run_cell(source, store_history=True)
    error = outcome.error_before_exec or outcome.error_in_exec
    if error is None:
        return None
    frames = error.__traceback__
    while frames is not None and "IPython" in frames.tb_frame.f_code.co_filename:
        frames = frames.tb_next  # the shell's own frames: from the cell's first line on
    text = "".join(traceback.format_exception(type(error), error, frames))
    return f"{type(error).__name__}: {error}", text


def _write(results: Path, result: BranchResult) -> None:
    (results / f"{_file_name(result.id)}.json").write_text(json.dumps(result.__dict__))


if __name__ == "__main__" and sys.argv[1:] == ["--zygote"]:
    _zygote()
