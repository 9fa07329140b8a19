"""Bybit v5 on the wire, for a unified trading account in linear USDT perpetuals: the /v5 routes
ccxt's bybit calls, header HMAC signing, and the `retCode`/`retMsg` envelope.

Handlers parse Bybit parameters (JSON body for POST, query for GET) into engine calls; the JSON
shapes are in `bybit_json` and `bybit_account`, the order routes in `bybit_orders`, the codes and
the signature check in `bybit_codes`.
Served for category=linear only, cross margin (REGULAR_MARGIN), one-way or hedge mode.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.engine import Rejection, SimError
from guardbot.sim.faults import Fault
from guardbot.sim.venue import Ctx, Handler, Incoming, Json, Reply, Route, Venue
from guardbot.sim.venues import bybit_account as ba
from guardbot.sim.venues import bybit_json as bj
from guardbot.sim.venues import bybit_orders as orders
from guardbot.sim.venues.bybit_codes import BybitError, bybit_error, envelope, fault_response, verify
from guardbot.sim.venues.bybit_params import account, linear, opt_symbol, page, symbol, to_float, to_int
from guardbot.sim.venues.bybit_ws import BybitStreams

RISK_LIMIT_PAGE = 15  # symbols per risk-limit page, as Bybit pages category=linear
DAY_MS = 86_400_000


def _server_time() -> dict[str, str]:
    now_ns = time.time_ns()
    return {"timeSecond": str(now_ns // 1_000_000_000), "timeNano": str(now_ns)}


class BybitVenue(Venue):
    exchange: ClassVar[str] = "bybit"
    error_kinds: ClassVar[tuple[str, ...]] = ("bybit", "error")

    # ---- the wire ----

    def params(self, req: Incoming) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(req.raw_query, keep_blank_values=True))
        if req.method == "POST" and req.raw_body.strip():
            try:
                body = json.loads(req.raw_body)
            except json.JSONDecodeError:
                raise BybitError(10001, "params error: the body is not JSON") from None
            if not isinstance(body, dict):
                raise BybitError(10001, "params error: the body is not a JSON object")
            params.update(body)
        return params

    def api_key(self, req: Incoming) -> str | None:
        return req.headers.get("X-BAPI-API-KEY")

    def authenticate(self, req: Incoming, route: Route) -> SimAccount | None:
        if not route.signed:
            return None
        acct = self.engine.accounts.get(self.api_key(req) or "")
        if acct is None:
            raise BybitError(10003)
        verify(acct.secret, req.headers, req.raw_body if req.method == "POST" else req.raw_query)
        return acct

    def success(self, result: Json) -> Reply:
        return Reply(200, envelope(result, self.engine.now_ms), True)

    def failure(self, exc: Exception) -> Reply | None:
        if isinstance(exc, SimError):
            exc = bybit_error(exc)
        if isinstance(exc, BybitError):
            return Reply(200, envelope({}, self.engine.now_ms, exc.code, exc.msg), False)
        return None

    def unknown_route(self, method: str, path: str, path_known: bool) -> Reply:
        return Reply(404, envelope({}, self.engine.now_ms, 10017, f"route not found: {method} {path}"), False)

    def fault_reply(self, fault: Fault) -> web.Response:
        return fault_response(fault, fault.kind in self.error_kinds, self.engine.now_ms)

    def describe(self, exc: SimError) -> tuple[str, dict[str, Any]]:
        err = bybit_error(exc)
        return f"rejected: {err.code} {err.msg}", {"retCode": err.code, "retMsg": err.msg}

    def summary(self, reply: Reply) -> str:
        body: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {}
        result: dict[str, Any] = body["result"] if isinstance(body.get("result"), dict) else {}
        parts = [f"{k}={result[k]}" for k in ("orderId", "orderLinkId") if result.get(k)]
        parts += [f"retCode={body.get('retCode')}", f"retMsg={body.get('retMsg')}"]
        return " ".join(parts)[:200]

    def streams(self) -> BybitStreams:
        return BybitStreams(self.engine)

    @staticmethod
    def recipe(base_url: str, api_key: str, secret: str) -> str:
        return (
            "import ccxt.async_support as ccxt\n"
            f'ex = ccxt.bybit({{"apiKey": "{api_key}", "secret": "{secret}",\n'
            '    "options": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}}})\n'
            'ex.has["fetchCurrencies"] = False  # else load_markets first calls a signed coin query\n'
            f'ex.urls["api"]["public"] = ex.urls["api"]["private"] = "{base_url}"\n'
        )

    # ---- routes ----

    def build_routes(self) -> dict[tuple[str, str], Route]:
        r: dict[tuple[str, str], Route] = {}
        ex = self.engine

        def add(method: str, path: str, handler: Handler, signed: bool = True) -> None:
            r[(method, f"/v5/{path}")] = Route(handler, signed)

        add("GET", "market/time", lambda c: _server_time(), signed=False)
        add("GET", "market/instruments-info", self._instruments, signed=False)
        add("GET", "market/tickers", self._tickers, signed=False)
        add("GET", "market/risk-limit", self._risk_limit, signed=False)
        for kind in ("kline", "mark-price-kline", "index-price-kline"):
            add("GET", f"market/{kind}", self._kline, signed=False)
        add("GET", "user/query-api", lambda c: ba.api_key_info(account(c), self._user_id(account(c))))
        add("GET", "account/info", lambda c: ba.account_info(ex))
        add("GET", "account/wallet-balance", self._wallet)
        add("GET", "account/fee-rate", self._fee_rate)
        add("GET", "account/transaction-log", self._transaction_log)
        add("GET", "position/list", self._positions)
        add("POST", "position/set-leverage", self._set_leverage)
        add("POST", "position/switch-mode", self._switch_mode)
        add("POST", "order/create", lambda c: orders.create(ex, c))
        add("POST", "order/cancel", lambda c: orders.cancel(ex, c))
        add("POST", "order/cancel-all", lambda c: orders.cancel_all(ex, c))
        add("GET", "order/realtime", lambda c: orders.realtime(ex, c))
        add("GET", "order/history", lambda c: orders.history(ex, c))
        return r

    @staticmethod
    def _user_id(acct: SimAccount) -> int:
        return int(hashlib.sha256(acct.api_key.encode()).hexdigest()[:7], 16)

    # ---- market data ----

    def _instruments(self, c: Ctx) -> Json:
        linear(c)
        sym = opt_symbol(self.engine, c)
        launch = self.engine.start_ms - 365 * DAY_MS
        rows = [] if c.params.get("status") == "PreLaunch" else [
            bj.instrument(m, launch) for m in self.engine.markets.values() if sym in (None, m.id)
        ]  # fmt: skip
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def _tickers(self, c: Ctx) -> Json:
        linear(c)
        sym = opt_symbol(self.engine, c)
        rows = [bj.ticker(self.engine, s) for s in self.engine.markets if sym in (None, s)]
        return {"category": "linear", "list": rows}

    def _risk_limit(self, c: Ctx) -> Json:
        linear(c)
        sym = opt_symbol(self.engine, c)
        symbols = [s for s in self.engine.markets if sym in (None, s)]
        start = to_int(c.params, "cursor", 0) or 0
        page = symbols[start : start + RISK_LIMIT_PAGE]
        more = start + RISK_LIMIT_PAGE < len(symbols)
        rows = [row for s in page for row in bj.risk_limits(self.engine.markets[s])]
        return {
            "category": "linear",
            "list": rows,
            "nextPageCursor": str(start + RISK_LIMIT_PAGE) if more else "",
        }

    def _kline(self, c: Ctx) -> Json:
        sym = symbol(self.engine, c)
        interval = bj.INTERVALS.get(str(c.params.get("interval", "")))
        if interval is None:
            raise BybitError(10001, "params error: interval invalid")
        limit = min(1000, to_int(c.params, "limit", 200) or 200)
        rows = self.engine.candles.klines(
            sym, interval, to_int(c.params, "start"), to_int(c.params, "end"), limit, self.engine.now_ms
        )
        return {"category": "linear", "symbol": sym, "list": bj.klines(rows)}

    # ---- account and positions ----

    def _fee_rate(self, c: Ctx) -> Json:
        linear(c)
        return ba.fee_rates(self.engine, opt_symbol(self.engine, c))

    def _wallet(self, c: Ctx) -> Json:
        if c.params.get("accountType") != "UNIFIED":
            raise BybitError(10001, "params error: accountType only support UNIFIED")
        return ba.wallet_balance(self.engine, account(c))

    def _transaction_log(self, c: Ctx) -> Json:
        """24 hours by default (from startTime, or up to endTime); both given: at most 7 days."""
        p, now = c.params, self.engine.now_ms
        start, end = to_int(p, "startTime"), to_int(p, "endTime")
        if start is not None and end is not None and end - start > 7 * DAY_MS:
            raise BybitError(10001, "params error: endTime - startTime must be at most 7 days")
        if start is None:
            start = (end if end is not None else now) - DAY_MS
        if end is None:
            end = start + DAY_MS
        rows = ba.transaction_log(account(c), start, end)
        if p.get("currency") and p["currency"] != "USDT":
            rows = []
        return page(rows, p, 20, 50)

    def _positions(self, c: Ctx) -> Json:
        linear(c)
        sym = opt_symbol(self.engine, c)
        settle = c.params.get("settleCoin")
        if sym is None and not settle:
            raise BybitError(10001, "params error: symbol or settleCoin is required")
        rows = [] if sym is None and settle != "USDT" else ba.positions(self.engine, account(c), sym)
        return {"category": "linear", **page(rows, c.params, 20, 200)}

    def _set_leverage(self, c: Ctx) -> Json:
        linear(c)
        sym = symbol(self.engine, c)
        buy, sell = to_float(c.params, "buyLeverage"), to_float(c.params, "sellLeverage")
        if buy is None or sell is None or buy != sell:
            raise BybitError(10001, "params error: buyLeverage must equal sellLeverage")
        if not buy.is_integer():  # Bybit allows 0.01 steps; the engine keeps whole leverage
            raise BybitError(10001, "params error: the emulator takes whole-number leverage")
        acct = account(c)
        if self.engine.leverage_of(acct, sym) == int(buy):
            raise SimError(Rejection.LEVERAGE_UNCHANGED, leverage=int(buy))
        try:
            self.engine.set_leverage(acct.api_key, sym, int(buy))
        except SimError as e:
            if e.kind is Rejection.ABOVE_LEVERAGE_CAP:
                raise BybitError(110013) from None
            raise
        return {}

    def _switch_mode(self, c: Ctx) -> Json:
        linear(c)
        mode = to_int(c.params, "mode")
        if mode not in (0, 3):
            raise BybitError(10001, "params error: mode must be 0 (one-way) or 3 (hedge)")
        self.engine.set_position_mode(account(c).api_key, mode == 3)
        return {}
