"""Screenshot every page of the built book as a reader sees it, for a person to look at.

    python scripts/screenshots.py                 # all pages of _build/html -> _build/screenshots/
    python scripts/screenshots.py b_model h_noisy  # only pages whose path contains one of these
    python scripts/screenshots.py --check          # no shots: list boxes a reader must scroll (exit 1)

Uses headless Chromium from the distribution (Debian: ``apt-get install chromium``), offline:
the page is loaded from the file system. Each page is shot at reading width (1280 px window,
the book's text column about 720 px) over its full height, as ``<page>.png``; very long pages
are cut into ``<page>-<n>.png`` slices of at most 4000 px so that an image viewer shows them
legibly. Needs Pillow only for the slicing (skipped without it).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = REPO_ROOT / "_build" / "html"
OUT_DIR = REPO_ROOT / "_build" / "screenshots"
WIDTH = 1280
SLICE = 4000
SKIPPED = {"genindex.html", "search.html"}


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) on this machine, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def chromium() -> str:
    return find_chromium() or sys.exit("no Chromium found: install it with  apt-get install -y chromium")


def describe(page: Path, box: dict) -> str:
    """One line for a box wider than the page lets it be."""
    return (
        f"{page.relative_to(HTML_DIR)} [{box['section']}] {box['kind']} {box['content']} > {box['box']} px: "
        f"{box['text'][:40]!r}"
    )


# Boxes a reader scrolls sideways to read: an output (table, printed text) or a code cell whose
# content is wider than the box. Measured in each page, inside the browser, after MathJax ran;
# report(i) writes frame i's height and wide boxes into the wrapper page's own DOM.
_MEASURE_JS = """
function report(i) {
  const doc = document.getElementById('f' + i).contentDocument;
  const found = [];
  const boxes = doc.querySelectorAll(
    'div.cell_output div.output, div.cell_input div.highlight pre, article table.table');
  for (const box of boxes) {
    if (box.scrollWidth > box.clientWidth + 2) {
      let section = box.closest('section');
      let heading = section ? section.querySelector('h1, h2, h3') : null;
      found.push({
        kind: box.matches('pre') ? 'code' : (box.querySelector('table') ? 'table' : 'output'),
        section: heading ? heading.textContent.replace(/[#\u00b6]/g, '').trim() : '',
        text: box.textContent.trim().slice(0, 60),
        content: box.scrollWidth, box: box.clientWidth});
    }
  }
  document.body.setAttribute('data-height-' + i, doc.documentElement.scrollHeight);
  document.body.setAttribute('data-overflow-' + i, JSON.stringify(found));
}
"""


def measure_all(browser: str, pages: list[Path]) -> dict[Path, tuple[int, list[dict]]]:
    """For each page, its full height at reading width and the boxes whose content is wider
    than the box, measured in one browser run: a wrapper page loads every page in a frame of the
    reading width and writes what it measured into its own DOM."""
    frames = "".join(
        f'<iframe id="f{i}" src="{page.as_uri()}" style="width:{WIDTH}px;height:1000px;border:0" '
        f'onload="setTimeout(() => report({i}), 4000)"></iframe>'
        for i, page in enumerate(pages)
    )
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = Path(tmp) / "measure.html"
        wrapper.write_text(
            f'<html><body style="margin:0"><script>{_MEASURE_JS}</script>{frames}</body></html>'
        )
        dom = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--allow-file-access-from-files",
                f"--user-data-dir={tmp}/profile",
                f"--window-size={WIDTH + 20},1000",
                "--virtual-time-budget=30000",
                "--dump-dom",
                wrapper.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    measured = {}
    for i, page in enumerate(pages):
        height = re.search(rf'data-height-{i}="(\d+)"', dom)
        overflow = re.search(rf'data-overflow-{i}="([^"]*)"', dom)
        if not height:
            print(f"warning: could not measure {page.name}; shooting 12000 px", file=sys.stderr)
            measured[page] = (12000, [])
            continue
        boxes = json.loads(html.unescape(overflow.group(1))) if overflow else []
        measured[page] = (min(60000, int(height.group(1))), boxes)
    return measured


def shoot(browser: str, page: Path, height: int) -> Path:
    target = OUT_DIR / (page.relative_to(HTML_DIR).with_suffix(".png").as_posix().replace("/", "__"))
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{height}",
                "--virtual-time-budget=10000",
                f"--screenshot={target}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    return target


def trim_and_slice(png: Path) -> list[Path]:
    try:
        from PIL import Image, ImageChops
    except ImportError:
        return [png]
    image = Image.open(png).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    if box:
        image = image.crop((0, 0, image.width, min(image.height, box[3] + 40)))
    if image.height <= SLICE:
        image.save(png)
        return [png]
    png.unlink()
    slices = []
    for n, top in enumerate(range(0, image.height, SLICE), start=1):
        part = png.with_name(f"{png.stem}-{n}.png")
        image.crop((0, top, image.width, min(image.height, top + SLICE))).save(part)
        slices.append(part)
    return slices


def main(argv: list[str]) -> int:
    if not HTML_DIR.is_dir():
        sys.exit(f"no book in {HTML_DIR}: run scripts/build_book.sh first")
    check_only = "--check" in argv
    keys = [a for a in argv if a != "--check"]
    browser = chromium()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    pages = sorted(
        p
        for p in HTML_DIR.glob("**/*.html")
        if p.name not in SKIPPED and "_static" not in p.parts and "_sources" not in p.parts
    )
    if keys:
        pages = [p for p in pages if any(key in p.as_posix() for key in keys)]
    wide = 0
    measured = measure_all(browser, pages)
    for page in pages:
        height, boxes = measured[page]
        for box in boxes:
            wide += 1
            print(f"  wider than its box: {describe(page, box)}")
        if not check_only:
            shots = trim_and_slice(shoot(browser, page, height))
            print(f"{page.relative_to(HTML_DIR)} -> {', '.join(s.name for s in shots)}")
    print(
        f"==> {len(pages)} page(s), {wide} box(es) wider than the page lets them be"
        + ("" if check_only else f"; screenshots in {OUT_DIR}")
    )
    return 1 if check_only and wide else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
