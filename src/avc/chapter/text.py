"""Text the chapters print: folded to the width of a code-output box on the rendered page."""

from __future__ import annotations

import textwrap

__all__ = ["OUTPUT_WIDTH", "say", "wrap"]

OUTPUT_WIDTH = 80
"""Characters that fit on one line of a code-output box on the page at a 1280 px window
(measured in headless Chromium: the box is about 670 px wide, a character 8.2 px)."""


def wrap(text: str, width: int = OUTPUT_WIDTH) -> str:
    """``text`` folded to ``width`` characters, continuation lines indented by two spaces; each
    paragraph (separated by ``\\n``) is folded on its own."""
    return "\n".join(
        textwrap.fill(paragraph, width=width, subsequent_indent="  ", break_on_hyphens=False)
        for paragraph in str(text).split("\n")
    )


def say(text: str, width: int = OUTPUT_WIDTH) -> None:
    """Print :func:`wrap` of ``text``."""
    print(wrap(text, width))
