"""The book's plotting style and the figures several chapters share.

Every chapter calls :func:`use_book_style` once. Figures are then drawn at the width of the
book's text column (about 700 px), so that a 10-11 pt label in the notebook is a 10-11 pt
label on the page: nothing is shrunk by the browser. The helpers below keep it that way:

- :func:`figure` and :func:`panel_grid` make figures of the column's width; ``panel_grid``
  lays 3-4 panels out two per row instead of squeezing them into one row;
- :func:`facet_layout` gives seaborn's figure-level functions (``relplot``, ``catplot``) the same
  layout (``col_wrap=2`` and a panel size that fits the column);
- :data:`METHOD_COLORS` gives each fitting method of Section F its own colour, in every chapter;
  :func:`method_palette` hands it to seaborn (``palette=method_palette(names)``);
- :func:`pretty` turns a column name such as ``uniform_no_offset`` into a label for readers;
- :func:`show` shows a figure and saves it as SVG under a stable name, for slides:
  ``_build/figures/<chapter>/<label>.svg`` (the chapter is the one named to
  :func:`use_book_style`; ``AVC_FIGURES_DIR`` moves the folder).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.patches import Polygon, Rectangle
from scipy.spatial import ConvexHull, QhullError

from avc.paths import REPO_ROOT
from avc.theory.alignment import AlignmentFit

__all__ = [
    "COLUMN_WIDTH",
    "METHOD_COLORS",
    "PALETTE",
    "facet_layout",
    "figure",
    "figure_path",
    "figures_dir",
    "legend_below",
    "method_palette",
    "panel_grid",
    "plot_hull_geometry",
    "pretty",
    "show",
    "use_book_style",
]

PALETTE = sns.color_palette("colorblind")
"""Seaborn's colour-blind-safe palette, the book's default colour cycle."""

COLUMN_WIDTH = 6.8
"""Width of a figure that fills the text column, in inches (680 px at the book's 100 dpi)."""

DPI = 100
"""Pixels per inch of the figures: one figure pixel is one CSS pixel on the page (retina PNGs
carry twice as many pixels and say so, so they stay sharp without growing)."""

# Section F's methods, each with its own colour (colour-blind palette, no two of one hue):
# the single-agent baselines in blues and grey, the mixtures in green, orange, vermillion.
METHOD_COLORS = {
    "best single agent": PALETTE[0],  # blue
    "rescaled best single agent": PALETTE[9],  # light blue
    "constant": PALETTE[7],  # grey
    "simple average": PALETTE[2],  # green
    "NNLS": PALETTE[4],  # purple
    "simplex": PALETTE[1],  # orange
}

LABELS = {
    "uniform_no_offset": "uniform weights, no offset",
    "uniform_best_offset": "uniform weights, best offset",
    "best_weights": "best weights (LP)",
    "best_over_uniform": "best / uniform",
    "n_agents": "number of agents k",
    "eps": "alignment error ε",
}
"""Readers' names for column names that show in legends and axis labels."""


CURRENT = {"chapter": None}
"""The chapter whose figures :func:`show` saves (set by :func:`use_book_style`)."""


def use_book_style(chapter: str | None = None) -> None:
    """One look for every figure of the book: sizes that read at the column's width.

    ``chapter`` (the notebook's name, e.g. ``"b_model"``) is where :func:`show` saves figures."""
    CURRENT["chapter"] = chapter
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update(
        {
            "figure.figsize": (COLUMN_WIDTH, 0.6 * COLUMN_WIDTH),
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.constrained_layout.use": False,
            "savefig.bbox": "tight",
            "font.size": 11,
            "axes.titlesize": 11.5,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.fontsize": 10,
            "legend.title_fontsize": 10,
            "figure.titlesize": 12,
            "lines.linewidth": 1.8,
        }
    )
    try:  # sharp figures on high-resolution screens, at the same size on the page
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except Exception:  # noqa: BLE001 - outside IPython there is nothing to configure
        pass


def figures_dir() -> Path:
    """Where figures are saved for slides: ``AVC_FIGURES_DIR`` when set, else ``_build/figures``
    beside the book."""
    override = os.environ.get("AVC_FIGURES_DIR")
    return Path(override).expanduser() if override else REPO_ROOT / "_build" / "figures"


def figure_path(label: str, chapter: str | None = None) -> Path:
    """The SVG file of figure ``label`` (e.g. ``"figure-b1"``) of ``chapter`` (default: the one
    named to :func:`use_book_style`)."""
    chapter = CURRENT["chapter"] if chapter is None else chapter
    if not chapter:
        raise ValueError("name the chapter first: use_book_style('b_model'), then show(fig, label)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", label):
        raise ValueError(f"figure labels are lower-case file names such as 'figure-b1'; got {label!r}")
    return figures_dir() / chapter / f"{label}.svg"


def show(fig, label: str) -> None:
    """Save ``fig`` (a matplotlib figure, or a seaborn grid) as SVG under :func:`figure_path`
    and show it in the notebook. Returns nothing, so that a cell ending with ``show(...)``
    prints nothing under the figure."""
    fig = getattr(fig, "figure", fig)  # a seaborn FacetGrid carries its figure
    path = figure_path(label)
    path.parent.mkdir(parents=True, exist_ok=True)
    # no date and ids salted by the label: the same figure gives the same file
    with plt.rc_context({"svg.hashsalt": label}):
        fig.savefig(path, format="svg", metadata={"Date": None})
    plt.show()


def figure(height: float | None = None, width: float = COLUMN_WIDTH, **subplots_kw):
    """``plt.subplots`` at the column's width: ``fig, ax = figure(3.5)``."""
    height = 0.6 * width if height is None else height
    return plt.subplots(figsize=(width, height), **subplots_kw)


def panel_grid(n_panels: int, panel_height: float = 3.0, ncols: int | None = None, **subplots_kw):
    """A figure of ``n_panels`` axes, at most two per row, at the column's width.

    Returns ``(fig, axes)`` where ``axes`` is a flat array of exactly ``n_panels`` axes (unused
    cells of the grid are removed). ``subplots_kw`` goes to ``plt.subplots`` (``sharex``,
    ``sharey``, ...). Use it for every figure of 3 or more panels::

        fig, axes = panel_grid(len(settings), sharey=True)
        for ax, setting in zip(axes, settings):
            ...
    """
    if n_panels < 1:
        raise ValueError("panel_grid needs at least one panel")
    ncols = min(2, n_panels) if ncols is None else ncols
    if not 1 <= ncols <= 2:
        raise ValueError("at most two panels per row fit the column")
    nrows = math.ceil(n_panels / ncols)
    subplots_kw.setdefault("squeeze", False)
    fig, grid = plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, panel_height * nrows), **subplots_kw)
    axes = grid.ravel()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    if subplots_kw.get("sharex") in (True, "all", "col"):
        # the panel above a removed one is now the last of its column: give it tick labels
        for ax in axes[max(0, n_panels - ncols) : n_panels]:
            ax.xaxis.set_tick_params(labelbottom=True)
    return fig, axes[:n_panels]


