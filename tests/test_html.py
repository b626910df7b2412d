"""What a reader sees: checks over the built pages (_build/html), not the notebooks.

The strict build (-W) catches what Sphinx warns about; these catch what it renders without a
word: MyST markup that reached the page as text, stderr and warning boxes in cell outputs,
output lines that run past the right edge of their box, figures wider than the text column,
and anything (MathJax above all) that the page would fetch from the network.

The checks themselves are unit-tested on small HTML strings below. The tests marked
``built_html`` read the real build; ``scripts/test.sh`` runs them after building the book
(with AVC_REQUIRE_HTML=1, so that a missing build fails instead of skipping).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from avc.chapter.plotting import COLUMN_WIDTH, DPI
from avc.chapter.text import OUTPUT_WIDTH
from avc.paths import REPO_ROOT

HTML_DIR = REPO_ROOT / "_build" / "html"
# Pages Sphinx writes itself, with no chapter content.
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}

RAW_MYST = [
    "```{",
    "{cite}",
    "{cite:",
    "{prf:",
    ":label:",
    "{ref}",
    "{doc}",
    "{numref}",
    "{eq}",
    "{math}",
    ":::{",
]
"""Markup that only shows as text when MyST failed to parse it."""

LINE_LIMIT = OUTPUT_WIDTH
"""Characters of one output line that fit the box at the book's reading width. In headless
Chromium (sphinx-book-theme, 1280 px window) the text of a code or output box is about 640 px
wide; at the theme's own size (a monospace character 8.2 px) the 80th character touched the
edge, so _static/book.css sets code and output at 0.8rem (about 7.7 px a character, 83 fit).
80 is the limit (avc.chapter.text.say wraps to it); test_no_box_is_wider_than_the_page checks the
laid-out page itself."""

FIGURE_LIMIT = int(COLUMN_WIDTH * DPI) + 40
"""Widest figure (CSS px) that is not shrunk by the browser: the column is about 720 px wide;
avc.chapter.plotting draws full-width figures at 680 px."""


def _code_input(tag) -> bool:
    """Is ``tag`` inside the source of a code cell (where any text is legitimate)?"""
    return any("cell_input" in (parent.get("class") or []) for parent in tag.parents)


def unrendered_myst(soup: BeautifulSoup) -> list[str]:
    """Raw MyST markup in the page's text, outside the sources of code cells."""
    problems = []
    body = soup.find("article") or soup.body or soup
    for text in body.find_all(string=True):
        if text.parent.name in ("script", "style") or _code_input(text.parent):
            continue
        for token in RAW_MYST:
            if token in text:
                snippet = " ".join(str(text).split())
                at = snippet.find(token)
                problems.append(f"unrendered MyST {token!r}: ...{snippet[max(0, at - 60) : at + 60]}...")
    return problems


def noisy_outputs(soup: BeautifulSoup) -> list[str]:
    """stderr streams, tracebacks and warnings shown in cell outputs."""
    problems = []
    for box in soup.select("div.cell_output .output"):
        classes = set(box.get("class") or [])
        text = " ".join(box.get_text(" ").split())
        if classes & {"stderr", "traceback", "error"}:
            problems.append(
                f"{'/'.join(sorted(classes & {'stderr', 'traceback', 'error'}))} box in an output: {text[:160]}"
            )
        elif re.search(r"\b\w*Warning\b:", text):
            problems.append(f"warning printed in an output: {text[:160]}")
    return problems


def wide_output_lines(soup: BeautifulSoup, limit: int = LINE_LIMIT) -> list[str]:
    """Lines of text outputs longer than ``limit`` characters (they run past the box)."""
    problems = []
    for pre in soup.select("div.cell_output pre"):
        for line in pre.get_text().splitlines():
            if len(line.rstrip()) > limit:
                problems.append(
                    f"output line of {len(line.rstrip())} > {limit} characters: {line.strip()[:100]}..."
                )
    return problems


