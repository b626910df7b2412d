import math

import pandas as pd

from avc.tables import interval_text, signed, tidy


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
    assert interval_text(0.354, 0.291, 0.411) == "+0.35 (+0.29 to +0.41)"
