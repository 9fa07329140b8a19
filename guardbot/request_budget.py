"""What a guard cycle costs in each venue's request budget, and the shortest interval it allows.

ccxt throttles every client to the venue's published limit, in its own cost units: one unit per
`rateLimit` milliseconds (Binance USDⓈ-M: 50 ms, so 1,200 units a minute). A snapshot's cost is
the sum of its reads' costs in ccxt's tables. Asking for snapshots faster than the budget allows
does not make the guard faster: ccxt makes it wait (a 2 s interval on Binance stalled ~35 s at a
time), cycles are skipped, and the account goes unwatched. So the interval is checked at start.

Binance's open-order reads cost 40 units each without a symbol and 1 with one: between the full
reads (every `FULL_ORDERS_EVERY_MS`, to see orders in symbols with no position) the reader asks
symbol by symbol, so a snapshot of a book of n symbols costs 3 + 2n units instead of 83.

Pure data; no ccxt import (the values are ccxt's, and a test checks them against its classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

BUDGET_SHARE = 0.7  # of the limit, for snapshots; the rest for orders, look-ups, the ledger, candles
NOMINAL_SYMBOLS = 10  # the book size the start-up check assumes for per-symbol reads
FULL_ORDERS_EVERY_MS = 60_000
PER_SYMBOL_BELOW = 30  # symbols; from here on the two no-symbol reads (80 units) are cheaper


@dataclass(frozen=True, slots=True)
class VenueCost:
    rate_limit_ms: float  # ccxt's rateLimit: one cost unit per this many ms
    fixed: float  # balance, positions and marks, per snapshot
    per_symbol: float = 0.0  # open-order reads per held symbol (venues that read them that way)
    full_orders: float = 0.0  # the no-symbol open-order reads, once per FULL_ORDERS_EVERY_MS

    def per_minute(self) -> float:
        return 60_000 / self.rate_limit_ms

    def by_symbol(self, n_symbols: int) -> bool:
        """Are open orders read symbol by symbol (cheaper for a small book)?"""
        return bool(self.per_symbol) and n_symbols < PER_SYMBOL_BELOW

    def snapshot_units(self, n_symbols: int) -> float:
        if self.by_symbol(n_symbols):
            return self.fixed + self.per_symbol * n_symbols
        return self.fixed + self.full_orders

    def periodic_units(self, n_symbols: int) -> float:
        """Units a minute of the full open-order reads made between per-symbol ones."""
        return self.full_orders * 60_000 / FULL_ORDERS_EVERY_MS if self.by_symbol(n_symbols) else 0.0


# ccxt's cost tables (4.5): Binance fapi v3 account 1, v3 positionRisk 1, premiumIndex 1,
# openOrders / openAlgoOrders 1 with a symbol, 40 without; Bybit v5 wallet-balance 1, position
# list 5, tickers 5, order realtime 5; Hyperliquid info clearinghouseState 2 (balance, positions),
# metaAndAssetCtxs 10, frontendOpenOrders 10; Aster balance, positionRisk, premiumIndex, openOrders 1.
COSTS: dict[str, VenueCost] = {
    "binanceusdm": VenueCost(50, fixed=3, per_symbol=2, full_orders=80),
    "bybit": VenueCost(20, fixed=16),
    "hyperliquid": VenueCost(50, fixed=24),
    "aster": VenueCost(333, fixed=4),
}


def min_interval_s(exchange: str, n_symbols: int = NOMINAL_SYMBOLS) -> float:
    """The shortest interval whose snapshots fit in BUDGET_SHARE of the venue's limit."""
    cost = COSTS[exchange]
    budget = cost.per_minute() * BUDGET_SHARE - cost.periodic_units(n_symbols)
    return cost.snapshot_units(n_symbols) * 60 / budget


def budget_line(exchange: str, interval_s: float, n_symbols: int = NOMINAL_SYMBOLS) -> str | None:
    """One line when `interval_s` is faster than the venue's budget sustains, else None."""
    if exchange not in COSTS:
        return None
    least = min_interval_s(exchange, n_symbols)
    if interval_s >= least:
        return None
    cost = COSTS[exchange]
    book = f" of a {n_symbols}-symbol book" if cost.per_symbol else ""
    return (
        f"{interval_s:g} s is faster than {exchange}'s request limit sustains: a snapshot{book} costs "
        f"{cost.snapshot_units(n_symbols):g} of ccxt's {cost.per_minute():,.0f} units a minute; "
        f"use at least {_up(least)} s"
    )


def _up(x: float) -> str:
    """Round a minimum up to a number a person would write (1.83 -> 2, 5.9 -> 6, 0.46 -> 0.5)."""
    if x >= 1:
        return f"{-(-x // 1):g}"
    return f"{-(-x * 10 // 1) / 10:g}"


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    """Does `url` point at this machine (where the built-in emulator listens)?"""
    return (urlsplit(url).hostname or "").lower() in LOOPBACK_HOSTS