def wide_figures(soup: BeautifulSoup, limit: int = FIGURE_LIMIT, html_dir: Path | None = None) -> list[str]:
    """Output figures displayed wider than the column (the browser shrinks them, and their labels)."""
    problems = []
    for img in soup.select("div.cell_output img"):
        style = re.search(r"(?:^|;)\s*width:\s*([\d.]+)px", img.get("style") or "")
        width = style.group(1) if style else img.get("width")
        if width is None and html_dir is not None:
            width = _png_width(html_dir, img.get("src", ""))
        try:
            width = float(str(width).rstrip("px"))
        except (TypeError, ValueError):
            continue
        if width > limit:
            problems.append(
                f"figure {img.get('src', '')[-40:]} is {width:.0f} px wide, more than the column's {limit} px"
            )
    return problems


def _png_width(html_dir: Path, src: str):
    path = (html_dir / src).resolve()
    if path.suffix != ".png" or not path.exists():
        return None
    header = path.read_bytes()[:24]
    return int.from_bytes(header[16:20], "big")


def network_resources(
    soup: BeautifulSoup, html_dir: Path | None = None, page: Path | None = None
) -> list[str]:
    """Scripts, styles, fonts or frames the page fetches from another host, and math with no
    local MathJax to render it."""
    problems = []
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")):
        for element in soup.find_all(tag):
            url = element.get(attr)
            if not url:
                continue
            if tag == "link" and not set(element.get("rel") or []) & {
                "stylesheet",
                "preload",
                "icon",
                "modulepreload",
            }:
                continue
            if urlparse(url).scheme in ("http", "https") or url.startswith("//"):
                problems.append(f"<{tag} {attr}={url}> needs the network")
    for element in soup.find_all(attrs={"data-jupyter-widgets-cdn": True}):
        problems.append(f"widget script loads from {element['data-jupyter-widgets-cdn']}")
    if soup.select(".math, span.math, div.math") or "\\(" in soup.get_text():
        mathjax = [s.get("src") for s in soup.find_all("script") if "mathjax" in (s.get("src") or "").lower()]
        local = [src for src in mathjax if urlparse(src).scheme == "" and not src.startswith("//")]
        if not local:
            problems.append("the page has math but loads no local MathJax")
        elif html_dir is not None and page is not None:
            for src in local:
                if not (page.parent / src.split("?")[0]).resolve().exists():
                    problems.append(f"MathJax script {src} is missing from the build")
    return problems


