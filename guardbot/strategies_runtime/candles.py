"""Closed candles from the exchange, cached: one request per symbol and timeframe per bar.

Every strategy (and the entry desk's cluster check) of an account session reads candles here. The
first reader in a bar fetches the latest bars (`fetch_ohlcv`, the exchange's klines); later readers
in the same bar get the cache. Concurrent readers of the same (symbol, timeframe) wait for the one
request in flight. Only *closed* bars are returned: the bar still forming is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import ccxt.async_support as ccxt

from guardbot.strategies_runtime.contract import Candle, timeframe_ms

MAX_BARS = 1000


@dataclass(slots=True)
class _Entry:
    last_open: int  # open time of the last closed bar when fetched
    asked: int  # bars asked for (the exchange may have had fewer)
    bars: tuple[Candle, ...]


class CandleCache:
    def __init__(self, client: ccxt.Exchange, clock: Callable[[], int]) -> None:
        self.client = client
        self.clock = clock
        self.requests = 0  # fetches sent, for the curious and the tests
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def last_closed_open(self, timeframe: str, now_ms: int | None = None) -> int:
        """Open time of the last bar of `timeframe` that has closed by `now_ms` (default: now)."""
        step = timeframe_ms(timeframe)
        now = self.clock() if now_ms is None else now_ms
        return (now // step) * step - step

    async def closed(self, symbol: str, timeframe: str, bars: int) -> tuple[Candle, ...]:
        """The last `bars` closed bars of `symbol`, oldest first (fewer if the exchange has fewer)."""
        bars = max(1, min(bars, MAX_BARS))
        key = (symbol, timeframe)
        last = self.last_closed_open(timeframe)
        entry = self._cache.get(key)
        if entry is None or entry.last_open != last or entry.asked < bars:
            async with self._locks.setdefault(key, asyncio.Lock()):
                entry = self._cache.get(key)
                if entry is None or entry.last_open != last or entry.asked < bars:
                    entry = await self._fetch(symbol, timeframe, bars, last)
                    self._cache[key] = entry
        return entry.bars[-bars:]

    async def _fetch(self, symbol: str, timeframe: str, bars: int, last: int) -> _Entry:
        self.requests += 1
        await self.client.load_markets()
        rows = await self.client.fetch_ohlcv(symbol, timeframe, limit=min(bars + 1, MAX_BARS + 1))
        out = [
            Candle(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5] or 0.0))
            for r in rows
            if r and r[0] is not None and int(r[0]) <= last and None not in r[1:5]
        ]
        return _Entry(last, bars, tuple(out))
