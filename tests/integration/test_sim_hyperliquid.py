"""Hyperliquid's wire as the emulator serves it to the unmodified ccxt client: every guard order
reaches the exchange with the price ccxt needs, signatures and nonces checked for real, cloids,
the builder code at 0 %, and margin as Hyperliquid reports it."""

from __future__ import annotations

import json

import aiohttp
import ccxt.async_support as ccxt
import pytest
from gateway_support import FAST, client_for

from guardbot.exchange import OrderGateway
from guardbot.exchange.cashflows import read_cash_flows
from guardbot.sim import SimAccount, SimServer
from guardbot.sim.client import hyperliquid_client
from guardbot.sim.ethkeys import new_private_key

pytestmark = pytest.mark.parametrize("exchange", ["hyperliquid"], indirect=True)
BTC = "BTC/USDC:USDC"
DOGE = "DOGE/USDC:USDC"


def orders_sent(sim: SimServer) -> list[dict[str, object]]:
    return [r.params["action"]["orders"][0] for r in sim.request_log if r.path == "/exchange/order"]


async def test_guard_stops_cuts_and_cancels_reach_the_exchange_with_a_price(
    sim: SimServer, sim_account: SimAccount
) -> None:
    """ccxt's Hyperliquid needs a price on market and market-trigger orders (its slippage cap);
    without one it raises ArgumentsRequired and nothing is sent. The gateway gives a stop its
    trigger and a cut the mark it reads just before."""
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    client = client_for(sim, sim_account)
    try:
        gw = OrderGateway(client, "main", dry_run=False, retry=FAST)
        stop = await gw.place_stop(BTC, "long", 0.5, 90_000.0, rule="auto_stop", episode=1)
        cut = await gw.reduce(BTC, "long", 0.2, rule="margin_reduce", episode=1)
        gone = await gw.cancel_all(BTC)
    finally:
        await client.close()
    assert (stop.status, cut.status, gone.status) == ("confirmed", "confirmed", "confirmed"), (
        stop.reason,
        cut.reason,
    )
    placed, reduced = orders_sent(sim)
    # the stop: a market trigger on the mark, capped 5 % below its trigger (ccxt's default)
    assert placed["t"] == {"trigger": {"isMarket": True, "triggerPx": "90000", "tpsl": "sl"}}
    assert (placed["p"], placed["r"], placed["b"]) == ("85500", True, False)
    # the cut: an Ioc limit 5 % below the mark read just before it
    assert reduced["t"] == {"limit": {"tif": "Ioc"}} and reduced["p"] == "90250" and reduced["r"] is True
    assert str(reduced["c"]).startswith("0x6762") and len(str(reduced["c"])) == 34
    assert sim_account.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.3)
    assert sim.engine.open_orders(sim_account.api_key) == []
    # ccxt approved its builder code at 0 % (once) and charges nothing; no referrer was set
    approvals = [r.params["action"] for r in sim.request_log if r.path == "/exchange/approveBuilderFee"]
    assert [a["maxFeeRate"] for a in approvals] == ["0%"]
    assert all(
        r.params["action"]["builder"]["f"] == 0 for r in sim.request_log if r.path == "/exchange/order"
    )
    assert not [r for r in sim.request_log if r.path == "/exchange/setReferrer"]


async def test_an_action_signed_by_another_key_is_refused(sim: SimServer, sim_account: SimAccount) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    other = hyperliquid_client(sim.base_url, sim_account.api_key, new_private_key(), timeout_ms=2_000)
    try:
        await other.load_markets()
        with pytest.raises(ccxt.InvalidOrder, match=r"User or API Wallet 0x[0-9a-f]{40} does not exist"):
            await other.create_order(BTC, "market", "sell", 0.1, 95_000.0, {"reduceOnly": True})
    finally:
        await other.close()
    assert sim_account.positions[("BTCUSDT", "BOTH")].qty == 0.5


