"""Donchian breakout: an example strategy that shows the plug-in interface (docs/strategies.md
walks through it line by line).

At each bar close, for each symbol without a position: a close above the highest high of the
previous `channel` bars proposes a long, a close below their lowest low a short. The stop sits
`atr_stop` average true ranges (ATR) from the close, on the loss side; with `take_profit_r` set, a
take-profit closes `take_profit_fraction` of the position that many stop-distances away.

It proposes only. guardbot sizes each intent from its stop and the configured risk, checks it
against the account (trading state, caps, correlated clusters, sectors, liquidation, minimums) and
sends it as a bracket, or refuses it with a reason. This is an example, not trading advice.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from guardbot.strategies_runtime import (
    Candle,
    Intent,
    Needs,
    Side,
    Strategy,
    StrategyParams,
    TakeProfit,
    View,
)


class DonchianParams(StrategyParams):
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT:USDT"], min_length=1)
    timeframe: str = "1h"
    channel: int = Field(20, ge=2, le=500)
    atr_period: int = Field(14, ge=1, le=500)
    atr_stop: float = Field(2.0, gt=0)
    take_profit_r: float = Field(0.0, ge=0)  # 0: no take-profit
    take_profit_fraction: float = Field(0.5, gt=0, le=1)
    shorts: bool = True


def needs(p: DonchianParams) -> Needs:
    """The channel's bars, the bar that breaks it, and one more for the first true range."""
    return Needs(tuple(p.symbols), p.timeframe, bars=max(p.channel, p.atr_period) + 1)


def average_true_range(bars: Sequence[Candle], period: int) -> float:
    """Simple average of the last `period` true ranges (high-low, widened by a gap from the
    previous close)."""
    ranges = [
        max(b.high - b.low, abs(b.high - prev.close), abs(b.low - prev.close))
        for prev, b in zip(bars[-period - 1 : -1], bars[-period:], strict=True)
    ]
    return sum(ranges) / len(ranges) if ranges else 0.0


def breakout(symbol: str, bars: Sequence[Candle], p: DonchianParams) -> Intent | None:
    """The intent for one symbol's bars, or None when the last close stays inside the channel."""
    if len(bars) < needs(p).bars:
        return None
    last, channel = bars[-1], bars[-p.channel - 1 : -1]
    high, low = max(b.high for b in channel), min(b.low for b in channel)
    atr = average_true_range(bars, p.atr_period)
    distance = p.atr_stop * atr
    if distance <= 0:
        return None
    if last.close > high:
        side, edge, word = Side.LONG, high, "high"
    elif p.shorts and last.close < low:
        side, edge, word = Side.SHORT, low, "low"
    else:
        return None
    stop = last.close - side.sign * distance
    take_profits: tuple[TakeProfit, ...] = ()
    if p.take_profit_r > 0:
        target = last.close + side.sign * p.take_profit_r * distance
        take_profits = (TakeProfit(price=target, fraction=p.take_profit_fraction),)
    return Intent(
        symbol=symbol,
        side=side,
        stop=stop,
        take_profits=take_profits,
        reason=(
            f"close {last.close:g} broke the {p.channel}-bar {word} {edge:g}; "
            f"stop {p.atr_stop:g} ATR ({atr:.6g}) away"
        ),
    )


def propose(view: View, p: DonchianParams) -> list[Intent]:
    out = []
    for symbol in p.symbols:
        if view.position(symbol) is not None:
            continue  # one trade per symbol: the guard and its stop look after the open one
        intent = breakout(symbol, view.candles.get(symbol, ()), p)
        if intent is not None:
            out.append(intent)
    return out


STRATEGY = Strategy(
    name="donchian_breakout",
    params=DonchianParams,
    needs=needs,
    propose=propose,
    description="a close beyond the N-bar channel, stop a few ATRs away",
)
