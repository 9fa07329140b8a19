"""Mark prices from each venue's ccxt.pro stream, as {symbol: mark}, and how to tell the stream is alive.

ccxt.pro names the mark stream differently per venue (Binance: `watch_mark_prices`, Bybit carries
the mark in its ticker); the runner only needs one batch of marks of the held symbols at a time.

Liveness differs too. Binance pushes the mark on a timer (every second), so a mark stream silent
for `stale_s` is dead. Bybit pushes a ticker only when something in it changed: a quiet market is
silent for as long as it stays quiet, and silence proves nothing. There the line is alive while
its connection is open and answers ccxt's pings (ccxt's own rule: a pong within two keep-alive
periods), whether or not a mark arrived lately.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from guardbot.exchange.convert import num

PUSH_ON_CHANGE = frozenset({"bybit"})  # venues whose mark stream is silent while the mark is still


async def watch_marks(client: Any, symbols: Sequence[str]) -> dict[str, float]:
    """The next batch of streamed marks of `symbols` (a ccxt.pro client; waits for a push)."""
    if client.id == "binanceusdm":
        tickers: Mapping[str, Any] = await client.watch_mark_prices(list(symbols))
        return _marks(tickers, lambda t: t.get("markPrice"))
    if client.id == "bybit":
        # one ticker per push (ccxt's newUpdates); a delta is merged into the last snapshot
        tickers = await client.watch_tickers(list(symbols))
        return _marks(tickers, lambda t: t.get("markPrice") or (t.get("info") or {}).get("markPrice"))
    raise ValueError(f"no mark-price stream for {client.id}")


def marks_alive(
    client: Any, market: Sequence[Any], last_mark_ms: int | None, now_ms: int, stale_s: float
) -> bool:
    """Is the mark stream up? `market`: the client's public websocket connections; `last_mark_ms`:
    when a mark last arrived (None: never)."""
    if not market or all(c.closed() for c in market):
        return False
    if last_mark_ms is None:  # not subscribed yet (Bybit's snapshot, Binance's first push)
        return False
    if client.id in PUSH_ON_CHANGE:
        wall = time.time() * 1000  # ccxt stamps pongs with the wall clock
        return all(_pong_fresh(c, wall) for c in market if not c.closed())
    return now_ms - last_mark_ms < stale_s * 1000


def _pong_fresh(conn: Any, wall_ms: float) -> bool:
    last = conn.lastPong  # None until ccxt's first ping falls due
    return last is None or wall_ms - last < conn.keepAlive * conn.maxPingPongMisses


def _marks(tickers: Mapping[str, Any], mark_of: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for symbol, ticker in tickers.items():
        mark = num(mark_of(ticker)) if isinstance(ticker, Mapping) else None
        if mark:
            out[symbol] = mark
    return out
