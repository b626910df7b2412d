"""What a chapter says about one recorded panel, asserted on that panel and reported on any other.

A chapter states two kinds of facts. Some hold for **every** panel (a non-negative mixture fits
its training items at least as well as any single agent; a larger market's fitted ε is never
larger): those are plain ``assert`` statements. Others are what **one** recorded panel shows (the
simplex beats the best single agent held out on ETHICS): true when the committed panel is
replayed, and merely a question when a reader scores live with another model. :class:`Claims`
checks the second kind: it asserts them when replaying, and otherwise prints whether this panel
shows them, in the same words, so a live run on any model finishes and says what it found.
"""

from __future__ import annotations

import textwrap

from avc.plotting import OUTPUT_WIDTH

__all__ = ["Claims", "wrap"]


def wrap(text: str, width: int = OUTPUT_WIDTH) -> str:
    """``text`` folded to the output box of the rendered page (:data:`avc.plotting.OUTPUT_WIDTH`
    characters), continuation lines indented as :func:`avc.plotting.say` does."""
    return textwrap.fill(text, width=width, subsequent_indent="  ", break_on_hyphens=False)


class Claims:
    """``claims = Claims(replaying); claims.check(gain > 0, "NNLS beats the best single agent")``."""

    def __init__(self, replaying: bool, echo=print):
        self.replaying = replaying
        self.echo = echo
        self.results: list[tuple[str, bool]] = []

    def check(self, holds, statement: str) -> bool:
        """Assert ``holds`` when replaying the recorded panel; print the verdict either way."""
        holds = bool(holds)
        self.results.append((statement, holds))
        if self.replaying:
            assert holds, f"the recorded panel no longer shows this: {statement}"
            self.echo(wrap(f"checked on the recorded panel: {statement}"))
        else:
            self.echo(wrap(f"{'shown' if holds else 'NOT shown'} by this panel: {statement}"))
        return holds

    @property
    def shown(self) -> int:
        return sum(holds for _, holds in self.results)
