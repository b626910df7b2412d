# Sourced by the other scripts: create or reuse the virtual environment (.venv in the repository,
# or $AVC_VENV) and make sure it holds exactly the versions of requirements.lock and the avc
# package (pip install -e .). Re-installs only when requirements.lock or pyproject.toml changed
# since the last install. Refresh the lock file with: bash scripts/lock.sh
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AVC_VENV:-$REPO_ROOT/.venv}"
STAMP="$VENV/.avc-install-stamp"
source "$REPO_ROOT/scripts/pick_python.sh"

if [ ! -x "$VENV/bin/python" ]; then
    python_bin="$(pick_python)"
    echo "==> creating $VENV with $("$python_bin" --version)"
    "$python_bin" -m venv "$VENV"
fi

wanted="$(cat "$REPO_ROOT/requirements.lock" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing requirements.lock (exact versions) and avc into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$REPO_ROOT/requirements.lock"
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO_ROOT"
    echo "$wanted" >"$STAMP"
fi

export PATH="$VENV/bin:$PATH"
# Silence jupyter_core's path-migration warning on every kernel start.
export JUPYTER_PLATFORM_DIRS=1
cd "$REPO_ROOT"
