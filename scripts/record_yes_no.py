"""Record the Yes/No elicitation of the movie panel with the local model (see avc.panels.yes_no).

    .venv/bin/python scripts/record_yes_no.py

Asks the baseline persona's Yes/No question about every movie of the committed MovieLens panel,
with log-probabilities, and writes 100 x P(Yes) per movie to data/panels/movielens_yesno_*.
Replies are cached (resumable); like the panel recorder it commits nothing itself.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import pandas as pd

from avc.llm.cache import CALL_COLUMNS, ScoreCache
from avc.llm.local import MODEL_NAME, MODEL_SHA256, LocalLLMServer
from avc.llm.runs import score_panel
from avc.panels import datasets
from avc.panels.files import yes_no_path
from avc.panels.recorded import load_panel_items
from avc.panels.yes_no import YES_NO_PROMPT
from avc.paths import cache_dir


def main() -> int:
    panel_items = load_panel_items("movielens").index
    items = datasets.movielens_items().set_index("item_id").loc[panel_items].reset_index()
    persona = pd.DataFrame({"persona_id": ["baseline yes/no"], "prompt": [YES_NO_PROMPT]})
    import llama_cpp

    with (
        ScoreCache(cache_dir() / "panel_movielens_yesno.sqlite") as store,
        LocalLLMServer(logits_all=True) as server,
    ):
        config = server.config(logprobs=True, max_tokens=1, top_logprobs=10, reading="yes_probability")
        run = score_panel(config, persona, items, cache=store, progress=sys.stderr.isatty())
        print(run.report())
        run.raise_if_incomplete()
        calls = run.calls.sort_values("item_id")
        calls[CALL_COLUMNS].to_csv(yes_no_path(), index=False, compression={"method": "gzip", "mtime": 0})
        provenance = dict(
            elicitation="Yes/No, read as 100 x P(Yes) over the first token",
            prompt=YES_NO_PROMPT,
            model=MODEL_NAME,
            model_file_sha256=MODEL_SHA256,
            server=config.server,
            runtime=f"llama-cpp-python {llama_cpp.__version__}",
            sampling=config.sampling(),
            items=f"the {len(items)} movies of the committed MovieLens panel",
            calls=int(len(calls)),
            missing_readings=int(calls.expected_score.isna().sum()),
            mean_latency_s=round(float(calls.latency_s.mean()), 3),
            machine=dict(cpus=os.cpu_count()),
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        yes_no_path("provenance").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {yes_no_path()} ({len(calls)} movies)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
