"""The book's plotting style and the figures several chapters share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.patches import Polygon, Rectangle
from scipy.spatial import ConvexHull, QhullError

from avc.alignment import AlignmentFit

__all__ = ["PALETTE", "plot_hull_geometry", "use_book_style"]

PALETTE = sns.color_palette("colorblind")


def use_book_style() -> None:
    """One look for every figure of the book."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


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
    ax.add_patch(Polygon(shifted, closed=True, fill=False, ls="--", lw=1.5, ec=PALETTE[0], label="agents' hull + c"))
    ax.scatter(*pts.T, color=PALETTE[0], zorder=3)
    for i, (x, y) in enumerate(pts):
        ax.annotate(labels[i] if labels is not None else f"$U_{i + 1}$", (x, y), textcoords="offset points", xytext=(5, 5))
    eps = fit.eps
    ax.add_patch(
        Rectangle(user - eps, 2 * eps, 2 * eps, fill=False, lw=1.5, ec=PALETTE[3], label="sup-norm ball of radius ε*")
    )
    ax.scatter(*user, marker="*", s=220, color=PALETTE[3], zorder=4, label="user $u_A$")
    ax.scatter(*fit.approximation, marker="X", s=90, color=PALETTE[2], zorder=4, label=r"$\sum_i w_i U_i + c$")
    ax.plot(*np.c_[user, fit.approximation], color=PALETTE[2], lw=1)
    everything = np.vstack([pts, shifted, user - eps, user + eps])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    pad = 0.1 * max(hi - lo) + 0.05
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
