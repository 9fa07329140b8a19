"""1-minute candles of the emulator's marks, aggregated to any kline interval on request.

History before the emulator started is generated on first use: a correlated random walk that ends
at the start marks, deterministic for the seed, so correlation and volatility code has something
realistic to read.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from guardbot.sim.markets import SimMarket

MINUTE_MS = 60_000
INTERVALS_MS = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
}
INTERVALS_MS = {k: v * MINUTE_MS for k, v in INTERVALS_MS.items()}


def _quote_volume_per_minute(symbol: str) -> float:
    return {"BTCUSDT": 2e6, "ETHUSDT": 1e6}.get(symbol, 2e5)


class CandleStore:
    def __init__(
        self, markets: Mapping[str, SimMarket], seed: int, start_ms: int, backfill_minutes: int = 3 * 1440
    ) -> None:
        self.markets = markets
        self.seed = seed
        self.start_minute = start_ms // MINUTE_MS * MINUTE_MS
        self.backfill_minutes = backfill_minutes
        self._candles: dict[str, dict[int, list[float]]] = {s: {} for s in markets}
        self._start_marks: dict[str, float] = {}
        self._backfilled = False
        self._last: dict[str, float] = {}
        self._day_cache: dict[str, tuple[int, tuple[float, float, float, float, float, float]]] = {}

    def add_market(self, symbol: str) -> None:
        """A market listed after start: candles from its first mark on, no backfilled history."""
        self._candles.setdefault(symbol, {})

    def record(self, symbol: str, t_ms: int, price: float, dt_s: float = 0.0) -> None:
        """Fold a mark into the current minute's candle."""
        if symbol not in self._start_marks:
            self._start_marks[symbol] = price
        minute = t_ms // MINUTE_MS * MINUTE_MS
        prev = self._last.get(symbol, price)
        self._last[symbol] = price
        ret = abs(math.log(price / prev)) if prev > 0 and price > 0 else 0.0
        volume = _quote_volume_per_minute(symbol) / price * (dt_s / 60.0) * (1.0 + 50.0 * ret)
        c = self._candles[symbol].get(minute)
        if c is None:
            self._candles[symbol][minute] = [price, price, price, price, volume]
        else:
            c[1] = max(c[1], price)
            c[2] = min(c[2], price)
            c[3] = price
            c[4] += volume

    def _backfill(self) -> None:
        """Generate the history that ends at the start marks (walking backwards in time)."""
        self._backfilled = True
        rng = random.Random(f"guardbot-sim-history:{self.seed}")
        order = sorted(self.markets)
        prices = {s: self._start_marks.get(s, self.markets[s].start_price) for s in order}
        dt_year = 60.0 / (365 * 24 * 3600)
        for k in range(1, self.backfill_minutes + 1):
            minute = self.start_minute - k * MINUTE_MS
            z_market = rng.gauss(0.0, 1.0)
            for s in order:
                m = self.markets[s]
                rho = 1.0 if s == "BTCUSDT" else m.btc_corr
                z = rho * z_market + math.sqrt(max(0.0, 1 - rho * rho)) * rng.gauss(0.0, 1.0)
                close = prices[s]
                open_ = close / math.exp(m.annual_vol * math.sqrt(dt_year) * z)
                wiggle = m.annual_vol * math.sqrt(dt_year) * 0.5
                high = max(open_, close) * (1 + abs(rng.gauss(0.0, wiggle)))
                low = min(open_, close) * (1 - abs(rng.gauss(0.0, wiggle)))
                vol = _quote_volume_per_minute(s) / close * (0.5 + rng.random())
                nd = m.price_precision
                candle = [round(open_, nd), round(high, nd), round(low, nd), round(close, nd), vol]
                self._candles[s].setdefault(minute, candle)
                prices[s] = open_

    def day_stats(self, symbol: str, now_ms: int) -> tuple[float, float, float, float, float, float]:
        """(open 24 h ago, high, low, volume, quote volume, open an hour ago) of the minutes since
        the emulator started, at most the last 24 hours, and the last mark. A venue's ticker asks
        for them every snapshot: cached per minute, and never waiting for the generated history."""
        minute = now_ms // MINUTE_MS * MINUTE_MS
        cached = self._day_cache.get(symbol)
        if cached is None or cached[0] != minute:
            since = max(self.start_minute, minute - 24 * 3600 * 1000)
            table = self._candles[symbol]
            rows = [table[t] for t in sorted(t for t in table if since <= t < minute)]
            hour = [table[t] for t in sorted(t for t in table if minute - 3600 * 1000 <= t < minute)]
            last = self._last.get(symbol, 0.0)
            stats = (
                rows[0][0] if rows else last,
                max((r[1] for r in rows), default=last),
                min((r[2] for r in rows), default=last),
                sum(r[4] for r in rows),
                sum(r[4] * (r[0] + r[3]) / 2 for r in rows),
                hour[0][0] if hour else last,
            )
            self._day_cache[symbol] = cached = (minute, stats)
        o, h, lo, v, qv, hour_open = cached[1]
        last = self._last.get(symbol, o)
        return o, max(h, last), min(lo, last), v, qv, hour_open

    def klines(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[float | int]]:
        """[[open_ms, o, h, l, c, volume, close_ms, quote_volume], ...], oldest first."""
        if not self._backfilled:
            self._backfill()
        step = INTERVALS_MS[interval]
        first = self.start_minute - self.backfill_minutes * MINUTE_MS
        end = min(end_ms if end_ms is not None else now_ms, now_ms)
        buckets: list[int] = []
        if start_ms is not None:
            b = max(first, -(-start_ms // step) * step)
            while b <= end and len(buckets) < limit:
                buckets.append(b)
                b += step
        else:
            b = end // step * step
            while b + step > first and len(buckets) < limit:
                buckets.append(b)
                b -= step
            buckets.reverse()
        out: list[list[float | int]] = []
        table = self._candles[symbol]
        for b in buckets:
            parts = [table[t] for t in range(b, b + step, MINUTE_MS) if t in table]
            if not parts:
                continue
            o, c = parts[0][0], parts[-1][3]
            h = max(p[1] for p in parts)
            lo = min(p[2] for p in parts)
            v = sum(p[4] for p in parts)
            qv = sum(p[4] * (p[0] + p[3]) / 2 for p in parts)
            out.append([b, o, h, lo, c, v, b + step - 1, qv])
        return out
