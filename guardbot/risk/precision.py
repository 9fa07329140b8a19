"""Lot-step and tick rounding. Guard actions always round quantities *down*: never more than asked."""

from __future__ import annotations

import math
from decimal import Decimal


def _decimals(step: float) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def round_down(quantity: float, step: float) -> float:
    """Largest multiple of `step` that is <= quantity (tolerating float noise like 0.3/0.1)."""
    if step <= 0:
        return quantity
    units = math.floor(quantity / step + 1e-9)
    return round(max(0, units) * step, _decimals(step))


def round_price(price: float, tick: float, *, up: bool = False) -> float:
    """Price on the tick grid; `up` rounds away from zero (a short's stop), else toward it."""
    if tick <= 0:
        return price
    units = price / tick
    units = math.ceil(units - 1e-9) if up else math.floor(units + 1e-9)
    return round(units * tick, _decimals(tick))
