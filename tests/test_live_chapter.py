"""Chapter F scored live, end to end, against a real HTTP server on 127.0.0.1 that answers at
random: the chapter finishes on a model with no signal and says what its panel shows; mistyped or
costly runs are refused before any request."""

import json

import pytest
from fake_openai_server import OpenAICompatibleTestServer

from avc.cli import chapters as cli
from avc.panels import datasets

pytestmark = pytest.mark.heavy  # each test runs chapter F in a kernel

TINY = {
    "n_agents": "3",
    "n_items": "12",
    "n_perms": "4",
    "n_folds": "3",
    "n_splits": "2",
    "n_boot": "50",
    "n_subsets": "2",
}


@pytest.fixture
def datasets_or_skip():
    try:
        datasets.ethics_items()
        datasets.movielens_items()
    except datasets.DatasetNotFoundError as missing:
        pytest.skip(f"dataset not on this machine: {str(missing).splitlines()[0]}")


def run_live(server, tmp_path, monkeypatch, **extra):
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "RUNS_DIR", tmp_path / "runs")
    parameters = dict(
        TINY, backend="openai", base_url=server.base_url, model="random-model", api_key_env="None"
    )
    parameters.update(extra)
    return cli.run_chapter("f_experiments", parameters, progress=False)


def outputs(path) -> str:
    notebook = json.loads(path.read_text())
    text = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    return " ".join(text.split())  # lines are wrapped to the page: compare words


def test_chapter_f_finishes_live_on_a_model_that_answers_at_random(tmp_path, monkeypatch, datasets_or_skip):
    with OpenAICompatibleTestServer(answers="random", models=("random-model",)) as server:
        output = run_live(server, tmp_path, monkeypatch)
        made = server.completions
        # two domains x (3 personas + baseline) x 12 items, and the server check's one-token probe
        assert made == 2 * 4 * 12 + 1
        text = outputs(output)
        assert "96 calls to make" not in text and "48 calls to make, 0 cached" in text
        assert "48 calls made, 0 from the cache, 0 failed" in text
        assert "by this panel" in text and "checked on the recorded panel" not in text
        assert "statements about the recorded panel are shown by this panel" in text
        # a rerun is served from the cache: no completion is requested again
        rerun = outputs(run_live(server, tmp_path, monkeypatch))
        assert server.completions == made and "0 calls to make, 48 cached" in rerun


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"n_items": "0"}, "n_items must be a positive integer"),
        ({"backend": "replya"}, "backend must be one of"),
        ({"max_calls": "10"}, "more than max_calls = 10"),
    ],
)
def test_bad_or_costly_runs_are_refused_before_any_request(
    tmp_path, monkeypatch, datasets_or_skip, bad, message
):
    import papermill

    with OpenAICompatibleTestServer(answers="random", models=("random-model",)) as server:
        with pytest.raises(papermill.PapermillExecutionError, match=message):
            run_live(server, tmp_path, monkeypatch, **bad)
        assert server.requests == 0
