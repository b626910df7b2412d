# Sourced: pick_python prints a Python 3.11 interpreter ($PYTHON, python3.11 or python3).
pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Python 3.11 is needed (set PYTHON=/path/to/python3.11); requirements.lock is resolved for it." >&2
    return 1
}
