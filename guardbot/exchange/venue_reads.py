"""Which requests one snapshot makes on each venue, and the replies that need splitting.

Binance USDⓈ-M: `GET /fapi/v3/account` + `/fapi/v3/positionRisk` + `/fapi/v1/premiumIndex` +
open orders (plain and algo; all at once or symbol by symbol, see order_reads.py), read raw
(binance_raw.py). Bybit, Aster and Hyperliquid go through ccxt's unified methods. Each call is named
for the error a failed snapshot reports.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.exchange import binance_raw


def order_calls(
    client: ccxt.Exchange, symbols: Sequence[str], raw: bool = True
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Binance open orders (plain and algo) of these symbols, one cheap read each."""
    if raw:
        return binance_raw.order_calls(client, symbols)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for s in symbols:
        calls[f"fetch_open_orders {s} (GET /fapi/v1/openOrders)"] = functools.partial(
            client.fetch_open_orders, s
        )
        calls[f"fetch_open_orders trigger {s} (GET /fapi/v1/openAlgoOrders)"] = functools.partial(
            client.fetch_open_orders, s, None, None, {"trigger": True}
        )
    return calls


def calls(
    client: ccxt.Exchange, settle: str, order_symbols: Sequence[str] | None = None, raw: bool = True
) -> dict[str, Callable[[], Awaitable[Any]]]:
    ex = client.id
    if ex == "binanceusdm" and raw:
        return binance_raw.calls(client, order_symbols)
    if ex == "binanceusdm":
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "fetch_balance (GET /fapi/v3/account)": lambda: client.fetch_balance(),
            "fetch_positions (GET /fapi/v3/positionRisk)": lambda: client.fetch_positions(),
            "fetch_mark_prices (GET /fapi/v1/premiumIndex)": lambda: client.fetch_mark_prices(),
        }
        if order_symbols is not None:
            return {**calls, **order_calls(client, order_symbols, raw=False)}
        return {
            **calls,
            "fetch_open_orders (GET /fapi/v1/openOrders)": lambda: client.fetch_open_orders(),
            "fetch_open_orders trigger (GET /fapi/v1/openAlgoOrders)": lambda: client.fetch_open_orders(
                None, None, None, {"trigger": True}
            ),
        }
    if ex == "aster":
        return {
            "fetch_balance": lambda: client.fetch_balance(),
            "fetch_positions": lambda: client.fetch_positions(),
            # premiumIndex: Aster's ccxt class has no fetch_mark_prices, funding rates carry the mark.
            "fetch_funding_rates (mark prices)": lambda: client.fetch_funding_rates(),
            "fetch_open_orders": lambda: client.fetch_open_orders(),
        }
    if ex == "bybit":
        return {
            "fetch_balance": lambda: client.fetch_balance(),
            "fetch_positions": lambda: client.fetch_positions(None, {"settleCoin": settle}),
            "fetch_tickers (mark prices)": lambda: client.fetch_tickers(None, {"subType": "linear"}),
            # Bybit returns plain and conditional linear orders together when no filter is given, 20 a
            # page by default: paginate (50 a page, one request unless there are more), without
            # ccxt's silent retries of a failed page (a snapshot fails fast, the next cycle reads
            # again); since=0 because ccxt's cursor paginator wants one to go past the first page.
            "fetch_open_orders": lambda: client.fetch_open_orders(
                None, 0, None, {"settleCoin": settle, "paginate": True, "maxRetries": 0}
            ),
        }
    return {  # hyperliquid: one clearinghouseState holds the balance and the positions
        HL_STATE: lambda: client.fetch_balance(),
        "fetch_tickers (POST /info metaAndAssetCtxs)": lambda: client.fetch_tickers(None, {"type": "swap"}),
        "fetch_open_orders (POST /info frontendOpenOrders)": lambda: client.fetch_open_orders(),
    }


HL_STATE = "fetch_positions and balance (POST /info clearinghouseState)"


def split_hyperliquid(client: ccxt.Exchange, results: dict[str, Any]) -> dict[str, Any]:
    """Hyperliquid's balance and positions come from the same clearinghouseState: read it once
    (one request fewer, and both describe the same instant) and let ccxt parse the positions."""
    state = results.pop(HL_STATE, None)
    if state is None:
        return results
    rows = (state.get("info") or {}).get("assetPositions") or []
    results["fetch_balance (clearinghouseState)"] = state
    results["fetch_positions (clearinghouseState)"] = [client.parse_position(r) for r in rows]
    return results
