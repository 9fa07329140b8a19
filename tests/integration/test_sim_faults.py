"""Injected faults reach the unmodified ccxt client as the exception a caller must handle."""

from __future__ import annotations

from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from guardbot.sim import SimAccount, SimServer

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("timeout", None, ccxt.RequestTimeout),
        ("drop", None, ccxt.ExchangeNotAvailable),
        ("429", None, ccxt.DDoSProtection),
        ("503", None, ccxt.ExchangeNotAvailable),
        ("5xx", None, ccxt.ExchangeNotAvailable),
        ("binance", -2019, ccxt.InsufficientFunds),
        ("binance", -2022, ccxt.InvalidOrder),
        ("binance", -4120, ccxt.InvalidOrder),
        ("binance", -4164, ccxt.InvalidOrder),
        ("binance", -1021, ccxt.InvalidNonce),
        ("binance", -1022, ccxt.AuthenticationError),
        ("binance", -2015, ccxt.AuthenticationError),
        ("binance", -1003, ccxt.DDoSProtection),
        ("binance", -1121, ccxt.BadSymbol),
    ],
)
async def test_fault_maps_to_ccxt_exception(
    sim: SimServer, binance_client: Any, kind: str, code: int | None, expected: type[Exception]
) -> None:
    binance_client.timeout = 300
    await binance_client.load_markets()
    sim.inject_fault(kind, code=code)
    with pytest.raises(expected):
        await binance_client.fetch_balance()
    # one request failed; the next one goes through
    assert (await binance_client.fetch_balance())["USDT"]["total"] == 10_000


async def test_fault_only_for_a_path_prefix_and_count(sim: SimServer, binance_client: Any) -> None:
    await binance_client.load_markets()
    sim.inject_fault("503", count=2, path="/fapi/v3/positionRisk")
    await binance_client.fetch_balance()  # other paths unaffected
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await binance_client.fetch_positions()
    assert await binance_client.fetch_positions() == []
    statuses = [r.status for r in sim.requests_to("/fapi/v3/positionRisk")]
    assert statuses == [503, 503, 200]


async def test_timeout_after_places_the_order_but_the_client_never_hears(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    binance_client.timeout = 300
    await binance_client.load_markets()
    sim.inject_fault("timeout_after", path="/fapi/v1/order")
    with pytest.raises(ccxt.RequestTimeout):
        await binance_client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "gb-entry-1"})
    # the ambiguous failure: the order exists and filled
    found = await binance_client.fetch_order(None, BTC, {"clientOrderId": "gb-entry-1"})
    assert found["status"] == "closed" and found["filled"] == 0.01
    [pos] = await binance_client.fetch_positions()
    assert pos["contracts"] == 0.01
    assert [r.fault for r in sim.mutating_requests()] == ["timeout_after"]
    # As on Binance, a client id is unique among *open* orders only: resending the filled order's id
    # is accepted and fills a second time. Only a look-up before a resend prevents the double.
    await binance_client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "gb-entry-1"})
    [pos] = await binance_client.fetch_positions()
    assert pos["contracts"] == 0.02
    # the look-up by client id answers with the newest order carrying it
    latest = await binance_client.fetch_order(None, BTC, {"clientOrderId": "gb-entry-1"})
    assert latest["id"] != found["id"]


async def test_a_client_id_is_refused_only_while_an_open_order_carries_it(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    await binance_client.load_markets()
    params = {"clientOrderId": "gb-limit-1"}
    first = await binance_client.create_order(BTC, "limit", "buy", 0.01, 80_000, params)
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await binance_client.create_order(BTC, "limit", "buy", 0.01, 80_000, params)
    await binance_client.cancel_order(first["id"], BTC)
    again = await binance_client.create_order(BTC, "limit", "buy", 0.01, 81_000, params)
    assert again["id"] != first["id"] and again["status"] == "open"
    # the same for conditional (algo) orders and their clientAlgoId
    await binance_client.create_order(BTC, "market", "buy", 0.01)
    stop = {"clientOrderId": "gb-stop-1", "stopPrice": 90_000, "reduceOnly": True}
    s1 = await binance_client.create_order(BTC, "market", "sell", 0.01, None, stop)
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await binance_client.create_order(BTC, "market", "sell", 0.01, None, stop)
    await binance_client.cancel_order(s1["id"], BTC, {"trigger": True})
    s2 = await binance_client.create_order(BTC, "market", "sell", 0.01, None, stop)
    assert s2["id"] != s1["id"]


async def test_stale_timestamp_is_rejected(sim: SimServer, binance_client: Any) -> None:
    binance_client.options["recvWindow"] = 5000
    binance_client.nonce = lambda: binance_client.milliseconds() - 60_000
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await binance_client.fetch_balance()


async def test_control_api_injects_faults_and_reads_the_log(sim: SimServer, binance_client: Any) -> None:
    await binance_client.load_markets()
    sim.clear_log()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.base_url}/_sim/faults", json={"kind": "binance", "code": -2019}) as r:
            assert r.status == 200
        async with http.post(f"{sim.base_url}/_sim/faults", json={"kind": "bogus"}) as r:
            assert r.status == 400 and "unknown fault kind" in (await r.json())["error"]
        with pytest.raises(ccxt.InsufficientFunds):
            await binance_client.fetch_balance()
        async with http.get(f"{sim.base_url}/_sim/requests") as r:
            log = await r.json()
        assert [(e["path"], e["status"]) for e in log] == [("/fapi/v3/account", 400)]
        assert "signature" not in log[0]["params"]
        async with http.delete(f"{sim.base_url}/_sim/requests") as r:
            assert r.status == 200
    assert sim.request_log == []
