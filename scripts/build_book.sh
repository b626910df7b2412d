#!/usr/bin/env bash
# Command 1: build the whole book into _build/html, executing every chapter on the offline
# default. Any warning or any notebook error fails the build.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
rm -rf _build/html _build/.doctrees _build/jupyter_execute
jupyter-book build . -W --keep-going --builder html "$@"
echo "==> book written to $REPO_ROOT/_build/html/index.html"
