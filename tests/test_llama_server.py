"""The faster log-probability path of avc.llm.llama_server gives the stock server's replies."""

import numpy as np
import pytest

from avc.llm import llama_server
from avc.llm import local as local_llm


@pytest.mark.parametrize("k", [0, 1, 3, 10, 60])
def test_top_logprobs_follows_the_order_of_sorting_tuples(k):
    rng = np.random.default_rng(7)
    for _ in range(20):
        # few distinct values, so that ties (broken by the larger index first) are everywhere
        row = np.round(rng.normal(size=50), 1).astype(np.float32)
        row[rng.integers(0, 50, size=5)] = -np.inf
        expected = sorted(zip(row, range(len(row))), reverse=True)[:k]
        got = llama_server.top_logprobs(row, k)
        assert [i for _, i in got] == [i for _, i in expected]
        assert all(type(v) is type(e) and (v == e) for (v, _), (e, _) in zip(got, expected))


def test_top_logprobs_wants_one_row():
    with pytest.raises(ValueError, match="one row"):
        llama_server.top_logprobs(np.zeros((2, 3)), 1)


def test_unknown_llama_cpp_code_is_left_alone(monkeypatch):
    monkeypatch.setattr(
        llama_server, "_completion_source", lambda: "def _create_completion(self):\n    return None\n"
    )
    assert not llama_server.can_patch()
    assert llama_server.patch_llama_cpp() is False


def test_patched_replies_equal_the_stock_replies():
    if not local_llm.llama_cpp_available():
        pytest.skip("llama-cpp-python[server] is not installed (optional extra)")
    try:
        path = local_llm.local_model_path()
    except (FileNotFoundError, ValueError) as err:
        pytest.skip(f"no local model: {str(err).splitlines()[0]}")
    assert llama_server.can_patch(), "llama-cpp-python changed: avc.llm.llama_server no longer applies"
    from llama_cpp import Llama

    llm = Llama(
        str(path),
        n_threads=2,
        n_threads_batch=2,
        n_ctx=512,
        chat_format="chatml",
        logits_all=True,
        verbose=False,
    )
    messages = [
        [
            {"role": "system", "content": "Rate the movie from 0 to 100. Reply with the integer only."},
            {"role": "user", "content": title},
        ]
        for title in ("Heat (1995)", "Paddington 2 (2017)")
    ]

    def replies():
        out = []
        for m in messages:
            llm.reset()  # the same full evaluation each time, so the logits are the same
            reply = llm.create_chat_completion(
                m, max_tokens=3, temperature=0.0, logprobs=True, top_logprobs=10
            )
            out.append(reply["choices"])
        return out

    stock_method = Llama._create_completion
    stock = replies()
    try:
        assert llama_server.patch_llama_cpp()
        assert Llama._create_completion is not stock_method
        fast = replies()
    finally:
        Llama._create_completion = stock_method
    assert fast == stock
    assert len(fast[0][0]["logprobs"]["content"][0]["top_logprobs"]) == 10