def facet_layout(n_panels: int, panel_height: float = 3.0, **grid_kws) -> dict:
    """Keyword arguments that make a seaborn figure-level plot (``relplot``, ``catplot``,
    ``displot`` with ``col=...``) fit the column, two panels per row, with its legend kept
    inside (move it under the panels with :func:`legend_below`)::

        grid = sns.relplot(data=df, x="k", y="eps", hue="method", col="setting", kind="line",
                           **facet_layout(4, sharex=False))
        legend_below(grid.figure, ncol=3)

    ``grid_kws`` go to the FacetGrid (``sharex``, ``sharey``, ...).
    """
    ncols = min(2, n_panels)
    # seaborn's default puts the legend outside and widens the figure by its width: keep it in
    kws = {
        "height": panel_height,
        "aspect": COLUMN_WIDTH / ncols / panel_height,
        "facet_kws": {"legend_out": False, **grid_kws},
    }
    if n_panels > 2:
        kws["col_wrap"] = 2
    return kws


def legend_below(fig, ax=None, ncol: int = 2, **legend_kw):
    """One legend for the whole figure, centred under the panels; the axes' legends go.

    The entries come from ``ax``'s legend if it has one (as seaborn draws it), else from the
    labelled artists of ``ax`` (default: the first axes). Labels pass through :func:`pretty`.
    """
    source = ax if ax is not None else fig.axes[0]
    legend = source.get_legend()
    if legend is not None:
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    else:
        handles, labels = source.get_legend_handles_labels()
    for a in fig.axes:
        if a.get_legend() is not None:
            a.get_legend().remove()
    for old in list(fig.legends):
        old.remove()
    return fig.legend(
        handles,
        [pretty(label) for label in labels],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=ncol,
        frameon=False,
        **legend_kw,
    )


