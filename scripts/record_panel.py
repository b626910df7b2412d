"""Record (or resume recording) the Section F panel for one domain with the local LLM.

    .venv/bin/python scripts/record_panel.py --domain ethics --n-items 200
    .venv/bin/python scripts/record_panel.py --domain movielens --n-items 200 --logprobs

Needs the optional extra llama-cpp-python[server] and the model (see avc.llm.local), and the
datasets (AVC_DATA_DIR or a download).

The recorder only ever adds to the committed panel: every export keeps the committed calls, so
asking for fewer items than are committed exports nothing smaller (it says so). Its llama.cpp
server dies with it, even when the recorder is killed with SIGKILL. Items are scored in chunks: every persona (and the
baseline) on the next ``--chunk`` items, persona by persona so the server reuses each
persona's prompt prefix. After every chunk that made new calls (and after the last) the calls
recorded so far are exported to
``data/panels/<domain>_calls.csv.gz`` with a provenance file, so a run stopped at any moment
keeps everything up to the last chunk in the repository and everything up to the last call
in the cache; the next run imports the committed calls into the cache and continues.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime

import pandas as pd

from avc.llm.cache import CALL_COLUMNS, ScoreCache, local_server_id
from avc.llm.client import ClientConfig
from avc.llm.local import MODEL_BYTES, MODEL_NAME, MODEL_SHA256, LocalLLMServer, local_model_path
from avc.llm.runs import call_jobs, score_panel
from avc.panels import datasets
from avc.panels.files import panel_path
from avc.panels.personas import load_personas, prompts_hash
from avc.panels.recorded import load_panel_calls, load_provenance
from avc.paths import cache_dir

ITEM_BUILDERS = {"ethics": datasets.ethics_items, "movielens": datasets.movielens_items}
META_KEYS = (
    "domain",
    "model",
    "server",
    "model_file_bytes",
    "model_file_sha256",
    "model_file",
    "runtime",
    "server_settings",
    "sampling",
    "n_personas",
    "prompts_sha256",
    "items",
    "machine",
    "earlier_settings",
)


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def committed_calls(domain: str) -> pd.DataFrame:
    return load_panel_calls(domain) if panel_path(domain).is_file() else pd.DataFrame(columns=CALL_COLUMNS)


def export(store: ScoreCache, domain: str, keys: set[str], meta: dict, items: pd.DataFrame) -> pd.DataFrame:
    """Write the committed calls and the calls among ``keys``, of every item that has all
    personas (and the baseline), and those items' targets (no item text). Never fewer items than
    are committed: a committed call is only ever kept."""
    committed = committed_calls(domain)
    calls = store.frame()
    calls = pd.concat([committed[CALL_COLUMNS], calls[calls.key.isin(keys)]], ignore_index=True)
    calls = calls.drop_duplicates("key", keep="first")
    per_item = calls.groupby("item_id").persona_id.nunique()
    calls = calls[calls.item_id.isin(per_item[per_item == meta["n_personas"]].index)].sort_values(
        ["item_id", "persona_id"]
    )
    target = panel_path(domain)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.gz")
    calls[CALL_COLUMNS].to_csv(tmp, index=False, compression={"method": "gzip", "mtime": 0})
    os.replace(tmp, target)
    if calls.item_id.nunique() < committed.item_id.nunique():
        raise RuntimeError(
            f"refusing to export {calls.item_id.nunique()} items over the "
            f"{committed.item_id.nunique()} committed ones"
        )
    recorded = items[items.item_id.isin(set(calls.item_id))].drop(columns="text")
    if len(recorded) < calls.item_id.nunique():  # items scored earlier but outside this run's items
        recorded = pd.concat([pd.read_csv(panel_path(domain, "items")), recorded]).drop_duplicates("item_id")
    recorded.to_csv(panel_path(domain, "items"), index=False)
    n_complete = int(calls.item_id.nunique())  # every item left has all personas
    provenance = dict(
        meta,
        items=f"first {n_complete} of avc.panels.datasets.{ITEM_BUILDERS[domain].__name__}() (seeded order)",
        calls=int(len(calls)),
        items_with_every_persona=n_complete,
        invalid_rate=round(float((calls.status != "ok").mean()), 4) if len(calls) else None,
        mean_latency_s=round(float(calls.latency_s.mean()), 3) if len(calls) else None,
        first_call=calls.created_at.min() if len(calls) else None,
        last_call=calls.created_at.max() if len(calls) else None,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    panel_path(domain, "provenance").write_text(json.dumps(provenance, indent=2) + "\n")
    return calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--domain", choices=sorted(ITEM_BUILDERS), required=True)
    parser.add_argument("--n-items", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument(
        "--logprobs",
        action="store_true",
        default=None,
        help="also record the log-probability expected score (default: on for movielens)",
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="default: 5 for ethics, 3 for movielens")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="export the complete items already in the cache and stop (no model needed)",
    )
    args = parser.parse_args(argv)
    # Movie scores come back as the same integer for almost every film from the local model, so
    # the expected score over the first token's alternatives is recorded too; three tokens hold
    # any integer up to 100 and keep the (costly) log-probability calls short.
    if args.logprobs is None:
        args.logprobs = args.domain == "movielens"
    if args.max_tokens is None:
        args.max_tokens = 3 if args.domain == "movielens" else 5

    if args.n_items < 1:
        parser.error("--n-items must be a positive number of items.")
    items = ITEM_BUILDERS[args.domain]().head(args.n_items)
    personas = load_personas(args.domain)
    # the recorder's cache and the committed panel come from the local server: rows written before
    # servers were part of the key are re-keyed with its identity
    server_id = local_server_id(MODEL_SHA256)
    store = ScoreCache(cache_dir() / f"panel_{args.domain}.sqlite", legacy_server=server_id)
    if panel_path(args.domain).is_file():
        committed = load_panel_calls(args.domain)
        imported = store.put_many(committed)
        print(f"imported {imported} committed calls into the cache ({store.count()} cached)")
        n_committed = committed.item_id.nunique()
        if n_committed > len(items):
            print(
                f"asked for {len(items)} items; the committed panel has {n_committed}: the recorder only adds, "
                f"so the export keeps all {n_committed}"
            )
    if args.export_only:
        config = ClientConfig(
            model=MODEL_NAME,
            api_key_env=None,
            logprobs=args.logprobs,
            max_tokens=args.max_tokens,
            top_logprobs=10,
            server_id=server_id,
        )
        keys = {job["key"] for job in call_jobs(config, personas, items)}
        previous = load_provenance(args.domain)
        calls = export(store, args.domain, keys, {k: v for k, v in previous.items() if k in META_KEYS}, items)
        print(f"exported {len(calls)} calls ({calls.item_id.nunique()} complete items)")
        return 0

    import llama_cpp

    # Without log-probabilities the server need not keep every prompt token's logits (13% faster on
    # ETHICS, same replies); with them, avc.llm.llama_server's identical but faster path is used.
    with LocalLLMServer(logits_all=args.logprobs) as server:
        config = server.config(logprobs=args.logprobs, max_tokens=args.max_tokens, top_logprobs=10)
        meta = dict(
            domain=args.domain,
            model=MODEL_NAME,
            server=config.server,
            model_file_bytes=MODEL_BYTES,
            model_file_sha256=MODEL_SHA256,
            model_file=str(local_model_path().name),
            runtime=f"llama-cpp-python {llama_cpp.__version__}",
            server_settings=dict(
                n_threads=server.n_threads,
                n_threads_batch=server.n_threads,
                n_ctx=server.n_ctx,
                chat_format=server.chat_format,
                logits_all=server.logits_all,
                server_module=server.server_module,
            ),
            sampling=config.sampling(),
            n_personas=len(personas),
            prompts_sha256=prompts_hash(personas.prompt),
            machine=dict(python=platform.python_version(), cpus=os.cpu_count(), cpu=_cpu_model()),
        )
        previous = load_provenance(args.domain) if panel_path(args.domain, "provenance").is_file() else {}
        history = previous.get("earlier_settings", [])
        earlier = {k: previous[k] for k in ("runtime", "server_settings", "machine") if k in previous}
        if earlier and earlier != {k: meta[k] for k in earlier}:
            # the panel so far was recorded with other settings: keep them on record
            history = history + [dict(earlier, calls_until=previous.get("last_call"))]
        if history:
            meta["earlier_settings"] = history
        keys: set[str] = set()
        for start in range(0, len(items), args.chunk):
            chunk = items.iloc[start : start + args.chunk]
            tic = time.perf_counter()
            run = score_panel(config, personas, chunk, cache=store, progress=sys.stderr.isatty())
            keys |= set(run.calls.key)
            last_chunk = start + args.chunk >= len(items)
            if run.n_called == 0 and not last_chunk:
                # already recorded and committed: re-exporting now would only shrink the committed
                # panel to the items so far until the run passes where it stopped
                continue
            calls = export(store, args.domain, keys, meta, items)
            print(
                f"items {start + 1}-{start + len(chunk)}: {run.n_called} calls in {time.perf_counter() - tic:.0f} s, "
                f"{run.n_failed} failed; exported {len(calls)} calls",
                flush=True,
            )
            if run.n_not_sent:
                print(f"stopped: {run.report()}", file=sys.stderr)
                store.close()
                return 1
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
