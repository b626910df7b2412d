#!/usr/bin/env bash
# Command 2: every test. The strict book build (command 1) first, so a chapter that breaks
# the book fails; then pytest: unit tests of avc, the committed-notebook checks, the
# papermill smoke runs (tests/) and nbval over every notebook in book/.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
bash "$REPO_ROOT/scripts/build_book.sh"
python -m pytest --nbval-lax --nbval-current-env tests book "$@"
