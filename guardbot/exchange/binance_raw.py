"""Binance USDⓈ-M snapshot reads without ccxt's response parsing.

ccxt still builds, signs, rate-limits and sends each request (its implicit API methods); what is
skipped is its parsing of every row into a unified structure (Precise decimal arithmetic on each
field: most of a snapshot's CPU time). The raw rows are turned here into the few unified fields the
reader's converters (convert.py) use, so the snapshot is the same, field for field; the integration
tests compare the two paths on the same account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.exchange.convert import num

Call = Callable[[], Awaitable[Any]]
_ORDER_TYPES = {"STOP_MARKET": "stop_market", "TAKE_PROFIT_MARKET": "take_profit_market", "STOP": "stop"}


def calls(client: ccxt.Exchange, order_symbols: Sequence[str] | None) -> dict[str, Call]:
    """The reader's calls for one Binance snapshot, each returning unified-shaped rows."""

    async def balance() -> Mapping[str, Any]:
        return {"info": await client.fapiPrivateV3GetAccount()}

    async def positions() -> list[dict[str, Any]]:
        rows = await client.fapiPrivateV3GetPositionRisk()
        return [p for p in (_position(client, r) for r in rows) if p is not None]

    async def marks() -> dict[str, dict[str, Any]]:
        rows = await client.fapiPublicGetPremiumIndex()
        out: dict[str, dict[str, Any]] = {}
        for r in rows if isinstance(rows, list) else [rows]:
            symbol = _symbol(client, r.get("symbol"))
            if symbol is not None:
                out[symbol] = {"markPrice": num(r.get("markPrice")), "info": r}
        return out

    out: dict[str, Call] = {
        "fetch_balance (GET /fapi/v3/account)": balance,
        "fetch_positions (GET /fapi/v3/positionRisk)": positions,
        "fetch_mark_prices (GET /fapi/v1/premiumIndex)": marks,
    }
    return {**out, **order_calls(client, order_symbols)}


def order_calls(client: ccxt.Exchange, symbols: Sequence[str] | None) -> dict[str, Call]:
    """Open orders, plain and algo: all at once (`symbols` None) or one symbol each."""

    def plain(market_id: str | None) -> Call:
        async def read() -> list[dict[str, Any]]:
            rows = await client.fapiPrivateGetOpenOrders({"symbol": market_id} if market_id else {})
            return [o for o in (_order(client, r) for r in rows) if o is not None]

        return read

    def algo(market_id: str | None) -> Call:
        async def read() -> list[dict[str, Any]]:
            rows = await client.fapiPrivateGetOpenAlgoOrders({"symbol": market_id} if market_id else {})
            return [o for o in (_algo(client, r) for r in rows) if o is not None]

        return read

    if symbols is None:
        return {
            "fetch_open_orders (GET /fapi/v1/openOrders)": plain(None),
            "fetch_open_orders trigger (GET /fapi/v1/openAlgoOrders)": algo(None),
        }
    out: dict[str, Call] = {}
    for s in symbols:
        market_id = str(client.market(s)["id"])
        out[f"fetch_open_orders {s} (GET /fapi/v1/openOrders)"] = plain(market_id)
        out[f"fetch_open_orders trigger {s} (GET /fapi/v1/openAlgoOrders)"] = algo(market_id)
    return out


def _symbol(client: ccxt.Exchange, market_id: object) -> str | None:
    """The unified symbol of a USDⓈ-M id; the raw id for a market ccxt does not know yet (a new
    listing: the reader then reloads markets, as it does for ccxt-parsed rows)."""
    if not market_id:
        return None
    for m in (client.markets_by_id or {}).get(str(market_id)) or []:
        if m.get("contract") and m.get("linear"):
            return str(m["symbol"])
    return str(market_id)


def _position(client: ccxt.Exchange, r: Mapping[str, Any]) -> dict[str, Any] | None:
    amount = num(r.get("positionAmt")) or 0.0
    entry = num(r.get("entryPrice")) or 0.0
    if amount == 0 or entry <= 0:  # ccxt drops these rows too
        return None
    symbol = _symbol(client, r.get("symbol"))
    position_side = str(r.get("positionSide") or "BOTH")
    side = (
        position_side.lower() if position_side in ("LONG", "SHORT") else ("long" if amount > 0 else "short")
    )
    isolated = (num(r.get("isolatedMargin")) or 0.0) != 0
    market = client.markets.get(symbol or "") if client.markets else None
    return {
        "symbol": symbol,
        "side": side,
        "contracts": abs(amount),
        "contractSize": (market or {}).get("contractSize") or 1.0,
        "entryPrice": entry,
        "markPrice": num(r.get("markPrice")),
        "liquidationPrice": num(r.get("liquidationPrice")),
        "notional": num(r.get("notional")),
        "marginMode": "isolated" if isolated else "cross",
        "hedged": position_side != "BOTH",
        "leverage": None,  # v3 has none: the converter takes notional / initial margin
        "info": r,
    }


def _common(client: ccxt.Exchange, r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "symbol": _symbol(client, r.get("symbol")),
        "side": str(r.get("side") or "").lower(),
        "reduceOnly": str(r.get("reduceOnly")).lower() == "true",
        "info": r,
    }


def _order(client: ccxt.Exchange, r: Mapping[str, Any]) -> dict[str, Any] | None:
    otype = str(r.get("type") or "").upper()
    left = (num(r.get("origQty")) or 0.0) - (num(r.get("executedQty")) or 0.0)
    return {
        **_common(client, r),
        "id": str(r.get("orderId") or ""),
        "clientOrderId": r.get("clientOrderId"),
        "type": _ORDER_TYPES.get(otype, otype.lower()),
        "amount": left,
        "price": num(r.get("price")),
        "triggerPrice": num(r.get("stopPrice")),
    }


def _algo(client: ccxt.Exchange, r: Mapping[str, Any]) -> dict[str, Any] | None:
    otype = str(r.get("orderType") or r.get("type") or "").upper()
    return {
        **_common(client, r),
        "id": str(r.get("algoId") or ""),
        "clientOrderId": r.get("clientAlgoId"),
        "type": _ORDER_TYPES.get(otype, otype.lower()),
        "amount": num(r.get("quantity")),
        "price": num(r.get("price")),
        "triggerPrice": num(r.get("triggerPrice")),
    }
