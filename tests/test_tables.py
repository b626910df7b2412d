import math

import numpy as np
import pandas as pd

from avc.chapter.formatting import count, interval_text, signed, tidy


def test_tidy_rounds_and_drops_negative_zeros():
    table = pd.DataFrame({"x": [-0.0004, 0.12345, -4.4e-16], "n": [1, 2, 3]})
    out = tidy(table, digits=2)
    assert out.x.tolist() == [0.0, 0.12, 0.0]
    assert not any(math.copysign(1, v) < 0 for v in out.x)
    assert out.n.tolist() == [1, 2, 3]
    assert math.copysign(1, table.x[0]) < 0  # the input is left as it was


def test_signed_never_shows_a_negative_zero():
    assert signed(0.354) == "+0.35"
    assert signed(-0.354) == "-0.35"
    assert signed(-0.001) == "+0.00"
    assert signed(-0.004, digits=3) == "-0.004"
    assert interval_text(0.354, 0.291, 0.411) == "+0.35 [+0.29, +0.41]"


def test_tidy_takes_columns_arrays_and_numbers():
    assert math.copysign(1, tidy(-1e-12, 2)) > 0
    assert tidy(np.array([-0.0004, 1.23456]), 2).tolist() == [0.0, 1.23]
    column = tidy(pd.Series([-0.0001, 0.5]), 2)
    assert column.tolist() == [0.0, 0.5] and math.copysign(1, column[0]) > 0


def test_count_says_one_or_many():
    assert count(1, "game") == "1 game"
    assert count(0, "game") == "0 games"
    assert count(2, "equilibrium", "equilibria") == "2 equilibria"
