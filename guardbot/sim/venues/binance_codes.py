"""Binance USDⓈ-M error codes: the wire error, its messages, and each engine rejection's code."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from guardbot.sim.engine import Rejection, SimError
from guardbot.sim.faults import Fault

# code -> (HTTP status, message), messages verbatim from Binance USDⓈ-M where known.
MESSAGES: dict[int, tuple[int, str]] = {
    -1000: (400, "An unknown error occurred while processing the request."),
    -1001: (503, "Internal error; unable to process your request. Please try again."),
    -1003: (429, "Too many requests; current limit of IP is 2400 requests per minute."),
    -1013: (400, "Filter failure: LOT_SIZE"),
    -1021: (400, "Timestamp for this request is outside of the recvWindow."),
    -1022: (400, "Signature for this request is not valid."),
    -1102: (400, "Mandatory parameter was not sent, was empty/null, or malformed."),
    -1106: (400, "Parameter 'reduceOnly' sent when not required."),
    -1111: (400, "Precision is over the maximum defined for this asset."),
    -1116: (400, "Invalid orderType."),
    -1117: (400, "Invalid side."),
    -1121: (400, "Invalid symbol."),
    -2011: (400, "Unknown order sent."),
    -2013: (400, "Order does not exist."),
    -2014: (401, "API-key format invalid."),
    -2015: (401, "Invalid API-key, IP, or permissions for action."),
    -2019: (400, "Margin is insufficient."),
    -2021: (400, "Order would immediately trigger."),
    -2022: (400, "ReduceOnly Order is rejected."),
    -2027: (400, "Exceeded the maximum allowable position at current leverage."),
    -4003: (400, "Quantity less than or equal to zero."),
    -4014: (400, "Price not increased by tick size."),
    -4028: (400, "Leverage is not valid"),
    -4046: (400, "No need to change margin type."),
    -4047: (400, "Margin type cannot be changed if there exists open orders."),
    -4048: (400, "Margin type cannot be changed if there exists position."),
    -4059: (400, "No need to change position side."),
    -4061: (400, "Order's position side does not match user's setting."),
    -4067: (400, "Position side cannot be changed if there exists open orders."),
    -4068: (400, "Position side cannot be changed if there exists position."),
    -4116: (400, "ClientOrderId is duplicated."),
    -4120: (
        400,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    ),
    -4164: (400, "Order's notional must be no smaller than 5 (unless you choose reduce only)."),
    -5022: (400, "Due to the order could not be executed as maker, the Post Only order will be rejected."),
}

CODES: dict[Rejection, int] = {
    Rejection.UNKNOWN_ACCOUNT: -2015,
    Rejection.UNKNOWN_SYMBOL: -1121,
    Rejection.MISSING_PARAMETER: -1102,
    Rejection.INVALID_PARAMETER: -1102,
    Rejection.UNEXPECTED_PARAMETER: -1106,
    Rejection.INVALID_SIDE: -1117,
    Rejection.INVALID_ORDER_TYPE: -1116,
    Rejection.QTY_NOT_POSITIVE: -4003,
    Rejection.QTY_PRECISION: -1111,
    Rejection.QTY_BELOW_MIN: -4003,
    Rejection.QTY_ABOVE_MAX: -1013,
    Rejection.PRICE_PRECISION: -1111,
    Rejection.PRICE_NOT_ON_TICK: -4014,
    Rejection.BELOW_MIN_NOTIONAL: -4164,
    Rejection.INSUFFICIENT_MARGIN: -2019,
    Rejection.ABOVE_LEVERAGE_CAP: -2027,
    Rejection.INVALID_LEVERAGE: -4028,
    Rejection.REDUCE_ONLY_REJECTED: -2022,
    Rejection.POSITION_SIDE_MISMATCH: -4061,
    Rejection.DUPLICATE_CLIENT_ID: -4116,
    Rejection.WOULD_TRIGGER_IMMEDIATELY: -2021,
    Rejection.POST_ONLY_WOULD_TAKE: -5022,
    Rejection.UNKNOWN_ORDER: -2013,
    Rejection.ORDER_NOT_OPEN: -2011,
    Rejection.MARGIN_MODE_UNCHANGED: -4046,
    Rejection.MARGIN_MODE_POSITION_OPEN: -4048,
    Rejection.MARGIN_MODE_ORDERS_OPEN: -4047,
    Rejection.POSITION_MODE_UNCHANGED: -4059,
    Rejection.POSITION_MODE_POSITION_OPEN: -4068,
    Rejection.POSITION_MODE_ORDERS_OPEN: -4067,
    Rejection.NO_ISOLATED_POSITION: -1102,
}

# the engine's parameter names as Binance spells them
PARAM_NAMES = {
    "trigger_price": "triggerPrice",
    "close_position": "closePosition",
    "reduce_only": "reduceOnly",
    "working_type": "workingType",
}


class BinanceError(Exception):
    """A Binance-style rejection: HTTP status plus {"code": code, "msg": msg}."""

    def __init__(self, code: int, msg: str | None = None, status: int | None = None) -> None:
        default_status, default_msg = MESSAGES.get(code, (400, "Request rejected."))
        self.code = code
        self.msg = msg or default_msg
        self.status = status or default_status
        super().__init__(f"{code}: {self.msg}")

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def _message(exc: SimError) -> str | None:
    f: dict[str, Any] = exc.facts
    param = PARAM_NAMES.get(str(f.get("param")), str(f.get("param")))
    match exc.kind:
        case Rejection.MISSING_PARAMETER:
            return f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed."
        case Rejection.INVALID_PARAMETER if f.get("param") in ("price", "trigger_price"):
            return f"Parameter '{param}' must be positive."
        case Rejection.INVALID_PARAMETER if f.get("param") == "working_type":
            return "Parameter 'workingType' is invalid."
        case Rejection.UNEXPECTED_PARAMETER:
            return f"Parameter '{param}' sent when not required."
        case Rejection.INVALID_LEVERAGE:
            return f"Leverage {f['leverage']} is not valid"
        case Rejection.BELOW_MIN_NOTIONAL:
            least = f["min_notional"]
            return f"Order's notional must be no smaller than {least} (unless you choose reduce only)."
        case Rejection.NO_ISOLATED_POSITION:
            return f"No isolated position for {f['symbol']} {f['position_side']}."
        case Rejection.INSUFFICIENT_MARGIN if "symbol" in f:
            return f"Margin is insufficient. ({f['symbol']})"
    return None


def binance_error(exc: SimError) -> BinanceError:
    """The Binance answer to an engine rejection."""
    return BinanceError(CODES.get(exc.kind, -1000), _message(exc))


def fault_response(fault: Fault, venue_error: bool) -> web.Response:
    """A fault's answer as Binance gives it: a code with its HTTP status, 429 with -1003, or the
    gateway's HTML page for a 5xx."""
    if venue_error:
        assert fault.code is not None
        err = BinanceError(fault.code, fault.msg)
        return web.json_response(err.body(), status=err.status)
    status = fault.status or 503
    if status == 429:
        err = BinanceError(-1003, fault.msg)
        return web.json_response(err.body(), status=429, headers={"Retry-After": "1"})
    text = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
    return web.Response(status=status, text=fault.msg or text, content_type="text/html")


def summary_of(body: Any) -> str:
    """The order-relevant fields of a reply, in one short line ("" if it has none)."""
    if not isinstance(body, dict):
        return ""
    keys = ("orderId", "algoId", "clientOrderId", "clientAlgoId", "status", "algoStatus", "code", "msg")
    return " ".join(f"{k}={body[k]}" for k in keys if body.get(k) not in (None, ""))[:200]
