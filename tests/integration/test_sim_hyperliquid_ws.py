"""The emulator's Hyperliquid websocket (/ws): raw frames (shapes per Hyperliquid's websocket docs:
subscriptionResponse, activeAssetCtx, clearinghouseState, orderUpdates, pong) and the real
ccxt.pro hyperliquid client reading them, over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from venue_accounts import credentials

from guardbot.exchange.client import build_client
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.venues.hyperliquid_ws import HyperliquidStreams
from guardbot.sim.venues.hyperliquid_ws_events import BASIC_ORDER
from guardbot.stream.venue_streams import marks_alive, split_connections, user_alive, watch_marks

BTC = "BTC/USDC:USDC"


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    srv = SimServer(SimExchange(seed=1, exchange="hyperliquid"))
    await srv.start()
    _streams(srv).mark_interval_ms = 50
    try:
        yield srv
    finally:
        await srv.stop()


def _streams(srv: SimServer) -> HyperliquidStreams:
    assert isinstance(srv.streams, HyperliquidStreams)
    return srv.streams


def _ws(srv: SimServer) -> str:
    return srv.base_url.replace("http", "ws") + "/ws"


def _client(srv: SimServer, acct: SimAccount, *, pro: bool) -> Any:
    creds = credentials("hyperliquid", acct.api_key, acct.secret)
    return build_client("hyperliquid", base_url=srv.base_url, credentials=creds, rate_limit=False, pro=pro)


def _sub(kind: str, **fields: Any) -> dict[str, Any]:
    return {"method": "subscribe", "subscription": {"type": kind, **fields}}


async def _next(ws: aiohttp.ClientWebSocketResponse, channel: str, timeout: float = 2.0) -> dict[str, Any]:
    """The next frame of `channel`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        msg: dict[str, Any] = await ws.receive_json(timeout=max(0.01, deadline - time.monotonic()))
        if msg.get("channel") == channel:
            return msg


async def test_asset_context_ack_then_the_context_then_a_push_only_when_the_mark_moves(
    server: SimServer,
) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server)) as ws:
        await ws.send_json(_sub("activeAssetCtx", coin="BTC"))
        ack = await ws.receive_json(timeout=2)
        assert ack == {
            "channel": "subscriptionResponse",
            "data": {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}},
        }
        first = await _next(ws, "activeAssetCtx")
        assert first["data"]["coin"] == "BTC" and first["data"]["ctx"]["markPx"] == "95000.0"
        assert {"funding", "openInterest", "oraclePx", "midPx", "impactPxs"} <= set(first["data"]["ctx"])

        with pytest.raises(asyncio.TimeoutError):  # a still context: nothing is pushed
            await ws.receive_json(timeout=0.5)
        server.engine.shock("BTCUSDT", -2)
        moved = await _next(ws, "activeAssetCtx")
        assert float(moved["data"]["ctx"]["markPx"]) == pytest.approx(93_100)
        assert list(_streams(server).sent_marks[-1][1]) == ["BTCUSDT"]

        await ws.send_json(_sub("activeAssetCtx", coin="BTC"))  # twice: Hyperliquid's own words
        again = await _next(ws, "error")
        assert again["data"].startswith("Already subscribed")
        await ws.send_json(_sub("activeAssetCtx", coin="NOPE"))
        assert "NOPE" in (await _next(ws, "error"))["data"]

        await ws.send_json({"method": "ping"})
        assert await ws.receive_json(timeout=2) == {"channel": "pong"}
        await ws.send_json({**_sub("activeAssetCtx", coin="BTC"), "method": "unsubscribe"})
        gone = await ws.receive_json(timeout=2)
        assert gone["channel"] == "subscriptionResponse" and gone["data"]["method"] == "unsubscribe"
        server.engine.shock("BTCUSDT", -2)
        with pytest.raises(asyncio.TimeoutError):  # unsubscribed: no more contexts
            await _next(ws, "activeAssetCtx", timeout=0.4)


