"""Hyperliquid on the wire: POST /info (reads, unsigned, by `user`) and POST /exchange (signed
actions), with the JSON shapes of `hyperliquid_json`, the signatures of `hyperliquid_sign` and
the actions of `hyperliquid_actions`.

Requests are logged (and matched by faults) as `/info/<type>` and `/exchange/<action type>`:
every read is POST /info and every action POST /exchange, so the type is what tells them apart.
Only /exchange changes anything. Refusals come back as Hyperliquid writes them: an action refused
as a whole is `{"status": "err", "response": msg}`; an order or cancel refused inside a batch is
`{"error": msg}` among the `statuses` of an "ok" reply (HTTP 200 either way).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.candles import INTERVALS_MS
from guardbot.sim.engine import SimError, SimExchange
from guardbot.sim.faults import Fault
from guardbot.sim.venue import Ctx, Incoming, Json, Reply, Route, Venue
from guardbot.sim.venues import hyperliquid_json as hj
from guardbot.sim.venues.hyperliquid_actions import Actions, HlError, message_of
from guardbot.sim.venues.hyperliquid_sign import NonceBook, SignatureError, signer_of
from guardbot.sim.venues.hyperliquid_ws import HyperliquidStreams

INFO_PAGE = 2000  # frontendOpenOrders, historicalOrders and userFills answer at most this many


class HyperliquidVenue(Venue):
    exchange: ClassVar[str] = "hyperliquid"
    error_kinds: ClassVar[tuple[str, ...]] = ("hyperliquid", "error")
    hidden_params: ClassVar[tuple[str, ...]] = ("signature",)

    def __init__(self, engine: SimExchange) -> None:
        super().__init__(engine)
        self.nonces = NonceBook()
        self.actions = Actions(engine)

    # ---- the wire ----

    def build_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/info"): Route(self._info, signed=False),
            ("POST", "/exchange"): Route(self._exchange, signed=True),
        }

    def params(self, req: Incoming) -> dict[str, Any]:
        try:
            body = json.loads(req.raw_body or "null")
        except json.JSONDecodeError:
            raise HlError("Failed to deserialize the JSON body into the target type", 422) from None
        if not isinstance(body, dict):
            raise HlError("Failed to deserialize the JSON body into the target type", 422)
        return body

    def log_path(self, path: str, params: dict[str, Any]) -> str:
        action = params.get("action")
        kind = action.get("type") if isinstance(action, dict) else params.get("type")
        return f"{path}/{kind}" if kind else path

    def is_mutating(self, method: str, path: str) -> bool:
        return path.startswith("/exchange")

    def api_key(self, req: Incoming) -> str | None:
        try:
            body = json.loads(req.raw_body or "null")
        except json.JSONDecodeError:
            return None
        if not isinstance(body, dict):
            return None
        if req.path == "/exchange":
            try:
                return signer_of(body)
            except (SignatureError, ValueError):
                return None
        user = body.get("user")
        return str(user).lower() if user else None

    def authenticate(self, req: Incoming, route: Route) -> SimAccount | None:
        if not route.signed:
            return None
        body = self.params(req)
        try:
            signer = signer_of(body)
        except SignatureError as e:
            raise HlError(str(e), 422) from None
        if body.get("vaultAddress"):
            raise HlError("Vault and sub-account trading is not served by the emulator")
        acct = self.engine.accounts.get(signer)
        if acct is None:  # agents (API wallets) are not served: the user's own key signs
            raise HlError(f"User or API Wallet {signer} does not exist.")
        try:
            self.nonces.check(signer, int(body["nonce"]))
        except SignatureError as e:
            raise HlError(str(e)) from None
        return acct

    def success(self, result: Json) -> Reply:
        accepted = not (isinstance(result, dict) and result.get("status") == "err")
        if accepted and isinstance(result, dict):
            statuses = ((result.get("response") or {}).get("data") or {}).get("statuses") or []
            accepted = not any(isinstance(s, dict) and "error" in s for s in statuses)
        return Reply(200, result, accepted)

    def failure(self, exc: Exception) -> Reply | None:
        if isinstance(exc, SimError):
            exc = HlError(message_of(exc))
        if isinstance(exc, HlError):
            body: Json = {"status": "err", "response": exc.msg} if exc.status == 200 else exc.msg
            return Reply(exc.status, body, False)
        return None

    def unknown_route(self, method: str, path: str, path_known: bool) -> Reply:
        return Reply(405 if path_known else 404, {"status": "err", "response": f"{method} {path}"}, False)

    def fault_reply(self, fault: Fault) -> web.Response:
        dumps = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731
        if fault.kind in self.error_kinds:
            return web.json_response({"status": "err", "response": fault.msg or "error"}, dumps=dumps)
        status = fault.status or 503
        if status == 429:
            return web.json_response(None, status=429, dumps=dumps)
        text = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
        return web.Response(status=status, text=fault.msg or text, content_type="text/html")

    def describe(self, exc: SimError) -> tuple[str, dict[str, Any]]:
        msg = message_of(exc)
        return f"rejected: {msg}", {"status": "err", "response": msg}

    def summary(self, reply: Reply) -> str:
        return json.dumps(reply.body, separators=(",", ":"), default=str)[:200]

    def streams(self) -> HyperliquidStreams:
        return HyperliquidStreams(self.engine, self.actions)

    @staticmethod
    def recipe(base_url: str, api_key: str, secret: str) -> str:
        return (
            "import ccxt.async_support as ccxt\n"
            f'ex = ccxt.hyperliquid({{"walletAddress": "{api_key}", "privateKey": "{secret}",\n'
            '    "options": {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]},\n'
            '                "builderFee": False, "refSet": True}})\n'
            'ex.has["fetchCurrencies"] = False  # else load_markets signs in first (builder, referrer)\n'
            f'ex.urls["api"]["public"] = ex.urls["api"]["private"] = "{base_url}"\n'
        )

    # ---- /exchange ----

    def _exchange(self, c: Ctx) -> Json:
        assert c.account is not None
        return self.actions.run(c.account, c.params["action"])

    # ---- /info ----

    def _user(self, c: Ctx) -> SimAccount | None:
        user = c.params.get("user")
        if not isinstance(user, str) or not user.startswith("0x") or len(user) != 42:
            raise HlError("Failed to deserialize the JSON body into the target type", 422)
        return self.engine.accounts.get(user.lower())

    def _info(self, c: Ctx) -> Json:
        kind = c.params.get("type")
        ex = self.engine
        if kind == "meta":
            return hj.meta(ex)
        if kind == "metaAndAssetCtxs":
            return hj.meta_and_contexts(ex)
        if kind == "allMids":
            return {ex.markets[s].base: hj.dec(p) for s, p in ex.marks.items()}
        if kind == "spotMeta":
            return {"tokens": [hj.USDC_TOKEN], "universe": []}
        if kind == "spotMetaAndAssetCtxs":
            return [{"tokens": [hj.USDC_TOKEN], "universe": []}, []]
        if kind == "candleSnapshot":
            return self._candles(c)
        acct = self._user(c)
        if kind == "userAbstraction":
            return "default"
        if kind == "clearinghouseState":
            return hj.clearinghouse_state(ex, acct) if acct else hj.empty_state(ex.now_ms)
        if kind == "spotClearinghouseState":
            return {"balances": []}
        if acct is None:
            return {"status": "unknownOid"} if kind == "orderStatus" else []
        if kind in ("frontendOpenOrders", "openOrders"):
            rows = [self.actions.row(o) for o in reversed(ex.open_orders(acct.api_key))][:INFO_PAGE]
            if kind == "openOrders":
                keys = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid")
                return [{k: r[k] for k in keys} for r in rows]
            return rows
        if kind == "orderStatus":
            return self.actions.status_of(acct, c.params.get("oid"))
        if kind == "historicalOrders":
            return [self.actions.historical(o) for o in ex.all_orders(acct.api_key)][:INFO_PAGE]
        if kind in ("userFills", "userFillsByTime"):
            start = _int(c.params.get("startTime"), 0)
            end = _int(c.params.get("endTime"), ex.now_ms)
            fills = [hj.fill(ex, acct, t) for t in reversed(acct.trades) if start <= t.time_ms <= end]
            return fills[:INFO_PAGE]
        if kind == "userNonFundingLedgerUpdates":
            start = _int(c.params.get("startTime"), 0)
            end = _int(c.params.get("endTime"), ex.now_ms)
            entries = [hj.ledger_entry(r) for r in acct.income if start <= r.time_ms <= end]
            return [e for e in entries if e is not None]
        raise HlError(f"Failed to deserialize the JSON body into the target type: unknown type {kind}", 422)

    def _candles(self, c: Ctx) -> Json:
        req = c.params.get("req")
        if not isinstance(req, dict):
            raise HlError("Failed to deserialize the JSON body into the target type", 422)
        sym = self.actions.engine_id(str(req.get("coin")))
        interval = str(req.get("interval"))
        if interval not in INTERVALS_MS:
            raise HlError(f"Failed to deserialize the JSON body: unknown interval {interval}", 422)
        now = self.engine.now_ms
        rows = self.engine.candles.klines(
            sym, interval, _int(req.get("startTime"), 0), _int(req.get("endTime"), now), 5000, now
        )
        return hj.candles(rows, self.engine.markets[sym].base, interval)


def _int(v: Any, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except (TypeError, ValueError):
        raise HlError("Failed to deserialize the JSON body into the target type", 422) from None
