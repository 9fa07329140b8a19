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

from pydantic import SecretStr

from guardbot.config import Credentials
from guardbot.sim import RequestRecord, SimServer
from guardbot.sim.ethkeys import keccak

VENUES = ("binanceusdm", "bybit", "aster", "hyperliquid")
WALLET_VENUES = ("aster", "hyperliquid")  # accounts are Ethereum key pairs, requests EIP-712 signed


def credentials(exchange: str, api_key: str, secret: str) -> Credentials:
    """An emulator account's credentials as the guard's config gives them for its venue. A wallet
    venue's "secret" is the account's private key; any other string stands for a wrong key (a
    key derived from it, so it signs validly, as someone else)."""
    if exchange not in WALLET_VENUES:
        return Credentials(api_key=SecretStr(api_key), secret=SecretStr(secret))
    key = secret if secret.startswith("0x") and len(secret) == 66 else "0x" + keccak(secret.encode()).hex()
    return Credentials(private_key=SecretStr(key), wallet_address=api_key)


def credential_config(exchange: str, api_key: str, secret: str) -> tuple[str, dict[str, str]]:
    """TOML lines naming an account's credentials for its venue, and the environment they read."""
    if exchange in WALLET_VENUES:
        return f'private_key_env = "SIM_SECRET"\nwallet_address = "{api_key}"\n', {"SIM_SECRET": secret}
    lines = 'api_key_env = "SIM_KEY"\napi_secret_env = "SIM_SECRET"\n'
    return lines, {"SIM_KEY": api_key, "SIM_SECRET": secret}


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


def _binance(r: RequestRecord, server: SimServer) -> Sent:
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