def box_counts(soup: BeautifulSoup) -> dict[str, int]:
    """How many boxes of each kind a page numbers."""
    counts: dict[str, int] = {}
    for caption in soup.find_all("span", class_="caption-number"):
        kind = caption.get_text(" ", strip=True).rpartition(" ")[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def earlier_boxes(page: Path, html_dir: Path) -> dict[str, int]:
    """The boxes of each kind on the pages before ``page`` in the table of contents that belong to
    its chapter (Chapter D spans d_quantal and d_equilibria: the second goes on counting)."""
    order = re.findall(r"file:\s*(\S+)", (REPO_ROOT / "_toc.yml").read_text())
    name = page.relative_to(html_dir).with_suffix("").as_posix()
    match = re.match(r"([a-z])_", page.name)
    if not match or name not in order:
        return {}
    counts: dict[str, int] = {}
    for earlier in order[: order.index(name)]:
        path = html_dir / f"{earlier}.html"
        if re.match(rf"{match.group(1)}_", Path(earlier).name) and path.is_file():
            for kind, n in box_counts(BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")).items():
                counts[kind] = counts.get(kind, 0) + n
    return counts


def box_numbers(soup: BeautifulSoup, page: Path | None = None, before: dict | None = None) -> list[str]:
    """Boxes (exercises, theorems, definitions, ...) not numbered 1, 2, ... within the chapter, with
    the chapter's letter in front on a chapter page (``f_experiments.html``: Exercise F.1);
    ``before``: the boxes of each kind on the chapter's earlier pages, which the count goes on from."""
    match = re.match(r"([a-z])_", page.name) if page is not None else None
    prefix = f"{match.group(1).upper()}." if match else ""
    seen: dict[str, int] = dict(before or {})
    problems = []
    for caption in soup.find_all("span", class_="caption-number"):
        kind, _, number = caption.get_text(" ", strip=True).rpartition(" ")
        seen[kind] = seen.get(kind, 0) + 1
        expected = f"{prefix}{seen[kind]}"
        if number != expected:
            problems.append(f"{kind} numbered {number!r} where this page's next one is {expected!r}")
    return problems


def check_page(html: str, html_dir: Path | None = None, page: Path | None = None) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return (
        unrendered_myst(soup)
        + noisy_outputs(soup)
        + wide_output_lines(soup)
        + wide_figures(soup, html_dir=html_dir)
        + network_resources(soup, html_dir, page)
        + box_numbers(soup, page, earlier_boxes(page, html_dir) if html_dir is not None and page else None)
    )


# ---------------------------------------------------------------- the checks, on small pages


def _page(body: str, head: str = '<script src="_static/mathjax/tex-chtml.js"></script>') -> str:
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


def _output(kind: str, text: str) -> str:
    return f'<div class="cell_output docutils container"><div class="output {kind} highlight-myst-ansi notranslate"><pre>{text}</pre></div></div>'


GOOD = _page(
    '<p>Alice, <span class="math notranslate nohighlight">\\(\\varepsilon\\)</span>, see '
    '<a href="#x">Collina et al. (2025)</a>.</p>'
    + _output("stream", "ε* = 0.0000 for all 40 panels")
    + '<div class="cell_input"><pre>print(f"{cite}")  # any source is fine</pre></div>'
)


def test_a_clean_page_passes():
    assert check_page(GOOD) == []


@pytest.mark.parametrize(
    "raw",
    [
        "<pre>```{prf:definition} Information substitutes ({cite}`x`)</pre>",
        "<p>as shown by {cite}`collina2025alignment`</p>",
        "<p>see {prf:ref}`def-x`</p>",
        "<pre>:label: def-substitutes</pre>",
    ],
)
def test_unrendered_myst_fails(raw):
    problems = check_page(_page(raw))
    assert problems and "unrendered MyST" in problems[0]


def test_stderr_and_warning_boxes_fail():
    tqdm = _output(
        "stderr", "/x/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found."
    )
    assert any("stderr box" in p for p in check_page(_page(tqdm)))
    printed = _output("stream", "UserWarning: something odd")
    assert any("warning printed" in p for p in check_page(_page(printed)))


def test_wide_output_lines_fail_and_the_limit_is_inclusive():
    assert check_page(_page(_output("stream", "x" * LINE_LIMIT))) == []
    problems = check_page(_page(_output("stream", "short\n" + "y" * (LINE_LIMIT + 1))))
    assert problems == [
        f"output line of {LINE_LIMIT + 1} > {LINE_LIMIT} characters: {'y' * (LINE_LIMIT + 1)}..."
    ]


def test_wide_figures_fail():
    ok = '<div class="cell_output"><img src="a.png" width="680"></div>'
    wide = '<div class="cell_output"><img src="b.png" width="1600"></div>'
    styled = '<div class="cell_output"><img src="c.png" style="width: 1087px; height: 387px;"></div>'
    assert check_page(_page(ok)) == []
    assert "1600 px wide" in check_page(_page(wide))[0]
    assert "1087 px wide" in check_page(_page(styled))[0]


def test_math_from_a_cdn_fails():
    cdn = '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
    problems = check_page(_page('<p><span class="math">\\(x\\)</span></p>', head=cdn))
    assert any("needs the network" in p for p in problems)
    assert any("no local MathJax" in p for p in problems)
    font = '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Lato">'
    assert any("needs the network" in p for p in check_page(_page("<p>x</p>", head=font)))


def test_missing_local_mathjax_fails(tmp_path):
    page = tmp_path / "chapter.html"
    html = _page('<p><span class="math">\\(x\\)</span></p>')
    assert "is missing from the build" in check_page(html, tmp_path, page)[0]
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("//")
    assert check_page(html, tmp_path, page) == []


def test_boxes_numbered_book_wide_fail_on_a_chapter_page(tmp_path):
    def caption(text):
        return f'<p class="admonition-title"><span class="caption-number">{text} </span></p>'

    chapter = tmp_path / "f_experiments.html"
    per_chapter = _page(caption("Exercise F.1") + caption("Theorem F.1") + caption("Exercise F.2"))
    assert check_page(per_chapter, page=chapter) == []
    book_wide = _page(caption("Exercise 11") + caption("Exercise 12"))
    assert check_page(book_wide, page=chapter) == [
        "Exercise numbered '11' where this page's next one is 'F.1'",
        "Exercise numbered '12' where this page's next one is 'F.2'",
    ]
    skipped = _page(caption("Exercise F.1") + caption("Exercise F.3"))
    assert check_page(skipped, page=chapter) == [
        "Exercise numbered 'F.3' where this page's next one is 'F.2'"
    ]
    assert check_page(_page(caption("Exercise 1")), page=tmp_path / "intro.html") == []


# ---------------------------------------------------------------- the real build


def _built_pages() -> list[Path]:
    if not HTML_DIR.is_dir():
        return []
    return sorted(
        p
        for p in HTML_DIR.rglob("*.html")
        if p.name not in SKIPPED_PAGES and "_static" not in p.parts and "_sources" not in p.parts
    )


@pytest.mark.built_html
def test_the_book_was_built():
    if not _built_pages():
        message = f"no built pages in {HTML_DIR}: run scripts/build_book.sh first"
        if os.environ.get("AVC_REQUIRE_HTML") == "1":
            pytest.fail(message)
        pytest.skip(message)
    assert (HTML_DIR / "_static" / "mathjax" / "tex-chtml.js").exists(), (
        "MathJax was not copied into the build"
    )


@pytest.mark.built_html
@pytest.mark.parametrize("page", _built_pages(), ids=lambda p: p.relative_to(HTML_DIR).as_posix())
def test_built_page_reads_well(page):
    problems = check_page(page.read_text(encoding="utf-8"), HTML_DIR, page)
    assert not problems, (
        f"{page.relative_to(HTML_DIR)}: {len(problems)} problem(s) a reader would see:\n  "
        + "\n  ".join(problems)
    )


def _screenshots_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", REPO_ROOT / "scripts" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chromium_or_skip():
    if _screenshots_module().find_chromium() is None:
        pytest.skip("no Chromium on this machine: the layout check needs a browser")


def test_the_layout_check_finds_a_box_wider_than_the_page(tmp_path):
    """The browser check can fail: a table wider than its box is reported, a narrow one is not."""
    _chromium_or_skip()
    box = (
        '<div class="cell_output"><div class="output text_html" style="overflow-x:auto;max-width:100%">'
        '<table><tr><td style="white-space:nowrap">{}</td></tr></table></div></div>'
    )
    wide, narrow = tmp_path / "wide.html", tmp_path / "narrow.html"
    page = '<html><body><article style="width:600px"><section><h2>S</h2>{}</section></article></body></html>'
    wide.write_text(page.format(box.format("x " * 400)))
    narrow.write_text(page.format(box.format("x " * 10)))
    screenshots = _screenshots_module()
    measured = screenshots.measure_all(screenshots.chromium(), [wide, narrow])
    assert [b["kind"] for b in measured[wide][1]] == ["table"] and measured[wide][1][0]["section"] == "S"
    assert measured[narrow][1] == []


@pytest.mark.built_html
def test_no_box_is_wider_than_the_page():
    """Laid out in a real browser (headless Chromium, the reading width of the screenshots): no
    table, printed output or code cell is wider than its box, so nothing needs sideways scrolling.
    Needs Chromium (Debian: apt-get install chromium); skipped without it."""
    pages = _built_pages()
    if not pages:
        pytest.skip(f"no built pages in {HTML_DIR}")
    _chromium_or_skip()
    screenshots = _screenshots_module()
    browser = screenshots.chromium()
    wide = [
        screenshots.describe(page, box)
        for page, (_, boxes) in screenshots.measure_all(browser, pages).items()
        for box in boxes
    ]
    assert not wide, f"{len(wide)} box(es) a reader must scroll sideways:\n  " + "\n  ".join(wide)
