"""Scoring throughput against the local OpenAI-compatible test server, and a rerun that must
send no request.

    .venv/bin/python benchmarks/bench_scoring.py [--calls 2000] [--concurrency 32]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from avc.llm.client import ClientConfig
from avc.llm.runs import score_panel

# test support (the fake server, the reference curves) lives beside the tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_openai_server import OpenAICompatibleTestServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n_personas = 20
    personas = pd.DataFrame(
        {
            "persona_id": [f"p{i}" for i in range(n_personas)],
            "prompt": [f"You are persona {i}." for i in range(n_personas)],
        }
    )
    n_items = args.calls // n_personas
    items = pd.DataFrame(
        {"item_id": [f"i{j}" for j in range(n_items)], "text": [f"item {j}" for j in range(n_items)]}
    )
    with tempfile.TemporaryDirectory() as tmp, OpenAICompatibleTestServer() as server:
        cache = Path(tmp) / "bench.sqlite"
        results = {}
        for concurrency in (1, args.concurrency):
            config = ClientConfig(
                model="test-model", base_url=server.base_url, api_key_env=None, concurrency=concurrency
            )
            cache.unlink(missing_ok=True)
            start = time.perf_counter()
            run = score_panel(config, personas, items, cache=cache, progress=False)
            elapsed = time.perf_counter() - start
            assert run.n_called == len(personas) * len(items) and run.n_failed == 0
            results[concurrency] = run.n_called / elapsed
            print(
                f"concurrency {concurrency:3d}: {run.n_called} calls in {elapsed:.2f} s = {results[concurrency]:.0f} requests/s"
            )
        before = server.requests
        start = time.perf_counter()
        rerun = score_panel(config, personas, items, cache=cache, progress=False)
        print(
            f"rerun: {rerun.n_cached} rows from the cache in {time.perf_counter() - start:.2f} s, "
            f"{server.requests - before} requests sent"
        )
        assert server.requests == before
        print(
            f"ratio concurrency {args.concurrency} / concurrency 1: {results[args.concurrency] / results[1]:.1f}x"
        )


if __name__ == "__main__":
    main()
