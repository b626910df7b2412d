"""Helpers for the executable book *Alignment via Competition*.

The notebooks in ``book/`` import this package for everything that would clutter a
chapter: the finite model of Section B (:mod:`avc.model`), the weighted-alignment
linear program of Definition 1 (:mod:`avc.alignment`), worked utility families
(:mod:`avc.examples`), dataset loading (:mod:`avc.datasets`) and the plotting style
(:mod:`avc.plotting`).
"""

__version__ = "0.1.0"
