#!/usr/bin/env bash
# Command 1: build the whole book into _build/html. A chapter is executed only when it, src/avc,
# data/, the datasets or the locked environment changed since it was last executed by the build
# or by nbval (scripts/execution_cache.py); otherwise its stored outputs are rendered. Any
# warning or any notebook error fails the build.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
rm -rf _build/html _build/.doctrees _build/jupyter_execute
cache="$(python scripts/execution_cache.py link)"
echo "==> executed chapters are cached in ${cache#"$REPO_ROOT"/} (keyed on src/avc, data/, the lock file)"
jupyter-book build . -W --keep-going --builder html "$@"
# What these pages were built from, for scripts/test.sh (scripts/build_stamp.py)
python scripts/build_stamp.py write "$@"
echo "==> book written to $REPO_ROOT/_build/html/index.html"