def _aster(r: RequestRecord, server: SimServer) -> Sent:
    """Aster: Binance's parameters on /fapi/v3/order, conditional orders with `stopPrice`,
    booleans sent as "True"."""
    p = r.params
    kind = str(p.get("type", ""))
    conditional = kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
    return Sent(
        r.method,
        r.path,
        str(p.get("symbol")),
        str(p.get("side")),
        "LIMIT" if kind in ("LIMIT", "STOP", "TAKE_PROFIT") else "MARKET",
        _f(p.get("quantity")),
        str(p.get("reduceOnly", "")).lower() == "true",
        p.get("newClientOrderId"),
        _f(p.get("stopPrice")) if conditional else None,
        p.get("workingType") == "MARK_PRICE",
        p.get("positionSide") if p.get("positionSide") in ("LONG", "SHORT") else None,
        str(p.get("closePosition", "")).lower() == "true",
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
    quote: str = "USDT"  # the markets' quote and settle currency
    hedge_mode: bool = True  # can an account hold both legs of a symbol?
    position_mm: bool = True  # does each position row carry the venue's maintenance margin?
    signed_reads: bool = True  # are account reads signed (a wrong key cannot read)?
    auth_error: str = "AuthenticationError"  # what ccxt raises for a request signed by a wrong key
    cross_mm_only: bool = False  # the reported maintenance covers cross positions only
    # BTC's (amount step, min amount, price tick, contract size) as ccxt loads them
    btc_market: tuple[float, float, float, float] = (0.001, 0.001, 0.1, 1.0)
    # mutations the ccxt client makes once, of itself (Hyperliquid: approving its builder at 0 %)
    setup_mutations: frozenset[tuple[str, str]] = frozenset()
    # does a liquidation cost a clearance fee (so a stop at the liquidation price saves money)?
    clearance_fee: bool = True
    # a read the gateway makes before each market order (Hyperliquid: the mark, for the cap)
    price_read: tuple[str, str] | None = None
    # the read of the account's ledger (deposits, withdrawals, transfers): ccxt's fetch_ledger
    ledger: tuple[str, str] = ("GET", "/fapi/v1/income")

    def btc_price(self, price: float) -> float:
        """A BTC price as ccxt's price_to_precision writes it (the tick at these prices)."""
        tick = self.btc_market[2]
        return round(round(price / tick) * tick, 8)

    def reads(self, server: SimServer) -> list[tuple[str, str]]:
        """(method, path) of every exchange request that changed nothing, in order."""
        changed = {id(r) for r in server.mutating_requests()}
        return [(r.method, r.path) for r in server.request_log if id(r) not in changed]

    def sym(self, base: str) -> str:
        """ccxt's symbol of a base coin on this venue ("BTC" -> "BTC/USDT:USDT")."""
        return f"{base}/{self.quote}:{self.quote}"

    async def account_totals(self, client: Any) -> tuple[float, float]:
        """(margin balance, maintenance margin) as the venue reports them for the account (Aster:
        its account endpoint, which ccxt's fetch_balance does not read)."""
        if self.exchange == "aster":
            info = await client.fapiPrivateGetV3Account()
            return float(info["totalMarginBalance"]), float(info["totalMaintMargin"])
        info = (await client.fetch_balance())["info"]
        if self.exchange == "hyperliquid":
            return float(info["marginSummary"]["accountValue"]), float(info["crossMaintenanceMarginUsed"])
        if self.exchange == "binanceusdm":
            return float(info["totalMarginBalance"]), float(info["totalMaintMargin"])
        [account] = info["result"]["list"]
        return float(account["totalMarginBalance"]), float(account["totalMaintenanceMargin"])

    def sent(self, server: SimServer) -> list[Sent]:
        paths = {self.order_path, self.stop_path}
        parse = PARSERS[self.exchange]
        return [parse(r, server) for r in server.request_log if r.method == "POST" and r.path in paths]

    def stops(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is not None]

    def orders(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is None and s.path == self.order_path]

    def mutations(self, server: SimServer) -> list[tuple[str, str]]:
        """(method, path) of every request that changed something, with a stop's placement and
        cancel named as such: ("place", "stop"), ("cancel", "stop"), ("place", "order"), ..."""
        out = []
        for r in server.mutating_requests():
            if (r.method, r.path) in self.setup_mutations:
                continue
            if (r.method, r.path) == self.cancel_stop and self._is_stop_cancel(r, server):
                out.append(("cancel", "stop"))
            elif (r.method, r.path) == self.cancel_order:
                out.append(("cancel", "order"))
            elif r.method == "POST" and r.path in (self.order_path, self.stop_path):
                parse = PARSERS[self.exchange]
                out.append(("place", "stop" if parse(r, server).trigger is not None else "order"))
            else:
                out.append((r.method, r.path))
        return out

    def _is_stop_cancel(self, r: RequestRecord, server: SimServer) -> bool:
        if self.exchange == "binanceusdm":
            return True  # DELETE /fapi/v1/algoOrder cancels conditional orders only
        if self.exchange == "hyperliquid":
            [cancel] = r.params["action"]["cancels"]
            oid = int(cancel.get("o") or 0)
            return any(oid in acct.algo_orders for acct in server.engine.accounts.values())
        if self.exchange == "aster":  # ids: conditional orders have their own (smaller) range
            oid = int(r.params.get("orderId") or 0)
            return any(oid in acct.algo_orders for acct in server.engine.accounts.values())
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
        ledger=("GET", "/v5/account/transaction-log"),
        liq_on_tick=True,
        states_on_create=False,
    ),
}