async def test_a_replayed_or_tampered_action_is_refused(sim: SimServer, sim_account: SimAccount) -> None:
    client = hyperliquid_client(sim.base_url, sim_account.api_key, sim_account.secret)
    try:
        await client.load_markets()
        action = {"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 7}
        nonce = client.milliseconds()
        body = {"action": action, "nonce": nonce, "signature": client.sign_l1_action(action, nonce)}
    finally:
        await client.close()
    async with aiohttp.ClientSession() as http:

        async def post(payload: dict[str, object]) -> object:
            async with http.post(f"{sim.base_url}/exchange", data=json.dumps(payload)) as resp:
                return await resp.json()

        assert await post(body) == {"status": "ok", "response": {"type": "default"}}
        again = await post(body)  # the same nonce twice
        tampered = await post({**body, "action": {**action, "leverage": 20}, "nonce": nonce + 1})
    assert isinstance(again, dict) and "Invalid nonce" in str(again["response"])
    # another action under the same signature recovers another signer
    assert isinstance(tampered, dict) and "does not exist" in str(tampered["response"])
    assert sim.engine.leverage_of(sim_account, "BTCUSDT") == 7


async def test_a_cloid_names_one_order_for_good(sim: SimServer, sim_account: SimAccount) -> None:
    client = hyperliquid_client(sim.base_url, sim_account.api_key, sim_account.secret)
    cloid = "0x" + "11" * 16
    params = {"clientOrderId": cloid}
    try:
        await client.load_markets()
        first = await client.create_order("SOL/USDC:USDC", "limit", "buy", 1, 100.0, params)
        await client.cancel_order(first["id"], "SOL/USDC:USDC")
        with pytest.raises(ccxt.ExchangeError, match="Duplicate cloid"):
            await client.create_order("SOL/USDC:USDC", "limit", "buy", 1, 100.0, params)
        found = await client.fetch_order(None, "SOL/USDC:USDC", params)
        with pytest.raises(ccxt.ExchangeError, match="Invalid cloid"):
            await client.create_order("SOL/USDC:USDC", "limit", "buy", 1, 100.0, {"clientOrderId": "gb-x"})
    finally:
        await client.close()
    assert (found["id"], found["status"], found["clientOrderId"]) == (first["id"], "canceled", cloid)


async def test_margin_is_reported_as_hyperliquid_reports_it(sim: SimServer, sim_account: SimAccount) -> None:
    """The identities that hold in recorded real clearinghouseState replies (ccxt's static test
    responses for hyperliquid): cross maintenance = total cross notional / (2 x max leverage);
    account value = totalRawUsd + sum(size x mark); cross marginUsed = value / leverage; isolated
    marginUsed = rawUsd + size x mark."""
    eng, key = sim.engine, sim_account.api_key
    eng.open_position(key, "BTCUSDT", "long", 0.5, leverage=10)
    eng.open_position(key, "ETHUSDT", "short", 3.0, leverage=5, margin_mode="isolated")
    eng.set_mark("BTCUSDT", 93_000.0)
    client = hyperliquid_client(sim.base_url, sim_account.api_key, sim_account.secret)
    try:
        state = (await client.fetch_balance())["info"]
    finally:
        await client.close()
    rows = {r["position"]["coin"]: r["position"] for r in state["assetPositions"]}
    btc, eth = rows["BTC"], rows["ETH"]
    marks = {"BTC": 93_000.0, "ETH": eng.marks["ETHUSDT"]}
    assert float(state["crossMaintenanceMarginUsed"]) == pytest.approx(0.5 * 93_000 / (2 * 40))
    assert float(btc["marginUsed"]) == pytest.approx(0.5 * 93_000 / 10)
    assert float(eth["marginUsed"]) == pytest.approx(float(eth["leverage"]["rawUsd"]) - 3.0 * marks["ETH"])
    summary = state["marginSummary"]
    held = sum(float(r["szi"]) * marks[c] for c, r in rows.items())
    assert float(summary["accountValue"]) == pytest.approx(float(summary["totalRawUsd"]) + held)
    assert float(summary["accountValue"]) == pytest.approx(eng.account_figures(key).equity)


async def test_deposits_and_withdrawals_are_read_with_their_direction(
    sim: SimServer, sim_account: SimAccount
) -> None:
    """ccxt's Hyperliquid ledger gives every amount unsigned; a withdrawal must still count as
    money out, or the guard would take it for a deposit and a loss."""
    start = sim.engine.now_ms
    sim.engine.deposit(sim_account.api_key, 500.0)
    sim.engine.withdraw(sim_account.api_key, 200.0)
    client = client_for(sim, sim_account)
    try:
        flows = await read_cash_flows(client, "USDC", start)
    finally:
        await client.close()
    assert [(f.amount, f.kind) for f in flows] == [(500.0, "deposit"), (-200.0, "withdraw")]


async def test_a_cut_worth_less_than_ten_dollars_is_refused_before_it_is_sent(
    sim: SimServer, sim_account: SimAccount
) -> None:
    """Hyperliquid's "Order must have minimum value of $10" names no exemption for reduce-only orders
    (Binance's MIN_NOTIONAL exempts them), and values a market order at its slippage cap: a $6 cut
    is refused by the gateway with one line and never sent; a $12.8 one goes through."""
    sim.engine.open_position(sim_account.api_key, "DOGEUSDT", "long", 100, leverage=10)  # $32
    client = client_for(sim, sim_account)
    try:
        gw = OrderGateway(client, "main", dry_run=False, retry=FAST)
        small = await gw.reduce("DOGE/USDC:USDC", "long", 20, rule="margin_reduce", episode=1)
        large = await gw.reduce("DOGE/USDC:USDC", "long", 40, rule="margin_reduce", episode=2)
    finally:
        await client.close()
    assert small.status == "rejected" and small.attempts == 0
    assert small.reason == (
        "a reducing order of 20 DOGE/USDC:USDC is worth 6.08 at 0.304, below the venue's minimum "
        "order value 10 (reduce-only orders included)"
    )
    assert large.status == "confirmed"  # $12.8 at the mark, $12.16 at its 5 % cap: enough
    assert [o["s"] for o in orders_sent(sim)] == ["40"]  # the small one never reached the venue
    assert sim_account.positions[("DOGEUSDT", "BOTH")].qty == pytest.approx(60)


async def test_a_stop_or_take_profit_worth_less_than_ten_dollars_at_its_trigger_is_never_sent(
    sim: SimServer, sim_account: SimAccount
) -> None:
    """The venue values a trigger order at its trigger and refuses it under $10 like any other: the
    gateway refuses it first with one line, and neither it nor an entry whose stop it would be goes
    out. A stop worth enough is sent as before."""
    sim.engine.open_position(sim_account.api_key, "DOGEUSDT", "long", 100, leverage=10)  # $32
    client = client_for(sim, sim_account)
    try:
        gw = OrderGateway(client, "main", dry_run=False, retry=FAST)
        stop = await gw.place_stop(DOGE, "long", 25, 0.304, rule="stop", episode=1, mark_price=0.32)
        tp = await gw.place_take_profit(DOGE, "long", 25, 0.35, rule="stop", episode=1, mark_price=0.32)
        entry, entry_stop = await gw.place_entry(
            DOGE, "long", 40, stop_price=0.24, rule="entry", episode=1, mark_price=0.32
        )
        big = await gw.place_stop(DOGE, "long", 40, 0.304, rule="stop", episode=2, mark_price=0.32)
    finally:
        await client.close()
    assert (stop.status, stop.attempts, tp.status, tp.attempts) == ("rejected", 0, "rejected", 0)
    assert stop.reason == (
        "a stop of 25 DOGE/USDC:USDC is worth 7.60 at its trigger 0.304, below the venue's minimum "
        "order value 10 (stops and take-profits included)"
    )
    assert tp.reason is not None and "a take-profit of 25 DOGE/USDC:USDC is worth 8.75" in tp.reason
    assert entry.status == "rejected" and entry_stop is None
    assert entry.reason is not None and entry.reason.startswith(
        "entry not sent: its stop would be refused: a stop of 40 DOGE/USDC:USDC is worth 9.60"
    )
    assert big.status == "confirmed"  # $12.16 at its trigger
    assert [o["s"] for o in orders_sent(sim)] == ["40"]  # only the big stop reached the venue
