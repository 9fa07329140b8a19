"""Which open-order reads a Binance snapshot makes: all at once, or symbol by symbol.

Binance prices `GET /fapi/v1/openOrders` and `/openAlgoOrders` at 40 units each without a symbol
and 1 with one (ccxt's cost table). A snapshot that asks without a symbol costs 83 units and the
budget sustains one every ~6 s; asked symbol by symbol for the book's symbols, a 10-symbol book
costs 23. Orders in a symbol with no position (a resting entry, an orphan stop) only show in a
full read, so one is made at least every `FULL_ORDERS_EVERY_MS`, and whenever the book is too big
for per-symbol reads to be cheaper. See request_budget.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from guardbot.domain import AccountSnapshot
from guardbot.request_budget import FULL_ORDERS_EVERY_MS, PER_SYMBOL_BELOW


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class OrderReads:
    clock: Callable[[], int] = _wall_ms  # epoch ms (the emulator's clock in tests)
    last_full_ms: int | None = None
    symbols: frozenset[str] = field(default_factory=frozenset)  # seen in positions or orders

    def plan(self, now_ms: int) -> list[str] | None:
        """The symbols to read orders for, or None for one read of all orders."""
        if self.last_full_ms is None or now_ms - self.last_full_ms >= FULL_ORDERS_EVERY_MS:
            return None
        if len(self.symbols) >= PER_SYMBOL_BELOW:
            return None
        return sorted(self.symbols)

    def saw(self, snapshot: AccountSnapshot, *, full: bool, now_ms: int) -> None:
        if full:
            self.last_full_ms = now_ms
        self.symbols = frozenset(p.symbol for p in snapshot.positions) | frozenset(
            o.symbol for o in snapshot.open_orders
        )
