#!/usr/bin/env bash
# Command 2: every test.
#  0. ruff: lint and format check of the package, the tests, the scripts and the chapters' code
#     (one style, configured in pyproject.toml; book/ruff.toml narrows the line to the page's box).
#  1. pytest on both cores (pytest-xdist): unit tests of avc, the committed-notebook checks,
#     the smoke runs (parameters injected by papermill) and the exercises in a warm kernel,
#     and nbval over every chapter in book/. nbval executes a chapter
#     only when the build (or an earlier test run) has not executed this exact chapter with
#     these exact inputs; what it executes is stored for the build (conftest.py).
#  2. The strict book build (command 1), which renders the chapters stored in step 1; skipped
#     when _build/html is already command 1's build of exactly these sources and executed
#     chapters (scripts/build_stamp.py), e.g. right after command 1 with nothing changed.
#  3. The checks of the built pages (tests/test_html.py): what a reader sees.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
# Let pytest keep its rewritten test modules (and Python the compiled avc) between runs: each
# worker otherwise recompiles them at start, about 1.5 s here, where PYTHONDONTWRITEBYTECODE=1 is set.
unset PYTHONDONTWRITEBYTECODE
ruff check src tests benchmarks scripts conftest.py book
ruff format --check src tests benchmarks scripts conftest.py book
python scripts/execution_cache.py link >/dev/null
python -m pytest -n "${AVC_TEST_WORKERS:-2}" --dist loadgroup --nbval-lax --nbval-current-env \
    -m "not built_html" tests book "$@"
if python scripts/build_stamp.py check; then
    echo "==> _build/html is command 1's strict build of exactly these sources and executed chapters: not built again"
else
    bash "$REPO_ROOT/scripts/build_book.sh"
fi
AVC_REQUIRE_HTML=1 python -m pytest -p no:nbval -m built_html tests/test_html.py "$@"
