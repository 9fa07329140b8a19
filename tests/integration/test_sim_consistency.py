"""What the guard reads through ccxt agrees with the emulator's own books, on every venue.

For random accounts (cross and, where the venue has it, isolated; one-way and hedge; in profit and
in loss) the snapshot the reader builds gives the same equity, maintenance margin, margin ratio and
liquidation prices as the engine (relative 1e-9); the venue's own figures agree too (Bybit writes
money to 8 decimals, its account rates rounded down to 4, its liquidation price on the tick). And a
stop placed at the liquidation price the client reads triggers on the very tick the engine
liquidates an identical account.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest
from venue_spec import SPECS, VENUES, credentials

from guardbot.config import AccountConfig
from guardbot.exchange import OrderGateway, TiersCache, read_snapshot
from guardbot.exchange.client import make_client
from guardbot.risk.account import measure_account
from guardbot.sim import Scenario, Shock, SimAccount, SimExchange, SimServer

REL = 1e-9


def _qty(notional: float, price: float, step: str, min_qty: str) -> float:
    steps = int(Decimal(repr(notional / price)) / Decimal(step))
    return float(max(Decimal(min_qty), steps * Decimal(step)))


def _tick(price: float, tick: str) -> float:
    return float(round(Decimal(repr(price)) / Decimal(tick)) * Decimal(tick))


def build_random_account(ex: SimExchange, rng: random.Random) -> SimAccount:
    hedge = rng.random() < 0.35 and ex.profile.hedge_mode  # Hyperliquid has no hedge mode
    acct = ex.create_account(
        wallet=round(rng.uniform(3_000, 30_000), 2), position_mode="hedge" if hedge else "one_way"
    )
    for sym in rng.sample(sorted(ex.markets), rng.randint(1, 4)):
        m = ex.markets[sym]
        isolated = rng.random() < 0.3 and ex.profile.isolated_per_symbol
        lev = min(rng.choice([2, 3, 5, 10, 20]), m.max_leverage)
        sides = ["long", "short"] if hedge and rng.random() < 0.5 else [rng.choice(["long", "short"])]
        for side in sides:
            mark = ex.marks[sym]
            qty = _qty(acct.wallet * rng.uniform(0.2, 1.2), mark, m.step_size, m.min_qty)
            entry = _tick(mark * rng.uniform(0.93, 1.07), m.tick_size)
            mode = "isolated" if isolated else "cross"
            ex.open_position(acct.api_key, sym, side, qty, leverage=lev, margin_mode=mode, entry_price=entry)
    return acct


def client_for(server: SimServer, acct: SimAccount) -> ccxt.Exchange:
    account = AccountConfig(name="a", exchange=server.engine.exchange, base_url=server.base_url)
    creds = credentials(server.engine.exchange, acct.api_key, acct.secret)
    client = make_client(account, creds, rate_limit=False, timeout_ms=3_000)
    client.timeout_on_exit = 0
    return client


@pytest.mark.parametrize("exchange", VENUES)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_random_accounts_read_through_ccxt_match_the_engine(exchange: str, seed: int) -> None:
    venue = SPECS[exchange]
    rng = random.Random(seed)
    ex = SimExchange(seed=seed, exchange=exchange)
    accounts = [build_random_account(ex, rng) for _ in range(3)]
    ex.set_marks(
        {s: _tick(p * rng.uniform(0.97, 1.03), ex.markets[s].tick_size) for s, p in ex.marks.items()}
    )
    async with SimServer(ex) as server:
        for acct in accounts:
            if not acct.positions:
                continue  # liquidated by the move: nothing left to compare
            client = client_for(server, acct)
            try:
                snap = await read_snapshot(client, "a", tiers_cache=TiersCache())
                equity, maintenance = await venue.account_totals(client)
                reported = {(p["symbol"], p["side"]): p for p in await client.fetch_positions()}
            finally:
                await client.close()
            engine = ex.account_figures(acct.api_key)
            # guardbot's own measure of the snapshot the reader built
            mine = measure_account(snap)
            assert mine.equity == pytest.approx(engine.equity, rel=REL)
            assert mine.maintenance_margin == pytest.approx(engine.maintenance_margin, rel=REL)
            assert mine.margin_ratio == pytest.approx(engine.margin_ratio, rel=REL)
            assert mine.available_margin == pytest.approx(engine.available_margin, rel=REL, abs=1e-9)
            # the venue's own account totals
            assert equity == pytest.approx(engine.equity, rel=REL, abs=1e-8)
            cross = [pf for pf in engine.positions if pf.position.margin_mode.value == "cross"]
            expected = sum(pf.maintenance_margin for pf in cross) if venue.cross_mm_only else None
            assert maintenance == pytest.approx(
                engine.maintenance_margin if expected is None else expected, rel=REL, abs=1e-8
            )
            for pf in mine.positions:
                theirs = engine.position(pf.symbol, pf.position.side).liquidation_price
                shown = reported[(pf.symbol, pf.position.side.value)]["liquidationPrice"]
                tick = snap.markets[pf.symbol].price_tick
                if theirs is None:
                    assert pf.liquidation_price is None and shown is None
                    continue
                assert pf.liquidation_price == pytest.approx(theirs, rel=REL)
                if venue.liq_on_tick:  # an estimate on the tick; none outside the price filter
                    assert shown is None or abs(shown - theirs) <= tick / 2 + 1e-9 * theirs
                else:
                    assert shown == pytest.approx(theirs, rel=REL)


def _falling_btc() -> Scenario:
    """Only BTC moves: -25 % over 250 s, about 0.1 % per one-second step, no noise."""
    return Scenario(vol_scale=0.0, shocks=(Shock(at_s=0, symbol="BTCUSDT", pct=-25, over_s=250),))


@pytest.mark.parametrize("exchange", VENUES)
@pytest.mark.parametrize("hedge_with_eth", [False, True])
async def test_stop_at_the_liquidation_price_triggers_on_the_liquidation_tick(
    exchange: str, hedge_with_eth: bool
) -> None:
    venue = SPECS[exchange]
    ex = SimExchange(scenario=_falling_btc(), exchange=exchange)
    guarded, twin = (ex.create_account(wallet=2_000.0) for _ in range(2))
    for acct in (guarded, twin):
        ex.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=20, entry_price=95_000.0)
        if hedge_with_eth:  # another cross position shares the pool and moves the liquidation price
            ex.open_position(acct.api_key, "ETHUSDT", "short", 2.0, leverage=20, entry_price=3_250.0)
    async with SimServer(ex) as server:
        client = client_for(server, guarded)
        try:
            btc = next(p for p in await client.fetch_positions() if p["symbol"] == venue.sym("BTC"))
            liq = btc["liquidationPrice"]
            # a sell stop fires at mark <= trigger: round *up* to the tick so it is never below the
            # liquidation price (where the venue writes it on the tick, from half a tick above)
            slack = 0.05 if venue.liq_on_tick else 0.0
            tick = venue.btc_market[2]
            trigger = math.ceil((liq + slack) / tick) * tick
            stop = await OrderGateway(client, "a", dry_run=False).place_stop(
                venue.sym("BTC"), "long", 0.2, trigger, rule="liq", episode=1
            )
            assert stop.ok, stop.reason
        finally:
            await client.close()

    prev_mark = ex.marks["BTCUSDT"]
    for _ in range(300):
        ex.advance(1)
        if ex.liquidations:
            break
        prev_mark = ex.marks["BTCUSDT"]
    [event] = ex.liquidations
    assert event.api_key == twin.api_key  # the guarded account was closed by its stop instead
    mark = ex.marks["BTCUSDT"]
    assert mark <= liq + slack < prev_mark  # the engine liquidated exactly when the mark crossed it
    [order] = guarded.algo_orders.values()
    assert order.status == "FINISHED" and order.trigger_ms == event.time_ms
    assert ("BTCUSDT", "BOTH") not in guarded.positions
    if venue.clearance_fee:
        assert guarded.wallet > twin.wallet
    else:  # Hyperliquid liquidates through the book at the taker fee: the stop saves that fee on
        # the rest of the book only (it stays open), and may fill up to a tick lower
        kept = ex.account_figures(guarded.api_key).equity
        assert kept >= ex.account_figures(twin.api_key).equity - 0.2 * venue.btc_market[2] - 1e-6
