"""Bybit v5 errors and signing: the `retCode`/`retMsg` envelope, each engine rejection's code, the
header HMAC check, and the answers of injected faults.

Business errors come back with HTTP 200 and a non-zero `retCode` (ccxt maps the code through its
bybit `exceptions` table: 110007 -> InsufficientFunds, 110017 -> InvalidOrder, 110001 ->
OrderNotFound, 10004 -> AuthenticationError, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from guardbot.sim.engine import Rejection, SimError
from guardbot.sim.faults import Fault

MESSAGES: dict[int, str] = {
    10001: "params error",
    10002: "invalid request, please check your server timestamp or recv_window param",
    10003: "API key is invalid.",
    10004: "error sign! origin_string[{origin}]",
    10006: "Too many visits!",
    10016: "Server Error.",
    10017: "route not found",
    110001: "order not exists or too late to cancel",
    110007: "ab not enough for new order",
    110013: "Due to risk limit, cannot set leverage",
    110016: "Requested quantity of contracts exceeds risk limit, please adjust your risk limit level",
    110017: "current position is zero, cannot fix reduce-only order qty",
    110024: "You have an existing position, so position mode cannot be switched",
    110025: "Position mode is not modified",
    110028: "You have existing open orders, so position mode cannot be switched",
    110043: "leverage not modified",
    110072: "OrderLinkedID is duplicate",
    110094: "Order does not meet minimum order value",
}

CODES: dict[Rejection, int] = {
    Rejection.UNKNOWN_ACCOUNT: 10003,
    Rejection.INSUFFICIENT_MARGIN: 110007,
    Rejection.ABOVE_LEVERAGE_CAP: 110016,
    Rejection.LEVERAGE_UNCHANGED: 110043,
    Rejection.REDUCE_ONLY_REJECTED: 110017,
    Rejection.DUPLICATE_CLIENT_ID: 110072,
    Rejection.BELOW_MIN_NOTIONAL: 110094,
    Rejection.UNKNOWN_ORDER: 110001,
    Rejection.ORDER_NOT_OPEN: 110001,
    Rejection.POSITION_MODE_UNCHANGED: 110025,
    Rejection.POSITION_MODE_POSITION_OPEN: 110024,
    Rejection.POSITION_MODE_ORDERS_OPEN: 110028,
}  # everything else is a parameter error, 10001

# the engine's parameter names as Bybit spells them
PARAM_NAMES = {"quantity": "qty", "trigger_price": "triggerPrice", "reduce_only": "reduceOnly",
               "close_position": "closeOnTrigger", "working_type": "triggerBy"}  # fmt: skip


class BybitError(Exception):
    def __init__(self, code: int, msg: str | None = None) -> None:
        self.code = code
        self.msg = msg or MESSAGES.get(code, "params error")
        super().__init__(f"{code}: {self.msg}")


def envelope(result: Any, now_ms: int, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def _message(exc: SimError) -> str:
    f: dict[str, Any] = exc.facts
    param = PARAM_NAMES.get(str(f.get("param")), str(f.get("param")))
    match exc.kind:
        case Rejection.WOULD_TRIGGER_IMMEDIATELY if f["rising"]:
            return f"expect Rising, but trigger_price[{f['trigger_price']}] <= current[{f['reference']}]"
        case Rejection.WOULD_TRIGGER_IMMEDIATELY:
            return f"expect Falling, but trigger_price[{f['trigger_price']}] >= current[{f['reference']}]"
        case Rejection.UNKNOWN_SYMBOL:
            return "Not supported symbols"  # ccxt: BadSymbol
        case Rejection.MISSING_PARAMETER:
            return f"params error: {param} is required"
        case Rejection.INVALID_PARAMETER | Rejection.UNEXPECTED_PARAMETER:
            return f"params error: {param} invalid"
        case Rejection.BELOW_MIN_NOTIONAL:
            return f"Order does not meet minimum order value {f['min_notional']}USDT"
        case Rejection.INVALID_LEVERAGE:
            return f"params error: leverage {f['leverage']} outside 1..{f['max_leverage']}"
        case Rejection.QTY_NOT_POSITIVE | Rejection.QTY_PRECISION:
            return "Qty invalid"
        case Rejection.QTY_BELOW_MIN:
            return "The number of contracts below min limit allowed"
        case Rejection.QTY_ABOVE_MAX:
            return "The number of contracts exceeds maximum limit allowed: too large"
        case Rejection.PRICE_PRECISION | Rejection.PRICE_NOT_ON_TICK:
            return "params error: price invalid"
        case Rejection.POSITION_SIDE_MISMATCH:
            return "position idx not match position mode"
        case Rejection.POST_ONLY_WOULD_TAKE:
            return "PostOnly order will take liquidity"
        case Rejection.MARGIN_MODE_UNAVAILABLE:
            return "unified account: isolated margin is set for the whole account, not per symbol"
    return MESSAGES.get(CODES.get(exc.kind, 10001), "params error")


def bybit_error(exc: SimError) -> BybitError:
    kind = exc.kind
    if kind is Rejection.WOULD_TRIGGER_IMMEDIATELY:
        return BybitError(110092 if exc.facts["rising"] else 110093, _message(exc))
    return BybitError(CODES.get(kind, 10001), _message(exc))


def verify(secret: str, headers: Mapping[str, str], payload: str, now_ms: int | None = None) -> None:
    """Bybit v5 header signing: hex HMAC-SHA256 over timestamp + api key + recv window + payload
    (the raw query of a GET, the raw JSON body of a POST), with the timestamp inside the window."""
    key = headers.get("X-BAPI-API-KEY", "")
    ts = headers.get("X-BAPI-TIMESTAMP", "")
    window = headers.get("X-BAPI-RECV-WINDOW", "5000")
    origin = ts + key + window + payload
    expected = hmac.new(secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-BAPI-SIGN", "").lower()):
        raise BybitError(10004, MESSAGES[10004].format(origin=origin))
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        stamp, span = int(ts), int(window)
    except ValueError:
        raise BybitError(10002) from None
    # Bybit: server_time - recv_window <= timestamp < server_time + 1000
    if not now - span <= stamp < now + 1000:
        raise BybitError(
            10002, f"{MESSAGES[10002]}. req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{span}]"
        )


def fault_response(fault: Fault, venue_error: bool, now_ms: int) -> web.Response:
    """A fault's answer as Bybit gives it: a retCode with HTTP 200, 10006 for a rate limit, or the
    gateway's HTML page for a 5xx."""
    dumps = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731
    if venue_error:
        assert fault.code is not None
        body = envelope({}, now_ms, fault.code, fault.msg or MESSAGES.get(fault.code, "error"))
        return web.json_response(body, dumps=dumps)
    status = fault.status or 503
    if status == 429:
        body = envelope({}, now_ms, 10006, fault.msg or MESSAGES[10006])
        return web.json_response(body, status=429, dumps=dumps)
    text = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
    return web.Response(status=status, text=fault.msg or text, content_type="text/html")
