"""Lot-step rounding: every guard quantity goes through it, and it must never round up."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardbot.risk.precision import round_down, round_price


@pytest.mark.parametrize(
    ("qty", "step", "expected"),
    [
        (0.3, 0.1, 0.3),
        (1.23456, 0.001, 1.234),
        (5, 1, 5),
        (0.0009, 0.001, 0.0),
        (0.05 - 0.012, 0.001, 0.038),
        (39.2349, 0.01, 39.23),
        (0.0029999, 0.001, 0.002),
        (7.0, 0.0, 7.0),
    ],
)
def test_round_down_examples(qty: float, step: float, expected: float) -> None:
    assert round_down(qty, step) == expected


@given(
    st.decimals(min_value=0, max_value=10**6, places=6), st.sampled_from(["0.001", "0.01", "0.1", "1", "5"])
)
def test_round_down_is_on_the_step_and_never_above_the_quantity(qty: Decimal, step: str) -> None:
    out = Decimal(repr(round_down(float(qty), float(step))))
    assert out <= qty
    assert out % Decimal(step) == 0
    assert qty - out < Decimal(step)


def test_round_price_direction() -> None:
    assert round_price(100.07, 0.05) == 100.05
    assert round_price(100.07, 0.05, up=True) == 100.1
