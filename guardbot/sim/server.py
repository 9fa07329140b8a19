"""The emulator's HTTP face: Binance USDⓈ-M REST paths, faults, a request log and the /_sim control API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from guardbot.sim import wire
from guardbot.sim.auth import signed_payload, verify
from guardbot.sim.book import OrderRequest, SimAccount
from guardbot.sim.candles import INTERVALS_MS
from guardbot.sim.clock import ScenarioClock
from guardbot.sim.engine import SimExchange
from guardbot.sim.errors import SimError
from guardbot.sim.markets import resolve_symbol
from guardbot.sim.scenario import ScenarioError, load_scenario

FAULT_KINDS = ("timeout", "timeout_after", "drop", "drop_after", "429", "5xx", "binance")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
Json = Any


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    params: dict[str, str]  # query + form body, without the signature
    status: int  # 0 when no response was sent (timeout, dropped connection)
    ts: float  # wall clock, seconds
    api_key: str | None = None
    fault: str | None = None


@dataclass(slots=True)
class Fault:
    kind: str
    count: int = 1
    path: str | None = None
    code: int | None = None
    msg: str | None = None
    status: int | None = None

    def matches(self, path: str) -> bool:
        return self.count > 0 and (self.path is None or path.startswith(self.path))


@dataclass(frozen=True, slots=True)
class Ctx:
    params: dict[str, str]
    account: SimAccount | None


Handler = Callable[[Ctx], Json]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    signed: bool = True  # HMAC-signed (TRADE/USER_DATA); False: public
    key_only: bool = False  # API key header but no signature (listenKey)


class _NoResponse(Exception):
    """The connection was dropped on purpose."""


def ccxt_client_recipe(base_url: str, api_key: str, secret: str) -> str:
    """The lines that point an unmodified ccxt binanceusdm at the emulator."""
    return (
        "import ccxt.async_support as ccxt\n"
        f'ex = ccxt.binanceusdm({{"apiKey": "{api_key}", "secret": "{secret}",\n'
        '    "options": {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}})\n'
        f'for k in [k for k in ex.urls["api"] if k.startswith("fapi")]:\n'
        f'    ex.urls["api"][k] = ex.urls["api"][k].replace("https://fapi.binance.com", "{base_url}")\n'
        'ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])  # map -2019/-2022 as on fapi\n'
    )


def _bool(v: str | None) -> bool:
    return v is not None and v.strip().lower() == "true"


def _float(params: dict[str, str], key: str) -> float | None:
    v = params.get(key)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        raise SimError(-1102, f"Parameter '{key}' was malformed.") from None
    if not math.isfinite(x):
        raise SimError(-1102, f"Parameter '{key}' was malformed.")
    return x


def _int(params: dict[str, str], key: str) -> int | None:
    v = params.get(key)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise SimError(-1102, f"Parameter '{key}' was malformed.") from None


class SimServer:
    """aiohttp server around a SimExchange. `await start()` returns the base URL."""

    def __init__(self, engine: SimExchange | None = None, fault_delay_s: float = 30.0) -> None:
        self.engine = engine or SimExchange()
        self.fault_delay_s = fault_delay_s
        self.request_log: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self.listen_keys: dict[str, str] = {}
        self._dropped: set[tuple[str, str, str]] = set()
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._clock: ScenarioClock | None = None
        self.routes = self._build_routes()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    # ---- lifecycle ----

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        actual = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{actual}"
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        await self.stop_clock()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_clock(self, speed: float = 1.0, tick_s: float = 0.1) -> None:
        """Advance the engine in the background: `speed` sim seconds per wall second."""
        if self._clock is not None and self._clock.running:
            raise RuntimeError("the clock is already running")
        self._clock = ScenarioClock(self.engine, speed, tick_s)
        self._clock.start()

    async def stop_clock(self) -> None:
        if self._clock is not None:
            await self._clock.stop()
            self._clock = None

    # ---- faults and log ----

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        path: str | None = None,
        code: int | None = None,
        msg: str | None = None,
    ) -> None:
        """Make the next `count` exchange requests (optionally only those whose path starts with
        `path`) fail: "timeout", "timeout_after" (processed, then no answer), "drop",
        "drop_after", "429", "5xx" or an HTTP status like "503", or "binance" with `code`."""
        kind = str(kind)
        status: int | None = None
        if re.fullmatch(r"[45]\d\d", kind):
            status = int(kind)
        elif kind == "5xx":
            status = 503
        elif kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)} or a status"
            )
        if kind == "binance" and code is None:
            raise ValueError("fault kind 'binance' needs a code (e.g. -2019)")
        if count < 1:
            raise ValueError("fault count must be >= 1")
        self.faults.append(Fault(kind, count, path, code, msg, status))

    def clear_faults(self) -> None:
        self.faults.clear()

    def clear_log(self) -> None:
        self.request_log.clear()

    def mutating_requests(self) -> list[RequestRecord]:
        """POST/PUT/DELETE to the exchange API (not /_sim, not listenKey)."""
        return [
            r
            for r in self.request_log
            if r.method in ("POST", "PUT", "DELETE")
            and not r.path.startswith("/_sim")
            and not r.path.endswith("/listenKey")
        ]

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if r.path == path and (method is None or r.method == method)]

    def _take_fault(self, path: str) -> Fault | None:
        for f in self.faults:
            if f.matches(path):
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                return f
        return None

    async def _stall(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.fault_delay_s)

    # ---- dispatch ----

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim/") or path == "/_sim":
            return await self._control(request)
        raw_query = request.raw_path.partition("?")[2]
        raw_body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        logged = {k: v for k, v in params.items() if k != "signature"}
        api_key = request.headers.get("X-MBX-APIKEY")
        fingerprint = (request.method, request.raw_path, raw_body)
        if fingerprint in self._dropped:
            # aiohttp silently resends an idempotent request once when a reused keep-alive
            # connection drops; the byte-identical resend is the same request, so it fails too.
            self._dropped.discard(fingerprint)
            self.request_log.append(
                RequestRecord(request.method, path, logged, 0, time.time(), api_key, "drop(resend)")
            )
            return self._drop(request)
        fault = self._take_fault(path)
        kind = fault.kind if fault else None
        if kind in ("drop", "drop_after"):
            self._dropped.add(fingerprint)

        def log(status: int) -> None:
            self.request_log.append(
                RequestRecord(request.method, path, logged, status, time.time(), api_key, kind)
            )

        if fault is not None and fault.kind in ("timeout", "drop"):
            log(0)
            if fault.kind == "timeout":
                await self._stall()
            return self._drop(request)
        if fault is not None and fault.kind not in ("timeout_after", "drop_after"):
            resp = self._fault_response(fault)
            log(resp.status)
            return resp
        status, body = self._dispatch(request.method, path, params, api_key, raw_query, raw_body)
        if fault is not None:  # the request took effect; the client never hears about it
            log(0)
            if fault.kind == "timeout_after":
                await self._stall()
            return self._drop(request)
        log(status)
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, separators=(",", ":")))

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=504)

    def _fault_response(self, fault: Fault) -> web.Response:
        if fault.kind == "binance":
            assert fault.code is not None
            err = SimError(fault.code, fault.msg)
            return web.json_response(err.body(), status=fault.status or err.status)
        status = fault.status or 503
        if status == 429:
            err = SimError(-1003, fault.msg)
            return web.json_response(err.body(), status=429, headers={"Retry-After": "1"})
        # Binance's gateway answers 5xx with an HTML page, not JSON.
        text = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
        return web.Response(status=status, text=fault.msg or text, content_type="text/html")

    def _dispatch(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        api_key: str | None,
        raw_query: str,
        raw_body: str,
    ) -> tuple[int, Json]:
        route = self.routes.get((method, path))
        if route is None:
            known = any(p == path for (_, p) in self.routes)
            if known:
                return 405, {"code": -1000, "msg": f"Method {method} is not allowed for {path}."}
            return 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}
        try:
            acct = None
            if route.signed or route.key_only:
                if not api_key:
                    raise SimError(-2014)
                acct = self.engine.accounts.get(api_key)
                if acct is None:
                    raise SimError(-2015)
                if route.signed:
                    verify(acct.secret, signed_payload(raw_query, raw_body))
            return 200, route.handler(Ctx(params, acct))
        except SimError as e:
            return e.status, e.body()

    # ---- exchange routes ----

    def _build_routes(self) -> dict[tuple[str, str], Route]:
        r: dict[tuple[str, str], Route] = {}

        def add(
            method: str, path: str, handler: Handler, signed: bool = True, key_only: bool = False
        ) -> None:
            r[(method, path)] = Route(handler, signed, key_only)

        v1 = "/fapi/v1"
        add("GET", f"{v1}/ping", lambda c: {}, signed=False)
        add("GET", f"{v1}/time", lambda c: {"serverTime": int(time.time() * 1000)}, signed=False)
        add("GET", f"{v1}/exchangeInfo", lambda c: wire.exchange_info(self.engine), signed=False)
        add("GET", f"{v1}/premiumIndex", self._premium_index, signed=False)
        add("GET", f"{v1}/ticker/24hr", self._ticker, signed=False)
        add("GET", f"{v1}/ticker/price", self._ticker_price, signed=False)
        add("GET", f"{v1}/klines", self._klines, signed=False)
        add("GET", f"{v1}/markPriceKlines", self._klines, signed=False)
        add("GET", f"{v1}/indexPriceKlines", self._klines, signed=False)
        add("GET", f"{v1}/leverageBracket", self._brackets)
        add("GET", "/fapi/v2/leverageBracket", self._brackets)
        add("GET", "/fapi/v3/account", lambda c: wire.account(self.engine, self._acct(c)))
        add("GET", "/fapi/v2/account", lambda c: wire.account(self.engine, self._acct(c), v2=True))
        add("GET", "/fapi/v2/balance", lambda c: wire.balance_v2(self.engine, self._acct(c)))
        add("GET", "/fapi/v3/balance", lambda c: wire.balance_v2(self.engine, self._acct(c)))
        add(
            "GET",
            "/fapi/v3/positionRisk",
            lambda c: wire.position_risk_v3(self.engine, self._acct(c), self._opt_symbol(c)),
        )
        add(
            "GET",
            "/fapi/v2/positionRisk",
            lambda c: wire.position_risk_v2(self.engine, self._acct(c), self._opt_symbol(c)),
        )
        add(
            "GET",
            f"{v1}/symbolConfig",
            lambda c: wire.symbol_config(self.engine, self._acct(c), self._opt_symbol(c)),
        )
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
        add("GET", f"{v1}/positionSide/dual", lambda c: {"dualSidePosition": self._acct(c).hedge})
        add("POST", f"{v1}/positionSide/dual", self._position_mode)
        add("POST", f"{v1}/listenKey", self._listen_key, signed=False, key_only=True)
        add("PUT", f"{v1}/listenKey", self._listen_key, signed=False, key_only=True)
        add("DELETE", f"{v1}/listenKey", lambda c: {}, signed=False, key_only=True)
        return r

    @staticmethod
    def _acct(c: Ctx) -> SimAccount:
        assert c.account is not None
        return c.account

    def _symbol(self, c: Ctx) -> str:
        s = c.params.get("symbol")
        if not s:
            raise SimError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if s not in self.engine.markets:
            raise SimError(-1121)
        return s

    def _opt_symbol(self, c: Ctx) -> str | None:
        return self._symbol(c) if c.params.get("symbol") else None

    def _premium_index(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        if sym is not None:
            return wire.premium_index(self.engine, sym)
        return [wire.premium_index(self.engine, s) for s in self.engine.markets]

    def _ticker(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        if sym is not None:
            return wire.ticker_24hr(self.engine, sym)
        return [wire.ticker_24hr(self.engine, s) for s in self.engine.markets]

    def _ticker_price(self, c: Ctx) -> Json:
        now = self.engine.now_ms
        rows = [{"symbol": s, "price": wire.fmt(p), "time": now} for s, p in self.engine.marks.items()]
        sym = self._opt_symbol(c)
        return next(r for r in rows if r["symbol"] == sym) if sym else rows

    def _klines(self, c: Ctx) -> Json:
        sym = c.params.get("symbol") or c.params.get("pair") or ""
        if sym not in self.engine.markets:
            raise SimError(-1121)
        interval = c.params.get("interval", "")
        if interval not in INTERVALS_MS:
            raise SimError(-1120, "Invalid interval.")
        limit = min(1500, _int(c.params, "limit") or 500)
        rows = self.engine.candles.klines(
            sym, interval, _int(c.params, "startTime"), _int(c.params, "endTime"), limit, self.engine.now_ms
        )
        return wire.klines(rows)

    def _brackets(self, c: Ctx) -> Json:
        return wire.leverage_brackets(self.engine, self._opt_symbol(c))

    def _open_orders(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        return [wire.order(o) for o in self._acct(c).open_orders() if sym is None or o.symbol == sym]

    def _open_algo_orders(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        return [
            wire.algo_order(a) for a in self._acct(c).open_algo_orders() if sym is None or a.symbol == sym
        ]

    def _all_orders(self, c: Ctx) -> Json:
        sym = self._symbol(c)
        limit = min(1000, _int(c.params, "limit") or 500)
        rows = [wire.order(o) for o in self._acct(c).orders.values() if o.symbol == sym]
        return rows[-limit:]

    def _user_trades(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        limit = min(1000, _int(c.params, "limit") or 500)
        oid = _int(c.params, "orderId")
        rows = [
            wire.trade(t)
            for t in self._acct(c).trades
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
            wire.income(r)
            for r in self._acct(c).income
            if start <= r.time_ms <= end
            and (sym is None or r.symbol == sym)
            and (kind is None or r.income_type == kind)
        ]
        return rows[:limit]

    def _get_order(self, c: Ctx) -> Json:
        o = self.engine.get_order(
            self._acct(c).api_key,
            self._symbol(c),
            _int(c.params, "orderId"),
            c.params.get("origClientOrderId"),
        )
        return wire.order(o)

    def _get_open_order(self, c: Ctx) -> Json:
        out = self._get_order(c)
        if out["status"] not in ("NEW", "PARTIALLY_FILLED"):
            raise SimError(-2013)
        return out

    def _order_request(self, c: Ctx, algo: bool) -> OrderRequest:
        p = c.params
        trigger = _float(p, "triggerPrice") if algo else _float(p, "stopPrice")
        return OrderRequest(
            symbol=self._symbol(c),
            side=p.get("side", ""),
            type=p.get("type", p.get("orderType", "")),
            quantity=_float(p, "quantity"),
            price=_float(p, "price"),
            trigger_price=trigger,
            reduce_only=_bool(p.get("reduceOnly")),
            close_position=_bool(p.get("closePosition")),
            position_side=p.get("positionSide"),
            time_in_force=p.get("timeInForce"),
            client_id=p.get("clientAlgoId") if algo else p.get("newClientOrderId"),
            working_type=p.get("workingType", "CONTRACT_PRICE"),
            price_protect=_bool(p.get("priceProtect")),
        )

    def _post_order(self, c: Ctx) -> Json:
        if not c.params.get("type"):
            raise SimError(-1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed.")
        return wire.order(self.engine.place_order(self._acct(c).api_key, self._order_request(c, algo=False)))

    def _delete_order(self, c: Ctx) -> Json:
        o = self.engine.cancel_order(
            self._acct(c).api_key,
            self._symbol(c),
            _int(c.params, "orderId"),
            c.params.get("origClientOrderId"),
        )
        return wire.order(o)

    def _get_algo(self, c: Ctx) -> Json:
        a = self.engine.get_algo_order(
            self._acct(c).api_key, _int(c.params, "algoId"), c.params.get("clientAlgoId")
        )
        return wire.algo_order(a)

    def _post_algo(self, c: Ctx) -> Json:
        if c.params.get("algoType", "CONDITIONAL") != "CONDITIONAL":
            raise SimError(-1102, "Parameter 'algoType' is invalid.")
        if not c.params.get("type"):
            raise SimError(-1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed.")
        a = self.engine.place_algo_order(self._acct(c).api_key, self._order_request(c, algo=True))
        return wire.algo_order(a)

    def _delete_algo(self, c: Ctx) -> Json:
        a = self.engine.cancel_algo_order(
            self._acct(c).api_key, _int(c.params, "algoId"), c.params.get("clientAlgoId")
        )
        return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}

    def _cancel_all(self, c: Ctx, algo: bool) -> Json:
        self.engine.cancel_all(self._acct(c).api_key, self._symbol(c), algo=algo)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _leverage(self, c: Ctx) -> Json:
        lev = _int(c.params, "leverage")
        if lev is None:
            raise SimError(
                -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed."
            )
        sym = self._symbol(c)
        lev, cap = self.engine.set_leverage(self._acct(c).api_key, sym, lev)
        return {"leverage": lev, "maxNotionalValue": wire.fmt(cap), "symbol": sym}

    def _margin_type(self, c: Ctx) -> Json:
        mode = c.params.get("marginType", "").upper()
        if mode not in ("ISOLATED", "CROSSED"):
            raise SimError(-1102, "Parameter 'marginType' must be ISOLATED or CROSSED.")
        self.engine.set_margin_type(self._acct(c).api_key, self._symbol(c), mode)
        return {"code": 200, "msg": "success"}

    def _position_margin(self, c: Ctx) -> Json:
        amount = _float(c.params, "amount")
        kind = _int(c.params, "type")
        if amount is None or kind not in (1, 2):
            raise SimError(-1102, "Parameters 'amount' and 'type' (1 add, 2 reduce) are required.")
        self.engine.modify_isolated_margin(
            self._acct(c).api_key, self._symbol(c), amount, kind == 1, c.params.get("positionSide", "BOTH")
        )
        return {"amount": amount, "code": 200, "msg": "Successfully modify position margin.", "type": kind}

    def _position_mode(self, c: Ctx) -> Json:
        value = c.params.get("dualSidePosition", "").lower()
        if value not in ("true", "false"):
            raise SimError(-1102, "Parameter 'dualSidePosition' must be true or false.")
        self.engine.set_position_mode(self._acct(c).api_key, value == "true")
        return {"code": 200, "msg": "success"}

    def _listen_key(self, c: Ctx) -> Json:
        key = self._acct(c).api_key
        lk = self.listen_keys.get(key) or secrets.token_urlsafe(48)
        self.listen_keys[key] = lk
        return {"listenKey": lk}

    # ---- control API ----

    async def _control(self, request: web.Request) -> web.Response:
        if request.remote not in LOOPBACK:
            return web.json_response({"error": "the control API answers loopback clients only"}, status=403)
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                loaded = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            if not isinstance(loaded, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body = loaded
        body.update({k: v for k, v in request.query.items() if k not in body})
        handlers: dict[tuple[str, str], Callable[[dict[str, Any]], Awaitable[Json] | Json]] = {
            ("POST", "/_sim/accounts"): self._c_account,
            ("POST", "/_sim/positions"): self._c_position,
            ("POST", "/_sim/mark"): self._c_mark,
            ("POST", "/_sim/shock"): self._c_shock,
            ("POST", "/_sim/advance"): self._c_advance,
            ("POST", "/_sim/deposit"): self._c_deposit,
            ("POST", "/_sim/withdraw"): self._c_withdraw,
            ("POST", "/_sim/markets"): self._c_list_market,
            ("POST", "/_sim/scenario"): self._c_scenario,
            ("POST", "/_sim/faults"): self._c_fault,
            ("GET", "/_sim/faults"): lambda b: [_fault_json(f) for f in self.faults],
            ("DELETE", "/_sim/faults"): self._c_clear_faults,
            ("GET", "/_sim/requests"): lambda b: [_record_json(r) for r in self.request_log],
            ("DELETE", "/_sim/requests"): self._c_clear_log,
            ("GET", "/_sim/state"): lambda b: self.engine.state(),
            ("GET", "/_sim/history"): self._c_history,
        }
        handler = handlers.get((request.method, request.path))
        if handler is None:
            paths = sorted({f"{m} {p}" for m, p in handlers})
            return web.json_response(
                {"error": f"unknown control call; expected one of: {', '.join(paths)}"}, status=404
            )
        try:
            out = handler(body)
            if asyncio.iscoroutine(out):
                out = await out
        except SimError as e:
            return web.json_response({"error": f"rejected: {e.code} {e.msg}", **e.body()}, status=400)
        except (ValueError, KeyError, TypeError, ScenarioError) as e:
            msg = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            return web.json_response({"error": msg}, status=400)
        return web.json_response(out, dumps=lambda o: json.dumps(o, default=_json_default))

    def _sym(self, name: Any) -> str:
        sym = resolve_symbol(self.engine.markets, str(name))
        if sym is None:
            raise ValueError(f"unknown symbol {name!r}; expected one of {', '.join(self.engine.markets)}")
        return sym

    def _c_account(self, b: dict[str, Any]) -> Json:
        acct = self.engine.create_account(
            wallet=float(b.get("wallet", 10_000.0)),
            api_key=b.get("api_key"),
            secret=b.get("secret"),
            position_mode=b.get("position_mode", "one_way"),
            name=str(b.get("name", "")),
        )
        return {
            "api_key": acct.api_key,
            "secret": acct.secret,
            "wallet": acct.wallet,
            "position_mode": acct.position_mode.value,
        }

    def _c_position(self, b: dict[str, Any]) -> Json:
        pos = self.engine.open_position(
            str(b["api_key"]),
            self._sym(b["symbol"]),
            side=str(b.get("side", "long")),
            qty=float(b["qty"]),
            leverage=int(b["leverage"]) if b.get("leverage") is not None else None,
            margin_mode=str(b.get("margin_mode", "cross")),
            isolated_margin=float(b["isolated_margin"]) if b.get("isolated_margin") is not None else None,
            entry_price=float(b["entry_price"]) if b.get("entry_price") is not None else None,
        )
        return {
            "symbol": pos.symbol,
            "position_side": pos.position_side,
            "amount": pos.amount,
            "entry_price": pos.entry_price,
            "margin_mode": pos.margin_mode.value,
            "isolated_wallet": pos.isolated_wallet,
        }

    def _c_mark(self, b: dict[str, Any]) -> Json:
        marks = b.get("marks") or {b["symbol"]: b["price"]}
        self.engine.set_marks({self._sym(s): float(p) for s, p in marks.items()})
        return {"marks": self.engine.marks, "time_ms": self.engine.now_ms}

    def _c_shock(self, b: dict[str, Any]) -> Json:
        beta = b.get("beta_follow")
        moved = self.engine.shock(
            self._sym(b["symbol"]), float(b["pct"]), None if beta is None else float(beta)
        )
        return {"marks": moved, "time_ms": self.engine.now_ms}

    def _c_advance(self, b: dict[str, Any]) -> Json:
        steps = self.engine.advance(float(b["seconds"]))
        return {
            "steps": steps,
            "time_ms": self.engine.now_ms,
            "marks": self.engine.marks,
            "liquidations": len(self.engine.liquidations),
        }

    def _c_deposit(self, b: dict[str, Any]) -> Json:
        record = _flag(b, "record", True)
        return {"wallet": self.engine.deposit(str(b["api_key"]), float(b["amount"]), record=record)}

    def _c_withdraw(self, b: dict[str, Any]) -> Json:
        record = _flag(b, "record", True)
        return {"wallet": self.engine.withdraw(str(b["api_key"]), float(b["amount"]), record=record)}

    def _c_list_market(self, b: dict[str, Any]) -> Json:
        """List a new market shaped like an existing one: {"base": "DOGE", "like": "SUI", "price": 0.2}."""
        base = str(b["base"]).upper()
        like = self.engine.markets[self._sym(b.get("like", "SUI"))]
        market = dataclasses.replace(like, id=f"{base}{like.quote}", base=base)
        price = b.get("price")
        self.engine.list_market(market, None if price is None else float(price))
        return {"symbol": market.id, "unified": market.symbol, "mark": self.engine.marks[market.id]}

    def _c_scenario(self, b: dict[str, Any]) -> Json:
        scenario = load_scenario(str(b["scenario"]), self.engine.markets)
        seed = b.get("seed")
        self.engine.use_scenario(scenario, None if seed is None else int(seed))
        return {"scenario": scenario.name, "seed": self.engine.seed}

    def _c_fault(self, b: dict[str, Any]) -> Json:
        code = b.get("code")
        self.inject_fault(
            str(b["kind"]),
            int(b.get("count", 1)),
            b.get("path"),
            None if code is None else int(code),
            b.get("msg"),
        )
        return {"ok": True, "pending": [_fault_json(f) for f in self.faults]}

    def _c_clear_faults(self, b: dict[str, Any]) -> Json:
        self.clear_faults()
        return {"ok": True}

    def _c_clear_log(self, b: dict[str, Any]) -> Json:
        self.clear_log()
        return {"ok": True}

    def _c_history(self, b: dict[str, Any]) -> Json:
        acct = self.engine.account(str(b["api_key"]))
        return [[t, eq, mr if math.isfinite(mr) else None] for t, eq, mr in acct.history]


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError(f"{key} must be true or false, got {value!r}")


def _fault_json(f: Fault) -> dict[str, Any]:
    return {"kind": f.kind, "count": f.count, "path": f.path, "code": f.code, "msg": f.msg}


def _record_json(r: RequestRecord) -> dict[str, Any]:
    return {
        "method": r.method,
        "path": r.path,
        "params": r.params,
        "status": r.status,
        "ts": r.ts,
        "fault": r.fault,
    }


def _json_default(o: object) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
