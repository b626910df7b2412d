"""The local model's movie calls (log-probabilities on), stock llama-cpp-python against
avc.llm.llama_server's top-k path, in one process on the same prompts; replies must be identical.

    AVC_DATA_DIR=... .venv/bin/python benchmarks/bench_local_logprobs.py [--items 4]

Needs the optional extra llama-cpp-python[server], the model (avc.llm.local) and MovieLens.
Each prompt is evaluated in full (the model's state is reset), so both paths do the same work
in the model and differ only in how the log-probabilities are picked.
"""

import argparse
import sys
import time

from avc.llm import llama_server
from avc.llm.local import llama_cpp_available, local_model_path
from avc.panels import datasets
from avc.panels.personas import load_personas


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=4)
    args = parser.parse_args()
    if not llama_cpp_available():
        sys.exit("llama-cpp-python[server] is not installed (optional extra; see the README).")
    from llama_cpp import Llama

    texts = datasets.movielens_items().text.head(args.items)
    prompt = load_personas("movielens").prompt.iloc[1]
    llm = Llama(
        str(local_model_path()),
        n_threads=2,
        n_threads_batch=2,
        n_ctx=2048,
        chat_format="chatml",
        logits_all=True,
        verbose=False,
    )

    def run():
        replies, tic = [], time.perf_counter()
        for text in texts:
            llm.reset()
            reply = llm.create_chat_completion(
                [{"role": "system", "content": prompt}, {"role": "user", "content": text}],
                max_tokens=3,
                temperature=0.0,
                logprobs=True,
                top_logprobs=10,
            )
            replies.append(reply["choices"])
        return replies, (time.perf_counter() - tic) / len(texts)

    run()  # warm-up
    stock, stock_s = run()
    if not llama_server.patch_llama_cpp():
        sys.exit("this llama-cpp-python does not have the code avc.llm.llama_server rewrites.")
    fast, fast_s = run()
    assert fast == stock, "the patched replies differ from the stock replies"
    print(
        f"{len(texts)} movie calls, full prompt each: stock {stock_s:.2f} s/call, avc.llm.llama_server {fast_s:.2f} s/call, "
        f"ratio {stock_s / fast_s:.2f}x; replies identical"
    )


if __name__ == "__main__":
    main()
