"""What a test may assert about one venue's wire, so one test runs on every venue.

A test that checks *what reached the exchange* asks the venue's spec instead of spelling Binance's
paths and parameters: `spec.stops(server)` are the conditional orders sent, `spec.orders(server)`
the plain ones, each as a venue-neutral `Sent`; `spec.snapshot` the requests of one snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardbot.sim import RequestRecord, SimServer

VENUES = ("binanceusdm", "bybit")


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


def _binance(r: RequestRecord) -> Sent:
    p = r.params
    algo = r.path.endswith("/algoOrder")
    kind = str(p.get("type", ""))
    return Sent(
        r.method,
        r.path,
        str(p.get("symbol")),
        str(p.get("side")),
        "LIMIT" if kind in ("LIMIT", "STOP", "TAKE_PROFIT") else "MARKET",
        _f(p.get("quantity")),
        str(p.get("reduceOnly", "")).lower() == "true",
        p.get("clientAlgoId") if algo else p.get("newClientOrderId"),
        _f(p.get("triggerPrice")) if algo and p.get("algoType") == "CONDITIONAL" else None,
        p.get("workingType") == "MARK_PRICE",
        p.get("positionSide") if p.get("positionSide") in ("LONG", "SHORT") else None,
        str(p.get("closePosition", "")).lower() == "true",
        p,
    )


def _bybit(r: RequestRecord) -> Sent:
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


@dataclass(frozen=True)
class VenueSpec:
    exchange: str
    order_path: str  # plain orders: POST here
    stop_path: str  # conditional orders: POST here
    cancel_stop: tuple[str, str]  # the request that cancels one stop
    cancel_order: tuple[str, str]  # ... one plain order
    cancelled_id_param: str  # the parameter naming the cancelled order's id
    positions_path: str  # the snapshot's read of the positions
    snapshot: Counter[tuple[str, str]]  # the requests of one snapshot
    refresh: Counter[tuple[str, str]]  # what a (daily) refresh of markets, tiers, mode, fees adds
    client_setup: Counter[tuple[str, str]]  # what a new client asks once, on its first private call
    stop_lookup: tuple[str, str]  # the first request of a look-up of a stop by client id
    order_lookup: tuple[str, str]  # ... of a plain order
    lookup_miss: int  # requests of a look-up that finds nothing
    error_kind: str  # the fault kind answering with one of the venue's codes
    # a refusal -> (the venue's code, its message for a fault, the ccxt exception it becomes)
    codes: Mapping[str, tuple[int, str | None, str]]
    rate_limit_error: str  # what ccxt raises on HTTP 429
    bad_signature: str  # in the message of a bad signature
    close_position_stops: bool  # can a stop close "the whole position" without an amount?
    reuses_closed_client_ids: bool  # may a closed order's client id be sent again?
    isolated_per_symbol: bool
    open_orders_path: str  # the snapshot's (last) read of the open orders
    liq_on_tick: bool  # the venue writes a liquidation price on the price tick (Bybit), not exact
    states_on_create: bool  # does the reply to a new order say its state (Bybit: only ids)?

    def account_totals(self, balance: Mapping[str, Any]) -> tuple[float, float]:
        """(margin balance, maintenance margin) as the venue reports them in fetch_balance's info."""
        info = balance["info"]
        if self.exchange == "binanceusdm":
            return float(info["totalMarginBalance"]), float(info["totalMaintMargin"])
        [account] = info["result"]["list"]
        return float(account["totalMarginBalance"]), float(account["totalMaintenanceMargin"])

    def sent(self, server: SimServer) -> list[Sent]:
        paths = {self.order_path, self.stop_path}
        parse = _binance if self.exchange == "binanceusdm" else _bybit
        return [parse(r) for r in server.request_log if r.method == "POST" and r.path in paths]

    def stops(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is not None]

    def orders(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is None and s.path == self.order_path]

    def mutations(self, server: SimServer) -> list[tuple[str, str]]:
        """(method, path) of every request that changed something, with a stop's placement and
        cancel named as such: ("place", "stop"), ("cancel", "stop"), ("place", "order"), ..."""
        out = []
        for r in server.mutating_requests():
            if (r.method, r.path) == self.cancel_stop and self._is_stop_cancel(r, server):
                out.append(("cancel", "stop"))
            elif (r.method, r.path) == self.cancel_order:
                out.append(("cancel", "order"))
            elif r.method == "POST" and r.path in (self.order_path, self.stop_path):
                parse = _binance if self.exchange == "binanceusdm" else _bybit
                out.append(("place", "stop" if parse(r).trigger is not None else "order"))
            else:
                out.append((r.method, r.path))
        return out

    def _is_stop_cancel(self, r: RequestRecord, server: SimServer) -> bool:
        if self.exchange == "binanceusdm":
            return True  # DELETE /fapi/v1/algoOrder cancels conditional orders only
        oid = int(r.params.get(self.cancelled_id_param) or 0)
        return any(oid in acct.algo_orders for acct in server.engine.accounts.values())


