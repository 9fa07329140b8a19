"""The emulator's Bybit v5 websocket streams: raw frames (shapes per Bybit's v5 docs) and the real
ccxt.pro bybit client parsing them, over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from guardbot.config import Credentials
from guardbot.exchange.client import build_client
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.venues.bybit_ws import BybitStreams
from guardbot.stream.venue_streams import marks_alive, watch_marks

BTC = "BTC/USDT:USDT"


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    srv = SimServer(SimExchange(seed=1, exchange="bybit"))
    await srv.start()
    _streams(srv).mark_interval_ms = 50
    try:
        yield srv
    finally:
        await srv.stop()


def _streams(srv: SimServer) -> BybitStreams:
    assert isinstance(srv.streams, BybitStreams)
    return srv.streams


def _ws(srv: SimServer, path: str) -> str:
    return srv.base_url.replace("http", "ws") + path


def _auth(acct: SimAccount, secret: str | None = None, expires: int | None = None) -> dict[str, Any]:
    exp = str(expires if expires is not None else int(time.time() * 1000) + 10_000)
    sig = hmac.new(
        (secret or acct.secret).encode(), f"GET/realtime{exp}".encode(), hashlib.sha256
    ).hexdigest()
    return {"req_id": "a1", "op": "auth", "args": [acct.api_key, exp, sig]}


def _client(srv: SimServer, acct: SimAccount, *, pro: bool) -> Any:
    creds = Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret))
    client = build_client("bybit", base_url=srv.base_url, credentials=creds, rate_limit=False, pro=pro)
    if pro:
        client.options["watchPositions"] = {"fetchPositionsSnapshot": False}
    return client


async def _next(ws: aiohttp.ClientWebSocketResponse, topic: str, timeout: float = 2.0) -> dict[str, Any]:
    """The next frame of `topic`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        msg: dict[str, Any] = await ws.receive_json(timeout=max(0.01, deadline - time.monotonic()))
        if msg.get("topic") == topic:
            return msg


async def test_private_auth_checks_the_signature_as_bybit_does(server: SimServer) -> None:
    acct = server.engine.create_account(1_000)
    async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server, "/v5/private")) as ws:
        await ws.send_json({"op": "subscribe", "args": ["order"]})  # before auth: refused
        refused = await ws.receive_json(timeout=2)
        assert refused["success"] is False and refused["op"] == "subscribe"

        await ws.send_json(_auth(acct, secret="not-the-secret"))
        bad = await ws.receive_json(timeout=2)
        assert bad["success"] is False and bad["op"] == "auth" and bad["req_id"] == "a1"
        assert set(bad) == {"req_id", "success", "ret_msg", "op", "conn_id"} and bad["ret_msg"]

        await ws.send_json(_auth(acct, expires=int(time.time() * 1000) - 1))  # signed, but expired
        expired = await ws.receive_json(timeout=2)
        assert expired["success"] is False and expired["op"] == "auth"

        await ws.send_json(_auth(acct))
        ok = await ws.receive_json(timeout=2)
        assert ok == {"req_id": "a1", "success": True, "ret_msg": "", "op": "auth", "conn_id": ok["conn_id"]}
        await ws.send_json({"req_id": "s1", "op": "subscribe", "args": ["order", "position"]})
        ack = await ws.receive_json(timeout=2)
        assert ack["success"] is True and ack["req_id"] == "s1" and ack["op"] == "subscribe"

        await ws.send_json({"req_id": "p1", "op": "ping"})
        pong = await ws.receive_json(timeout=2)
        assert pong["op"] == "pong" and pong["req_id"] == "p1" and int(pong["args"][0]) > 0


