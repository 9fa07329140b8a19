"""Finding one of our orders by its client order id, the way each venue allows it.

The gateway asks after an ambiguous failure (timeout, dropped connection: was the order placed?)
and on restart (is the pending action on the exchange?). A filled or cancelled order must be found
too: a filled reduction that is not found is sent a second time.

- Binance USDⓈ-M: `fetch_order` by `origClientOrderId` (`clientAlgoId` for conditional orders)
  answers open and closed orders.
- Bybit (unified account): ccxt's `fetch_order` refuses unless told `acknowledged`, and the open
  orders never hold a filled market order. `GET /v5/order/realtime` with `orderLinkId` answers
  open *and* the 500 most recent closed orders (Bybit ignores openOnly when an id is given);
  `GET /v5/order/history` covers the closed orders of the last 7 days beyond those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt


async def find_by_client_id(
    client: ccxt.Exchange, symbol: str, client_id: str, *, trigger: bool
) -> Mapping[str, Any] | None:
    """The newest order carrying `client_id` (open, filled or cancelled); None if there is none."""
    if client.id == "bybit":
        return await _bybit(client, symbol, client_id)
    return await _by_fetch_order(client, symbol, client_id, trigger=trigger)


async def _bybit(client: ccxt.Exchange, symbol: str, client_id: str) -> Mapping[str, Any] | None:
    params = {"orderLinkId": client_id}
    found = _newest(await client.fetch_open_orders(symbol, None, None, params), client_id)
    if found is None:
        found = _newest(await client.fetch_canceled_and_closed_orders(symbol, None, None, params), client_id)
    return found


async def _by_fetch_order(
    client: ccxt.Exchange, symbol: str, client_id: str, *, trigger: bool
) -> Mapping[str, Any] | None:
    params: dict[str, Any] = {"clientOrderId": client_id}
    if trigger and client.id == "binanceusdm":
        params["trigger"] = True
    try:
        found: Mapping[str, Any] = await client.fetch_order(None, symbol, params)
        return found
    except ccxt.OrderNotFound:
        return None
    except (ccxt.NotSupported, ccxt.BadRequest, ccxt.ArgumentsRequired):
        pass
    # Fallback: the open orders (enough for resting stops and limits).
    open_params: dict[str, Any] = {"trigger": True} if trigger and client.id == "binanceusdm" else {}
    return _newest(await client.fetch_open_orders(symbol, None, None, open_params), client_id)


def _newest(orders: Sequence[Mapping[str, Any]], client_id: str) -> Mapping[str, Any] | None:
    mine = [o for o in orders if o.get("clientOrderId") == client_id]
    return max(mine, key=lambda o: o.get("timestamp") or 0) if mine else None