SPECS["aster"] = VenueSpec(
    exchange="aster",
    order_path="/fapi/v3/order",
    stop_path="/fapi/v3/order",  # no algo API: STOP_MARKET is an order with a stopPrice
    cancel_stop=("DELETE", "/fapi/v3/order"),
    cancel_order=("DELETE", "/fapi/v3/order"),
    cancelled_id_param="orderId",
    positions_path="/fapi/v3/positionRisk",
    snapshot=Counter(
        {
            ("GET", "/fapi/v3/balance"): 1,
            ("GET", "/fapi/v3/positionRisk"): 1,
            ("GET", "/fapi/v3/premiumIndex"): 1,
            ("GET", "/fapi/v3/openOrders"): 1,
        }
    ),
    refresh=Counter(
        {
            ("GET", "/api/v3/exchangeInfo"): 2,  # ccxt loads spot markets too, twice
            ("GET", "/fapi/v3/exchangeInfo"): 1,
            ("GET", "/fapi/v3/leverageBracket"): 1,
            ("GET", "/fapi/v3/positionSide/dual"): 1,
        }
    ),
    client_setup=Counter(),  # with builderFee off: no GET /fapi/v3/builder, no approveBuilder
    stop_lookup=("GET", "/fapi/v3/order"),
    order_lookup=("GET", "/fapi/v3/order"),
    lookup_miss=1,
    error_kind="aster",
    codes={
        "margin": (-2019, None, "InsufficientFunds"),
        "reduce_only": (-2022, None, "OperationRejected"),  # ccxt's Aster table
        "min_notional": (-4164, None, "InvalidOrder"),
        "symbol": (-1121, None, "BadSymbol"),
        "nonce": (-1021, None, "InvalidNonce"),
        "rate_limit": (-1003, None, "RateLimitExceeded"),
    },
    rate_limit_error="RateLimitExceeded",
    bad_signature="Invalid API-key",  # a wrong key signs validly, for an account that is not there
    close_position_stops=True,
    reuses_closed_client_ids=True,
    isolated_per_symbol=True,
    open_orders_path="/fapi/v3/openOrders",
    ledger=("GET", "/fapi/v3/income"),
    liq_on_tick=False,
    states_on_create=True,
    position_mm=False,  # positionRisk has no maintMargin (ccxt estimates one from the brackets)
)
SPECS["hyperliquid"] = VenueSpec(
    exchange="hyperliquid",
    order_path="/exchange/order",
    stop_path="/exchange/order",
    cancel_stop=("POST", "/exchange/cancel"),
    cancel_order=("POST", "/exchange/cancel"),
    cancelled_id_param="o",
    positions_path="/info/clearinghouseState",
    snapshot=Counter(  # balance and positions: one clearinghouseState
        {
            ("POST", "/info/clearinghouseState"): 1,
            ("POST", "/info/metaAndAssetCtxs"): 1,
            ("POST", "/info/frontendOpenOrders"): 1,
        }
    ),
    refresh=Counter({("POST", "/info/metaAndAssetCtxs"): 1}),  # tiers come with the markets
    client_setup=Counter({("POST", "/info/userAbstraction"): 1}),  # is it a unified account
    stop_lookup=("POST", "/info/orderStatus"),
    order_lookup=("POST", "/info/orderStatus"),
    lookup_miss=1,
    error_kind="hyperliquid",
    codes={  # Hyperliquid has no codes: its refusals are messages, which ccxt maps by text
        "margin": (0, "Insufficient margin to place order. asset=0", "InsufficientFunds"),
        "reduce_only": (0, "Reduce only order would increase position. asset=0", "InvalidOrder"),
        "min_notional": (0, "Order must have minimum value of $10. asset=0", "InvalidOrder"),
        "symbol": (0, "Invalid asset. asset=99", "ExchangeError"),
        "rate_limit": (
            0,
            "Too many cumulative requests sent (10437 > 10436) for cumulative volume traded $0.00.",
            "RateLimitExceeded",
        ),
    },
    rate_limit_error="RateLimitExceeded",
    bad_signature="User or API Wallet",  # the signature recovers an address that has no account
    close_position_stops=False,
    reuses_closed_client_ids=False,
    isolated_per_symbol=True,
    open_orders_path="/info/frontendOpenOrders",
    ledger=("POST", "/info/userNonFundingLedgerUpdates"),
    liq_on_tick=False,
    states_on_create=False,  # "resting"/"filled" with an oid: ccxt gives no status
    quote="USDC",
    hedge_mode=False,
    position_mm=False,  # only the account's crossMaintenanceMarginUsed
    signed_reads=False,  # /info reads are public, by address
    auth_error="InvalidOrder",  # ccxt maps "User or API Wallet ... does not exist." so
    cross_mm_only=True,
    btc_market=(0.001, 0.0, 1.0, 1.0),  # no minimum but the lot; 5 significant figures
    setup_mutations=frozenset({("POST", "/exchange/approveBuilderFee")}),
    price_read=("POST", "/info/metaAndAssetCtxs"),
    clearance_fee=False,  # liquidation goes through the book at the taker fee
)
HEDGE_VENUES = tuple(v for v in VENUES if SPECS[v].hedge_mode)
# The guard end to end (tests/e2e): Hyperliquid's run is not green yet, so it is not claimed
# there (the exchange layer's suites above do run on it); README's venue table says so.
GUARD_VENUES = tuple(v for v in VENUES if v != "hyperliquid")
PARSERS = {"binanceusdm": _binance, "bybit": _bybit, "aster": _aster, "hyperliquid": _hyperliquid}