SPECS: dict[str, VenueSpec] = {
    "binanceusdm": VenueSpec(
        exchange="binanceusdm",
        order_path="/fapi/v1/order",
        stop_path="/fapi/v1/algoOrder",
        cancel_stop=("DELETE", "/fapi/v1/algoOrder"),
        cancel_order=("DELETE", "/fapi/v1/order"),
        cancelled_id_param="algoId",
        positions_path="/fapi/v3/positionRisk",
        snapshot=Counter(
            {
                ("GET", "/fapi/v3/account"): 1,
                ("GET", "/fapi/v3/positionRisk"): 1,
                ("GET", "/fapi/v1/premiumIndex"): 1,
                ("GET", "/fapi/v1/openOrders"): 1,
                ("GET", "/fapi/v1/openAlgoOrders"): 1,
            }
        ),
        refresh=Counter(
            {
                ("GET", "/fapi/v1/exchangeInfo"): 1,
                ("GET", "/fapi/v1/leverageBracket"): 1,
                ("GET", "/fapi/v1/positionSide/dual"): 1,
            }
        ),
        client_setup=Counter(),
        stop_lookup=("GET", "/fapi/v1/algoOrder"),
        order_lookup=("GET", "/fapi/v1/order"),
        lookup_miss=1,
        error_kind="binance",
        codes={
            "margin": (-2019, None, "InsufficientFunds"),
            "reduce_only": (-2022, None, "InvalidOrder"),
            "min_notional": (-4164, None, "InvalidOrder"),
            "symbol": (-1121, None, "BadSymbol"),
            "nonce": (-1021, None, "InvalidNonce"),
            "rate_limit": (-1003, None, "DDoSProtection"),
            "internal": (-1001, None, "ExchangeNotAvailable"),
        },
        rate_limit_error="DDoSProtection",
        bad_signature="Signature for this request is not valid",
        close_position_stops=True,
        reuses_closed_client_ids=True,
        isolated_per_symbol=True,
        open_orders_path="/fapi/v1/openAlgoOrders",
        liq_on_tick=False,
        states_on_create=True,
    ),
    "bybit": VenueSpec(
        exchange="bybit",
        order_path="/v5/order/create",
        stop_path="/v5/order/create",
        cancel_stop=("POST", "/v5/order/cancel"),
        cancel_order=("POST", "/v5/order/cancel"),
        cancelled_id_param="orderId",
        positions_path="/v5/position/list",
        snapshot=Counter(
            {
                ("GET", "/v5/account/wallet-balance"): 1,
                ("GET", "/v5/position/list"): 1,
                ("GET", "/v5/market/tickers"): 1,
                ("GET", "/v5/order/realtime"): 1,
            }
        ),
        refresh=Counter(
            {
                ("GET", "/v5/market/instruments-info"): 2,  # the second asks for PreLaunch ones
                ("GET", "/v5/market/risk-limit"): 1,
                ("GET", "/v5/position/list"): 1,  # one symbol's rows tell the position mode
                ("GET", "/v5/account/fee-rate"): 1,
            }
        ),
        client_setup=Counter({("GET", "/v5/user/query-api"): 1, ("GET", "/v5/account/info"): 1}),
        stop_lookup=("GET", "/v5/order/realtime"),
        order_lookup=("GET", "/v5/order/realtime"),
        lookup_miss=2,  # realtime (open and recent closed), then history
        error_kind="bybit",
        codes={
            "margin": (110007, None, "InsufficientFunds"),
            "reduce_only": (110017, None, "InvalidOrder"),
            "min_notional": (110094, None, "InvalidOrder"),
            "symbol": (10001, "Not supported symbols", "BadSymbol"),
            "nonce": (10002, None, "InvalidNonce"),
            "rate_limit": (10006, None, "RateLimitExceeded"),
        },
        rate_limit_error="RateLimitExceeded",
        bad_signature="error sign!",
        close_position_stops=False,
        reuses_closed_client_ids=False,
        isolated_per_symbol=False,
        open_orders_path="/v5/order/realtime",
        liq_on_tick=True,
        states_on_create=False,
    ),
}
