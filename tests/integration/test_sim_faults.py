"""Injected faults reach the unmodified ccxt client as the exception a caller must handle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from guardbot.sim import SimAccount, SimServer
from guardbot.sim.client import binanceusdm_client

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


# ---------------------------------------------------------------- the fault API, exactly


async def _raw_request(sim: SimServer, raw: bytes) -> bytes:
    """One request on its own connection, as a client that never resends anything."""
    host, port = sim.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw)
    await writer.drain()
    data = await reader.read(65536)
    writer.close()
    return data


async def test_a_drop_fails_exactly_one_request(sim: SimServer, binance_client: Any) -> None:
    # POST listenKey carries no timestamp: the next request is byte-identical, and a POST is never
    # resent by the client, so nothing but the fault itself may fail
    sim.inject_fault("drop", path="/fapi/v1/listenKey")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance_client.fapiPrivatePostListenKey()
    assert "listenKey" in await binance_client.fapiPrivatePostListenKey()
    assert [(r.status, r.fault) for r in sim.requests_to("/fapi/v1/listenKey")] == [(0, "drop"), (200, None)]


async def test_a_dropped_get_fails_once_with_the_clients_own_resend(
    sim: SimServer, binance_client: Any
) -> None:
    await binance_client.load_markets()
    sim.inject_fault("drop", path="/fapi/v3/account")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance_client.fetch_balance()
    assert (await binance_client.fetch_balance())["USDT"]["total"] == 10_000
    faults = [r.fault for r in sim.requests_to("/fapi/v3/account")]
    assert faults == ["drop", "drop (resend)", None]  # aiohttp resent the GET once, at once
    assert sim.faults == []


async def test_an_expected_resend_expires(sim: SimServer) -> None:
    sim.resend_window_s = 0.05
    sim.inject_fault("drop", path="/fapi/v1/ping")
    raw = b"GET /fapi/v1/ping HTTP/1.1\r\nHost: sim\r\n\r\n"
    assert await _raw_request(sim, raw) == b""  # dropped: no answer at all
    await asyncio.sleep(0.1)
    assert (await _raw_request(sim, raw)).startswith(b"HTTP/1.1 200")


async def test_a_processed_but_unanswered_request_logs_what_the_venue_would_have_said(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    binance_client.timeout = 300
    await binance_client.load_markets()
    sim.inject_fault("timeout_after", path="/fapi/v1/order", seconds=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        await binance_client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "gb-a-1"})
    sim.inject_fault("drop_after", path="/fapi/v1/order")
    with pytest.raises(ccxt.ExchangeNotAvailable):  # reduce-only with nothing to reduce: refused
        await binance_client.create_order(BTC, "market", "buy", 0.01, None, {"reduceOnly": True})
    placed, refused = sim.requests_to("/fapi/v1/order", "POST")
    assert placed.status == 0 and placed.outcome is not None and placed.outcome.accepted
    assert placed.outcome.status == 200 and "clientOrderId=gb-a-1 status=FILLED" in placed.outcome.summary
    assert refused.status == 0 and refused.outcome is not None and not refused.outcome.accepted
    assert refused.outcome.status == 400 and "code=-2022" in refused.outcome.summary
    async with aiohttp.ClientSession() as http, http.get(f"{sim.base_url}/_sim/requests") as r:
        log = [e for e in await r.json() if e["path"] == "/fapi/v1/order"]
    assert log[0]["outcome"] == {"status": 200, "accepted": True, "summary": placed.outcome.summary}
    assert log[0]["api_key"] == sim_account.api_key


async def test_the_request_log_names_the_account(sim: SimServer) -> None:
    acct = sim.engine.create_account(wallet=1_000.0, name="desk-7")
    client = binanceusdm_client(sim.base_url, acct.api_key, acct.secret)
    try:
        await client.fetch_balance()
    finally:
        await client.close()
    async with aiohttp.ClientSession() as http, http.get(f"{sim.base_url}/_sim/requests") as r:
        [entry] = [e for e in await r.json() if e["path"] == "/fapi/v3/account"]
    assert (entry["api_key"], entry["account"]) == (acct.api_key, "desk-7")


async def test_latency_delays_then_answers_and_timeout_stalls_for_its_own_seconds(
    sim: SimServer, binance_client: Any
) -> None:
    await binance_client.load_markets()
    sim.inject_fault("latency", seconds=0.2, path="/fapi/v3/account")
    started = time.monotonic()
    assert (await binance_client.fetch_balance())["USDT"]["total"] == 10_000
    assert time.monotonic() - started >= 0.2
    assert [(r.status, r.fault) for r in sim.requests_to("/fapi/v3/account")] == [(200, "latency")]
    # a 50 ms stall ends long before the client's 3 s timeout: the client sees the dropped line
    sim.inject_fault("timeout", seconds=0.05, path="/fapi/v3/account")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance_client.fetch_balance()


async def test_latency_beyond_the_clients_timeout_is_an_ambiguous_failure(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    await binance_client.load_markets()
    binance_client.timeout = 100
    sim.inject_fault("latency", seconds=0.3, path="/fapi/v1/order")
    with pytest.raises(ccxt.RequestTimeout):
        await binance_client.create_order(BTC, "market", "buy", 0.01)
    for _ in range(100):  # bounded wait for the delayed request to be processed
        if sim_account.positions:
            break
        await asyncio.sleep(0.01)
    assert sim_account.positions[("BTCUSDT", "BOTH")].qty == 0.01


async def test_a_fault_can_be_scoped_to_one_account(sim: SimServer, binance_client: Any) -> None:
    other = sim.engine.create_account(wallet=500.0, name="other")
    other_client = binanceusdm_client(sim.base_url, other.api_key, other.secret)
    try:
        sim.inject_fault("503", count=2, account="other")
        assert (await binance_client.fetch_balance())["USDT"]["total"] == 10_000
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await other_client.fetch_balance()
        sim.inject_fault("429", account=binance_client.apiKey)
        with pytest.raises(ccxt.DDoSProtection):
            await binance_client.fetch_balance()
    finally:
        await other_client.close()
    assert [f.as_json()["account"] for f in sim.faults] == ["other"]  # one of its two left


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "503", "path": "fapi/v1/order"}, "must start with '/'"),
        ({"kind": "404"}, "only 429 and 5xx statuses are faults"),
        ({"kind": "400"}, "only 429 and 5xx statuses are faults"),
        ({"kind": "latency"}, "needs seconds"),
        ({"kind": "drop", "seconds": 2}, "seconds apply to latency, timeout and timeout_after"),
        ({"kind": "timeout", "seconds": -1}, "seconds must be a number > 0"),
        ({"kind": "binance"}, "needs a code"),
        ({"kind": "503", "code": -2019}, "code applies to kind"),
        ({"kind": "503", "count": 0}, "count must be a whole number >= 1"),
        ({"kind": "503", "account": "nobody"}, "no account has that api key or name"),
        ({"kind": "503", "pth": "/fapi"}, "unknown fault field 'pth'"),
        ({"kind": "bogus"}, "unknown fault kind 'bogus'"),
    ],
)
async def test_a_bad_fault_is_refused_with_one_line(
    sim: SimServer, body: dict[str, Any], message: str
) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{sim.base_url}/_sim/faults", json=body) as r:
        assert r.status == 400
        error = (await r.json())["error"]
    assert message in error and "\n" not in error
    assert sim.faults == []


async def test_a_timeout_the_client_gave_up_on_expects_no_resend(sim: SimServer, binance_client: Any) -> None:
    # the client's 100 ms timeout ends the call; the 300 ms stall ends later: nothing is resent,
    # so the next byte-identical request (an unsigned GET) is answered
    binance_client.timeout = 100
    sim.inject_fault("timeout", seconds=0.3, path="/fapi/v1/premiumIndex")
    with pytest.raises(ccxt.RequestTimeout):
        await binance_client.fapiPublicGetPremiumIndex()
    await asyncio.sleep(0.4)
    assert len(await binance_client.fapiPublicGetPremiumIndex()) == 10
    assert [r.fault for r in sim.requests_to("/fapi/v1/premiumIndex")] == ["timeout", None]
