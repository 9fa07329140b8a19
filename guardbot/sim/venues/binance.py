"""Binance USDⓈ-M futures on the wire: the /fapi routes ccxt's binanceusdm calls, HMAC signing,
and Binance's error codes (HTTP 4xx with {"code", "msg"}; 5xx from the gateway as HTML).

Handlers parse Binance parameters into engine calls; the JSON shapes are in `binance_json` and
`binance_account`, the codes in `binance_codes`, the signature check in `binance_auth`.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from aiohttp import web

from guardbot.sim.book import OrderRequest, SimAccount
from guardbot.sim.candles import INTERVALS_MS
from guardbot.sim.engine import CONDITIONAL_TYPES, SimError, SimExchange
from guardbot.sim.faults import Fault
from guardbot.sim.venue import Ctx, Handler, Incoming, Json, Reply, Route, Venue
from guardbot.sim.venues import binance_account as ba
from guardbot.sim.venues import binance_json as bj
from guardbot.sim.venues.binance_auth import signed_payload, verify
from guardbot.sim.venues.binance_codes import BinanceError, binance_error, fault_response, summary_of
from guardbot.sim.venues.binance_ws import BinanceStreams, ListenKeys
from guardbot.sim.venues.fmt import fmt

# Types Binance lists in orderTypes but that must go through the algo endpoint since Dec 2025.
ALGO_ONLY_TYPES = (*CONDITIONAL_TYPES, "TRAILING_STOP_MARKET")


def _bool(v: str | None) -> bool:
    return v is not None and v.strip().lower() == "true"


def _float(params: dict[str, Any], key: str) -> float | None:
    v = params.get(key)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        raise BinanceError(-1102, f"Parameter '{key}' was malformed.") from None
    if not math.isfinite(x):
        raise BinanceError(-1102, f"Parameter '{key}' was malformed.")
    return x


def _int(params: dict[str, Any], key: str) -> int | None:
    v = params.get(key)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise BinanceError(-1102, f"Parameter '{key}' was malformed.") from None


def _acct(c: Ctx) -> SimAccount:
    assert c.account is not None
    return c.account


class BinanceVenue(Venue):
    exchange: ClassVar[str] = "binanceusdm"
    error_kinds: ClassVar[tuple[str, ...]] = ("binance", "error")
    hidden_params: ClassVar[tuple[str, ...]] = ("signature",)

    def __init__(self, engine: SimExchange) -> None:
        self.listen_keys = ListenKeys()  # before the routes, which use it
        super().__init__(engine)

    # ---- the wire ----

    def params(self, req: Incoming) -> dict[str, Any]:
        params = dict(parse_qsl(req.raw_query, keep_blank_values=True))
        params.update(parse_qsl(req.raw_body, keep_blank_values=True))
        return params

    def api_key(self, req: Incoming) -> str | None:
        return req.headers.get("X-MBX-APIKEY")

    def authenticate(self, req: Incoming, route: Route) -> SimAccount | None:
        if not (route.signed or route.key_only):
            return None
        key = self.api_key(req)
        if not key:
            raise BinanceError(-2014)
        acct = self.engine.accounts.get(key)
        if acct is None:
            raise BinanceError(-2015)
        if route.signed:
            verify(acct.secret, signed_payload(req.raw_query, req.raw_body))
        return acct

    def success(self, result: Json) -> Reply:
        return Reply(200, result, True)

    def failure(self, exc: Exception) -> Reply | None:
        if isinstance(exc, SimError):
            exc = binance_error(exc)
        if isinstance(exc, BinanceError):
            return Reply(exc.status, exc.body(), False)
        return None

    def unknown_route(self, method: str, path: str, path_known: bool) -> Reply:
        if path_known:
            return Reply(405, {"code": -1000, "msg": f"Method {method} is not allowed for {path}."}, False)
        return Reply(404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, False)

    def fault_reply(self, fault: Fault) -> web.Response:
        return fault_response(fault, fault.kind in self.error_kinds)

    def summary(self, reply: Reply) -> str:
        return summary_of(reply.body) or super().summary(reply)

    def describe(self, exc: SimError) -> tuple[str, dict[str, Any]]:
        err = binance_error(exc)
        return f"rejected: {err.code} {err.msg}", err.body()

    @staticmethod
    def recipe(base_url: str, api_key: str, secret: str) -> str:
        return (
            "import ccxt.async_support as ccxt\n"
            f'ex = ccxt.binanceusdm({{"apiKey": "{api_key}", "secret": "{secret}",\n'
            '    "options": {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}})\n'
            'for k in [k for k in ex.urls["api"] if k.startswith("fapi")]:\n'
            f'    ex.urls["api"][k] = ex.urls["api"][k].replace("https://fapi.binance.com", "{base_url}")\n'
            'ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])  # map -2019/-2022 as on fapi\n'
        )

    # ---- routes ----

    def build_routes(self) -> dict[tuple[str, str], Route]:
        r: dict[tuple[str, str], Route] = {}
        ex = self.engine

        def add(
            method: str, path: str, handler: Handler, signed: bool = True, key_only: bool = False
        ) -> None:
            r[(method, path)] = Route(handler, signed, key_only)

        v1 = "/fapi/v1"
        add("GET", f"{v1}/ping", lambda c: {}, signed=False)
        add("GET", f"{v1}/time", lambda c: {"serverTime": int(time.time() * 1000)}, signed=False)
        add("GET", f"{v1}/exchangeInfo", lambda c: bj.exchange_info(ex), signed=False)
        add("GET", f"{v1}/premiumIndex", self._premium_index, signed=False)
        add("GET", f"{v1}/ticker/24hr", self._ticker, signed=False)
        add("GET", f"{v1}/ticker/price", self._ticker_price, signed=False)
        for kind in ("klines", "markPriceKlines", "indexPriceKlines"):
            add("GET", f"{v1}/{kind}", self._klines, signed=False)
        for v in ("v1", "v2"):
            add("GET", f"/fapi/{v}/leverageBracket", lambda c: ba.leverage_brackets(ex, self._opt_symbol(c)))
        add("GET", "/sapi/v1/account/apiRestrictions", lambda c: ba.api_restrictions(_acct(c)))
        add("GET", "/fapi/v3/account", lambda c: ba.account(ex, _acct(c)))
        add("GET", "/fapi/v2/account", lambda c: ba.account(ex, _acct(c), v2=True))
        add("GET", "/fapi/v2/balance", lambda c: ba.balance_v2(ex, _acct(c)))
        add("GET", "/fapi/v3/balance", lambda c: ba.balance_v2(ex, _acct(c)))
        add("GET", "/fapi/v3/positionRisk", lambda c: ba.position_risk_v3(ex, _acct(c), self._opt_symbol(c)))
        add("GET", "/fapi/v2/positionRisk", lambda c: ba.position_risk_v2(ex, _acct(c), self._opt_symbol(c)))
        add("GET", f"{v1}/symbolConfig", lambda c: ba.symbol_config(ex, _acct(c), self._opt_symbol(c)))
        add("GET", f"{v1}/openOrders", self._open_orders)
        add("GET", f"{v1}/openAlgoOrders", self._open_algo_orders)
        add("GET", f"{v1}/allOrders", self._all_orders)
        add("GET", f"{v1}/userTrades", self._user_trades)
        add("GET", f"{v1}/income", self._income)
        add("GET", f"{v1}/order", self._get_order)
        add("GET", f"{v1}/openOrder", self._get_open_order)
        add("POST", f"{v1}/order", self._post_order)
        add("DELETE", f"{v1}/order", self._delete_order)
        add("GET", f"{v1}/algoOrder", self._get_algo)
        add("POST", f"{v1}/algoOrder", self._post_algo)
        add("DELETE", f"{v1}/algoOrder", self._delete_algo)
        add("DELETE", f"{v1}/allOpenOrders", lambda c: self._cancel_all(c, algo=False))
        add("DELETE", f"{v1}/algoOpenOrders", lambda c: self._cancel_all(c, algo=True))
        add("POST", f"{v1}/leverage", self._leverage)
        add("POST", f"{v1}/marginType", self._margin_type)
        add("POST", f"{v1}/positionMargin", self._position_margin)
        add("GET", f"{v1}/positionSide/dual", lambda c: {"dualSidePosition": _acct(c).hedge})
        add("POST", f"{v1}/positionSide/dual", self._position_mode)
        add("POST", f"{v1}/listenKey", self._listen_key, signed=False, key_only=True)
        keys = self.listen_keys
        add("PUT", f"{v1}/listenKey", lambda c: keys.keepalive(_acct(c).api_key), signed=False, key_only=True)
        add("DELETE", f"{v1}/listenKey", lambda c: keys.delete(_acct(c).api_key), signed=False, key_only=True)
        return r

    def _symbol(self, c: Ctx) -> str:
        s = c.params.get("symbol")
        if not s:
            raise BinanceError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if s not in self.engine.markets:
            raise BinanceError(-1121)
        return str(s)

    def _opt_symbol(self, c: Ctx) -> str | None:
        return self._symbol(c) if c.params.get("symbol") else None

    # ---- market data ----

    def _premium_index(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        if sym is not None:
            return bj.premium_index(self.engine, sym)
        return [bj.premium_index(self.engine, s) for s in self.engine.markets]

    def _ticker(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        if sym is not None:
            return bj.ticker_24hr(self.engine, sym)
        return [bj.ticker_24hr(self.engine, s) for s in self.engine.markets]

    def _ticker_price(self, c: Ctx) -> Json:
        now = self.engine.now_ms
        rows = [{"symbol": s, "price": fmt(p), "time": now} for s, p in self.engine.marks.items()]
        sym = self._opt_symbol(c)
        return next(r for r in rows if r["symbol"] == sym) if sym else rows

    def _klines(self, c: Ctx) -> Json:
        sym = c.params.get("symbol") or c.params.get("pair") or ""
        if sym not in self.engine.markets:
            raise BinanceError(-1121)
        interval = c.params.get("interval", "")
        if interval not in INTERVALS_MS:
            raise BinanceError(-1120, "Invalid interval.")
        limit = min(1500, _int(c.params, "limit") or 500)
        rows = self.engine.candles.klines(
            sym, interval, _int(c.params, "startTime"), _int(c.params, "endTime"), limit, self.engine.now_ms
        )
        return bj.klines(rows)

    # ---- orders ----

    def _open_orders(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        return [bj.order(o) for o in _acct(c).open_orders() if sym is None or o.symbol == sym]

    def _open_algo_orders(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        return [bj.algo_order(a) for a in _acct(c).open_algo_orders() if sym is None or a.symbol == sym]

    def _all_orders(self, c: Ctx) -> Json:
        sym = self._symbol(c)
        limit = min(1000, _int(c.params, "limit") or 500)
        rows = [bj.order(o) for o in _acct(c).orders.values() if o.symbol == sym]
        return rows[-limit:]

    def _user_trades(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        limit = min(1000, _int(c.params, "limit") or 500)
        oid = _int(c.params, "orderId")
        rows = [
            bj.trade(t)
            for t in _acct(c).trades
            if (sym is None or t.symbol == sym) and (oid is None or t.order_id == oid)
        ]
        return rows[-limit:]

    def _income(self, c: Ctx) -> Json:
        """GET /fapi/v1/income: oldest first from startTime (default: the last 7 days), at most
        `limit` rows (default 100, max 1000), optionally one symbol and one incomeType."""
        sym = self._opt_symbol(c)
        kind = c.params.get("incomeType") or None
        now = self.engine.now_ms
        start = _int(c.params, "startTime")
        end = _int(c.params, "endTime")
        if start is None:
            start = (end if end is not None else now) - 7 * 86_400_000
        if end is None:
            end = now
        limit = min(1000, _int(c.params, "limit") or 100)
        rows = [
            bj.income(r)
            for r in _acct(c).income
            if start <= r.time_ms <= end
            and (sym is None or r.symbol == sym)
            and (kind is None or r.income_type == kind)
        ]
        return rows[:limit]

    def _get_order(self, c: Ctx) -> Json:
        o = self.engine.get_order(
            _acct(c).api_key, self._symbol(c), _int(c.params, "orderId"), c.params.get("origClientOrderId")
        )
        return bj.order(o)

    def _get_open_order(self, c: Ctx) -> Json:
        out = self._get_order(c)
        if out["status"] not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2013)
        return out

    def _order_request(self, c: Ctx, algo: bool) -> OrderRequest:
        p = c.params
        reduce_only = _bool(p.get("reduceOnly"))
        position_side = p.get("positionSide")
        # Binance: in hedge mode the leg is named and reduceOnly must not be sent
        if reduce_only and _acct(c).hedge and str(position_side or "").upper() in ("LONG", "SHORT"):
            raise BinanceError(-1106)
        return OrderRequest(
            symbol=self._symbol(c),
            side=p.get("side", ""),
            type=p.get("type", p.get("orderType", "")),
            quantity=_float(p, "quantity"),
            price=_float(p, "price"),
            trigger_price=_float(p, "triggerPrice") if algo else _float(p, "stopPrice"),
            reduce_only=reduce_only,
            close_position=_bool(p.get("closePosition")),
            position_side=position_side,
            time_in_force=p.get("timeInForce"),
            client_id=p.get("clientAlgoId") if algo else p.get("newClientOrderId"),
            working_type=p.get("workingType", "CONTRACT_PRICE"),
            price_protect=_bool(p.get("priceProtect")),
        )

    def _post_order(self, c: Ctx) -> Json:
        otype = c.params.get("type")
        if not otype:
            raise BinanceError(
                -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
            )
        if str(otype).upper() in ALGO_ONLY_TYPES:
            raise BinanceError(-4120)
        return bj.order(self.engine.place_order(_acct(c).api_key, self._order_request(c, algo=False)))

    def _delete_order(self, c: Ctx) -> Json:
        o = self.engine.cancel_order(
            _acct(c).api_key, self._symbol(c), _int(c.params, "orderId"), c.params.get("origClientOrderId")
        )
        return bj.order(o)

    def _get_algo(self, c: Ctx) -> Json:
        a = self.engine.get_algo_order(
            _acct(c).api_key, _int(c.params, "algoId"), c.params.get("clientAlgoId")
        )
        return bj.algo_order(a)

    def _post_algo(self, c: Ctx) -> Json:
        if c.params.get("algoType", "CONDITIONAL") != "CONDITIONAL":
            raise BinanceError(-1102, "Parameter 'algoType' is invalid.")
        if not c.params.get("type"):
            raise BinanceError(
                -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
            )
        a = self.engine.place_algo_order(_acct(c).api_key, self._order_request(c, algo=True))
        return bj.algo_order(a)

    def _delete_algo(self, c: Ctx) -> Json:
        a = self.engine.cancel_algo_order(
            _acct(c).api_key, _int(c.params, "algoId"), c.params.get("clientAlgoId")
        )
        return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}

    def _cancel_all(self, c: Ctx, algo: bool) -> Json:
        self.engine.cancel_all(_acct(c).api_key, self._symbol(c), algo=algo)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ---- settings ----

    def _leverage(self, c: Ctx) -> Json:
        lev = _int(c.params, "leverage")
        if lev is None:
            raise BinanceError(
                -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed."
            )
        sym = self._symbol(c)
        lev, cap = self.engine.set_leverage(_acct(c).api_key, sym, lev)
        return {"leverage": lev, "maxNotionalValue": fmt(cap), "symbol": sym}

    def _margin_type(self, c: Ctx) -> Json:
        mode = c.params.get("marginType", "").upper()
        if mode not in ("ISOLATED", "CROSSED"):
            raise BinanceError(-1102, "Parameter 'marginType' must be ISOLATED or CROSSED.")
        self.engine.set_margin_type(_acct(c).api_key, self._symbol(c), mode)
        return {"code": 200, "msg": "success"}

    def _position_margin(self, c: Ctx) -> Json:
        amount = _float(c.params, "amount")
        kind = _int(c.params, "type")
        if amount is None or kind not in (1, 2):
            raise BinanceError(-1102, "Parameters 'amount' and 'type' (1 add, 2 reduce) are required.")
        self.engine.modify_isolated_margin(
            _acct(c).api_key, self._symbol(c), amount, kind == 1, c.params.get("positionSide", "BOTH")
        )
        return {"amount": amount, "code": 200, "msg": "Successfully modify position margin.", "type": kind}

    def _position_mode(self, c: Ctx) -> Json:
        value = c.params.get("dualSidePosition", "").lower()
        if value not in ("true", "false"):
            raise BinanceError(-1102, "Parameter 'dualSidePosition' must be true or false.")
        self.engine.set_position_mode(_acct(c).api_key, value == "true")
        return {"code": 200, "msg": "success"}

    def _listen_key(self, c: Ctx) -> Json:
        return {"listenKey": self.listen_keys.create(_acct(c).api_key)}

    def streams(self) -> BinanceStreams | None:
        return BinanceStreams(self.engine, self.listen_keys)
