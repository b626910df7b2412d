"""Helpers for the executable book *Alignment via Competition*.

The chapters in ``book/`` import from six subpackages, each with one job; dependencies run one
way, from the top of this list to the bottom (``theory`` imports nothing of the others):

- :mod:`avc.chapter`: parameter checks, claims, text width and number formats, plotting;
- :mod:`avc.checks`: the theorem checks and random instance families of the theory chapters;
- :mod:`avc.fitting`: Section F's fits, curves, held-out gains and Section G's audit;
- :mod:`avc.panels`: persona prompts, datasets, recorded panels and their paths;
- :mod:`avc.llm`: scoring with language models (client, runs, cache, live-run checks);
- :mod:`avc.theory`: the model, Definition 1's LP, persuasion, quantal response, games.

:mod:`avc.cli` is ``python -m avc``; :mod:`avc.paths` locates the repository and the user cache.
"""

__version__ = "0.1.0"
