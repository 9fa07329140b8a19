"""Aster futures on the wire: Binance USDⓈ-M shapes under /fapi/v3, EIP-712 signing, Aster's
own differences.

Aster is a Binance clone, so the JSON shapes, error codes and most handlers are Binance's
(`binance*`); what differs is here: every path is v3 (and the spot exchangeInfo ccxt loads too),
the signature (`aster_auth`), conditional orders placed on /fapi/v3/order itself (no algo API:
STOP_MARKET and friends are orders with a `stopPrice`, listed, looked up and cancelled with the
plain ones, and unique client ids among *all* open orders), positionRisk carrying leverage and
margin type (and flat rows), and the builder-fee endpoints ccxt calls unless told not to.
"""

from __future__ import annotations

import time
from typing import ClassVar
from urllib.parse import parse_qsl

from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder
from guardbot.sim.engine import CONDITIONAL_TYPES, Rejection, SimError, SimExchange
from guardbot.sim.venue import Ctx, Handler, Incoming, Json, Route
from guardbot.sim.venues import binance_account as ba
from guardbot.sim.venues import binance_json as bj
from guardbot.sim.venues.aster_auth import MANDATORY, signed_string, verify
from guardbot.sim.venues.aster_orders import order_row
from guardbot.sim.venues.aster_ws import AsterStreams
from guardbot.sim.venues.binance import BinanceVenue, _acct, _int
from guardbot.sim.venues.binance_codes import BinanceError

V3 = "/fapi/v3"


