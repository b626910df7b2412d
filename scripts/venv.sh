# Sourced by the other scripts: create or reuse .venv in the repository and make sure it
# holds requirements.txt and the avc package (pip install -e .). Re-installs only when
# requirements.txt or pyproject.toml changed since the last install.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
STAMP="$VENV/.avc-install-stamp"

pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    python_bin="$(pick_python)"
    echo "==> creating $VENV with $("$python_bin" --version)"
    "$python_bin" -m venv "$VENV"
fi

wanted="$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing requirements.txt and avc into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$REPO_ROOT/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO_ROOT"
    echo "$wanted" >"$STAMP"
fi

export PATH="$VENV/bin:$PATH"
# Silence jupyter_core's path-migration warning on every kernel start.
export JUPYTER_PLATFORM_DIRS=1
cd "$REPO_ROOT"
