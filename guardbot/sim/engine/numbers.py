"""Pure helpers of the engine: decimal checks against a market's steps, tick rounding, modes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from guardbot.domain import MarginMode, PositionMode


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


def dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def is_multiple(value: float, step: str) -> bool:
    try:
        return (dec(value) / Decimal(step)) % 1 == 0
    except InvalidOperation:
        return False


def decimals(value: float) -> int:
    return max(0, -int(dec(value).normalize().as_tuple().exponent))


def significant_figures(value: float) -> int:
    """Significant figures of a decimal (trailing zeros of a whole number do not count)."""
    digits = dec(value).normalize().as_tuple().digits
    return len(digits)


def round_to_tick(price: float, tick: str, direction: Literal["up", "down", "nearest"]) -> float:
    t = Decimal(tick)
    q = dec(price) / t
    rounding = {"up": "ROUND_CEILING", "down": "ROUND_FLOOR", "nearest": "ROUND_HALF_EVEN"}[direction]
    return float(q.quantize(Decimal(1), rounding=rounding) * t)


def coerce_mode(value: str | MarginMode) -> MarginMode:
    v = str(value).lower()
    if v in ("cross", "crossed"):
        return MarginMode.CROSS
    if v == "isolated":
        return MarginMode.ISOLATED
    raise ValueError(f"margin_mode must be 'cross' or 'isolated', got {value!r}")


def coerce_position_mode(value: str | PositionMode) -> PositionMode:
    v = str(value).lower().replace("-", "_")
    if v in ("one_way", "oneway"):
        return PositionMode.ONE_WAY
    if v in ("hedge", "hedged"):
        return PositionMode.HEDGE
    raise ValueError(f"position_mode must be 'one_way' or 'hedge', got {value!r}")
