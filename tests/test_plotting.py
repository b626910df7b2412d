"""The book's plotting style: distinct method colours, column-width layouts, wrapped verdicts."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from avc.chapter.plotting import (
    COLUMN_WIDTH,
    METHOD_COLORS,
    facet_layout,
    method_palette,
    panel_grid,
    pretty,
    use_book_style,
)
from avc.chapter.text import OUTPUT_WIDTH, say

SECTION_F_METHODS = [
    "best single agent",
    "rescaled best single agent",
    "constant",
    "simple average",
    "NNLS",
    "simplex",
]


def test_every_section_f_method_has_its_own_colour():
    assert set(SECTION_F_METHODS) <= set(METHOD_COLORS)
    for a, b in itertools.combinations(SECTION_F_METHODS, 2):
        distance = np.linalg.norm(np.subtract(to_rgb(METHOD_COLORS[a]), to_rgb(METHOD_COLORS[b])))
        assert distance > 0.25, f"{a!r} and {b!r} have nearly the same colour ({distance:.2f})"


def test_method_palette_refuses_unknown_methods():
    assert list(method_palette(["NNLS", "simplex"])) == ["NNLS", "simplex"]
    with pytest.raises(KeyError, match="no colour"):
        method_palette(["ridge"])


@pytest.mark.parametrize("n, rows", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_panel_grid_puts_at_most_two_panels_in_a_row_at_column_width(n, rows):
    use_book_style()
    fig, axes = panel_grid(n, sharex=True)
    assert len(axes) == n == len(fig.axes)
    assert fig.get_figwidth() == pytest.approx(COLUMN_WIDTH)
    assert len({round(ax.get_position().y0, 3) for ax in axes}) == rows
    plt.close(fig)
    with pytest.raises(ValueError):
        panel_grid(4, ncols=3)


def test_facet_layout_fit_the_column():
    kws = facet_layout(4, sharex=False)
    assert kws["col_wrap"] == 2 and kws["height"] * kws["aspect"] * 2 == pytest.approx(COLUMN_WIDTH)
    assert kws["facet_kws"] == {"legend_out": False, "sharex": False}
    assert "col_wrap" not in facet_layout(2)


def test_a_four_panel_seaborn_grid_fits_the_column():
    import pandas as pd
    import seaborn as sns

    from avc.chapter.plotting import legend_below

    use_book_style()
    df = pd.DataFrame(
        {
            "k": [1, 2] * 8,
            "eps": np.arange(16.0),
            "weights": ["uniform_no_offset", "best_weights"] * 8,
            "setting": np.repeat(list("abcd"), 4),
        }
    )
    grid = sns.relplot(data=df, x="k", y="eps", hue="weights", col="setting", kind="line", **facet_layout(4))
    legend = legend_below(grid.figure, ncol=2)
    assert grid.figure.get_figwidth() == pytest.approx(COLUMN_WIDTH)
    assert [t.get_text() for t in legend.get_texts()] == ["uniform weights, no offset", "best weights (LP)"]
    plt.close(grid.figure)


def test_pretty_labels():
    assert pretty("uniform_no_offset") == "uniform weights, no offset"
    assert pretty("some_column") == "some column"
    assert pretty(r"$\sum_i w_i U_i + c$") == r"$\sum_i w_i U_i + c$"


def test_say_wraps_to_the_output_box(capsys):
    say("word " * 60)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= OUTPUT_WIDTH
    assert all(line.startswith("  ") for line in lines[1:])