async def test_an_order_placed_over_rest_pushes_order_updates_and_the_clearinghouse_state(
    server: SimServer,
) -> None:
    acct = server.engine.create_account(10_000)
    rest = _client(server, acct, pro=False)
    user = acct.api_key
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(_ws(server)) as ws:
            await ws.send_json(_sub("orderUpdates", user=user))
            assert (await ws.receive_json(timeout=2))["channel"] == "subscriptionResponse"
            await ws.send_json(_sub("clearinghouseState", user=user))
            assert (await ws.receive_json(timeout=2))["channel"] == "subscriptionResponse"
            start = await _next(ws, "clearinghouseState")  # the state at once
            assert start["data"]["user"] == user
            assert start["data"]["clearinghouseState"]["assetPositions"] == []

            await rest.create_order(BTC, "limit", "buy", 0.01, 90_000.0)  # rests
            [opened] = (await _next(ws, "orderUpdates"))["data"]
            assert opened["status"] == "open" and opened["order"]["coin"] == "BTC"
            assert opened["order"]["side"] == "B" and opened["order"]["sz"] == "0.01"
            assert set(opened["order"]) <= set(BASIC_ORDER)  # WsBasicOrder: no reduce-only, no trigger
            assert isinstance(opened["statusTimestamp"], int)

            await rest.create_order(BTC, "market", "buy", 0.02, 95_000.0)
            [filled] = (await _next(ws, "orderUpdates"))["data"]
            assert filled["status"] == "filled" and filled["order"]["origSz"] == "0.02"
            state = (await _next(ws, "clearinghouseState"))["data"]["clearinghouseState"]
            [row] = state["assetPositions"]
            assert row["position"]["coin"] == "BTC" and row["position"]["szi"] == "0.02"

            await rest.cancel_order(str(opened["order"]["oid"]), BTC)
            [cancelled] = (await _next(ws, "orderUpdates"))["data"]
            assert (cancelled["status"], cancelled["order"]["oid"]) == ("canceled", opened["order"]["oid"])
    finally:
        await rest.close()


async def test_ccxt_pro_hyperliquid_reads_marks_orders_and_positions_on_one_line(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    server.engine.open_position(acct.api_key, "ETHUSDT", "long", 1, leverage=10)
    client = _client(server, acct, pro=True)
    try:
        first = await asyncio.wait_for(watch_marks(client, [BTC, "ETH/USDC:USDC"]), 5)
        assert first.get(BTC, 95_000.0) == 95_000.0 and first  # whichever contexts came first
        server.engine.shock("BTCUSDT", -5)
        marks: dict[str, float] = {}
        while marks.get(BTC) != 90_250.0:
            marks.update(await asyncio.wait_for(watch_marks(client, [BTC, "ETH/USDC:USDC"]), 5))

        positions = asyncio.ensure_future(client.watch_positions())
        orders = asyncio.ensure_future(client.watch_orders())
        await asyncio.wait_for(positions, 5)  # the state at subscription
        positions = asyncio.ensure_future(client.watch_positions())
        await asyncio.sleep(0.3)
        await client.create_order(BTC, "market", "sell", 0.04, 85_000.0, {"reduceOnly": True})
        seen = await asyncio.wait_for(orders, 5)
        assert [(o["symbol"], o["status"], o["amount"]) for o in seen] == [(BTC, "closed", 0.04)]
        held = await asyncio.wait_for(positions, 5)
        assert {(p["symbol"], p["side"], p["contracts"]) for p in held} == {
            (BTC, "long", 0.06),
            ("ETH/USDC:USDC", "long", 1.0),
        }
        # one connection carries it all, and it is both the market and the user line
        assert [c.url for c in client.clients.values()] == [_ws(server)]
        user, market = split_connections(client)
        assert user == market and user_alive(client, user)
        await _streams(server).kill()
        await asyncio.sleep(0.2)
        assert not user_alive(client, list(client.clients.values()))
    finally:
        await client.close()


async def test_a_quiet_line_is_alive_while_it_answers_pings_and_dead_when_it_stops(server: SimServer) -> None:
    acct = server.engine.create_account(1_000)
    client = _client(server, acct, pro=True)
    client.streaming["keepAlive"] = 200  # ccxt pings every 0.2 s (Hyperliquid's own: 20 s)
    try:
        await asyncio.wait_for(watch_marks(client, [BTC]), 5)
        orders = asyncio.ensure_future(client.watch_orders())
        positions = asyncio.ensure_future(client.watch_positions())
        await asyncio.wait_for(positions, 5)
        marked = int(time.time() * 1000)
        line = list(client.clients.values())
        await asyncio.sleep(1.0)  # no mark moves, no push: only pings and pongs
        assert line[0].lastPong is not None
        assert marks_alive(client, line, marked, int(time.time() * 1000), stale_s=0.3)
        assert user_alive(client, line)

        _streams(server).answer_pings = False  # open, but no longer answering
        await asyncio.sleep(0.8)
        assert not marks_alive(client, line, marked, int(time.time() * 1000), stale_s=0.3)
        assert not user_alive(client, line)
        orders.cancel()
    finally:
        await client.close()
