"""Slow-changing exchange reference data, fetched once and refreshed on an interval.

Markets (reloaded on each refresh after the first load), maintenance tiers (Binance: one
`GET /fapi/v1/leverageBracket` for every symbol), the account's position mode, the account's own fee
rates where the venue's margin depends on them (Bybit: the fee to close is in IM and MM), and, only
when a venue's position rows lack it, per-symbol leverage. Refreshed daily by default: tiers change
rarely and the exchange announces it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import Fees, Market, PositionMode, Tier
from guardbot.exchange.convert import (
    ConversionError,
    binance_brackets_to_ccxt,
    hyperliquid_tiers,
    market_from_ccxt,
    num,
    tiers_from_ccxt,
)

DAY_S = 86_400.0
UNKNOWN_REFRESH_S = 60.0  # a symbol the cache does not know reloads markets and tiers at most this often


class TiersCache:
    """Per-client cache of tiers, markets, position mode and leverages.

    One instance per account (per client). Not thread-safe; safe under one asyncio loop.
    """

    def __init__(self, refresh_s: float = DAY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_s = refresh_s
        self._clock = clock
        self._loaded_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self.tiers: dict[str, tuple[Tier, ...]] = {}
        self.markets: dict[str, Market] = {}
        self.position_mode: PositionMode | None = None
        self.fees: Fees | None = None  # the account's rates, where the venue reports them
        self.leverages: dict[str, float] | None = None
        self._markets_source: int | None = None
        self._unknown_refresh_at: float | None = None

    def is_stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self.refresh_s

    def invalidate(self) -> None:
        """Refresh on the next read (tiers, position mode; markets are reloaded too)."""
        self._loaded_at = self._clock() - self.refresh_s if self._loaded_at is not None else None

    async def ensure(self, client: ccxt.Exchange) -> None:
        """Load markets (once per client) and refresh tiers and position mode when stale."""
        await client.load_markets()
        self._sync_markets(client)
        if not self.is_stale():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.is_stale():  # another task refreshed while we waited
                return
            if self._loaded_at is not None:
                # Daily: pick up new listings and changed filters (tick, step) as well.
                await client.load_markets(True)
                self._sync_markets(client, force=True)
            self.tiers = await fetch_tiers(client)
            self.position_mode = await _fetch_position_mode(client)
            self.fees = await fetch_account_fees(client)
            self.leverages = None
            self._loaded_at = self._clock()

    def knows(self, symbol: str) -> bool:
        return symbol in self.markets and bool(self.tiers.get(symbol))

    def may_refresh_for_unknown(self) -> bool:
        last = self._unknown_refresh_at
        return last is None or self._clock() - last >= UNKNOWN_REFRESH_S

    async def refresh_for_unknown(self, client: ccxt.Exchange) -> None:
        """A position or order in a symbol listed after the last load: reload markets and tiers
        now (rate-limited by `may_refresh_for_unknown`), not at the next daily refresh."""
        self._unknown_refresh_at = self._clock()
        self.invalidate()
        await self.ensure(client)

    async def leverage_map(self, client: ccxt.Exchange) -> dict[str, float]:
        """Per-symbol leverage setting (Binance `GET /fapi/v1/symbolConfig`), fetched once per
        refresh, and only if a position row did not carry enough to derive it."""
        if self.leverages is None:
            raw = await client.fetch_leverages()
            out: dict[str, float] = {}
            for symbol, row in raw.items():
                lev = (
                    num(row.get("longLeverage")) or num(row.get("shortLeverage")) or num(row.get("leverage"))
                )
                if lev:
                    out[symbol] = lev
            self.leverages = out
        return self.leverages

    def _sync_markets(self, client: ccxt.Exchange, *, force: bool = False) -> None:
        markets: Mapping[str, Any] = client.markets or {}
        if not force and self._markets_source == id(markets) and self.markets:
            return
        mode = int(client.precisionMode)
        self.markets = {
            s: market_from_ccxt(m, mode, str(client.id))
            for s, m in markets.items()
            if m.get("contract") and m.get("linear")
        }
        self._markets_source = id(markets)


async def fetch_tiers(client: ccxt.Exchange) -> dict[str, tuple[Tier, ...]]:
    """Maintenance tiers of every linear market, in as few requests as the venue allows."""
    if client.id == "hyperliquid":
        return {s: hyperliquid_tiers(m) for s, m in (client.markets or {}).items() if m.get("swap")}
    if client.id == "aster":
        # ccxt's Aster class has no fetch_leverage_tiers, but serves Binance-shaped brackets.
        raw = await client.fapiPrivateGetV3LeverageBracket()
        rows: dict[str, list[dict[str, Any]]] = {}
        for entry in raw or []:
            symbol = client.safe_symbol(entry.get("symbol"), None, None, "contract")
            rows[symbol] = binance_brackets_to_ccxt(entry, symbol)
    else:
        rows = await client.fetch_leverage_tiers()
    out: dict[str, tuple[Tier, ...]] = {}
    for symbol, tiers in rows.items():
        try:
            out[symbol] = tiers_from_ccxt(tiers)
        except ConversionError:
            continue  # one malformed symbol must not blind the account; positions in it fail loudly
    if client.id in ("binanceusdm", "aster"):
        _seed_ccxt_brackets(client, out)
    return out


def _seed_ccxt_brackets(client: ccxt.Exchange, tiers: Mapping[str, tuple[Tier, ...]]) -> None:
    # ccxt's Binance/Aster fetch_positions loads the same brackets on its first call (for its own
    # maintenance estimate); handing it ours saves that duplicate request.
    client.options["leverageBrackets"] = {
        s: [[repr(t.notional_floor), repr(t.maintenance_margin_rate)] for t in ts] for s, ts in tiers.items()
    }


async def fetch_account_fees(client: ccxt.Exchange) -> Fees | None:
    """The account's linear fee rates (Bybit `GET /v5/account/fee-rate`), or None where ccxt's
    market fees are used. Bybit's IM and MM include the fee to close at the account's own taker
    rate, and ccxt's market default (0.06 %) is not it."""
    if client.id != "bybit":
        return None
    rows = await client.fetch_trading_fees({"category": "linear"})
    for symbol, row in rows.items():
        taker, maker = num(row.get("taker")), num(row.get("maker"))
        if (client.markets or {}).get(symbol, {}).get("linear") and taker is not None and maker is not None:
            return Fees(taker=taker, maker=maker)
    return None


async def _fetch_position_mode(client: ccxt.Exchange) -> PositionMode | None:
    if client.id == "bybit":
        # No position-mode endpoint; a query by symbol answers its rows even when flat, and their
        # positionIdx (1 and 2 in hedge mode, 0 one-way) tells the mode.
        symbol = next(
            (s for s, m in (client.markets or {}).items() if m.get("linear") and m.get("swap")), None
        )
        if symbol is None:
            return None
        rows = await client.fetch_positions([symbol])
        return PositionMode.HEDGE if any(r.get("hedged") for r in rows) else PositionMode.ONE_WAY
    if not client.has.get("fetchPositionMode"):
        return None
    reply = await client.fetch_position_mode()
    return PositionMode.HEDGE if reply.get("hedged") else PositionMode.ONE_WAY
