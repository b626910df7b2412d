"""Chapter F scored live, end to end, against real HTTP servers on 127.0.0.1: tiny panels run to
the end, a model with no usable reply stops in one line after caching what it paid for, and
values the chapter cannot use are refused before any request (issue 25)."""

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
from fake_openai_server import OpenAICompatibleTestServer
from warm_kernel import Branch, papermill_notebook

from avc.chapter.params import ParameterError
from avc.cli import chapters as cli
from avc.panels import datasets
from avc.paths import REPO_ROOT

pytestmark = pytest.mark.heavy  # each test runs chapter F in a kernel

FAST = {"n_perms": "4", "n_splits": "2", "n_boot": "50", "n_subsets": "2"}


@pytest.fixture
def datasets_or_skip():
    try:
        datasets.ethics_items()
        datasets.movielens_items()
    except datasets.DatasetNotFoundError as missing:
        pytest.skip(f"dataset not on this machine: {str(missing).splitlines()[0]}")


def live(server, **extra) -> dict:
    parameters = dict(backend="openai", base_url=server.base_url, model="random-model", api_key_env="None")
    parameters.update(extra)
    return parameters


def run_live(server, tmp_path, monkeypatch, **extra):
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "RUNS_DIR", tmp_path / "runs")
    return cli.run_chapter("f_experiments", live(server, **extra), progress=False)


def command(server, tmp_path, **extra):
    """``python -m avc run f_experiments ...`` in a child process, from an unrelated folder."""
    argv = [sys.executable, "-m", "avc", "run", "f_experiments"]
    for key, value in live(server, **extra).items():
        argv += ["-p", key, str(value)]
    env = dict(os.environ, AVC_CACHE_DIR="cache")  # relative: resolved where the user stands
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)


def outputs(path) -> str:
    notebook = json.loads(path.read_text())
    text = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    return " ".join(text.split())  # lines are wrapped to the page: compare words


