"""The emulator's Binance USDⓈ-M websocket streams: raw frames (field names per Binance's docs) and
the real ccxt.pro binanceusdm client parsing them, over loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from guardbot.config import Credentials
from guardbot.exchange.client import build_client
from guardbot.sim import SimExchange, SimServer
from guardbot.sim.book import OrderRequest
from guardbot.sim.venues.binance_ws import BinanceStreams

BTC = "BTC/USDT:USDT"


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    srv = SimServer(SimExchange(seed=1))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def _streams(srv: SimServer) -> BinanceStreams:
    assert isinstance(srv.streams, BinanceStreams)
    return srv.streams


def _pro(srv: SimServer, key: str, secret: str) -> Any:
    creds = Credentials(api_key=SecretStr(key), secret=SecretStr(secret))
    client = build_client("binanceusdm", base_url=srv.base_url, credentials=creds, rate_limit=False, pro=True)
    client.options["watchPositions"] = {"fetchPositionsSnapshot": False}
    return client


async def _listen_key(session: aiohttp.ClientSession, srv: SimServer, key: str, method: str = "POST") -> Any:
    async with session.request(
        method, f"{srv.base_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key}
    ) as r:
        return r.status, await r.json()


async def test_mark_price_stream_frames_follow_binance(server: SimServer) -> None:
    _streams(server).mark_interval_ms = 50
    ws_url = server.base_url.replace("http", "ws") + "/market/ws/0"
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url) as ws:
        await ws.send_json(
            {"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s", "!markPrice@arr"], "id": 7}
        )
        assert await ws.receive_json(timeout=2) == {"result": None, "id": 7}
        seen: dict[str, Any] = {}
        while len(seen) < 2:
            msg = await ws.receive_json(timeout=2)
            seen["arr" if isinstance(msg, list) else "one"] = msg
        one = seen["one"]
        assert set(one) == {"e", "E", "s", "p", "i", "P", "r", "T"}
        assert one["e"] == "markPriceUpdate" and one["s"] == "BTCUSDT" and float(one["p"]) == 95_000
        assert isinstance(one["p"], str) and isinstance(one["E"], int)
        assert {m["s"] for m in seen["arr"]} == set(server.engine.markets)
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 8})
        reply = await ws.receive_json(timeout=2)
        while reply.get("id") != 8 if isinstance(reply, dict) else True:
            reply = await ws.receive_json(timeout=2)
        assert reply["error"]["code"] == 2


async def test_binance_cadence_is_one_second_with_at_1s(server: SimServer) -> None:
    streams = _streams(server)
    ws_url = server.base_url.replace("http", "ws") + "/market/ws/0"
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url) as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1})
        await ws.receive_json(timeout=2)
        first = await ws.receive_json(timeout=3)
        second = await ws.receive_json(timeout=3)
        assert second["E"] - first["E"] >= 0  # event times from the engine's clock
        assert len(streams.sent_marks) >= 2
        gap = streams.sent_marks[-1][0] - streams.sent_marks[-2][0]
        assert 0.8 < gap < 1.5  # once a second, not on every move


async def test_listen_keys_follow_binance(server: SimServer) -> None:
    acct = server.engine.create_account(1_000)
    async with aiohttp.ClientSession() as s:
        status, body = await _listen_key(s, server, acct.api_key, "PUT")
        assert status == 400 and body["code"] == -1125  # nothing to keep alive yet
        _, first = await _listen_key(s, server, acct.api_key)
        _, again = await _listen_key(s, server, acct.api_key)
        assert first == again  # a POST returns the active key
        status, kept = await _listen_key(s, server, acct.api_key, "PUT")
        assert status == 200 and kept == first
        url = server.base_url.replace("http", "ws") + f"/private/ws?listenKey={first['listenKey']}"
        async with s.ws_connect(url) as ws:
            await _listen_key(s, server, acct.api_key, "DELETE")
            await _streams(server).publish_changes()
            msg = await ws.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        async with s.get(url.replace("ws://", "http://")) as r:
            assert r.status == 400  # the deleted key opens nothing


async def test_user_data_events_through_ccxt_pro(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    pro = _pro(server, acct.api_key, acct.secret)
    rest = build_client(
        "binanceusdm",
        base_url=server.base_url,
        credentials=Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret)),
        rate_limit=False,
    )
    try:
        orders_task = asyncio.ensure_future(pro.watch_orders())
        positions_task = asyncio.ensure_future(pro.watch_positions())
        await asyncio.sleep(0.3)  # both subscribed on the one listenKey connection
        # a resting stop: an ALGO_UPDATE, and no ACCOUNT_UPDATE (no balance or position moved)
        await rest.create_order(BTC, "market", "sell", 0.1, None, {"stopPrice": 80_000, "reduceOnly": True})
        orders = await asyncio.wait_for(orders_task, 2)
        assert [(o["status"], o["triggerPrice"], o["reduceOnly"]) for o in orders] == [
            ("open", 80_000.0, True)
        ]
        assert not positions_task.done()
        # a reduce fills: ORDER_TRADE_UPDATE, and ACCOUNT_UPDATE with the changed position
        fill_task = asyncio.ensure_future(pro.watch_orders())
        await asyncio.sleep(0.05)
        await rest.create_order(BTC, "market", "sell", 0.04, None, {"reduceOnly": True})
        positions = await asyncio.wait_for(positions_task, 2)
        assert [(p["symbol"], p["side"], p["contracts"]) for p in positions] == [(BTC, "long", 0.06)]
        filled = await asyncio.wait_for(fill_task, 2)
        assert filled[-1]["status"] == "closed" and filled[-1]["filled"] == 0.04
        # the stop is cancelled by hand: the update says so
        algo = next(iter(server.engine.accounts[acct.api_key].algo_orders.values()))
        waiting = asyncio.ensure_future(pro.watch_orders())
        await asyncio.sleep(0.05)
        server.engine.cancel_algo_order(acct.api_key, algo.algo_id, None)
        await _streams(server).publish_changes()  # the engine moved outside a request: the timer's job
        cancelled = await asyncio.wait_for(waiting, 2)
        assert cancelled[-1]["status"] == "canceled"
    finally:
        await pro.close()
        await rest.close()


async def test_streams_can_be_killed_and_refused(server: SimServer) -> None:
    streams = _streams(server)
    streams.mark_interval_ms = 50
    pro = _pro(server, "k", "s")
    try:
        tickers = await asyncio.wait_for(pro.watch_mark_prices([BTC]), 3)
        assert tickers[BTC]["markPrice"] == 95_000
        streams.refuse = True
        await streams.kill()
        with pytest.raises(Exception):  # noqa: B017 - ccxt's NetworkError family, whichever it is
            for _ in range(5):
                await asyncio.wait_for(pro.watch_mark_prices([BTC]), 2)
        streams.refuse = False
        server.engine.set_mark("BTCUSDT", 90_000)
        for _ in range(20):
            try:
                tickers = await asyncio.wait_for(pro.watch_mark_prices([BTC]), 2)
                break
            except Exception:
                await asyncio.sleep(0.1)
        assert tickers[BTC]["markPrice"] == 90_000
    finally:
        await pro.close()


def test_conditional_stops_of_the_engine_are_algo_orders() -> None:
    engine = SimExchange(seed=1)
    acct = engine.create_account(1_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.01)
    a = engine.place_algo_order(
        acct.api_key,
        OrderRequest("BTCUSDT", "SELL", "STOP_MARKET", trigger_price=90_000, close_position=True),
    )
    from guardbot.sim.venues.binance_events import algo_event

    event = algo_event(a, engine.now_ms)
    assert json.loads(json.dumps(event))["o"]["X"] == "NEW" and event["o"]["tp"] == "90000"


async def test_an_expired_listen_key_says_so_then_sends_no_user_data_on_an_open_line(
    server: SimServer,
) -> None:
    """Binance: listenKeyExpired "is not related to the websocket disconnection", and "no more user
    data event will be updated after this event"; a DELETE closes the stream."""
    acct = server.engine.create_account(1_000)
    streams = _streams(server)
    async with aiohttp.ClientSession() as s:
        _, body = await _listen_key(s, server, acct.api_key)
        url = server.base_url.replace("http", "ws") + f"/private/ws?listenKey={body['listenKey']}"
        async with s.ws_connect(url) as ws:
            key = body["listenKey"]
            streams.listen_keys.ttl_s = 0.0  # its 60 minutes are up at the next look
            await _listen_key(s, server, acct.api_key, "PUT")  # too late: -1125
            await streams.publish_changes()
            event = await ws.receive_json(timeout=2)
            assert event["e"] == "listenKeyExpired" and event["listenKey"] == key
            server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.01, leverage=10)
            await streams.publish_changes()
            with pytest.raises(TimeoutError):  # an account change, not pushed; the line stays open
                await ws.receive(timeout=0.3)
            assert not ws.closed
            streams.listen_keys.ttl_s = 3600.0
            _, fresh = await _listen_key(s, server, acct.api_key)  # a new key, a new stream
            assert fresh["listenKey"] != key
        async with s.ws_connect(url.replace(key, fresh["listenKey"])) as ws:
            await _listen_key(s, server, acct.api_key, "DELETE")
            await streams.publish_changes()
            msg = await ws.receive(timeout=2)  # a deleted key's stream just closes
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
