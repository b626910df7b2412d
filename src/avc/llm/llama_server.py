"""Run llama-cpp-python's OpenAI-compatible server with a faster log-probability path.

    python -m avc.llm.llama_server --model MODEL.gguf --host 127.0.0.1 --port 8000 ...

takes the arguments of ``python -m llama_cpp.server``. The only difference is in how a reply's
``top_logprobs`` are picked. llama-cpp-python (0.3.x) sorts all ~150,000 vocabulary entries as
Python tuples for every answer token, and takes the log-softmax of the logits of every prompt
token when it needs only the answer's. On two CPU cores that costs about as much as running the
model: 1.95 s per movie call against 1.06 s spent in the model (profiled with cProfile).

:func:`patch_llama_cpp` rewrites those two lines of ``Llama._create_completion``:

- the log-softmax is taken of the answer rows only (it works row by row, so the rows kept are
  the same numbers);
- the top entries are chosen with one ``numpy.lexsort`` in the order of the original
  ``sorted(zip(logprobs, range(n)), reverse=True)``: by value, largest first, and among equal
  values the larger token id first.

Everything else (the model, sampling, the reply format) is llama-cpp-python's own. The patch
is applied only when both lines are found verbatim; otherwise the stock server runs.
``tests/test_llama_server.py`` checks the top-k order against ``sorted`` on ties, and, with the
model present, that patched and stock replies are identical.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap

import numpy as np

__all__ = ["can_patch", "patch_llama_cpp", "top_logprobs"]

_SCORES_LINE = "all_logprobs = Llama.logits_to_logprobs(self._scores)[token_offset:]"
_SCORES_FAST = "all_logprobs = Llama.logits_to_logprobs(self._scores[token_offset:])"
_SORT_BLOCK = re.compile(
    r"sorted_logprobs = list\(\s*sorted\(\s*zip\(logprobs_token, range\(len\(logprobs_token\)\)\),\s*reverse=True,?\s*\)\s*\)"
)
_SORT_FAST = "sorted_logprobs = _avc_top_logprobs(logprobs_token, logprobs)"


def top_logprobs(row, k: int) -> list[tuple]:
    """The first ``k`` of ``sorted(zip(row, range(len(row))), reverse=True)``, in that order."""
    row = np.asarray(row)
    if row.ndim != 1:
        raise ValueError(f"expected one row of log-probabilities, got an array of shape {row.shape}.")
    order = np.lexsort((np.arange(row.size), row))[::-1][: max(int(k), 0)]
    return [(row[i], int(i)) for i in order]


def _completion_source() -> str:
    from llama_cpp.llama import Llama

    return textwrap.dedent(inspect.getsource(Llama._create_completion))


def _patched_source() -> str | None:
    """``_create_completion``'s source with the two lines rewritten, or None when the installed
    llama-cpp-python does not have them (exactly once each)."""
    try:
        source = _completion_source()
    except (ImportError, OSError, TypeError):
        return None
    if source.count(_SCORES_LINE) != 1 or len(_SORT_BLOCK.findall(source)) != 1:
        return None
    return _SORT_BLOCK.sub(_SORT_FAST, source.replace(_SCORES_LINE, _SCORES_FAST))


def can_patch() -> bool:
    """Whether the installed llama-cpp-python has the two lines :func:`patch_llama_cpp` rewrites."""
    return _patched_source() is not None


def patch_llama_cpp() -> bool:
    """Install the faster log-probability path in this process; False (nothing changed) when
    the installed llama-cpp-python does not have the expected lines."""
    source = _patched_source()
    if source is None:
        return False
    import llama_cpp.llama as llama_module

    namespace = dict(vars(llama_module), _avc_top_logprobs=top_logprobs)
    exec(compile(source, llama_module.__file__, "exec"), namespace)
    llama_module.Llama._create_completion = namespace["_create_completion"]
    return True


def main() -> None:
    patched = patch_llama_cpp()
    print(
        f"avc.llm.llama_server: faster log-probability path {'installed' if patched else 'NOT installed (stock server)'}",
        file=sys.stderr,
        flush=True,
    )
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