def method_palette(names: Iterable[str] | None = None) -> dict:
    """Colours of Section F's methods for seaborn's ``palette=`` (every known method, or ``names``).

    An unknown name is an error rather than a silent repeat of another method's colour.
    """
    if names is None:
        return dict(METHOD_COLORS)
    names = list(names)
    unknown = [n for n in names if n not in METHOD_COLORS]
    if unknown:
        raise KeyError(f"no colour for method(s) {unknown}; add them to avc.chapter.plotting.METHOD_COLORS")
    return {n: METHOD_COLORS[n] for n in names}


def pretty(name: str) -> str:
    """A reader's label for a column name: ``pretty("uniform_no_offset")`` gives
    ``"uniform weights, no offset"``; unknown names lose their underscores."""
    name = str(name)
    if name in LABELS:
        return LABELS[name]
    # only identifiers: a label such as r"$\sum_i w_i$" keeps its underscores
    return name.replace("_", " ") if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) else name


def _hull_polygon(points: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull of 2-D points, in order (degenerate hulls handled)."""
    if len(points) >= 3:
        try:
            return points[ConvexHull(points).vertices]
        except QhullError:  # collinear points: fall through to the segment
            pass
    order = np.lexsort((points[:, 1], points[:, 0]))
    return points[[order[0], order[-1]]]


def plot_hull_geometry(ax, agent_points, user_point, fit: AlignmentFit, labels=None) -> None:
    """Draw Definition 1 in two cells: agents' hull, its translate by ``c``, the user and ε.

    Each utility is a point whose coordinates are its values on two (action, state) cells.
    The offset ``c`` moves the hull along the diagonal (1, 1); ε is the half-width of the
    smallest sup-norm square around the user's point that touches the moved hull.
    """
    pts = np.asarray(agent_points, dtype=float)
    user = np.asarray(user_point, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or user.shape != (2,):
        raise ValueError("plot_hull_geometry draws two cells: agent_points (k, 2) and user_point (2,).")
    hull = _hull_polygon(pts)
    ax.add_patch(Polygon(hull, closed=True, alpha=0.25, color=PALETTE[0], label="agents' hull"))
    shifted = hull + fit.offset
    ax.add_patch(
        Polygon(shifted, closed=True, fill=False, ls="--", lw=1.5, ec=PALETTE[0], label="agents' hull + c")
    )
    ax.scatter(*pts.T, color=PALETTE[0], zorder=3)
    for i, (x, y) in enumerate(pts):
        ax.annotate(
            labels[i] if labels is not None else f"$U_{i + 1}$",
            (x, y),
            textcoords="offset points",
            xytext=(5, 5),
        )
    eps = fit.eps
    ax.add_patch(
        Rectangle(
            user - eps,
            2 * eps,
            2 * eps,
            fill=False,
            lw=1.5,
            ec=PALETTE[3],
            label="sup-norm ball of radius ε*",
        )
    )
    ax.scatter(*user, marker="*", s=220, color=PALETTE[3], zorder=4, label="user $u_A$")
    ax.scatter(
        *fit.approximation, marker="X", s=90, color=PALETTE[2], zorder=4, label=r"$\sum_i w_i U_i + c$"
    )
    ax.plot(*np.c_[user, fit.approximation], color=PALETTE[2], lw=1)
    everything = np.vstack([pts, shifted, user - eps, user + eps])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    pad = 0.1 * max(hi - lo) + 0.05
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
