"""What a chapter says about one recorded panel, asserted on that panel and reported on any other.

A chapter states two kinds of facts. Some hold for **every** panel (a non-negative mixture fits
its training items at least as well as any single agent; a larger market's fitted ε is never
larger): those are plain ``assert`` statements. Others are what **one** recorded panel shows (the
simplex beats the best single agent held out on ETHICS): true when the committed panel is
replayed, and merely a question when a reader scores live with another model. :class:`Claims`
checks the second kind: it asserts them when replaying the recorded panel with the chapter's
default parameters (the analysis its text describes), and otherwise prints whether they are
shown, in the same words, so a live run on any model, or a replay with other parameters
(``-p intercept True``, fewer permutations), finishes and says what it found.
"""

from __future__ import annotations

from avc.chapter.text import wrap

__all__ = ["Claims"]


class Claims:
    """``claims = Claims(replaying, changed); claims.check(gain > 0, "NNLS beats the best agent")``.

    ``replaying``: the chapter reads the recorded panel. ``changed``: the parameters that differ
    from the chapter's defaults (:func:`avc.chapter.params.changed_parameters`); with any, the statements
    are reported, not asserted, since they describe the default analysis. A simulation chapter
    (its statements are about random games drawn with its seed and sizes, not theorems) passes
    ``replaying=True`` and ``subject="the simulation"``."""

    def __init__(
        self, replaying: bool, changed: dict | None = None, echo=print, subject: str = "the recorded panel"
    ):
        self.replaying = replaying
        self.changed = dict(changed or {})
        self.asserting = replaying and not self.changed
        self.echo = echo
        self.subject = subject
        self.results: list[tuple[str, bool]] = []
        if replaying and self.changed:
            settings = ", ".join(f"{k} = {v!r}" for k, v in self.changed.items())
            self.echo(
                wrap(
                    f"the statements about {subject} describe this chapter's default "
                    f"analysis; with {settings} they are reported, not asserted"
                )
            )

    @property
    def where(self) -> str:
        """Where a reported statement was looked for."""
        return "with these parameters" if self.replaying else "by this panel"

    def check(self, holds, statement: str) -> bool:
        """Assert ``holds`` when replaying the recorded panel with the default parameters;
        print the verdict either way."""
        holds = bool(holds)
        self.results.append((statement, holds))
        if self.asserting:
            assert holds, f"{self.subject} no longer shows this: {statement}"
            self.echo(wrap(f"checked on {self.subject}: {statement}"))
        else:
            self.echo(wrap(f"{'shown' if holds else 'NOT shown'} {self.where}: {statement}"))
        return holds

    @property
    def shown(self) -> int:
        return sum(holds for _, holds in self.results)

    def summary(self) -> str:
        """One line: how many of the statements hold here."""
        if self.asserting:
            return wrap(f"all {len(self.results)} statements about {self.subject} checked")
        return wrap(
            f"{self.shown} of {len(self.results)} statements about {self.subject} are shown {self.where}"
        )
