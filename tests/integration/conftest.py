"""Fixtures for integration tests: the emulator on 127.0.0.1 and an unmodified ccxt client on it.

Client recipe (also `guardbot.sim.client.binanceusdm_client`):

    ex = ccxt.async_support.binanceusdm({"apiKey": K, "secret": S, "enableRateLimit": False,
        "options": {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}})
    for k in [k for k in ex.urls["api"] if k.startswith("fapi")]:
        ex.urls["api"][k] = ex.urls["api"][k].replace("https://fapi.binance.com", sim.base_url)
    ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])   # the error gotcha

The last line matters: ccxt chooses Binance's futures error table by URL host, so on loopback
-2019 (margin insufficient) and -2022 (reduce-only rejected) would otherwise surface as a plain
ExchangeError instead of InsufficientFunds / InvalidOrder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest
from gateway_support import FAST, client_for

from guardbot.exchange import OrderGateway
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.client import binanceusdm_client


@pytest.fixture
async def sim(exchange: str) -> AsyncIterator[SimServer]:
    server = SimServer(SimExchange(seed=1, exchange=exchange), fault_delay_s=5.0)
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def sim_account(sim: SimServer) -> SimAccount:
    return sim.engine.create_account(wallet=10_000.0)


@pytest.fixture
async def binance_client(sim: SimServer, sim_account: SimAccount) -> AsyncIterator[Any]:
    client = binanceusdm_client(sim.base_url, sim_account.api_key, sim_account.secret, timeout_ms=3_000)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def client(sim: SimServer, sim_account: SimAccount) -> AsyncIterator[ccxt.Exchange]:
    """The guard's own client (make_client) on `sim_account`, markets loaded, ready to trade."""
    c = client_for(sim, sim_account)
    await c.load_markets()
    if c.id == "bybit":
        await c.is_unified_enabled()  # ccxt asks once per client, before its first private call
    if c.id == "hyperliquid":
        await c.initialize_client()  # once per client: its builder approved at 0 %, unified or not
        sim.clear_log()
    yield c
    await c.close()


@pytest.fixture
def gw(client: ccxt.Exchange) -> OrderGateway:
    return OrderGateway(client, "main", dry_run=False, retry=FAST)


@pytest.fixture
def long_btc(sim: SimServer, sim_account: SimAccount, client: ccxt.Exchange) -> float:
    """A 0.5 BTC cross long at 10x; returns the mark."""
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    sim.clear_log()
    return sim.engine.marks["BTCUSDT"]
