"""Mark prices from each venue's ccxt.pro stream, as {symbol: mark}.

ccxt.pro names the mark stream differently per venue (Binance: `watch_mark_prices`, others carry
the mark in their ticker); the runner only needs one batch of marks of the held symbols at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from guardbot.exchange.convert import num


async def watch_marks(client: Any, symbols: Sequence[str]) -> dict[str, float]:
    """The next batch of streamed marks of `symbols` (a ccxt.pro client; waits for a push)."""
    if client.id == "binanceusdm":
        tickers: Mapping[str, Any] = await client.watch_mark_prices(list(symbols))
        return _marks(tickers, lambda t: t.get("markPrice"))
    raise ValueError(f"no mark-price stream for {client.id}")


def _marks(tickers: Mapping[str, Any], mark_of: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for symbol, ticker in tickers.items():
        mark = num(mark_of(ticker)) if isinstance(ticker, Mapping) else None
        if mark:
            out[symbol] = mark
    return out