async def test_tickers_subscribe_ack_then_snapshot_then_a_delta_only_when_the_mark_moves(
    server: SimServer,
) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server, "/v5/public/linear")) as ws:
        await ws.send_json({"req_id": "7", "op": "subscribe", "args": ["tickers.BTCUSDT"]})
        ack = await ws.receive_json(timeout=2)
        assert ack == {
            "success": True,
            "ret_msg": "",
            "conn_id": ack["conn_id"],
            "req_id": "7",
            "op": "subscribe",
        }
        snap = await _next(ws, "tickers.BTCUSDT")
        assert snap["type"] == "snapshot" and snap["data"]["markPrice"] == "95000"
        assert {"cs", "ts", "data"} <= set(snap) and "fundingRate" in snap["data"]

        with pytest.raises(asyncio.TimeoutError):  # a still mark: Bybit sends nothing
            await ws.receive_json(timeout=0.5)
        server.engine.shock("BTCUSDT", -2)
        delta = await _next(ws, "tickers.BTCUSDT")
        assert delta["type"] == "delta" and float(delta["data"]["markPrice"]) == pytest.approx(93_100)
        assert "fundingRate" not in delta["data"]  # only what changed
        assert delta["cs"] > snap["cs"]

        await ws.send_json({"req_id": "8", "op": "subscribe", "args": ["tickers.NOPEUSDT"]})
        bad = await ws.receive_json(timeout=2)
        assert bad["success"] is False and bad["req_id"] == "8" and "NOPEUSDT" in bad["ret_msg"]
        await ws.send_json({"req_id": "9", "op": "ping"})
        pong = await ws.receive_json(timeout=2)
        assert pong["ret_msg"] == "pong" and pong["op"] == "ping" and pong["req_id"] == "9"


async def test_an_order_placed_over_rest_pushes_an_order_and_a_position_message(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    rest = _client(server, acct, pro=False)
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server, "/v5/private")) as ws:
            await ws.send_json(_auth(acct))
            assert (await ws.receive_json(timeout=2))["success"] is True
            await ws.send_json({"op": "subscribe", "args": ["order", "position", "wallet"]})
            assert (await ws.receive_json(timeout=2))["success"] is True

            await rest.create_order(BTC, "market", "buy", 0.01)
            order = await _next(ws, "order")
            row = order["data"][0]
            assert row["category"] == "linear" and row["symbol"] == "BTCUSDT" and row["side"] == "Buy"
            assert row["orderStatus"] == "Filled" and row["cumExecQty"] == "0.01"
            assert {"id", "creationTime"} <= set(order)
            position = await _next(ws, "position")
            assert position["data"][0]["size"] == "0.01" and position["data"][0]["side"] == "Buy"
            wallet = await _next(ws, "wallet")
            assert wallet["data"][0]["accountType"] == "UNIFIED"

            await rest.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})
            closed = await _next(ws, "position")
            assert closed["data"][0]["size"] == "0" and closed["data"][0]["side"] == ""
    finally:
        await rest.close()


async def test_ccxt_pro_bybit_reads_the_streams(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    client = _client(server, acct, pro=True)
    try:
        assert await asyncio.wait_for(watch_marks(client, [BTC]), 5) == {BTC: 95_000.0}
        server.engine.shock("BTCUSDT", -5)
        assert await asyncio.wait_for(watch_marks(client, [BTC]), 5) == {BTC: 90_250.0}

        positions = asyncio.ensure_future(client.watch_positions())
        orders = asyncio.ensure_future(client.watch_orders())
        await asyncio.sleep(0.3)  # both subscribed
        await client.create_order(BTC, "market", "sell", 0.04, params={"reduceOnly": True})
        seen = await asyncio.wait_for(orders, 5)
        assert [(o["symbol"], o["status"], o["amount"], o["reduceOnly"]) for o in seen] == [
            (BTC, "closed", 0.04, True)
        ]
        held = await asyncio.wait_for(positions, 5)
        assert [(p["symbol"], p["side"], p["contracts"]) for p in held] == [(BTC, "long", 0.06)]
        urls = sorted(c.url for c in client.clients.values())
        assert urls == [_ws(server, "/v5/private"), _ws(server, "/v5/public/linear")]
    finally:
        await client.close()


async def test_a_quiet_line_is_alive_while_it_answers_pings_and_dead_when_it_stops(server: SimServer) -> None:
    acct = server.engine.create_account(1_000)
    client = _client(server, acct, pro=True)
    client.streaming["keepAlive"] = 200  # ccxt pings every 0.2 s (Bybit's own: 18 s)
    try:
        await asyncio.wait_for(watch_marks(client, [BTC]), 5)
        marked = int(time.time() * 1000)
        market = list(client.clients.values())
        await asyncio.sleep(1.0)  # no mark moves, no push: only pings and pongs
        assert market[0].lastPong is not None
        now = int(time.time() * 1000)
        assert marks_alive(client, market, marked, now, stale_s=0.3)

        _streams(server).answer_pings = False  # open, but no longer answering
        await asyncio.sleep(0.8)
        assert not marks_alive(client, market, marked, int(time.time() * 1000), stale_s=0.3)
    finally:
        await client.close()
