#!/usr/bin/env bash
# The exam version of the book, for teachers: the same chapters with every {solution} block left
# out, in _build/exam/html (open _build/exam/html/index.html).
#   - the pages are built with sphinx-exercise's hide_solutions: true (the exercises stay, the
#     solutions go);
#   - the notebooks a reader downloads from those pages (_build/exam/html/_sources/**.ipynb) are
#     stripped of their solution blocks too, so a student cannot read them there either;
#   - command 1's build, _build/html, is not touched; the chapters are executed only when the
#     execution cache of command 1 does not hold them already (the same cache: run command 1
#     first and the exam build only renders).
# Extra arguments go to jupyter-book (e.g. --all).
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
exam="$REPO_ROOT/_build/exam"
rm -rf "$exam"
mkdir -p "$exam"
python scripts/execution_cache.py link >/dev/null

# The book's _config.yml with hide_solutions on, the cache and the local extensions named by
# absolute paths (jupyter-book resolves them from the config file's folder), and "(exam)" in the title.
python - "$REPO_ROOT" "$exam/_config.yml" <<'EOF'
import sys
from pathlib import Path

import yaml

root, target = Path(sys.argv[1]), Path(sys.argv[2])
config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
config["title"] = f"{config['title']} (exam version, without solutions)"
config["execute"]["cache"] = str(root / config["execute"]["cache"])
config["bibtex_bibfiles"] = [str(root / f) for f in config.get("bibtex_bibfiles", [])]
sphinx = config.setdefault("sphinx", {})
sphinx["local_extensions"] = {name: str(root / path) for name, path in sphinx.get("local_extensions", {}).items()}
sphinx.setdefault("config", {})["hide_solutions"] = True
target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
EOF

jupyter-book build . -W --keep-going --builder html --config "$exam/_config.yml" --path-output "$exam/work" "$@"
mv "$exam/work/_build/html" "$exam/html"

# Strip the solutions from the downloadable notebooks, then check that none is left anywhere.
python - "$exam/html" <<'EOF'
import re
import sys
from pathlib import Path

import nbformat

html = Path(sys.argv[1])
OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")


def without_solutions(text: str) -> tuple[str, int]:
    """``text`` with every {solution} block (fenced with backticks or colons) left out."""
    out, closing, removed = [], None, 0
    for line in text.splitlines(keepends=True):
        if closing is None:
            match = OPEN.match(line.strip())
            if match:
                fence = match["fence"]
                closing, removed = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$"), removed + 1
                continue
            out.append(line)
        elif closing.match(line.strip()):
            closing = None
    return "".join(out), removed


stripped = 0
for path in sorted(html.glob("_sources/**/*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source, removed = without_solutions(cell.source)
            stripped += removed
    nbformat.write(notebook, path)
left_in_notebooks = [p.name for p in html.glob("_sources/**/*.ipynb") if "{solution}" in p.read_text()]
left_in_pages = [p.name for p in html.glob("**/*.html") if 'class="solution' in p.read_text()]
exercises = sum(p.read_text().count('class="exercise') for p in html.glob("**/*.html"))
if left_in_notebooks or left_in_pages or not exercises:
    sys.exit(
        f"exam build incomplete: solutions left in notebooks {left_in_notebooks} and pages "
        f"{left_in_pages}; {exercises} exercises on the pages"
    )
print(f"==> {exercises} exercises without solutions; {stripped} solution blocks stripped from the notebooks")
EOF
rm -rf "$exam/work"
echo "==> exam version written to $exam/html/index.html"