class AsterVenue(BinanceVenue):
    exchange: ClassVar[str] = "aster"

    def streams(self) -> AsterStreams:
        return AsterStreams(self.engine, self.listen_keys)

    error_kinds: ClassVar[tuple[str, ...]] = ("aster", "binance", "error")
    hidden_params: ClassVar[tuple[str, ...]] = ("signature",)

    def __init__(self, engine: SimExchange) -> None:
        super().__init__(engine)
        self.approved_builders: dict[str, list[dict[str, str]]] = {}

    # ---- the wire ----

    def api_key(self, req: Incoming) -> str | None:
        params = dict(parse_qsl(signed_string(req.method, req.raw_query, req.raw_body)))
        user = params.get("user")
        return user.lower() if user else None

    def authenticate(self, req: Incoming, route: Route) -> SimAccount | None:
        if not route.signed:
            return None
        user, signer = verify(signed_string(req.method, req.raw_query, req.raw_body))
        acct = self.engine.accounts.get(user)
        if acct is None:
            raise BinanceError(-2015)
        if signer != user:  # API wallets (agents) are not served: the user signs
            raise BinanceError(-2015, "Signer is not an API wallet of this user.")
        return acct

    @staticmethod
    def recipe(base_url: str, api_key: str, secret: str) -> str:
        return (
            "import ccxt.async_support as ccxt\n"
            f'ex = ccxt.aster({{"privateKey": "{secret}", "walletAddress": "{api_key}",\n'
            '    "options": {"builderFee": False, "defaultType": "swap",\n'
            '                "fetchOpenOrders": {"warnIfNoSymbol": False}}})\n'
            'for k, url in list(ex.urls["api"].items()):  # fapi and sapi: every path is served\n'
            f'    ex.urls["api"][k] = "{base_url}" + url[url.index("/", 8):]\n'
        )

    # ---- routes ----

    def build_routes(self) -> dict[tuple[str, str], Route]:
        r: dict[tuple[str, str], Route] = {}
        ex = self.engine

        def add(method: str, path: str, handler: Handler, signed: bool = True) -> None:
            r[(method, path)] = Route(handler, signed)

        add("GET", f"{V3}/ping", lambda c: {}, signed=False)
        add("GET", f"{V3}/time", lambda c: {"serverTime": int(time.time() * 1000)}, signed=False)
        add("GET", f"{V3}/exchangeInfo", lambda c: bj.exchange_info(ex), signed=False)
        add("GET", "/api/v3/exchangeInfo", lambda c: {**bj.exchange_info(ex), "symbols": []}, signed=False)
        add("GET", f"{V3}/premiumIndex", self._premium_index, signed=False)
        add("GET", f"{V3}/ticker/24hr", self._ticker, signed=False)
        add("GET", f"{V3}/ticker/price", self._ticker_price, signed=False)
        for kind in ("klines", "markPriceKlines", "indexPriceKlines"):
            add("GET", f"{V3}/{kind}", self._klines, signed=False)
        add("GET", f"{V3}/leverageBracket", lambda c: ba.leverage_brackets(ex, self._opt_symbol(c)))
        add("GET", f"{V3}/balance", lambda c: ba.balance_v2(ex, _acct(c)))
        add("GET", f"{V3}/account", lambda c: ba.account(ex, _acct(c), v2=True))
        # Aster's positionRisk: every symbol (flat ones with zeros), with leverage and marginType
        add("GET", f"{V3}/positionRisk", lambda c: ba.position_risk_v2(ex, _acct(c), self._opt_symbol(c)))
        add("GET", f"{V3}/openOrders", self._open_orders)
        add("GET", f"{V3}/openOrder", self._get_open_order)
        add("GET", f"{V3}/allOrders", self._all_orders)
        add("GET", f"{V3}/order", self._get_order)
        add("POST", f"{V3}/order", self._post_order)
        add("DELETE", f"{V3}/order", self._delete_order)
        add("DELETE", f"{V3}/allOpenOrders", self._cancel_all_v3)
        add("GET", f"{V3}/userTrades", self._user_trades)
        add("GET", f"{V3}/income", self._income)
        add("POST", f"{V3}/leverage", self._leverage)
        add("POST", f"{V3}/marginType", self._margin_type)
        add("POST", f"{V3}/positionMargin", self._position_margin)
        add("GET", f"{V3}/positionSide/dual", lambda c: {"dualSidePosition": _acct(c).hedge})
        add("POST", f"{V3}/positionSide/dual", self._position_mode)
        add("GET", f"{V3}/builder", lambda c: self.approved_builders.get(_acct(c).api_key, []))
        add("POST", f"{V3}/approveBuilder", self._approve_builder)
        # signed as every v3 private call (Binance's take only the API key header)
        keys = self.listen_keys
        add("POST", f"{V3}/listenKey", self._listen_key)
        add("PUT", f"{V3}/listenKey", self._keepalive)
        add("DELETE", f"{V3}/listenKey", lambda c: keys.delete(_acct(c).api_key))
        return r

    # ---- orders: plain and conditional in one book ----

    def _open_orders(self, c: Ctx) -> Json:
        sym = self._opt_symbol(c)
        rows = self.engine.open_orders(_acct(c).api_key)
        return [order_row(o, self.engine) for o in rows if sym is None or o.symbol == sym]

    def _all_orders(self, c: Ctx) -> Json:
        sym = self._symbol(c)
        limit = min(1000, _int(c.params, "limit") or 500)
        rows = [o for o in self.engine.all_orders(_acct(c).api_key) if o.symbol == sym]
        return [order_row(o, self.engine) for o in reversed(rows)][-limit:]

    def _find(self, c: Ctx) -> SimOrder | SimAlgoOrder:
        oid, cid = _int(c.params, "orderId"), c.params.get("origClientOrderId")
        if oid is None and not cid:
            raise BinanceError(-1102, "Either orderId or origClientOrderId must be sent.")
        return self.engine.find_any(_acct(c).api_key, self._symbol(c), oid, None if oid else cid)

    def _get_order(self, c: Ctx) -> Json:
        return order_row(self._find(c), self.engine)

    def _get_open_order(self, c: Ctx) -> Json:
        o = self._find(c)
        if not o.is_open:
            raise BinanceError(-2013)
        return order_row(o, self.engine)

    def _post_order(self, c: Ctx) -> Json:
        otype = str(c.params.get("type") or "").upper()
        if not otype:
            raise BinanceError(-1102, MANDATORY.format("type"))
        acct = _acct(c)
        cid = c.params.get("newClientOrderId")
        if cid and any(
            (o.client_algo_id if isinstance(o, SimAlgoOrder) else o.client_order_id) == cid
            for o in self.engine.open_orders(acct.api_key)
        ):
            raise SimError(Rejection.DUPLICATE_CLIENT_ID, client_id=cid)
        request = self._order_request(c, algo=False)
        if otype in CONDITIONAL_TYPES:
            return order_row(self.engine.place_algo_order(acct.api_key, request), self.engine)
        if otype == "TRAILING_STOP_MARKET":
            raise BinanceError(-1116)
        return bj.order(self.engine.place_order(acct.api_key, request))

    def _delete_order(self, c: Ctx) -> Json:
        o = self._find(c)
        if not o.is_open:
            raise SimError(Rejection.ORDER_NOT_OPEN)
        o.status, o.update_ms = "CANCELED", self.engine.now_ms
        return order_row(o, self.engine)

    def _cancel_all_v3(self, c: Ctx) -> Json:
        self.engine.cancel_open(_acct(c).api_key, self._symbol(c))
        return {"code": "200", "msg": "The operation of cancel all open order is done."}

    def _keepalive(self, c: Ctx) -> Json:
        self.listen_keys.keepalive(_acct(c).api_key)  # -1125 once expired or deleted
        return {}  # Aster answers an empty object (Binance the key)

    def _approve_builder(self, c: Ctx) -> Json:
        builder = str(c.params.get("builder") or "")
        if not builder:
            raise BinanceError(-1102, MANDATORY.format("builder"))
        rows = self.approved_builders.setdefault(_acct(c).api_key, [])
        rows.append(
            {
                "userAddress": _acct(c).api_key,
                "builderAddress": builder,
                "maxFeeRate": str(c.params.get("maxFeeRate") or ""),
                "builderName": str(c.params.get("builderName") or ""),
            }
        )
        return {"code": 200, "msg": "success"}
