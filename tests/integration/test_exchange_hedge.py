"""Hedge mode over real HTTP, on the venues that have it (`VenueSpec.hedge_mode`; Hyperliquid
has none): the reader sees both legs and the position mode, the gateway names each order's leg."""

from __future__ import annotations

import pytest
from gateway_support import FAST, algo_orders, btc_qty, client_for
from venue_spec import HEDGE_VENUES, VenueSpec

from guardbot.config import AccountConfig
from guardbot.domain import PositionMode, Side
from guardbot.exchange import OrderGateway, TiersCache, read_snapshot
from guardbot.exchange.session import AccountSession
from guardbot.sim import SimServer

pytestmark = pytest.mark.parametrize("exchange", HEDGE_VENUES, indirect=True)


async def test_hedge_mode_reads_both_legs(sim: SimServer, btc: str) -> None:
    acct = sim.engine.create_account(wallet=20_000.0, position_mode="hedge")
    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=10)
    sim.engine.open_position(acct.api_key, "BTCUSDT", "short", 0.1, leverage=10)
    client = client_for(sim, acct)
    try:
        snap = await read_snapshot(client, "hedged", tiers_cache=TiersCache())
    finally:
        await client.close()
    assert snap.position_mode is PositionMode.HEDGE
    legs = {p.side: p.contracts for p in snap.positions if p.symbol == btc}
    assert legs == {Side.LONG: pytest.approx(0.2), Side.SHORT: pytest.approx(0.1)}


async def test_flat_hedge_account_mode_comes_from_the_cached_setting(sim: SimServer) -> None:
    acct = sim.engine.create_account(wallet=1_000.0, position_mode="hedge")
    client = client_for(sim, acct)
    try:
        snap = await read_snapshot(client, "hedged", tiers_cache=TiersCache())
    finally:
        await client.close()
    assert snap.position_mode is PositionMode.HEDGE


async def test_hedge_mode_orders_name_their_leg(sim: SimServer, venue: VenueSpec, btc: str) -> None:
    acct = sim.engine.create_account(wallet=20_000.0, position_mode="hedge")
    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=10)
    sim.engine.open_position(acct.api_key, "BTCUSDT", "short", 0.1, leverage=10)
    mark = sim.engine.marks["BTCUSDT"]
    client = client_for(sim, acct)
    try:
        snap = await read_snapshot(client, "h", tiers_cache=TiersCache())
        gw = OrderGateway(client, "h", dry_run=False, retry=FAST, position_mode=snap.position_mode)
        assert gw.position_mode is PositionMode.HEDGE
        sim.clear_log()
        long_stop = await gw.place_stop(btc, "long", 0.2, mark * 0.9, rule="s", episode=1)
        short_stop = await gw.place_stop(btc, "short", 0.1, mark * 1.1, rule="s", episode=1, tag="short")
        cut = await gw.reduce(btc, "short", 0.05, rule="r", episode=1)
    finally:
        await client.close()
    assert long_stop.ok and short_stop.ok and cut.ok, (long_stop.reason, short_stop.reason, cut.reason)
    assert [s.position_side for s in venue.sent(sim)] == ["LONG", "SHORT", "SHORT"]
    sides = {o.position_side for o in algo_orders(sim, acct)}
    assert sides == {"LONG", "SHORT"}
    assert btc_qty(acct, "SHORT") == pytest.approx(0.05)
    assert btc_qty(acct, "LONG") == pytest.approx(0.2)


async def test_session_gateway_follows_the_position_mode_of_each_snapshot(sim: SimServer, btc: str) -> None:
    acct = sim.engine.create_account(wallet=20_000.0, position_mode="hedge")
    sim.engine.open_position(acct.api_key, "BTCUSDT", "short", 0.1, leverage=10)
    account = AccountConfig(name="h", exchange=sim.engine.exchange, base_url=sim.base_url, dry_run=False)
    session = AccountSession(account, client_for(sim, acct), TiersCache())
    try:
        gw = session.gateway(retry=FAST)
        before = gw.position_mode  # nothing read yet
        await session.snapshot()
        assert (before, gw.position_mode) == (PositionMode.ONE_WAY, PositionMode.HEDGE)
        cut = await gw.reduce(btc, "short", 0.04, rule="r", episode=1)
    finally:
        await session.close()
    assert cut.status == "confirmed"
    assert btc_qty(acct, "SHORT") == pytest.approx(0.06)
