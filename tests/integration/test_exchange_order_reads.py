"""Binance's open orders read symbol by symbol between full reads (guardbot/exchange/order_reads.py),
over real HTTP against guardbot.sim. Binance only: the other venues read their open orders in one
request whose cost does not depend on a symbol."""

from __future__ import annotations

from collections.abc import AsyncIterator

import ccxt.async_support as ccxt
import pytest
from gateway_support import client_for

from guardbot.exchange import TiersCache, read_snapshot
from guardbot.exchange.order_reads import OrderReads
from guardbot.sim import OrderRequest, SimAccount, SimServer


@pytest.fixture
async def client(sim: SimServer, sim_account: SimAccount) -> AsyncIterator[ccxt.Exchange]:
    c = client_for(sim, sim_account)
    yield c
    await c.close()


async def test_open_orders_are_read_symbol_by_symbol_between_full_reads(
    sim: SimServer, sim_account: SimAccount, client: ccxt.Exchange
) -> None:
    """Without a symbol Binance's two open-order reads cost 80 of ccxt's 1,200 units a minute; by
    symbol, 2 per held symbol. A full read still comes once a minute (orders on symbols with no
    position), and a position in a new symbol has its orders read in the same snapshot."""
    key = sim_account.api_key
    sim.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=5)
    sim.engine.open_position(key, "ETHUSDT", "short", 1, leverage=5)
    now = [1_000_000]
    reads = OrderReads(clock=lambda: now[0])
    cache = TiersCache()
    await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)  # a full read first

    sim.clear_log()
    now[0] += 10_000
    snap = await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)
    orders = [(r.path, r.params.get("symbol")) for r in sim.request_log if "rders" in r.path]
    assert sorted(orders) == [
        ("/fapi/v1/openAlgoOrders", "BTCUSDT"),
        ("/fapi/v1/openAlgoOrders", "ETHUSDT"),
        ("/fapi/v1/openOrders", "BTCUSDT"),
        ("/fapi/v1/openOrders", "ETHUSDT"),
    ]
    assert len(snap.positions) == 2

    # the trader opens SOL and puts a stop on it between two snapshots: read in the same snapshot
    sim.engine.open_position(key, "SOLUSDT", "long", 10, leverage=5)
    sim.engine.place_algo_order(
        key,
        OrderRequest("SOLUSDT", "SELL", "STOP_MARKET", quantity=10, trigger_price=100.0, reduce_only=True),
    )
    sim.clear_log()
    now[0] += 10_000
    snap = await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)
    assert any(o.symbol == "SOL/USDT:USDT" and o.is_stop for o in snap.open_orders)

    now[0] += 60_000  # a minute after the last full read: everything again, without a symbol
    sim.clear_log()
    await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)
    orders = [(r.path, r.params.get("symbol")) for r in sim.request_log if "rders" in r.path]
    assert sorted(orders) == [("/fapi/v1/openAlgoOrders", None), ("/fapi/v1/openOrders", None)]
