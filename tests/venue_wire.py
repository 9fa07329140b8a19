"""Each venue's order requests read back in venue-neutral words, from the emulator's request log.

`parse(exchange, record, server)` turns one order request into a `Sent`; `is_stop_cancel` and
`cancelled_id` read a cancel request. The venue table (paths, capabilities) is `venue_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardbot.sim import RequestRecord, SimServer


@dataclass(frozen=True)
class Sent:
    """One order request as the exchange received it, in venue-neutral words."""

    method: str
    path: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    qty: float | None
    reduce_only: bool
    client_id: str | None
    trigger: float | None  # set for a conditional order
    mark_trigger: bool  # the trigger watches the mark price
    position_side: str | None  # LONG | SHORT in hedge mode
    close_position: bool
    raw: Mapping[str, Any] = field(repr=False)


def _f(v: Any) -> float | None:
    return None if v in (None, "") else float(v)


def _true(v: Any) -> bool:
    """Binance sends booleans as "true", Aster as "True" (Python's str): read case-insensitively."""
    return str(v or "").lower() == "true"


_CONDITIONAL = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")


def _binance_style(r: RequestRecord, server: SimServer) -> Sent:
    """Binance and Aster: the same parameters. Binance sends conditional orders to its algo API
    (`algoType=CONDITIONAL`, `triggerPrice`, `clientAlgoId`); Aster, which has none, sends them to
    the order endpoint with a `stopPrice`."""
    p = r.params
    kind = str(p.get("type", ""))
    if r.path.endswith("/algoOrder"):
        trigger = _f(p.get("triggerPrice")) if p.get("algoType") == "CONDITIONAL" else None
        client_id = p.get("clientAlgoId")
    else:
        trigger = _f(p.get("stopPrice")) if kind in _CONDITIONAL else None
        client_id = p.get("newClientOrderId")
    return Sent(
        r.method,
        r.path,
        str(p.get("symbol")),
        str(p.get("side")),
        "LIMIT" if kind in ("LIMIT", "STOP", "TAKE_PROFIT") else "MARKET",
        _f(p.get("quantity")),
        _true(p.get("reduceOnly")),
        client_id,
        trigger,
        p.get("workingType") == "MARK_PRICE",
        p.get("positionSide") if p.get("positionSide") in ("LONG", "SHORT") else None,
        _true(p.get("closePosition")),
        p,
    )


def _bybit(r: RequestRecord, server: SimServer) -> Sent:
    p = r.params
    qty = _f(p.get("qty"))
    return Sent(
        r.method,
        r.path,
        str(p.get("symbol")),
        {"Buy": "BUY", "Sell": "SELL"}.get(str(p.get("side")), str(p.get("side"))),
        str(p.get("orderType", "")).upper(),
        qty,
        p.get("reduceOnly") is True,
        p.get("orderLinkId"),
        _f(p.get("triggerPrice")),
        p.get("triggerBy") == "MarkPrice",
        {1: "LONG", 2: "SHORT"}.get(int(p.get("positionIdx") or 0)),
        qty == 0 and p.get("closeOnTrigger") is True,
        p,
    )


def _hyperliquid(r: RequestRecord, server: SimServer) -> Sent:
    """Hyperliquid: one order of an "order" action; the asset index names the market, a market
    order is an Ioc limit at a slippage cap, a trigger order watches the mark price."""
    [o] = r.params["action"]["orders"]
    kind = o["t"]
    trigger = kind.get("trigger")
    ioc = (kind.get("limit") or {}).get("tif") in ("Ioc", "FrontendMarket")
    market = trigger["isMarket"] if trigger else ioc
    return Sent(
        r.method,
        r.path,
        list(server.engine.markets)[o["a"]],
        "BUY" if o["b"] else "SELL",
        "MARKET" if market else "LIMIT",
        _f(o["s"]),
        o["r"] is True,
        o.get("c"),
        _f(trigger["triggerPx"]) if trigger else None,
        True,  # Hyperliquid triggers on the mark price
        None,
        False,
        r.params,
    )


PARSERS: dict[str, Callable[[RequestRecord, SimServer], Sent]] = {
    "binanceusdm": _binance_style,
    "aster": _binance_style,
    "bybit": _bybit,
    "hyperliquid": _hyperliquid,
}


def parse(exchange: str, r: RequestRecord, server: SimServer) -> Sent:
    return PARSERS[exchange](r, server)


def cancelled_id(exchange: str, r: RequestRecord) -> str:
    """The exchange id a cancel request names (Hyperliquid: the one cancel of its action)."""
    if exchange == "hyperliquid":
        [cancel] = r.params["action"]["cancels"]
        return str(cancel.get("o"))
    key = {"binanceusdm": "algoId"}.get(exchange, "orderId")
    if exchange == "binanceusdm" and r.path.endswith("/order"):
        key = "orderId"
    return str(r.params.get(key))


def is_stop_cancel(exchange: str, r: RequestRecord, server: SimServer) -> bool:
    """Does this cancel request name a conditional order? Binance's algo endpoint cancels nothing
    else; elsewhere one endpoint cancels both, so the id tells (the emulator's conditional orders
    are numbered in their own range)."""
    if exchange == "binanceusdm":
        return r.path.endswith("/algoOrder")
    oid = int(cancelled_id(exchange, r) or 0)
    return any(oid in acct.algo_orders for acct in server.engine.accounts.values())
