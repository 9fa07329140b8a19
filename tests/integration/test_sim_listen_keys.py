"""listenKeys over time, on the venues that use them (Binance USDⓈ-M, Aster): the emulator expires
a key its lifetime after its creation or last renewal, as the venues document, and guardbot's
user stream (ccxt.pro as `prepare_user_stream` sets it up, read by `watch_orders`) renews it in
time, or, should it expire anyway, hears so and takes a new one.

The venues' lifetime is 60 minutes; here it is shrunk to TTL_S and ccxt's renewal timers by the
same factor, so the ratio guardbot configures (renew every 20 of the 60 minutes) is what is tested.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest
from venue_accounts import credentials

from guardbot.exchange.client import build_client
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.venues.binance_ws import LISTEN_KEY_TTL_S, BinanceStreams
from guardbot.stream.venue_streams import prepare_user_stream, split_connections, watch_orders

BTC = "BTC/USDT:USDT"
TTL_S = 0.2  # the venues' 60 minutes, shrunk
SCALE = TTL_S / LISTEN_KEY_TTL_S
pytestmark = pytest.mark.parametrize("exchange", ["binanceusdm", "aster"])


@pytest.fixture
async def server(exchange: str) -> AsyncIterator[SimServer]:
    srv = SimServer(SimExchange(seed=1, exchange=exchange))
    await srv.start()
    assert isinstance(srv.streams, BinanceStreams)  # Aster's are Binance's, where Aster keeps them
    srv.streams.mark_interval_ms = 20  # the timer that also finds expired keys
    srv.streams.listen_keys.ttl_s = TTL_S
    try:
        yield srv
    finally:
        await srv.stop()


def _pro(srv: SimServer, acct: SimAccount, refresh_scale: float) -> Any:
    """guardbot's ccxt.pro client of the account, its renewal timers times `refresh_scale`."""
    exchange = srv.engine.exchange
    creds = credentials(exchange, acct.api_key, acct.secret)
    client = build_client(exchange, base_url=srv.base_url, credentials=creds, rate_limit=False, pro=True)
    prepare_user_stream(client)
    opts = client.options
    if exchange == "aster":  # the first renewal's delay, and every later one's
        opts["listenKeyRefreshRate"] = {
            k: int(v * refresh_scale) for k, v in opts["listenKeyRefreshRate"].items()
        }
        opts["listenKeyRefresh"] = {
            "listenKeyRefreshRate": int(opts["listenKeyRefresh"]["listenKeyRefreshRate"] * refresh_scale)
        }
    else:
        opts["listenKeyRefreshRate"] = int(opts["listenKeyRefreshRate"] * refresh_scale)
    return client


def _renewals(srv: SimServer) -> int:
    return sum(1 for r in srv.request_log if r.method == "PUT" and r.path.endswith("/listenKey"))


def _user_urls(pro: Any) -> list[str]:
    return [c.url for c in split_connections(pro)[0]]


async def _sell_and_hear(pro: Any, watch: asyncio.Future[list[Any]]) -> None:
    await pro.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    orders = await asyncio.wait_for(watch, 1.0)
    assert [(o["symbol"], o["status"], o["filled"]) for o in orders][-1] == (BTC, "closed", 0.01)


async def test_a_renewed_listen_key_keeps_the_user_stream_past_many_lifetimes(server: SimServer) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    pro = _pro(server, acct, SCALE)
    try:
        started = time.monotonic()
        watch = asyncio.ensure_future(watch_orders(pro))
        await asyncio.sleep(0.1)  # connected
        first = _user_urls(pro)
        assert len(first) == 1
        for _ in range(3):  # quiet for two lifetimes at a time: only the renewals keep the key
            await asyncio.sleep(2 * TTL_S)
            await _sell_and_hear(pro, watch)
            watch = asyncio.ensure_future(watch_orders(pro))
        watch.cancel()
        assert _user_urls(pro) == first  # one key, one connection, all along
        # one renewal per third of a lifetime, over six lifetimes and more: not one timer per key
        # fetched, each running on (ccxt.pro aster's own)
        elapsed = time.monotonic() - started
        assert 6 <= _renewals(server) <= elapsed / (TTL_S / 3) + 2
        assert all(not c.expired for c in server.streams.conns)  # type: ignore[union-attr]
    finally:
        await pro.close()


async def test_an_unrenewed_listen_key_expires_and_the_stream_says_so_then_recovers(
    server: SimServer,
) -> None:
    acct = server.engine.create_account(10_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    pro = _pro(server, acct, 1.0)  # renewals 20 minutes apart (the venues' time): none here
    try:
        watch = asyncio.ensure_future(watch_orders(pro))
        await asyncio.sleep(0.1)
        [expiring] = _user_urls(pro)
        # the venue's listenKeyExpired ends the watch (ccxt.pro alone would wait on, its line open)
        with pytest.raises(ccxt.NetworkError, match="listenKey expired"):
            await asyncio.wait_for(watch, 1.0)
        assert _renewals(server) == 0
        # the next watch takes a new key, on a new connection, and hears the account again
        watch = asyncio.ensure_future(watch_orders(pro))
        await asyncio.sleep(0.1)
        assert _user_urls(pro) not in ([], [expiring])
        await _sell_and_hear(pro, watch)
    finally:
        await pro.close()
