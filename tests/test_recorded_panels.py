"""The committed panels (data/panels/) are whole, consistent with the prompts and items they
claim, and load offline through the public API."""

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from avc.llm import cache
from avc.llm.local import MODEL_NAME, MODEL_SHA256
from avc.panels import datasets, files, recorded
from avc.panels.personas import load_personas, prompts_hash

DOMAINS = ("ethics", "movielens")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("domain", DOMAINS)
def test_panel_loads_as_items_by_agents(domain):
    panel = recorded.load_panel(domain)
    personas = load_personas(domain)
    assert list(panel.columns) == ["baseline"] + sorted(set(personas.persona_id) - {"baseline"})
    assert (
        panel.index.is_unique
        and panel.index.str.startswith("ethics-" if domain == "ethics" else "movie-").all()
    )
    values = panel.to_numpy()
    assert ((values >= 0) & (values <= 100) | np.isnan(values)).all()
    items = recorded.load_panel_items(domain)
    assert set(items.index) == set(panel.index)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_item_has_every_agent_once_and_the_provenance_agrees(domain):
    calls = recorded.load_panel_calls(domain)
    provenance = recorded.load_provenance(domain)
    personas = load_personas(domain)
    assert not calls.duplicated(["persona_id", "item_id"]).any()
    assert not calls.key.duplicated().any()
    assert (calls.groupby("item_id").persona_id.nunique() == len(personas)).all()
    assert len(calls) == provenance["calls"] == provenance["items_with_every_persona"] * len(personas)
    assert provenance["n_personas"] == len(personas)
    assert provenance["model"] == MODEL_NAME and (calls.model == MODEL_NAME).all()
    assert provenance["model_file_sha256"] == MODEL_SHA256
    # the prompts that were scored are the prompts in data/personas/ now
    assert provenance["prompts_sha256"] == prompts_hash(personas.prompt)
    expected_sha = personas.set_index("persona_id").prompt.map(sha)
    assert (calls.prompt_sha == calls.persona_id.map(expected_sha)).all()
    invalid = (calls.status != "ok").mean()
    assert provenance["invalid_rate"] == pytest.approx(invalid, abs=1e-4)
    assert calls.loc[calls.status == "ok", "score"].notna().all()


@pytest.mark.parametrize("domain", DOMAINS)
def test_reading_and_rewriting_the_calls_changes_no_byte(domain):
    # The recorder imports the committed calls and exports them again after every chunk; a
    # lossy float parse would rewrite every latency's last digit in each commit.
    committed = gzip.decompress(files.panel_path(domain).read_bytes()).decode()
    calls = recorded.load_panel_calls(domain)
    if committed.split("\n", 1)[0] != ",".join(cache.CALL_COLUMNS):
        # recorded before servers were part of the key: loading migrates it (server, new keys),
        # and every column that was there reads back unchanged
        old_columns = committed.split("\n", 1)[0].split(",")
        assert set(old_columns) < set(cache.CALL_COLUMNS)
        rewritten = (
            calls[old_columns].assign(key=pd.read_csv(files.panel_path(domain)).key).to_csv(index=False)
        )
        assert calls.server.nunique() == 1
    else:
        rewritten = calls[cache.CALL_COLUMNS].to_csv(index=False)
    assert rewritten == committed


def test_movie_panel_has_expected_scores_for_every_valid_reply():
    calls = recorded.load_panel_calls("movielens")
    ok = calls[calls.status == "ok"]
    assert ok.expected_score.between(0, 100).all()
    expected = recorded.load_panel("movielens", value="expected_score")
    assert expected.notna().all().all()


@pytest.mark.parametrize("domain", DOMAINS)
def test_recorded_items_are_a_prefix_of_the_seeded_item_order(domain):
    """With the dataset on the machine: the recorded items are the first n of the documented
    order, their texts hash to what was scored, and the stored targets are the dataset's."""
    builder = datasets.ethics_items if domain == "ethics" else datasets.movielens_items
    try:
        items = builder()
    except datasets.DatasetNotFoundError as missing:
        pytest.skip(f"dataset not on this machine: {str(missing).splitlines()[0]}")
    calls = recorded.load_panel_calls(domain)
    stored = recorded.load_panel_items(domain)
    n = stored.shape[0]
    assert set(items.item_id.head(n)) == set(stored.index)
    texts = items.set_index("item_id").loc[stored.index, "text"]
    assert (calls.item_sha == calls.item_id.map(texts.map(sha))).all()
    target = "label" if domain == "ethics" else "mean_rating"
    pd.testing.assert_series_equal(
        items.set_index("item_id").loc[stored.index, target], stored[target], check_names=False
    )


def test_a_missing_panel_says_how_to_record_it(monkeypatch, tmp_path):
    monkeypatch.setattr(files, "PROJECT_DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="record_panel.py --domain ethics"):
        recorded.load_panel("ethics")
