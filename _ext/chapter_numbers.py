"""Number boxes per chapter, prefixed by the chapter's letter: Exercise F.2, Theorem C.1.

Sphinx numbers enumerable nodes (sphinx-proof's theorems and definitions, sphinx-exercise's
exercises, captioned figures) across the whole book when the table of contents is not
numbered, so the second exercise of Chapter F would read "Exercise 12", and the book's
"Theorem 4" would sit beside the paper's "Theorem 6" it restates. The chapters are named
after the paper's appendices (``book/f_experiments`` is Chapter F), so this extension
renumbers every enumerable type inside each chapter from 1, with the chapter's letter in
front. Pages whose name does not start with a letter and an underscore (the introduction,
the status page) are numbered from 1 without a prefix.

Both extensions read the numbers from ``env.toc_fignumbers`` and join the tuple with
dots, so boxes, their titles and every ``{prf:ref}`` / ``{ref}`` to them change together.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

CHAPTER_NAME = re.compile(r"^([a-z])_")


def chapter_prefix(docname: str) -> tuple[str, ...]:
    """``("F",)`` for ``book/f_experiments``; ``()`` for a page that is not a chapter."""
    match = CHAPTER_NAME.match(PurePosixPath(docname).name)
    return (match.group(1).upper(),) if match else ()


def renumber_per_chapter(toc_fignumbers: dict) -> dict:
    """Number every type within each chapter from 1, in the book's order. A chapter may span
    pages (``d_quantal`` and ``d_equilibria`` are both Chapter D): its pages share one count,
    ordered by Sphinx's book-wide numbers, so D's continuation goes on from D's last box. A page
    that is not a chapter is numbered on its own."""
    groups: dict[tuple, list] = {}
    for docname, by_type in toc_fignumbers.items():
        prefix = chapter_prefix(docname)
        for figtype, numbers in by_type.items():
            key = (prefix or (docname,), figtype)
            groups.setdefault(key, []).extend(
                (number, docname, node_id) for node_id, number in numbers.items()
            )
    renumbered = {
        docname: {figtype: {} for figtype in by_type} for docname, by_type in toc_fignumbers.items()
    }
    for (prefix, figtype), entries in groups.items():
        shown = prefix if chapter_prefix(entries[0][1]) else ()
        for position, (_, docname, node_id) in enumerate(sorted(entries), start=1):
            renumbered[docname][figtype][node_id] = shown + (position,)
    return renumbered


def _renumber(app, env) -> list[str]:
    env.toc_fignumbers = renumber_per_chapter(env.toc_fignumbers)
    return []


def setup(app):
    # Sphinx assigns its book-wide numbers on env-get-updated at the default priority
    # (500); a later priority rewrites them before any page is resolved or written.
    app.connect("env-get-updated", _renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
