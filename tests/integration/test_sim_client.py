"""The unmodified ccxt binanceusdm client against guardbot.sim over loopback HTTP."""

from __future__ import annotations

import itertools
from typing import Any

import ccxt.async_support as ccxt
import pytest

from guardbot.sim import SimAccount, SimServer
from guardbot.sim.client import binanceusdm_client

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"


async def test_load_markets_parses_precision_and_limits(binance_client: Any) -> None:
    markets = await binance_client.load_markets()
    btc = markets[BTC]
    assert btc["id"] == "BTCUSDT" and btc["swap"] and btc["linear"] and btc["settle"] == "USDT"
    assert btc["precision"]["amount"] == 0.001 and btc["precision"]["price"] == 0.1
    assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 100
    assert markets[SOL]["precision"]["amount"] == 1 and markets[SOL]["limits"]["cost"]["min"] == 5
    expected = {"BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "AVAX", "LINK", "ARB", "SUI"}
    assert {f"{b}/USDT:USDT" for b in expected} <= set(markets)


async def test_leverage_tiers_are_multi_tier_and_continuous(binance_client: Any) -> None:
    tiers = await binance_client.fetch_leverage_tiers([BTC, "ARB/USDT:USDT"])
    btc = tiers[BTC]
    assert len(btc) == 10 and btc[0]["maxLeverage"] == 125
    assert len(tiers["ARB/USDT:USDT"]) >= 6
    # continuous maintenance: rate_n x floor_n - cum_n == rate_{n-1} x floor_n - cum_{n-1}
    for lo, hi in itertools.pairwise(btc):
        floor = hi["minNotional"]
        a = lo["maintenanceMarginRate"] * floor - lo["info"]["cum"]
        b = hi["maintenanceMarginRate"] * floor - hi["info"]["cum"]
        assert a == pytest.approx(b, rel=1e-12)


async def test_fetch_balance_reports_the_wallet(binance_client: Any) -> None:
    bal = await binance_client.fetch_balance()
    assert bal["USDT"] == {"free": 10_000.0, "used": 0.0, "total": 10_000.0}
    assert bal["info"]["totalWalletBalance"] == "10000"


async def test_market_order_then_reduce_only_close_realizes_pnl_and_fees(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    opened = await binance_client.create_order(BTC, "market", "buy", 0.1)
    assert opened["status"] == "closed" and opened["filled"] == 0.1 and opened["average"] == 95_000
    [pos] = await binance_client.fetch_positions()
    assert (pos["symbol"], pos["side"], pos["contracts"], pos["marginMode"]) == (BTC, "long", 0.1, "cross")

    sim.engine.set_mark("BTCUSDT", 96_000.0)
    closed = await binance_client.create_order(BTC, "market", "sell", 0.1, None, {"reduceOnly": True})
    assert closed["reduceOnly"] is True and closed["status"] == "closed"
    assert await binance_client.fetch_positions() == []
    fees = 0.0005 * (9_500 + 9_600)
    assert sim_account.wallet == pytest.approx(10_000 + 100 - fees, rel=1e-12)
    trades = await binance_client.fetch_my_trades(BTC)
    assert [t["side"] for t in trades] == ["buy", "sell"]
    assert float(trades[1]["info"]["realizedPnl"]) == pytest.approx(100.0)


async def test_reduce_only_without_position_is_rejected_as_invalid_order(binance_client: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await binance_client.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})


async def test_reduce_only_larger_than_position_is_clipped(sim: SimServer, binance_client: Any) -> None:
    await binance_client.create_order(ETH, "market", "buy", 1.0)
    order = await binance_client.create_order(ETH, "market", "sell", 5.0, None, {"reduceOnly": True})
    assert order["filled"] == 1.0
    assert await binance_client.fetch_positions() == []


async def test_order_rejections_map_to_ccxt_exceptions(sim: SimServer, binance_client: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        await binance_client.create_order(BTC, "market", "buy", 5.0)  # 475k notional at 20x on 10k
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        await binance_client.create_order(BTC, "market", "buy", 0.001)  # 95 USDT < 100 min notional
    with pytest.raises(ccxt.BadRequest, match="-1111"):  # ccxt rounds, so send the raw request
        await binance_client.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0015"}
        )
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        await binance_client.fapiPublicGetPremiumIndex({"symbol": "FOOUSDT"})
    assert sim.engine.accounts[binance_client.apiKey].positions == {}


async def test_stop_market_on_order_endpoint_gets_4120(binance_client: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-4120"):
        await binance_client.fapiPrivatePostOrder(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "quantity": "0.1",
                "stopPrice": "90000",
            }
        )


async def test_stop_loss_goes_to_algo_endpoint_and_lists_as_trigger_order(
    sim: SimServer, binance_client: Any
) -> None:
    await binance_client.create_order(BTC, "market", "buy", 0.1)
    stop = await binance_client.create_order(
        BTC,
        "market",
        "sell",
        0.1,
        None,
        {"stopPrice": 90_000, "reduceOnly": True, "clientOrderId": "gb-sl-1"},
    )
    [post] = sim.requests_to("/fapi/v1/algoOrder", "POST")
    assert post.params["type"] == "STOP_MARKET" and post.params["algoType"] == "CONDITIONAL"
    assert post.params["triggerPrice"] == "90000" and post.params["reduceOnly"] == "true"
    assert stop["triggerPrice"] == 90_000 and stop["clientOrderId"] == "gb-sl-1"
    [listed] = await binance_client.fetch_open_orders(params={"trigger": True})
    assert listed["id"] == stop["id"] and listed["status"] == "open" and listed["reduceOnly"] is True
    assert await binance_client.fetch_open_orders() == []  # plain orders: none
    fetched = await binance_client.fetch_order(stop["id"], BTC, {"trigger": True})
    assert fetched["triggerPrice"] == 90_000
    by_client_id = await binance_client.fetch_order(None, BTC, {"trigger": True, "clientOrderId": "gb-sl-1"})
    assert by_client_id["id"] == stop["id"]


async def test_stop_triggers_on_mark_and_closes_the_position(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    await binance_client.create_order(BTC, "market", "buy", 0.1)
    stop = await binance_client.create_order(
        BTC,
        "market",
        "sell",
        None,
        None,
        {"stopPrice": 90_000, "closePosition": True, "workingType": "MARK_PRICE"},
    )
    sim.engine.set_mark("BTCUSDT", 90_500.0)
    assert len(await binance_client.fetch_positions()) == 1
    sim.engine.set_mark("BTCUSDT", 89_950.0)
    assert await binance_client.fetch_positions() == []
    done = await binance_client.fetch_order(stop["id"], BTC, {"trigger": True})
    assert done["status"] == "closed" and done["info"]["algoStatus"] == "FINISHED"
    assert await binance_client.fetch_open_orders(params={"trigger": True}) == []
    # filled at the crossing mark, taker fee on both legs
    expected = 10_000 + 0.1 * (89_950 - 95_000) - 0.0005 * (9_500 + 8_995)
    assert sim_account.wallet == pytest.approx(expected, rel=1e-12)


async def test_stop_that_would_trigger_immediately_is_rejected(binance_client: Any) -> None:
    await binance_client.create_order(BTC, "market", "buy", 0.1)
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="-2021"):
        await binance_client.create_order(
            BTC, "market", "sell", 0.1, None, {"stopPrice": 96_000, "reduceOnly": True}
        )


async def test_take_profit_and_resting_reduce_only_orders_cancelled_when_position_closes(
    sim: SimServer, binance_client: Any
) -> None:
    await binance_client.create_order(ETH, "market", "buy", 2.0)
    tp = await binance_client.create_order(
        ETH, "market", "sell", 2.0, None, {"takeProfitPrice": 3_600, "reduceOnly": True}
    )
    assert tp["info"]["orderType"] == "TAKE_PROFIT_MARKET"
    limit = await binance_client.create_order(ETH, "limit", "sell", 2.0, 3_700, {"reduceOnly": True})
    assert limit["status"] == "open"
    await binance_client.create_order(ETH, "market", "sell", 2.0, None, {"reduceOnly": True})
    assert await binance_client.fetch_open_orders(ETH) == []
    assert await binance_client.fetch_open_orders(ETH, params={"trigger": True}) == []
    assert (await binance_client.fetch_order(limit["id"], ETH))["status"] == "expired"


async def test_limit_order_rests_then_fills_when_mark_crosses(sim: SimServer, binance_client: Any) -> None:
    order = await binance_client.create_order(SOL, "limit", "buy", 10, 170)
    assert order["status"] == "open"
    sim.engine.set_mark("SOLUSDT", 171.0)
    assert (await binance_client.fetch_order(order["id"], SOL))["status"] == "open"
    sim.engine.set_mark("SOLUSDT", 169.5)
    filled = await binance_client.fetch_order(order["id"], SOL)
    assert filled["status"] == "closed" and filled["average"] == 170
    [pos] = await binance_client.fetch_positions([SOL])
    assert pos["entryPrice"] == 170 and pos["contracts"] == 10


async def test_cancel_single_and_cancel_all_for_both_kinds(sim: SimServer, binance_client: Any) -> None:
    await binance_client.create_order(BTC, "market", "buy", 0.2)
    limits = [
        await binance_client.create_order(BTC, "limit", "buy", 0.01 * 2, 90_000 - i * 100) for i in range(3)
    ]
    stops = [
        await binance_client.create_order(
            BTC, "market", "sell", 0.05, None, {"stopPrice": 88_000 - i * 100, "reduceOnly": True}
        )
        for i in range(3)
    ]
    cancelled = await binance_client.cancel_order(limits[0]["id"], BTC)
    assert cancelled["status"] == "canceled"
    cancelled_stop = await binance_client.cancel_order(stops[0]["id"], BTC, {"trigger": True})
    assert cancelled_stop["id"] == stops[0]["id"]
    assert len(await binance_client.fetch_open_orders(BTC)) == 2
    assert len(await binance_client.fetch_open_orders(BTC, params={"trigger": True})) == 2
    with pytest.raises(ccxt.OrderNotFound):
        await binance_client.cancel_order(limits[0]["id"], BTC)

    await binance_client.cancel_all_orders(BTC)
    assert await binance_client.fetch_open_orders(BTC) == []
    assert len(await binance_client.fetch_open_orders(BTC, params={"trigger": True})) == 2
    await binance_client.cancel_all_orders(BTC, {"trigger": True})
    assert await binance_client.fetch_open_orders(BTC, params={"trigger": True}) == []
    assert sim.requests_to("/fapi/v1/algoOpenOrders", "DELETE")


async def test_set_leverage_margin_mode_and_isolated_position(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    res = await binance_client.set_leverage(10, ETH)
    assert res["leverage"] == 10
    with pytest.raises(ccxt.BadRequest, match="-4028"):
        await binance_client.set_leverage(126 - 1, SOL)  # SOL tops out at 75x
    await binance_client.set_margin_mode("isolated", ETH)
    modes = await binance_client.fetch_margin_modes([ETH, BTC])
    assert modes[ETH]["marginMode"] == "isolated" and modes[BTC]["marginMode"] == "cross"
    leverages = await binance_client.fetch_leverages([ETH])
    assert leverages[ETH]["longLeverage"] == 10

    await binance_client.create_order(ETH, "market", "buy", 3.0)
    [pos] = await binance_client.fetch_positions()
    assert pos["marginMode"] == "isolated"
    assert float(pos["info"]["isolatedWallet"]) == pytest.approx(3 * 3_300 / 10)
    with pytest.raises(ccxt.OperationRejected, match="-4048"):
        await binance_client.set_margin_mode("cross", ETH)
    # an isolated position's margin leaves the cross pool: available = wallet - fee - 990
    bal = await binance_client.fetch_balance()
    assert bal["USDT"]["free"] == pytest.approx(10_000 - 0.0005 * 9_900 - 990, rel=1e-12)


async def test_hedge_mode_legs(sim: SimServer, binance_client: Any) -> None:
    await binance_client.set_position_mode(True)
    assert (await binance_client.fetch_position_mode())["hedged"] is True
    await binance_client.create_order(BTC, "market", "buy", 0.1, None, {"hedged": True})
    await binance_client.create_order(BTC, "market", "sell", 0.05, None, {"hedged": True})
    legs = {p["side"]: p for p in await binance_client.fetch_positions()}
    assert legs["long"]["contracts"] == 0.1 and legs["short"]["contracts"] == 0.05
    assert legs["long"]["hedged"] and legs["long"]["info"]["positionSide"] == "LONG"
    # closing the long leg: SELL with positionSide LONG (ccxt: hedged + reduceOnly)
    await binance_client.create_order(BTC, "market", "sell", 0.1, None, {"hedged": True, "reduceOnly": True})
    [short] = await binance_client.fetch_positions()
    assert short["side"] == "short"
    with pytest.raises(ccxt.OperationRejected, match="-4068"):
        await binance_client.set_position_mode(False)


async def test_mark_prices_tickers_and_ohlcv(sim: SimServer, binance_client: Any) -> None:
    sim.engine.set_mark("BTCUSDT", 94_321.5)
    mark = await binance_client.fetch_mark_price(BTC)
    assert mark["markPrice"] == 94_321.5
    marks = await binance_client.fetch_mark_prices()
    assert marks[ETH]["markPrice"] == 3_300 and len(marks) == 10
    ticker = await binance_client.fetch_ticker(BTC)
    assert ticker["last"] == 94_321.5
    candles = await binance_client.fetch_ohlcv(BTC, "1h", limit=48)
    assert len(candles) == 48
    assert all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) for c in candles)
    assert candles[-1][4] == 94_321.5
    again = await binance_client.fetch_ohlcv(BTC, "1h", limit=48)
    assert again == candles  # history is fixed for a seed


async def test_wrong_secret_is_an_authentication_error(sim: SimServer, sim_account: SimAccount) -> None:
    client = binanceusdm_client(sim.base_url, sim_account.api_key, "not-the-secret")
    try:
        await client.load_markets()  # public: works
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await client.fetch_balance()
    finally:
        await client.close()
    stranger = binanceusdm_client(sim.base_url, "unknown-key", "x")
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await stranger.fetch_positions()
    finally:
        await stranger.close()


async def test_request_log_counts_calls_without_signatures(sim: SimServer, binance_client: Any) -> None:
    await binance_client.load_markets()
    await binance_client.fetch_positions()
    await binance_client.fetch_positions()
    paths = [r.path for r in sim.request_log]
    assert paths == [
        "/fapi/v1/exchangeInfo",
        "/fapi/v1/leverageBracket",
        "/fapi/v3/positionRisk",
        "/fapi/v3/positionRisk",
    ]
    assert all("signature" not in r.params for r in sim.request_log)
    assert sim.mutating_requests() == []
    await binance_client.create_order(BTC, "market", "buy", 0.01)
    [post] = sim.mutating_requests()
    assert (post.method, post.path, post.status) == ("POST", "/fapi/v1/order", 200)
