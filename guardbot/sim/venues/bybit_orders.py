"""Bybit v5 order routes: create (plain and conditional), cancel, cancel-all, realtime, history.

Bybit keeps plain and conditional orders in one book under one id space: a conditional order keeps
its id after it triggers, and `orderLinkId` is unique among all of an account's orders.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from guardbot.sim.book import OrderRequest, SimAlgoOrder, SimOrder
from guardbot.sim.engine import Rejection, SimError, SimExchange
from guardbot.sim.venue import Ctx, Json
from guardbot.sim.venues import bybit_json as bj
from guardbot.sim.venues.bybit_codes import BybitError
from guardbot.sim.venues.bybit_params import (
    account,
    linear,
    opt_symbol,
    page,
    symbol,
    to_bool,
    to_float,
    to_int,
)

RECENT_CLOSED = 500  # closed orders /v5/order/realtime keeps per account
DAY_MS = 86_400_000
POSITION_IDX = {0: "BOTH", 1: "LONG", 2: "SHORT"}
TIF = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "PostOnly": "GTX"}
TRIGGER_BY = {"MarkPrice": "MARK_PRICE", "IndexPrice": "MARK_PRICE", "LastPrice": "CONTRACT_PRICE"}
OPEN = ("New", "PartiallyFilled", "Untriggered")


def ids(o: SimOrder | SimAlgoOrder) -> dict[str, str]:
    if isinstance(o, SimAlgoOrder):
        return {"orderId": str(o.algo_id), "orderLinkId": o.client_algo_id}
    return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id}


def create(ex: SimExchange, c: Ctx) -> Json:
    linear(c)
    p, acct = c.params, account(c)
    sym = symbol(ex, c)
    side = {"Buy": "BUY", "Sell": "SELL"}.get(str(p.get("side")))
    if side is None:
        raise SimError(Rejection.INVALID_SIDE)
    kind = str(p.get("orderType", ""))
    if kind not in ("Market", "Limit"):
        raise SimError(Rejection.INVALID_ORDER_TYPE)
    idx = to_int(p, "positionIdx", 0)
    if idx not in POSITION_IDX:
        raise BybitError(10001, "params error: positionIdx invalid")
    tif = TIF.get(str(p.get("timeInForce", "GTC")))
    if tif is None:
        raise BybitError(10001, "params error: timeInForce invalid")
    qty = to_float(p, "qty")
    trigger = to_float(p, "triggerPrice")
    reduce_only = to_bool(p.get("reduceOnly"))
    request = OrderRequest(
        symbol=sym,
        side=side,
        type=kind.upper(),
        quantity=qty,
        price=to_float(p, "price") if kind == "Limit" else None,
        reduce_only=reduce_only,
        position_side=POSITION_IDX[idx] if idx else None,
        time_in_force=tif,
        client_id=str(p["orderLinkId"]) if p.get("orderLinkId") else None,
    )
    if trigger is None:
        return ids(ex.place_order(acct.api_key, request))
    direction = to_int(p, "triggerDirection")
    if direction not in (1, 2):
        raise BybitError(10001, "params error: triggerDirection must be 1 (rise) or 2 (fall)")
    # the engine names a conditional order by what it does: a stop buys on a rise and sells on a
    # fall, a take-profit the other way round
    stop = (side == "BUY") == (direction == 1)
    close = qty == 0 and reduce_only and to_bool(p.get("closeOnTrigger"))
    request = replace(
        request,
        type=("STOP" if stop else "TAKE_PROFIT") + ("" if kind == "Limit" else "_MARKET"),
        quantity=None if close else qty,
        trigger_price=trigger,
        reduce_only=reduce_only and not close,
        close_position=close,
        working_type=TRIGGER_BY.get(str(p.get("triggerBy", "LastPrice")), "CONTRACT_PRICE"),
    )
    return ids(ex.place_algo_order(acct.api_key, request))


def cancel(ex: SimExchange, c: Ctx) -> Json:
    linear(c)
    sym = symbol(ex, c)
    oid, link = c.params.get("orderId"), c.params.get("orderLinkId")
    if not oid and not link:
        raise BybitError(10001, "params error: orderId or orderLinkId is required")
    order_id = to_int(c.params, "orderId") if oid else None
    return ids(ex.cancel_any(account(c).api_key, sym, order_id, None if oid else str(link)))


def cancel_all(ex: SimExchange, c: Ctx) -> Json:
    linear(c)
    sym = opt_symbol(ex, c)
    base = c.params.get("baseCoin")
    if sym is None and not (c.params.get("settleCoin") or base):
        raise BybitError(10001, "params error: symbol, baseCoin or settleCoin is required")
    kind = c.params.get("orderFilter")
    cancelled = ex.cancel_open(
        account(c).api_key, sym, plain=kind in (None, "Order"), conditional=kind in (None, "StopOrder")
    )
    rows = [ids(o) for o in cancelled if not base or ex.markets[o.symbol].base == base]
    return {"list": rows, "success": "1"}


def _listed(ex: SimExchange, c: Ctx) -> list[dict[str, Any]]:
    """The account's orders (plain and conditional together), newest first, filtered by symbol,
    baseCoin, orderFilter, orderId and orderLinkId."""
    p, acct = c.params, account(c)
    sym, base, kind = opt_symbol(ex, c), p.get("baseCoin"), p.get("orderFilter")
    oid, link = p.get("orderId"), p.get("orderLinkId")
    out = []
    for o in ex.all_orders(acct.api_key):
        conditional = isinstance(o, SimAlgoOrder)
        if (sym and o.symbol != sym) or (base and ex.markets[o.symbol].base != base):
            continue
        if (kind == "Order" and conditional) or (kind == "StopOrder" and not conditional):
            continue
        row = bj.order(acct, o)
        if (oid and row["orderId"] != str(oid)) or (link and row["orderLinkId"] != str(link)):
            continue
        out.append(row)
    return out


def realtime(ex: SimExchange, c: Ctx) -> Json:
    """Open orders; with orderId or orderLinkId also the recent closed ones (openOnly is then
    ignored, as Bybit documents); openOnly=1: the recent closed ones."""
    linear(c)
    p = c.params
    if not (p.get("symbol") or p.get("baseCoin") or p.get("settleCoin")):
        raise BybitError(10001, "params error: symbol, baseCoin or settleCoin is required")
    rows = _listed(ex, c)
    open_rows = [r for r in rows if r["orderStatus"] in OPEN]
    closed = [r for r in rows if r["orderStatus"] not in OPEN][:RECENT_CLOSED]
    if p.get("orderId") or p.get("orderLinkId"):
        picked = [r for r in rows if r in open_rows or r in closed]
    elif to_int(p, "openOnly", 0) == 0:
        picked = open_rows
    else:
        picked = closed
    return {"category": "linear", **page(picked, p, 20, 50)}


def history(ex: SimExchange, c: Ctx) -> Json:
    """Closed orders of the last 7 days (or startTime..endTime); cancelled, rejected and
    deactivated ones of the last 24 hours only (a unified account's rule)."""
    linear(c)
    p, now = c.params, ex.now_ms
    start, end = to_int(p, "startTime"), to_int(p, "endTime")
    if start is None:
        start = (end if end is not None else now) - 7 * DAY_MS
    if end is None:
        end = start + 7 * DAY_MS
    status = p.get("orderStatus")
    rows = [
        r
        for r in _listed(ex, c)
        if r["orderStatus"] not in OPEN
        and start <= int(r["createdTime"]) <= end
        and (r["orderStatus"] == "Filled" or int(r["updatedTime"]) >= now - DAY_MS)
        and (not status or r["orderStatus"] == status)
    ]
    return {"category": "linear", **page(rows, p, 20, 50)}