def cached_rows(folder) -> int:
    with sqlite3.connect(folder / "scores.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def test_a_tiny_live_panel_runs_to_the_end_and_prints_its_summary(tmp_path, datasets_or_skip):
    """``python -m avc run f_experiments -p n_items 12 -p n_agents 4``, defaults otherwise (the
    folds, permutations and resamples): F.5's subsets start below four items per fold, every
    section finishes, the summary reaches the terminal, and the relative AVC_CACHE_DIR is resolved
    where the user stands."""
    with OpenAICompatibleTestServer(answers="random", models=("random-model",)) as server:
        done = command(server, tmp_path, n_items=12, n_agents=4)
        # two domains x (4 personas + baseline) x 12 items, and the server check's one-token probe
        assert server.completions == 2 * 5 * 12 + 1
    assert done.returncode == 0, done.stderr[-2000:]
    for domain in ("ethics", "movielens"):
        assert f"{domain}: 60 calls made, 0 from the cache, 0 failed, 0 invalid replies" in done.stdout
    assert "statements about the recorded panel are shown" in done.stdout
    assert cached_rows(tmp_path / "cache") == 120  # AVC_CACHE_DIR=cache, relative to tmp_path
    written = done.stdout.strip().splitlines()[-1].removeprefix("executed notebook written to ")
    text = outputs(tmp_path / written)
    assert "fewer than four per fold: the sizes start at 12" in text
    # its figures beside its notebook, not over the book's (_build/figures)
    figures = (tmp_path / written).with_suffix(".figures")
    assert f"figures (SVG) written to {os.path.relpath(figures, tmp_path)}" in done.stdout
    assert (figures / "f_experiments" / "figure-f2.svg").is_file()
    assert "statements about the recorded panel are shown by this panel" in text


def run_in_warm_kernel(warm_kernel, tmp_path, parameters: dict):
    """Chapter F with ``parameters`` injected as papermill injects them, in the warm kernel
    (tests/warm_kernel.py), with its own cache and figures folders under ``tmp_path``."""
    chapter = REPO_ROOT / "book" / "f_experiments.ipynb"
    parameters = dict(parameters, api_key_env=None)  # the value the command line reads "None" as
    branch = Branch.of_notebook("f-live", papermill_notebook(chapter, parameters))
    env = {"AVC_CACHE_DIR": str(tmp_path / "cache"), "AVC_FIGURES_DIR": str(tmp_path / "figures")}
    return warm_kernel.run([branch], tmp_path, env, timeout=280)["f-live"], branch


def test_six_items_in_two_folds_run_to_the_end(tmp_path, warm_kernel, datasets_or_skip):
    """The smallest panel the folds allow (each fold needs two items), live."""
    with OpenAICompatibleTestServer(answers="random", models=("random-model",)) as server:
        parameters = live(server, n_items=6, n_folds=2, n_agents=3, **{k: int(v) for k, v in FAST.items()})
        result, branch = run_in_warm_kernel(warm_kernel, tmp_path, parameters)
        assert result.ok, result.failure(branch)
        assert server.completions == 2 * 4 * 6 + 1  # two domains x (3 personas + baseline) x 6 items
    assert cached_rows(tmp_path / "cache") == 48


def test_a_model_without_usable_replies_stops_in_one_line_and_keeps_what_it_paid_for(
    tmp_path, datasets_or_skip
):
    with OpenAICompatibleTestServer(answers="garbage", models=("random-model",)) as server:
        done = command(server, tmp_path, n_items=6, n_folds=2, n_agents=3, **FAST)
        paid = server.completions - 1  # less the server check
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert line.startswith("error: TooFewUsableReplies: too few usable replies")
    assert "ethics: 24 of 24 replies invalid (first: 'banana', non_numeric)" in line
    assert "Every reply is cached" in line and "another model" in line and "runs/" in line
    assert cached_rows(tmp_path / "cache") == paid == 48


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"n_items": "0"}, "n_items must be an integer of at least 1"),
        ({"backend": "replya"}, "backend must be one of"),
        ({"n_items": "8"}, "n_items = 8 with n_folds = 5: each fold needs at least two items"),
        ({"n_items": "5", "n_folds": "3"}, "n_items must be at least 6"),
        ({"n_items": "12", "n_folds": "12"}, "n_items must be at least 24"),
        ({"seed": "-1"}, "seed must be an integer of at least 0"),
        ({"n_agents": "1000"}, "n_agents must be an integer from 1 to 100"),
        ({"base_url": "123"}, "base_url must be a non-empty string or None"),
    ],
)
def test_values_the_chapter_cannot_use_are_refused_before_any_request(tmp_path, monkeypatch, bad, message):
    with OpenAICompatibleTestServer(models=("random-model",)) as server:
        with pytest.raises(ParameterError, match=message):
            run_live(server, tmp_path, monkeypatch, **bad)
        assert server.requests == 0
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())  # no kernel ran


def test_a_refusal_on_the_command_line_is_one_line_with_exit_code_2(tmp_path):
    with OpenAICompatibleTestServer(models=("random-model",)) as server:
        done = command(server, tmp_path, n_items=8)
        assert server.requests == 0
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: n_items = 8 with n_folds = 5: each fold needs at least two items, so n_items must be at least "
        "10 (or n_folds at most 4). Nothing was sent."
    ]


def test_replay_refuses_a_parameter_it_would_ignore(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "RUNS_DIR", tmp_path / "runs")
    with pytest.raises(ParameterError, match="n_items only applies to a live run"):
        cli.run_chapter("f_experiments", {"n_items": "5"})


def test_a_costly_run_is_refused_in_the_chapter_before_any_request(tmp_path, warm_kernel, datasets_or_skip):
    """The cost guard counts the calls a run needs inside the chapter, where the panel is known,
    and refuses before the first request (in the warm kernel, parameters injected by papermill)."""
    with OpenAICompatibleTestServer(models=("random-model",)) as server:
        result, _ = run_in_warm_kernel(warm_kernel, tmp_path, live(server, n_items=12, max_calls=10))
        assert server.requests == 0
    assert not result.ok and re.match(r"CostGuardError: .*more than max_calls = 10", result.error), (
        result.error
    )
