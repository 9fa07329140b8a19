"""Frozen value types shared by every layer: markets, tiers, positions, orders, snapshots.

Nothing here does I/O or knows an exchange API; adapters (exchange/, the snapshot file reader)
build these, and risk/ and guard/ consume them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

_T = TypeVar("_T")


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class PositionMode(StrEnum):
    ONE_WAY = "one_way"
    HEDGE = "hedge"


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


EXCHANGES = ("binanceusdm", "aster", "bybit", "hyperliquid")
# Venues whose minimum order value binds reduce-only orders too ("Order must have minimum value of
# $10"); Binance, Aster and Bybit exempt them ("MIN_NOTIONAL ... except reduceOnly").
REDUCE_MIN_NOTIONAL_VENUES = ("hyperliquid",)

# guardbot's own client order ids: "gb-..." on Binance/Aster/Bybit; on Hyperliquid, whose cloid
# must be 128-bit hex, "0x6762..." ("gb" in hex). The guard uses this to tell its orders from the
# trader's; exchange/ids.py makes them.
CLIENT_ID_PREFIX = "gb-"
HEX_CLIENT_ID_PREFIX = "0x6762"


def base_asset(symbol: str) -> str:
    """'BTC/USDT:USDT' -> 'BTC': how people name a market in tables, messages and sector maps."""
    return symbol.split("/", 1)[0]


def is_guardbot_client_id(client_id: str | None) -> bool:
    if not client_id:
        return False
    return client_id.startswith(CLIENT_ID_PREFIX) or (
        client_id.startswith(HEX_CLIENT_ID_PREFIX) and len(client_id) == 34
    )


@dataclass(frozen=True, slots=True)
class Tier:
    """One maintenance-margin bracket. The tier is chosen by position notional (not by margin)."""

    notional_floor: float
    notional_cap: float
    maintenance_margin_rate: float
    maintenance_amount: float
    max_leverage: float

    def contains(self, notional: float) -> bool:
        return self.notional_floor <= notional < self.notional_cap


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    amount_step: float
    min_amount: float = 0.0
    min_notional: float = 0.0
    price_tick: float = 0.0
    contract_size: float = 1.0
    # the least value an order that only reduces a position must have: 0 where the venue exempts
    # reducing orders from its minimum (Binance, Aster, Bybit); Hyperliquid's $10 applies to all
    reduce_min_notional: float = 0.0


@dataclass(frozen=True, slots=True)
class Fees:
    taker: float = 0.0005
    maker: float = 0.0002


@dataclass(frozen=True, slots=True)
class Position:
    """An open position. `contracts` is always positive; `side` says the direction.

    `isolated_margin` is the margin allocated to an isolated position, excluding its unrealized PnL
    (Binance's `isolatedWallet`). `exchange_*` fields keep what the venue itself reported, so we can
    compare it with our own estimate.
    """

    symbol: str
    side: Side
    contracts: float
    entry_price: float
    mark_price: float
    contract_size: float = 1.0
    leverage: float = 1.0
    margin_mode: MarginMode = MarginMode.CROSS
    isolated_margin: float = 0.0
    exchange_liquidation_price: float | None = None
    exchange_maintenance_margin: float | None = None

    @property
    def size(self) -> float:
        """Quantity in base units (contracts x contract size)."""
        return self.contracts * self.contract_size

    @property
    def notional(self) -> float:
        return self.size * self.mark_price

    @property
    def signed_notional(self) -> float:
        return self.side.sign * self.notional

    @property
    def unrealized_pnl(self) -> float:
        return self.pnl_at(self.mark_price)

    def pnl_at(self, price: float) -> float:
        return self.side.sign * self.size * (price - self.entry_price)

    def at_mark(self, mark: float) -> Position:
        return _replace(self, mark_price=mark)

    def with_contracts(self, contracts: float) -> Position:
        return _replace(self, contracts=contracts)

    @property
    def key(self) -> tuple[str, Side]:
        return (self.symbol, self.side)


@dataclass(frozen=True, slots=True)
class Order:
    """A resting order as the exchange reports it (normalised by the reader)."""

    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "market" | "limit" | "stop_market" | "take_profit_market" | ...
    amount: float | None
    id: str = ""
    client_order_id: str | None = None
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    close_position: bool = False
    working_type: str = "mark"  # "mark" | "last"
    position_side: str | None = None  # hedge mode: "long" | "short"

    @property
    def is_stop(self) -> bool:
        return self.trigger_price is not None and self.type in ("stop_market", "stop", "stop_loss")


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Money moved into (+) or out of (−) the wallet by something other than trading: a deposit, a
    withdrawal, a transfer between accounts, a bonus. As the venue's ledger reports it."""

    id: str
    ts_ms: int
    amount: float  # signed, settle currency
    kind: str = "transfer"  # ccxt's ledger type: transfer, deposit, withdrawal, cashback, rebate, ...


@dataclass(frozen=True, slots=True)
class ForcedClose:
    """A position (or part) the exchange closed by force: a liquidation or an auto-deleveraging."""

    symbol: str
    position_side: Side  # the position that was closed
    amount: float  # contracts
    price: float | None
    ts_ms: int
    kind: str = "liquidation"  # "liquidation" | "adl"
    order_id: str = ""


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account at one instant: everything the risk core needs and nothing it must fetch.

    `wallet_balance` is the whole wallet in the settle currency (deposits + realized PnL), including
    the margin allocated to isolated positions; the cross pool is what is left after those.
    """

    exchange: str
    wallet_balance: float
    positions: tuple[Position, ...] = ()
    tiers: Mapping[str, tuple[Tier, ...]] = field(default_factory=dict)
    markets: Mapping[str, Market] = field(default_factory=dict)
    mark_prices: Mapping[str, float] = field(default_factory=dict)
    fees: Fees = Fees()
    margin_mode: MarginMode = MarginMode.CROSS
    position_mode: PositionMode = PositionMode.ONE_WAY
    settle_currency: str = "USDT"
    open_orders: tuple[Order, ...] = ()
    closes: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    closes_timeframe: str | None = None
    timestamp_ms: int | None = None
    account: str | None = None
    # symbols measured with a stand-in tier table because the venue gave none (a new listing)
    estimated_tiers: frozenset[str] = frozenset()

    def mark(self, symbol: str) -> float | None:
        """Mark price of a symbol: from its position if held, else from `mark_prices`."""
        for p in self.positions:
            if p.symbol == symbol:
                return p.mark_price
        return self.mark_prices.get(symbol)

    def symbols(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.positions:
            seen[p.symbol] = None
        return tuple(seen)

    def with_marks(self, marks: Mapping[str, float]) -> AccountSnapshot:
        """The same account with some marks moved (positions and `mark_prices`)."""
        positions = tuple(p.at_mark(marks[p.symbol]) if p.symbol in marks else p for p in self.positions)
        mark_prices = {**self.mark_prices, **{s: m for s, m in marks.items() if s in self.mark_prices}}
        return _replace(self, positions=positions, mark_prices=mark_prices)

    def with_positions(self, positions: tuple[Position, ...]) -> AccountSnapshot:
        return _replace(self, positions=positions)

    def with_wallet(self, wallet_balance: float) -> AccountSnapshot:
        return _replace(self, wallet_balance=wallet_balance)


def _replace(obj: _T, **changes: object) -> _T:
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def is_finite_positive(x: float) -> bool:
    return math.isfinite(x) and x > 0
