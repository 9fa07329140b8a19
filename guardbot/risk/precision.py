"""Lot-step and tick rounding. Guard actions always round quantities *down*: never more than asked."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

_NOISE = Decimal("1e-9")


def _decimals(step: float) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def round_down(quantity: float, step: float) -> float:
    """Largest multiple of `step` that is <= quantity, in decimal arithmetic (0.3 with step 0.1 stays
    0.3). A billionth of a step of tolerance absorbs float noise from arithmetic (0.05 - 0.012 is
    0.037999999999999995): far below any exchange's precision, so it never rounds up in practice."""
    if step <= 0:
        return quantity
    s = Decimal(repr(step))
    units = (Decimal(repr(quantity)) / s + _NOISE).to_integral_value(rounding=ROUND_FLOOR)
    return float(max(Decimal(0), units * s))


def round_up(quantity: float, step: float) -> float:
    """Smallest multiple of `step` that is >= quantity (the same billionth of tolerance: 0.3 with
    step 0.1 stays 0.3). For a minimum the venue imposes, never for a guard's own sizing."""
    if step <= 0:
        return quantity
    s = Decimal(repr(step))
    units = (Decimal(repr(quantity)) / s - _NOISE).to_integral_value(rounding=ROUND_CEILING)
    return float(max(Decimal(0), units * s))


def round_price(price: float, tick: float, *, up: bool = False) -> float:
    """Price on the tick grid; `up` rounds away from zero (a short's stop), else toward it."""
    if tick <= 0:
        return price
    units = price / tick
    units = math.ceil(units - 1e-9) if up else math.floor(units + 1e-9)
    return round(units * tick, _decimals(tick))
