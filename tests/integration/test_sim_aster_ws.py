"""The emulator's Aster futures streams where they differ from Binance's: listenKeys on /fapi/v3
signed as every Aster v3 call (EIP-712), the user stream at /ws/<listenKey> with stops reported as
plain orders (ORDER_TRADE_UPDATE, no ALGO_UPDATE), combined market frames on /stream, and the real
ccxt.pro aster client reading marks, orders and positions, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest
from pydantic import SecretStr

from guardbot.config import Credentials
from guardbot.exchange.client import build_client
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.client import aster_client
from guardbot.sim.ethkeys import new_private_key
from guardbot.sim.venues.aster_ws import AsterStreams
from guardbot.stream.venue_streams import split_connections, watch_marks, watch_orders

BTC = "BTC/USDT:USDT"


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    srv = SimServer(SimExchange(seed=1, exchange="aster"))
    await srv.start()
    assert isinstance(srv.streams, AsterStreams)
    srv.streams.mark_interval_ms = 50
    try:
        yield srv
    finally:
        await srv.stop()


def _ws(srv: SimServer, path: str) -> str:
    return srv.base_url.replace("http", "ws") + path


def _pro(srv: SimServer, acct: SimAccount) -> Any:
    creds = Credentials(private_key=SecretStr(acct.secret), wallet_address=acct.api_key)
    return build_client("aster", base_url=srv.base_url, credentials=creds, rate_limit=False, pro=True)


async def _until_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        msg = await ws.receive_json(timeout=3)
        if msg.get("e") == kind:
            return dict(msg)


async def test_listen_keys_are_signed_as_aster_signs(server: SimServer) -> None:
    acct = server.engine.create_account(1_000)
    good = aster_client(server.base_url, acct.api_key, acct.secret, timeout_ms=2_000)
    forged = aster_client(server.base_url, acct.api_key, new_private_key(), timeout_ms=2_000)
    forged.options["signerAddress"] = acct.api_key
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-1022") as refused:
            await forged.fapiPrivatePostV3ListenKey()
        assert "\n" not in str(refused.value)  # one line: the code and why
        first = await good.fapiPrivatePostV3ListenKey()
        assert await good.fapiPrivatePostV3ListenKey() == first  # a POST returns the active key
        assert await good.fapiPrivatePutV3ListenKey() == {}  # Aster's keepalive answers {}
        assert await good.fapiPrivateDeleteV3ListenKey() == {}
        with pytest.raises(ccxt.ExchangeError, match="-1125"):
            await good.fapiPrivatePutV3ListenKey()  # deleted: nothing to keep alive
    finally:
        await good.close()
        await forged.close()
    assert [(r.method, r.status) for r in server.requests_to("/fapi/v3/listenKey")][:2] == [
        ("POST", 400),
        ("POST", 200),
    ]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{server.base_url}/fapi/v3/listenKey") as r:  # unsigned
            assert r.status == 400
        async with s.post(
            f"{server.base_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": acct.api_key}
        ) as r:
            assert r.status == 404  # Binance's key-header endpoint is not Aster's
        async with s.get(f"{server.base_url}/ws/{first['listenKey']}") as r:
            assert r.status == 400  # the deleted key opens nothing


async def test_an_order_over_rest_pushes_order_and_account_updates(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    rest = aster_client(server.base_url, acct.api_key, acct.secret, timeout_ms=2_000)
    try:
        key = (await rest.fapiPrivatePostV3ListenKey())["listenKey"]
        async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server, f"/ws/{key}")) as ws:
            # a stop is a plain order on Aster: one ORDER_TRADE_UPDATE, no ALGO_UPDATE, no
            # ACCOUNT_UPDATE (nothing moved)
            stop = await rest.create_order(BTC, "market", "sell", 0.1, None, {"stopPrice": 80_000})
            event = await ws.receive_json(timeout=3)
            assert event["e"] == "ORDER_TRADE_UPDATE"
            o = event["o"]
            assert (o["i"], o["o"], o["X"], float(o["sp"])) == (int(stop["id"]), "STOP_MARKET", "NEW", 80_000)
            await rest.create_order(BTC, "market", "sell", 0.04, None, {"reduceOnly": True})
            filled = (await _until_event(ws, "ORDER_TRADE_UPDATE"))["o"]
            assert (filled["o"], filled["X"], float(filled["z"]), filled["R"]) == (
                "MARKET",
                "FILLED",
                0.04,
                True,
            )
            account = (await _until_event(ws, "ACCOUNT_UPDATE"))["a"]
            assert [(p["s"], float(p["pa"]), p["ps"]) for p in account["P"]] == [("BTCUSDT", 0.06, "BOTH")]
            assert account["m"] == "ORDER" and account["B"][0]["a"] == "USDT"
            # the stop triggers: reported under its own id, FILLED, never as a second order
            server.engine.shock("BTCUSDT", -20)
            await server.streams.publish_changes()
            fired = (await _until_event(ws, "ORDER_TRADE_UPDATE"))["o"]
            assert (fired["i"], fired["o"], fired["X"]) == (int(stop["id"]), "STOP_MARKET", "FILLED")
    finally:
        await rest.close()


async def test_marks_are_pushed_on_the_mark_stream(server: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        # combined: streams named at connect, each payload framed {"stream", "data"}
        async with s.ws_connect(_ws(server, "/stream?streams=btcusdt@markPrice@1s")) as ws:
            frame = await ws.receive_json(timeout=3)
            assert frame["stream"] == "btcusdt@markPrice@1s"
            data = frame["data"]
            assert data["e"] == "markPriceUpdate" and data["s"] == "BTCUSDT" and float(data["p"]) == 95_000
        # raw, by SUBSCRIBE without an id (as ccxt.pro aster sends it)
        async with s.ws_connect(_ws(server, "/ws")) as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice"]})
            assert await ws.receive_json(timeout=2) == {"result": None, "id": None}
            raw = await ws.receive_json(timeout=3)
            assert raw["e"] == "markPriceUpdate" and raw["s"] == "ETHUSDT"


async def test_ccxt_pro_aster_reads_marks_orders_and_positions(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    pro = _pro(server, acct)
    try:
        assert await asyncio.wait_for(watch_marks(pro, [BTC]), 3) == {BTC: 95_000.0}
        snapshot = await asyncio.wait_for(pro.watch_positions(), 3)  # ccxt's REST snapshot
        assert [(p["symbol"], p["contracts"]) for p in snapshot] == [(BTC, 0.1)]
        orders_task = asyncio.ensure_future(watch_orders(pro))
        positions_task = asyncio.ensure_future(pro.watch_positions())
        await asyncio.sleep(0.3)  # both on the one listenKey connection
        await pro.create_order(BTC, "market", "sell", 0.04, None, {"reduceOnly": True})
        orders = await asyncio.wait_for(orders_task, 3)
        assert [(o["symbol"], o["status"], o["filled"], o["reduceOnly"]) for o in orders] == [
            (BTC, "closed", 0.04, True)
        ]
        positions = await asyncio.wait_for(positions_task, 3)
        assert [(p["symbol"], p["contracts"], p["side"]) for p in positions] == [(BTC, 0.06, "long")]
        user, market = split_connections(pro)
        assert [c.url.rsplit("/", 2)[1] for c in user] == ["ws"]  # .../ws/<listenKey>
        assert [c.url.rsplit("/", 1)[1] for c in market] == ["stream"]
    finally:
        await pro.close()
