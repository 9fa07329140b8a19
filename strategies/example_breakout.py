"""Example strategy: propose a long when the last close breaks the highest of the previous N closes.

It only *proposes*; guardbot.risk.sizing decides the quantity and may refuse the trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardbot.domain import Side


@dataclass(frozen=True, slots=True)
class TradeIntent:
    symbol: str
    side: Side
    stop: float
    entry: float | None = None
    reason: str = ""


def breakout(
    symbol: str, closes: Sequence[float], lookback: int = 20, stop_pct: float = 3.0
) -> TradeIntent | None:
    if len(closes) <= lookback:
        return None
    last, prior = closes[-1], closes[-lookback - 1 : -1]
    if last <= max(prior):
        return None
    return TradeIntent(
        symbol,
        Side.LONG,
        stop=last * (1 - stop_pct / 100),
        entry=last,
        reason=f"close {last:g} broke the {lookback}-bar high {max(prior):g}",
    )
