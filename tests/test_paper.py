"""The paper's Table 1 in one place: its rows, and the drops and gains derived from them."""

import pytest

from partkd.paper import TABLE1, TABLE_OPS, signed, table1_line


def test_penn_action_drop_and_gain_hand_computed():
    penn = TABLE1["Penn Action"]
    assert penn.drop() == pytest.approx((78.18 - 83.43, 70.51 - 83.43))  # -5.25 / -12.92
    assert penn.gain() == pytest.approx((87.08 - 83.43, 84.74 - 78.18, 80.52 - 70.51))  # +3.65 / +6.56 / +10.01
    assert signed(penn.drop()) == "-5.25 / -12.92"


def test_every_row_has_one_value_per_op_and_a_line():
    assert TABLE_OPS == (0.0, 0.3, 0.6)
    for name, row in TABLE1.items():
        assert len(row.nokd) == len(row.pmsc) == len(TABLE_OPS), name
    assert table1_line("Penn Action") == (
        "teacher 90.54; w/o KD 83.43 / 78.18 / 70.51; w/ KD 87.08 / 84.74 / 80.52 at OP 0 / 0.3 / 0.6"
    )
