"""The strategy plug-in contract: what a strategy module declares, and what it is given.

A strategy is a Python module (in `strategies/`, or any file named by `path` in the config) that
defines one module-level `STRATEGY`:

    STRATEGY = Strategy(
        name="donchian_breakout",        # the name [[strategies]] uses
        params=DonchianParams,           # a StrategyParams (pydantic) model, validated at start
        needs=needs,                     # params -> Needs(symbols, timeframe, bars)
        propose=propose,                 # (View, params) -> list[Intent]
    )

`propose` is given closed candles of every symbol it needs and the account's positions and open
orders, and returns intents: symbol, side, stop, optional entry limit, optional take-profits,
optional risk override, a reason. It never sizes and never places orders: guardbot sizes each
intent from its stop and the risk, checks it against the account's limits, and sends it as a
bracket, or refuses it. It should be a pure function of what it is given (no I/O, no clock): then it
can be tested on any candles, and a restart in the middle of a bar proposes the same thing (the
journal ignores an intent it has already seen for that bar).

An exception inside `propose` does not reach the guard: it is journaled, alerted once, and the
strategy is paused until resumed (`/strategies resume NAME`, `guardbot strategies resume NAME`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from guardbot.domain import Order, Position, Side
from guardbot.intents.model import Intent, TakeProfit

__all__ = [
    "Candle",
    "Intent",
    "Needs",
    "Side",
    "Strategy",
    "StrategyParams",
    "TakeProfit",
    "View",
    "timeframe_ms",
]

_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([mhdw])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """ "15m" -> 900000. Minutes, hours, days, weeks."""
    m = _TIMEFRAME.fullmatch(timeframe)
    if m is None:
        raise ValueError(f'timeframe must look like "15m", "1h", "4h" or "1d", got {timeframe!r}')
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed bar: `ts` is its open time (epoch ms UTC)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Needs:
    """What a strategy reads: closed bars of `timeframe` for each symbol, the last `bars` of them."""

    symbols: tuple[str, ...]
    timeframe: str
    bars: int

    def __post_init__(self) -> None:
        timeframe_ms(self.timeframe)
        if not self.symbols:
            raise ValueError("a strategy needs at least one symbol")
        if not 1 <= self.bars <= 1000:
            raise ValueError(f"bars must be from 1 to 1000, got {self.bars}")


@dataclass(frozen=True, slots=True)
class View:
    """What `propose` is given for one account, at one bar close."""

    now_ms: int
    timeframe: str
    candles: Mapping[str, Sequence[Candle]]  # closed bars per symbol, oldest first
    positions: tuple[Position, ...] = ()
    open_orders: tuple[Order, ...] = ()
    account: str = ""

    def position(self, symbol: str, side: Side | None = None) -> Position | None:
        for p in self.positions:
            if p.symbol == symbol and (side is None or p.side is side):
                return p
        return None

    def has_orders(self, symbol: str) -> bool:
        """Whether any order rests on `symbol` (a bracket waiting for its entry, say)."""
        return any(o.symbol == symbol for o in self.open_orders)


class StrategyParams(BaseModel):
    """Base of every parameters model: unknown keys are errors (a typo is not a silent default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True)
class Strategy(Generic[P]):
    name: str
    params: type[P]
    needs: Callable[[P], Needs]
    propose: Callable[[View, P], Sequence[Intent]]
    description: str = ""
