"""What a test may assert about one venue, so one test runs on every venue: the venue table.

A test that checks *what reached the exchange* asks the venue's spec instead of spelling Binance's
paths and parameters: `spec.stops(server)` are the conditional orders sent, `spec.orders(server)`
the plain ones, each as a venue-neutral `Sent` (read by `venue_wire`); `spec.snapshot` the requests
of one snapshot. What a venue cannot do is in its `lacks`, with the venue's documented reason, and
`venues_with(feature)` names the venues a suite of that feature runs on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from venue_accounts import WALLET_VENUES, account_totals, credential_config, credentials
from venue_wire import Sent, cancelled_id, is_stop_cancel, parse

from guardbot.sim import RequestRecord, SimServer

__all__ = [
    "GUARD_VENUES",
    "HEDGE_VENUES",
    "SPECS",
    "VENUES",
    "WALLET_VENUES",
    "Sent",
    "VenueSpec",
    "credential_config",
    "credentials",
    "venues_with",
]

VENUES = ("binanceusdm", "bybit", "aster", "hyperliquid")

# Hyperliquid's perpetual account holds one net position per asset ("Hyperliquid Docs, Trading >
# Margining": a position is a signed size per asset, in cross or isolated margin); there is no
# hedge (dual-side) mode and no position-side parameter on its orders.
HYPERLIQUID_ONE_WAY = "one net position per asset: Hyperliquid has no hedge (dual-side) mode"


@dataclass(frozen=True)
class VenueSpec:
    exchange: str
    order_path: str  # plain orders: POST here
    stop_path: str  # conditional orders: POST here
    cancel_stop: tuple[str, str]  # the request that cancels one stop
    cancel_order: tuple[str, str]  # ... one plain order
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
    quote: str = "USDT"  # the markets' quote and settle currency
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
    # the read after each new order whose acknowledgement does not say its state (Bybit: only
    # ids), so the journal says "resting" or "filled"
    state_lookup: tuple[str, str] | None = None
    # a read the gateway makes before each market order (Hyperliquid: the mark, for the cap)
    price_read: tuple[str, str] | None = None
    # the read of the account's ledger (deposits, withdrawals, transfers): ccxt's fetch_ledger
    ledger: tuple[str, str] = ("GET", "/fapi/v1/income")
    withdrawal_ledger_type: str = "transfer"  # ccxt's ledger `type` of a withdrawal on this venue
    # the BTC entry of the stressed book (ETH 10 @ 3,500, SOL 100 @ 190, BTC 1 long at 20x on a
    # 10,000 wallet, marks 3,300 / 180 / 95,000) that puts its margin ratio between 0.9 and 1.0 under
    # the venue's own margin model (Binance: MM 735 of equity 810)
    stressed_btc_entry: float = 101_190.0
    # the request that loads the markets (a new listing reloads it)
    markets_read: tuple[str, str] = ("GET", "/fapi/v1/exchangeInfo")
    # does a hedge-mode order that closes a leg carry reduceOnly? (Binance refuses it there)
    reduce_only_in_hedge_mode: bool = False
    # what the venue cannot do -> why (its documentation); `venues_with` and a test's
    # `@pytest.mark.needs(feature)` (tests/conftest.py) leave it out of that suite
    lacks: Mapping[str, str] = field(default_factory=dict)

    @property
    def hedge_mode(self) -> bool:
        """Can an account hold both legs of a symbol?"""
        return "hedge_mode" not in self.lacks

    def refuse(self, server: SimServer, refusal: str, path: str, count: int = 1) -> None:
        """The venue refuses the next `count` requests to `path` the way it refuses `refusal`
        (a key of `codes`: "would_trigger", "margin", ...), with its own code and words."""
        code, msg, _ = self.codes[refusal]
        server.inject_fault(self.error_kind, count=count, path=path, code=code, msg=msg)

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
        """(margin balance, maintenance margin) as the venue reports them for the account."""
        return await account_totals(self.exchange, client)

    def sent(self, server: SimServer) -> list[Sent]:
        paths = {self.order_path, self.stop_path}
        return [
            parse(self.exchange, r, server)
            for r in server.request_log
            if r.method == "POST" and r.path in paths
        ]

    def stops(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is not None]

    def orders(self, server: SimServer) -> list[Sent]:
        return [s for s in self.sent(server) if s.trigger is None and s.path == self.order_path]

    def cancelled_id(self, r: RequestRecord) -> str:
        """The exchange id of the order a cancel request names."""
        return cancelled_id(self.exchange, r)

    def mutations(self, server: SimServer) -> list[tuple[str, str]]:
        """(method, path) of every request that changed something, with a stop's placement and
        cancel named as such: ("place", "stop"), ("cancel", "stop"), ("place", "order"), ..."""
        out = []
        for r in server.mutating_requests():
            if (r.method, r.path) in self.setup_mutations:
                continue
            if (r.method, r.path) == self.cancel_stop and is_stop_cancel(self.exchange, r, server):
                out.append(("cancel", "stop"))
            elif (r.method, r.path) == self.cancel_order:
                out.append(("cancel", "order"))
            elif r.method == "POST" and r.path in (self.order_path, self.stop_path):
                placed = parse(self.exchange, r, server)
                out.append(("place", "stop" if placed.trigger is not None else "order"))
            else:
                out.append((r.method, r.path))
        return out


SPECS: dict[str, VenueSpec] = {
    "binanceusdm": VenueSpec(
        exchange="binanceusdm",
        order_path="/fapi/v1/order",
        stop_path="/fapi/v1/algoOrder",
        cancel_stop=("DELETE", "/fapi/v1/algoOrder"),
        cancel_order=("DELETE", "/fapi/v1/order"),
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
            "would_trigger": (-2021, None, "OrderImmediatelyFillable"),
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
    ),
    "bybit": VenueSpec(
        exchange="bybit",
        order_path="/v5/order/create",
        stop_path="/v5/order/create",
        cancel_stop=("POST", "/v5/order/cancel"),
        cancel_order=("POST", "/v5/order/cancel"),
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
            "would_trigger": (110093, "expect Falling, but trigger_price[1] >= current[2]", "InvalidOrder"),
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
        withdrawal_ledger_type="transaction",  # Bybit's transaction log calls a withdrawal so
        markets_read=("GET", "/v5/market/instruments-info"),
        # Bybit counts the fee to close inside maintenance (MM 816): Binance's book (equity 810)
        # is liquidated before the guard looks; equity 860 puts the ratio at 0.95
        stressed_btc_entry=101_140.0,
        reduce_only_in_hedge_mode=True,  # positionIdx names the leg, reduceOnly still applies
        state_lookup=("GET", "/v5/order/realtime"),
        liq_on_tick=True,
    ),
}

SPECS["aster"] = VenueSpec(
    exchange="aster",
    order_path="/fapi/v3/order",
    stop_path="/fapi/v3/order",  # no algo API: STOP_MARKET is an order with a stopPrice
    cancel_stop=("DELETE", "/fapi/v3/order"),
    cancel_order=("DELETE", "/fapi/v3/order"),
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
        "would_trigger": (-2021, None, "OrderImmediatelyFillable"),
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
    markets_read=("GET", "/fapi/v3/exchangeInfo"),
    liq_on_tick=False,
    position_mm=False,  # positionRisk has no maintMargin (ccxt estimates one from the brackets)
)
SPECS["hyperliquid"] = VenueSpec(
    exchange="hyperliquid",
    order_path="/exchange/order",
    stop_path="/exchange/order",
    cancel_stop=("POST", "/exchange/cancel"),
    cancel_order=("POST", "/exchange/cancel"),
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
        "would_trigger": (0, "Invalid TP/SL price. asset=0", "InvalidOrder"),
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
    withdrawal_ledger_type="withdraw",  # the ledger update's own `type`
    markets_read=("POST", "/info/metaAndAssetCtxs"),
    # maintenance is half the initial margin at max leverage (MM 2,297.5): equity 2,450, ratio 0.94
    stressed_btc_entry=99_550.0,
    liq_on_tick=False,
    quote="USDC",
    lacks={
        "hedge_mode": HYPERLIQUID_ONE_WAY,
        # "Tick and lot size": sizes are multiples of 10^-szDecimals, and the only minimum is an
        # order's value ($10, which the venue enforces on cuts too: test_sim_hyperliquid), so no
        # amount rounds to above zero but below a minimum size; a cut below one lot is never planned
        "min_amount": "no minimum order size above the lot (szDecimals); its minimum is $10 of value",
        # one request (metaAndAssetCtxs) answers the markets, their tiers and the marks: a failed
        # reload of the markets is a failed snapshot read, never a snapshot without the new listing
        "market_reload_apart": "its markets and its marks are one request (metaAndAssetCtxs)",
    },
    position_mm=False,  # only the account's crossMaintenanceMarginUsed
    signed_reads=False,  # /info reads are public, by address
    auth_error="InvalidOrder",  # ccxt maps "User or API Wallet ... does not exist." so
    cross_mm_only=True,
    btc_market=(0.001, 0.0, 1.0, 1.0),  # no minimum but the lot; 5 significant figures
    setup_mutations=frozenset({("POST", "/exchange/approveBuilderFee")}),
    price_read=("POST", "/info/metaAndAssetCtxs"),
    clearance_fee=False,  # liquidation goes through the book at the taker fee
)


def venues_with(feature: str) -> tuple[str, ...]:
    """The venues that can do `feature` (every venue but those whose spec `lacks` it)."""
    return tuple(v for v in VENUES if feature not in SPECS[v].lacks)


HEDGE_VENUES = venues_with("hedge_mode")
GUARD_VENUES = VENUES  # the guard end to end (tests/e2e) runs on every venue
