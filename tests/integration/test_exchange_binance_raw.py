"""Binance snapshots read without ccxt's parsing (exchange/binance_raw.py) are the snapshots ccxt's
parsing gives, field for field, on one-way, hedge and isolated books with every kind of order."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import ccxt.async_support as ccxt
import pytest
from gateway_support import client_for

from guardbot.domain import AccountSnapshot
from guardbot.exchange import TiersCache, read_snapshot
from guardbot.exchange.order_reads import OrderReads
from guardbot.sim import OrderRequest, SimAccount, SimServer


@pytest.fixture
async def client(sim: SimServer, sim_account: SimAccount) -> AsyncIterator[ccxt.Exchange]:
    c = client_for(sim, sim_account)
    yield c
    await c.close()


def _orders(sim: SimServer, key: str, hedge: bool) -> None:
    ps = {"position_side": "LONG"} if hedge else {}
    eng = sim.engine
    eng.place_order(
        key, OrderRequest("BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=80_000, time_in_force="GTC", **ps)
    )
    eng.place_algo_order(
        key,
        OrderRequest(
            "BTCUSDT",
            "SELL",
            "STOP_MARKET",
            quantity=0.1,
            trigger_price=90_000,
            reduce_only=not hedge,
            working_type="MARK_PRICE",
            client_id="gb-stop-0123456789abcdef0123",
            **ps,
        ),
    )
    eng.place_algo_order(
        key,
        OrderRequest(
            "BTCUSDT", "SELL", "TAKE_PROFIT_MARKET", trigger_price=99_000, close_position=True, **ps
        ),
    )


def _same(a: AccountSnapshot, b: AccountSnapshot) -> None:
    assert a.wallet_balance == b.wallet_balance and a.position_mode is b.position_mode
    assert a.positions == b.positions
    key = lambda o: (o.symbol, o.id)  # noqa: E731
    assert sorted(a.open_orders, key=key) == sorted(b.open_orders, key=key)
    assert dict(a.mark_prices) == dict(b.mark_prices) and a.margin_mode is b.margin_mode
    assert dataclasses.replace(a, timestamp_ms=0) == dataclasses.replace(b, timestamp_ms=0)


@pytest.mark.parametrize("hedge", [False, True])
async def test_raw_and_ccxt_parsed_snapshots_agree(
    sim: SimServer, sim_account: SimAccount, client: ccxt.Exchange, hedge: bool
) -> None:
    key = sim_account.api_key
    if hedge:
        sim.engine.set_position_mode(key, hedge=True)
    sim.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=10, entry_price=93_000)
    sim.engine.open_position(key, "ETHUSDT", "short", 2, leverage=5)
    sim.engine.open_position(
        key, "SOLUSDT", "long", 10, leverage=4, margin_mode="isolated", isolated_margin=600
    )
    if hedge:
        sim.engine.open_position(key, "ETHUSDT", "long", 1, leverage=5)
    _orders(sim, key, hedge)
    cache = TiersCache()
    parsed = await read_snapshot(client, "main", tiers_cache=cache, raw=False)
    raw = await read_snapshot(client, "main", tiers_cache=cache, raw=True)
    _same(raw, parsed)
    # and symbol by symbol between full reads
    reads = OrderReads(clock=lambda: 1_000_000)
    await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)
    by_symbol = await read_snapshot(client, "main", tiers_cache=cache, order_reads=reads)
    _same(by_symbol, parsed)
