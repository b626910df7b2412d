"""Chapter F's figures: the agents' diversity, the curves against K, the sparsity, the panel size.

Each function draws one figure from what the chapter computed and returns it; the chapter shows it
with :func:`avc.chapter.plotting.show`, which also saves it as SVG for slides.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from avc.chapter.plotting import figure, legend_below, method_palette, panel_grid
from avc.fitting.fits import METHODS

__all__ = ["curve_figure", "diversity_figure", "size_figure", "sparsity_figure"]

PALETTE = method_palette(METHODS)  # one distinct colour per method, the same in every figure


def diversity_figure(pairwise: dict, with_target: dict, movies: str, shared: str) -> plt.Figure:
    """Figure F.1: correlation between two agents (left) and of each agent with the target
    (right); ``shared`` names a target whose agents another target shares (drawn once)."""
    fig, axes = figure(3.4, ncols=2)
    for name in pairwise:
        if name != shared:
            domain = "MovieLens" if name == movies else "ETHICS"
            sns.kdeplot(pairwise[name], ax=axes[0], label=domain, cut=0, warn_singular=False)
        label = name.replace(" (mean rating)", "")
        sns.kdeplot(with_target[name], ax=axes[1], label=label, cut=0, warn_singular=False)
    axes[0].set(xlabel="correlation between two agents", ylabel="density", title="agents with each other")
    axes[1].set(
        xlabel="correlation of an agent with the target", ylabel="density", title="agents with the target"
    )
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:  # a tiny live panel may have nothing to draw
            ax.legend(fontsize="small")
    plt.tight_layout()
    return fig


def curve_figure(curves: dict) -> plt.Figure:
    """Figure F.2: held-out MSE against K per target and method (mean, 95% range over
    permutations); the last panel holds the legend."""
    fig, axes = panel_grid(len(curves) + 1, panel_height=3.2, sharex=True)
    for ax, (name, part) in zip(axes, curves.items()):
        sns.lineplot(
            data=part, x="K", y="mse", hue="method", hue_order=list(METHODS), palette=PALETTE,
            errorbar=("pi", 95), ax=ax, legend=False,
        )  # fmt: skip
        ax.set(title=name, xlabel="number of agents K", ylabel="held-out MSE")
        ax.tick_params(labelbottom=True)  # the panel above the legend keeps its K
    for method in METHODS:
        axes[-1].plot([], [], color=PALETTE[method], label=method, lw=2)
    axes[-1].legend(loc="center", frameon=False, title="method")
    axes[-1].axis("off")
    plt.tight_layout()
    return fig


def sparsity_figure(curve) -> plt.Figure:
    """Figure F.3: non-zero weights of NNLS and simplex against K (mean ± 1 sd)."""
    fig, axes = figure(3.4, ncols=2, sharey=True)
    for ax, method in zip(axes, ("NNLS", "simplex")):
        part = curve[curve.method == method]
        sns.lineplot(data=part, x="K", y="nonzero", hue="target", errorbar="sd", ax=ax)
        ax.plot([1, part.K.max()], [1, part.K.max()], color="grey", lw=0.8, ls=":")
        ax.set(title=method, xlabel="number of agents K", ylabel="non-zero weights (> 1e-6)")
    plt.tight_layout()
    legend_below(fig, axes[0], ncol=2)
    return fig


def size_figure(size_gain) -> plt.Figure:
    """Figure F.4: held-out gain at full K against the number of items (clipped at -1)."""
    fig, axes = figure(3.6, ncols=2, sharey=True)
    names = list(dict.fromkeys(size_gain.index.get_level_values(0)))
    colours = dict(zip(names, sns.color_palette("colorblind")))  # one per target
    for ax, over in zip(axes, ("over best single", "over rescaled best single")):
        for name in names:
            part = size_gain.loc[name, over]
            for method, style in (("NNLS", "--"), ("simplex", "-")):
                label = f"{method}, {name.replace(' (mean rating)', '')}"
                ax.plot(part.index, part[method].clip(lower=-1), style, color=colours[name], marker="o", ms=3,
                        label=label)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(title=f"gain {over}", xlabel="items in the panel", ylim=(-1.05, 1))
    axes[0].set_ylabel("held-out gain (clipped at -1)")
    plt.tight_layout()
    legend_below(fig, axes[0], ncol=2)
    return fig
