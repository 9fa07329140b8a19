"""The Bybit v5 dialect of guardbot.sim against the unmodified ccxt bybit client (unified account,
linear USDT perpetuals): what ccxt requests, what it parses, and which exception each refusal is."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from guardbot.sim import SimAccount, SimServer
from guardbot.sim.client import bybit_client
from guardbot.sim.venues.bybit_account import rate_4dp

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


pytestmark = pytest.mark.parametrize("exchange", ["bybit"], indirect=True)


@pytest.fixture
def acct(sim_account: SimAccount) -> SimAccount:
    return sim_account


@pytest.fixture
async def client(sim: SimServer, acct: SimAccount) -> AsyncIterator[Any]:
    c = bybit_client(sim.base_url, acct.api_key, acct.secret, timeout_ms=3_000)
    try:
        yield c
    finally:
        await c.close()


def paths(sim: SimServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.request_log]


async def test_markets_come_from_instruments_info_in_two_requests(sim: SimServer, client: Any) -> None:
    markets = await client.load_markets()
    btc = markets[BTC]
    assert btc["id"] == "BTCUSDT" and btc["swap"] and btc["linear"] and btc["settle"] == "USDT"
    assert btc["precision"] == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 100
    assert btc["limits"]["leverage"]["max"] == 125
    assert paths(sim) == [("GET", "/v5/market/instruments-info")] * 2  # the second asks for PreLaunch
    fees = await client.fetch_trading_fees({"category": "linear"})
    assert (fees[BTC]["taker"], fees[BTC]["maker"]) == (0.00055, 0.0002)  # the account's own rates


async def test_wallet_balance_of_a_unified_account(sim: SimServer, acct: SimAccount, client: Any) -> None:
    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    sim.engine.set_mark("BTCUSDT", 93_000.0)
    balance = await client.fetch_balance()
    fig = sim.engine.account_figures(acct.api_key)
    [row] = balance["info"]["result"]["list"]
    assert row["accountType"] == "UNIFIED"
    assert float(row["totalMaintenanceMargin"]) == pytest.approx(fig.maintenance_margin, abs=1e-8)
    assert float(row["totalEquity"]) == pytest.approx(fig.equity, abs=1e-8)
    assert row["accountMMRate"] == rate_4dp(fig.maintenance_margin, fig.equity)
    assert float(row["accountMMRate"]) == math.floor(fig.margin_ratio * 1e4) / 1e4
    assert balance["USDT"]["total"] == pytest.approx(acct.wallet)
    # the requests ccxt makes for a unified account: API key info and account info (once), then
    # the wallet
    assert paths(sim)[-3:] == [
        ("GET", "/v5/user/query-api"),
        ("GET", "/v5/account/info"),
        ("GET", "/v5/account/wallet-balance"),
    ]


async def test_hedge_mode_positions_carry_their_leg_and_bybits_margin(sim: SimServer, client: Any) -> None:
    eng = sim.engine
    acct = eng.create_account(wallet=1_200.0, position_mode="hedge")
    eng.open_position(acct.api_key, "ETHUSDT", "long", 2.0, leverage=10)
    eng.open_position(acct.api_key, "ETHUSDT", "short", 1.0, leverage=10)
    c = bybit_client(sim.base_url, acct.api_key, acct.secret)
    try:
        rows = await c.fetch_positions(None, {"settleCoin": "USDT"})
    finally:
        await c.close()
    fig = eng.account_figures(acct.api_key)
    legs = {p["side"]: p for p in rows}
    assert set(legs) == {"long", "short"} and all(p["hedged"] for p in rows)
    assert [p["info"]["positionIdx"] for p in rows] == [1, 2]
    for side, p in legs.items():
        pf = fig.position(ETH, side)
        assert p["contracts"] == pf.position.contracts and p["leverage"] == 10
        assert p["maintenanceMargin"] == pytest.approx(pf.maintenance_margin, abs=1e-8)  # fee to close inside
        assert pf.liquidation_price is not None
        assert abs(p["liquidationPrice"] - pf.liquidation_price) <= 0.005  # on the 0.01 tick
    assert p["info"]["bustPrice"] == "" and p["info"]["tradeMode"] == 0


async def test_orders_and_the_exceptions_of_their_refusals(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    await client.create_order(BTC, "market", "buy", 0.2, None, {"clientOrderId": "gb-open-1"})
    assert acct.positions[("BTCUSDT", "BOTH")].qty == 0.2
    with pytest.raises(ccxt.InsufficientFunds, match="110007"):
        await client.create_order(BTC, "market", "buy", 5.0)
    with pytest.raises(ccxt.InvalidOrder, match="110017"):
        await client.create_order(ETH, "market", "sell", 1.0, None, {"reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="110094"):
        await client.create_order(BTC, "market", "buy", 0.001)  # 95 USDT < 100
    with pytest.raises(ccxt.BadSymbol):
        await client.publicGetV5MarketTickers({"category": "linear", "symbol": "FOOUSDT"})
    # orderLinkId is "always unique" on Bybit: a filled order's id is refused too
    with pytest.raises(ccxt.InvalidOrder, match="110072"):
        await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "gb-open-1"})
    with pytest.raises(ccxt.InvalidOrder, match="110092"):  # a rise to a trigger below the mark
        await client.create_order(
            BTC, "market", "buy", 0.01, None, {"triggerPrice": 90_000, "triggerDirection": "ascending"}
        )
    with pytest.raises(ccxt.BadRequest, match="110043"):
        await client.set_leverage(20, BTC)  # the leverage it already has
    with pytest.raises(ccxt.OrderNotFound, match="110001"):
        await client.cancel_order("4000009999", BTC)


async def test_a_reduce_only_stop_triggers_on_mark_and_keeps_its_id(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.3, leverage=10)
    params = {
        "clientOrderId": "gb-stop-1",
        "stopLossPrice": 90_000,
        "triggerBy": "MarkPrice",
        "reduceOnly": True,
    }
    stop = await client.create_order(BTC, "market", "sell", 0.3, None, params)
    [sent] = [r.params for r in sim.request_log if r.path == "/v5/order/create"]
    assert (sent["triggerDirection"], sent["triggerPrice"], sent["reduceOnly"]) == (2, "90000", True)
    [listed] = await client.fetch_open_orders(None, None, None, {"settleCoin": "USDT"})
    assert listed["id"] == stop["id"] and listed["info"]["orderStatus"] == "Untriggered"
    assert (
        listed["stopLossPrice"] == 90_000
        and listed["reduceOnly"]
        and listed["info"]["triggerBy"] == "MarkPrice"
    )
    sim.engine.set_mark("BTCUSDT", 89_990.0)
    assert ("BTCUSDT", "BOTH") not in acct.positions
    assert await client.fetch_open_orders(None, None, None, {"settleCoin": "USDT"}) == []
    [done] = await client.fetch_open_orders(BTC, None, None, {"orderLinkId": "gb-stop-1"})
    assert done["id"] == stop["id"] and done["status"] == "closed" and done["filled"] == 0.3


async def test_look_up_by_order_link_id_finds_open_and_closed_orders(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    await client.create_order(SOL, "market", "buy", 10, None, {"clientOrderId": "gb-entry-9"})
    await client.create_order(SOL, "limit", "buy", 10, 100, {"clientOrderId": "gb-limit-9"})
    # without an id, /v5/order/realtime lists open orders only ...
    assert [o["clientOrderId"] for o in await client.fetch_open_orders(SOL)] == ["gb-limit-9"]
    # ... with one, closed orders too (Bybit ignores openOnly then)
    [filled] = await client.fetch_open_orders(SOL, None, None, {"orderLinkId": "gb-entry-9"})
    assert filled["status"] == "closed" and filled["filled"] == 10
    [history] = await client.fetch_canceled_and_closed_orders(SOL, None, None, {"orderLinkId": "gb-entry-9"})
    assert history["id"] == filled["id"]
    assert await client.fetch_open_orders(SOL, None, None, {"orderLinkId": "gb-none"}) == []


async def test_cancel_all_takes_plain_and_conditional_orders(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.3, leverage=10)
    await client.create_order(BTC, "limit", "buy", 0.01, 80_000)
    await client.create_order(BTC, "market", "sell", 0.3, None, {"stopLossPrice": 85_000, "reduceOnly": True})
    cancelled = await client.cancel_all_orders(BTC)
    assert len(cancelled) == 2 and sim.engine.open_orders(acct.api_key) == []


async def test_open_orders_come_in_pages_of_twenty_by_default(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    for i in range(23):
        await client.create_order(SOL, "limit", "buy", 1, 100 + i / 100)
    first = await client.fetch_open_orders(None, None, None, {"settleCoin": "USDT"})
    assert len(first) == 20 and first[0]["info"]["nextPageCursor"]
    every = await client.fetch_open_orders(None, None, None, {"settleCoin": "USDT", "paginate": True})
    assert len(every) == 23


async def test_signatures_and_keys_are_checked(sim: SimServer, acct: SimAccount) -> None:
    bad = bybit_client(sim.base_url, acct.api_key, "not-the-secret")
    unknown = bybit_client(sim.base_url, "nobody", "x")
    stale = bybit_client(sim.base_url, acct.api_key, acct.secret)
    stale.nonce = lambda: stale.milliseconds() - 60_000
    try:
        with pytest.raises(ccxt.AuthenticationError, match="10004"):
            await bad.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
        with pytest.raises(ccxt.AuthenticationError, match="10003"):
            await unknown.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
        with pytest.raises(ccxt.InvalidNonce, match="10002"):
            await stale.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
    finally:
        for c in (bad, unknown, stale):
            await c.close()


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("bybit", 110007, ccxt.InsufficientFunds),
        ("error", 10006, ccxt.RateLimitExceeded),
        ("429", None, ccxt.RateLimitExceeded),
        ("503", None, ccxt.ExchangeNotAvailable),
        ("drop", None, ccxt.ExchangeNotAvailable),
    ],
)
async def test_faults_reach_ccxt_as_bybit_errors(
    sim: SimServer, client: Any, kind: str, code: int | None, expected: type[Exception]
) -> None:
    await client.load_markets()
    sim.inject_fault(kind, code=code, path="/v5/position/list")
    with pytest.raises(expected):
        await client.fetch_positions(None, {"settleCoin": "USDT"})
    assert await client.fetch_positions(None, {"settleCoin": "USDT"}) == []


async def test_a_processed_unanswered_order_logs_bybits_answer(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    await client.load_markets()
    client.timeout = 300
    sim.inject_fault("timeout_after", path="/v5/order/create", seconds=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "gb-lost-1"})
    [record] = sim.requests_to("/v5/order/create")
    assert record.outcome is not None and record.outcome.accepted and record.outcome.status == 200
    assert "orderLinkId=gb-lost-1" in record.outcome.summary and "retCode=0" in record.outcome.summary


async def test_control_api_names_bybit_codes_and_isolated_margin_is_refused(
    sim: SimServer, acct: SimAccount
) -> None:
    body = {"api_key": acct.api_key, "symbol": "BTC", "side": "long", "qty": 50, "leverage": 10}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.base_url}/_sim/positions", json=body) as r:
            assert r.status == 400
            out = await r.json()
        assert out["error"] == "rejected: 110007 ab not enough for new order" and out["retCode"] == 110007
        body = {**body, "qty": 0.1, "margin_mode": "isolated"}
        async with http.post(f"{sim.base_url}/_sim/positions", json=body) as r:
            assert (
                r.status == 400
                and "isolated margin is set for the whole account" in (await r.json())["error"]
            )


async def test_the_transaction_log_books_transfers_and_trades(
    sim: SimServer, acct: SimAccount, client: Any
) -> None:
    sim.engine.deposit(acct.api_key, 500.0)
    await client.create_order(BTC, "market", "buy", 0.1)
    sim.engine.withdraw(acct.api_key, 200.0)
    sim.engine.deposit(acct.api_key, 50.0, record=False)  # no row: a move the log does not show
    rows = await client.fetch_ledger(None, sim.engine.now_ms - 60_000)
    assert [r["info"]["type"] for r in rows] == ["TRANSFER_OUT", "TRADE", "TRANSFER_IN"]  # newest first
    withdrawal, trade, deposit = rows
    assert (deposit["direction"], deposit["amount"], deposit["after"]) == ("in", 500.0, 10_500.0)
    fee = 0.1 * 95_000 * 0.00055
    assert trade["info"]["fee"] == str(round(fee, 8)) and trade["amount"] == pytest.approx(fee)
    assert (withdrawal["direction"], withdrawal["amount"]) == ("out", 200.0)
    assert withdrawal["after"] == pytest.approx(10_500.0 - fee - 200.0)
