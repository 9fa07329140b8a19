"""The snapshot reader over real HTTP on every venue: the ccxt client built by our factory, against
guardbot.sim."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import ccxt.async_support as ccxt
import pytest
from gateway_support import client_for
from venue_spec import VENUES, VenueSpec, credential_config

from guardbot.config import ConfigError, load_settings
from guardbot.domain import MarginMode, PositionMode, Side
from guardbot.exchange import SnapshotError, TiersCache, fetch_snapshot_for, read_snapshot
from guardbot.exchange.gateway import OrderGateway
from guardbot.risk.account import measure_account
from guardbot.sim import SimAccount, SimServer

pytestmark = pytest.mark.parametrize("exchange", VENUES, indirect=True)


@pytest.fixture
async def client(sim: SimServer, sim_account: SimAccount) -> AsyncIterator[ccxt.Exchange]:
    c = client_for(sim, sim_account)
    yield c
    await c.close()


def requests(sim: SimServer) -> Counter[tuple[str, str]]:
    return Counter((r.method, r.path) for r in sim.request_log)


async def test_fresh_account_snapshot_has_wallet_markets_tiers_and_marks(
    sim: SimServer,
    venue: VenueSpec,
    client: ccxt.Exchange,
    btc: str,
    sol: str,
) -> None:
    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    assert snap.exchange == sim.engine.exchange and snap.account == "main"
    assert snap.wallet_balance == pytest.approx(10_000.0)
    assert snap.positions == () and snap.open_orders == ()
    assert snap.position_mode is PositionMode.ONE_WAY
    market = snap.markets[btc]
    assert (
        market.amount_step,
        market.min_amount,
        market.price_tick,
        market.contract_size,
    ) == venue.btc_market
    assert market.min_notional > 0
    assert sim.engine.market("BTCUSDT").tiers == snap.tiers[btc]  # floors, caps, rates, amounts, max lev
    assert snap.mark_prices[sol] == pytest.approx(sim.engine.marks["SOLUSDT"])
    assert snap.fees == sim.engine.fees  # the venue's (Bybit: the account's own, from its fee rates)
    assert snap.timestamp_ms is not None


async def test_positions_match_the_exchange_books(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    btc: str,
    eth: str,
) -> None:
    eng, key = sim.engine, sim_account.api_key
    eth_mode = "isolated" if venue.isolated_per_symbol else "cross"
    eng.open_position(key, "BTCUSDT", "long", 0.5, leverage=10)
    eng.open_position(key, "ETHUSDT", "short", 3.0, leverage=5, margin_mode=eth_mode)
    eng.set_mark("BTCUSDT", eng.marks["BTCUSDT"] * 0.98)

    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    truth = eng.to_snapshot(key)

    assert snap.wallet_balance == pytest.approx(truth.wallet_balance)
    assert snap.margin_mode is MarginMode.CROSS
    ours = {p.symbol: p for p in snap.positions}
    for t in truth.positions:
        p = ours[t.symbol]
        assert (p.side, p.margin_mode) == (t.side, t.margin_mode)
        assert p.contracts == pytest.approx(t.contracts)
        assert p.entry_price == pytest.approx(t.entry_price)
        assert p.mark_price == pytest.approx(t.mark_price)
        assert p.leverage == t.leverage  # Binance: notional / initial margin (positionRisk v3 has none)
        assert p.isolated_margin == pytest.approx(t.isolated_margin)
        assert p.exchange_liquidation_price is not None
        assert (p.exchange_maintenance_margin is not None) is venue.position_mm
    assert ours[btc].side is Side.LONG and ours[eth].side is Side.SHORT
    assert (ours[eth].isolated_margin > 0) is venue.isolated_per_symbol and ours[btc].isolated_margin == 0

    # Exchange truth vs our estimate: our liquidation prices agree with the venue's.
    figures = measure_account(snap)
    for pf in figures.positions:
        assert pf.exchange_liquidation_gap_pct is not None
        assert pf.exchange_liquidation_gap_pct < 0.01
        if venue.position_mm:
            assert pf.maintenance_margin == pytest.approx(pf.position.exchange_maintenance_margin, rel=1e-6)
    assert figures.margin_ratio == pytest.approx(eng.account_figures(key).margin_ratio, rel=1e-9)


async def test_one_snapshot_is_a_few_concurrent_reads_and_tiers_come_from_the_cache(
    sim: SimServer, venue: VenueSpec, sim_account: SimAccount, client: ccxt.Exchange
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.1, leverage=5)
    now = [0.0]
    cache = TiersCache(refresh_s=86_400.0, clock=lambda: now[0])

    await read_snapshot(client, "main", tiers_cache=cache)
    # First read: markets, all tiers, the position mode (and fees where they are the account's),
    # the client's own one-off questions; then the snapshot's reads.
    assert requests(sim) == venue.snapshot + venue.refresh + venue.client_setup

    sim.clear_log()
    await read_snapshot(client, "main", tiers_cache=cache)
    assert requests(sim) == venue.snapshot  # nothing of the reference data is asked again
    assert sim.mutating_requests() == []

    now[0] += 86_399.0
    sim.clear_log()
    await read_snapshot(client, "main", tiers_cache=cache)
    assert requests(sim) == venue.snapshot

    now[0] += 1.0  # a day after the first read, markets and tiers are refreshed, once
    sim.clear_log()
    await read_snapshot(client, "main", tiers_cache=cache)
    assert requests(sim) == venue.snapshot + venue.refresh


async def test_a_failed_sub_request_is_an_error_never_a_partial_snapshot(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    btc: str,
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.1, leverage=5)
    cache = TiersCache()
    await read_snapshot(client, "main", tiers_cache=cache)
    sim.inject_fault("503", path=venue.positions_path)
    with pytest.raises(SnapshotError) as info:
        await read_snapshot(client, "main", tiers_cache=cache)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.call.startswith("fetch_positions")
    assert message.startswith(f"snapshot of main: {info.value.call} failed:")
    assert "ExchangeNotAvailable" in message
    # The next cycle reads normally again.
    snap = await read_snapshot(client, "main", tiers_cache=cache)
    assert [p.symbol for p in snap.positions] == [btc]


async def test_a_timed_out_sub_request_names_the_call(
    sim: SimServer, venue: VenueSpec, client: ccxt.Exchange
) -> None:
    cache = TiersCache()
    await read_snapshot(client, "main", tiers_cache=cache)
    client.timeout = 300  # ms: the emulator stalls for seconds
    sim.inject_fault("timeout", path=venue.open_orders_path)
    with pytest.raises(SnapshotError, match=r"fetch_open_orders.* failed: RequestTimeout"):
        await read_snapshot(client, "main", tiers_cache=cache)


async def test_bad_signature_is_a_snapshot_error_naming_authentication(
    sim: SimServer, venue: VenueSpec, sim_account: SimAccount
) -> None:
    client = client_for(sim, sim_account, secret="not-the-secret")
    try:
        if not venue.signed_reads:
            # Hyperliquid's reads are public, by wallet address: a wrong key still reads the
            # account (and cannot trade it: see test_exchange_gateway_retries)
            snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
            assert snap.wallet_balance == pytest.approx(sim_account.wallet)
            return
        with pytest.raises(SnapshotError, match="AuthenticationError") as info:
            await read_snapshot(client, "main", tiers_cache=TiersCache())
    finally:
        await client.close()
    assert venue.bad_signature in str(info.value)


async def test_open_orders_plain_and_conditional_are_normalised(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    btc: str,
    sol: str,
) -> None:
    eng, key = sim.engine, sim_account.api_key
    eng.open_position(key, "BTCUSDT", "long", 0.3, leverage=10)
    mark = eng.marks["BTCUSDT"]
    gw = OrderGateway(client, "main", dry_run=False)
    stop = await gw.place_stop(btc, "long", 0.3, mark * 0.9, rule="auto_stop", episode=1, mark_price=mark)
    close_all = await gw.place_stop(btc, "long", None, mark * 0.85, rule="backstop", episode=1)
    entry, _ = await gw.place_entry(
        sol,
        "long",
        1.0,
        price=eng.marks["SOLUSDT"] * 0.5,
        stop_price=eng.marks["SOLUSDT"] * 0.4,
        rule="trade",
        episode=1,
    )
    assert stop.ok and entry.ok and close_all.ok is venue.close_position_stops

    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    by_id = {o.client_order_id: o for o in snap.open_orders}
    s = by_id[stop.client_order_id]
    assert (s.symbol, s.side, s.type, s.working_type) == (btc, "sell", "stop_market", "mark")
    assert s.trigger_price == stop.trigger_price and s.amount == pytest.approx(0.3)
    assert s.reduce_only and not s.close_position and s.is_stop
    if venue.close_position_stops:
        c = by_id[close_all.client_order_id]
        assert c.close_position and c.amount is None and c.is_stop
    limit = by_id[entry.client_order_id]
    assert (limit.type, limit.side, limit.price, limit.reduce_only) == ("limit", "buy", entry.price, False)
    assert limit.trigger_price is None and not limit.is_stop
    # The entry's own stop is there too, reduce-only.
    sol_stops = [o for o in snap.open_orders if o.symbol == sol and o.is_stop]
    assert len(sol_stops) == 1 and sol_stops[0].reduce_only
    # Marks of symbols without a position are known as well.
    assert snap.mark(sol) == pytest.approx(eng.marks["SOLUSDT"])


async def test_every_open_order_is_read_beyond_a_venues_first_page(
    sim: SimServer,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    sol: str,
) -> None:
    gw = OrderGateway(client, "main", dry_run=False)
    mark = sim.engine.marks["SOLUSDT"]
    for i in range(55):  # Bybit: 20 a page by default, 50 at most
        entry, _ = await gw.place_entry(
            sol, "long", 1.0, price=round(mark * 0.5 + i / 100, 2), stop_price=mark * 0.4, rule="t", episode=i
        )
        assert entry.ok
    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    assert len(snap.open_orders) == 110  # 55 limits and their 55 stops


async def test_symbols_filter_narrows_reference_data_but_keeps_every_position(
    sim: SimServer,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    eth: str,
    sol: str,
) -> None:
    sim.engine.open_position(sim_account.api_key, "ETHUSDT", "long", 1.0, leverage=5)
    snap = await read_snapshot(client, "main", symbols=[sol], tiers_cache=TiersCache())
    assert [p.symbol for p in snap.positions] == [eth]  # the cross pool needs every position
    assert set(snap.markets) == {sol, eth} and set(snap.tiers) == {sol, eth}
    assert set(snap.mark_prices) == {sol, eth}


async def test_fetch_snapshot_for_a_configured_account(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    tmp_path: Path,
    btc: str,
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.1, leverage=5)
    config = tmp_path / "guardbot.toml"
    lines, env = credential_config(sim.engine.exchange, sim_account.api_key, sim_account.secret)
    config.write_text(
        f'[[accounts]]\nname = "main"\nexchange = "{sim.engine.exchange}"\nbase_url = "{sim.base_url}"\n'
        f'settle_currency = "{venue.quote}"\n{lines}'
    )
    settings = load_settings(config, env)
    snap = await fetch_snapshot_for("main", settings)
    assert snap.account == "main" and [p.symbol for p in snap.positions] == [btc]
    assert sim.mutating_requests() == []


async def test_fetch_snapshot_for_names_a_missing_secret(sim: SimServer, tmp_path: Path) -> None:
    config = tmp_path / "guardbot.toml"
    lines, _ = credential_config(sim.engine.exchange, "0x" + "ab" * 20, "")
    config.write_text(
        f'[[accounts]]\nname = "main"\nexchange = "{sim.engine.exchange}"\nbase_url = "{sim.base_url}"\n'
        f"{lines}"
    )
    settings = load_settings(config, {"SIM_KEY": "k"})
    with pytest.raises(ConfigError, match="SIM_SECRET"):
        await fetch_snapshot_for("main", settings)
