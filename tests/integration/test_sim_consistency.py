"""What a client reads through plain ccxt calls agrees with the emulator's own books.

For random accounts (cross and isolated, one-way and hedge, in profit and in loss) the account
rebuilt from ccxt's parsed fields gives the same equity, maintenance margin and margin ratio as the
engine (relative 1e-9), and a stop placed at the liquidation price the client reads triggers on the
very tick the engine liquidates an identical account.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

import pytest

from guardbot.domain import AccountSnapshot, MarginMode, Position, Side, Tier
from guardbot.risk.account import measure_account
from guardbot.sim import Scenario, Shock, SimAccount, SimExchange, SimServer
from guardbot.sim.client import binanceusdm_client

REL = 1e-9


def _qty(notional: float, price: float, step: str, min_qty: str) -> float:
    steps = int(Decimal(repr(notional / price)) / Decimal(step))
    return float(max(Decimal(min_qty), steps * Decimal(step)))


def _tick(price: float, tick: str) -> float:
    return float(round(Decimal(repr(price)) / Decimal(tick)) * Decimal(tick))


def build_random_account(ex: SimExchange, rng: random.Random) -> SimAccount:
    hedge = rng.random() < 0.35
    acct = ex.create_account(
        wallet=round(rng.uniform(3_000, 30_000), 2), position_mode="hedge" if hedge else "one_way"
    )
    for sym in rng.sample(sorted(ex.markets), rng.randint(1, 4)):
        m = ex.markets[sym]
        mode = "isolated" if rng.random() < 0.3 else "cross"
        lev = min(rng.choice([2, 3, 5, 10, 20]), m.max_leverage)
        sides = ["long", "short"] if hedge and rng.random() < 0.5 else [rng.choice(["long", "short"])]
        for side in sides:
            mark = ex.marks[sym]
            qty = _qty(acct.wallet * rng.uniform(0.2, 1.2), mark, m.step_size, m.min_qty)
            entry = _tick(mark * rng.uniform(0.93, 1.07), m.tick_size)
            ex.open_position(acct.api_key, sym, side, qty, leverage=lev, margin_mode=mode, entry_price=entry)
    return acct


async def read_through_ccxt(client: Any) -> tuple[dict[str, Any], AccountSnapshot]:
    """Balance totals plus a guardbot snapshot built only from ccxt's parsed responses."""
    balance = await client.fetch_balance()
    positions = await client.fetch_positions()
    symbols = sorted({p["symbol"] for p in positions})
    tiers_raw = await client.fetch_leverage_tiers(symbols) if symbols else {}
    leverages = await client.fetch_leverages(symbols) if symbols else {}
    tiers = {
        s: tuple(
            Tier(
                t["minNotional"],
                t["maxNotional"],
                t["maintenanceMarginRate"],
                float(t["info"]["cum"]),
                t["maxLeverage"],
            )
            for t in rows
        )
        for s, rows in tiers_raw.items()
        if s in symbols
    }
    domain = tuple(
        Position(
            symbol=p["symbol"],
            side=Side(p["side"]),
            contracts=p["contracts"],
            entry_price=p["entryPrice"],
            mark_price=p["markPrice"],
            leverage=float(leverages[p["symbol"]]["longLeverage"]),
            margin_mode=MarginMode(p["marginMode"]),
            isolated_margin=float(p["info"]["isolatedWallet"]) if p["marginMode"] == "isolated" else 0.0,
            exchange_liquidation_price=p["liquidationPrice"],
            exchange_maintenance_margin=float(p["info"]["maintMargin"]),
        )
        for p in positions
    )
    snap = AccountSnapshot("binanceusdm", float(balance["info"]["totalWalletBalance"]), domain, tiers)
    return {"balance": balance, "positions": positions}, snap


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_random_accounts_read_through_ccxt_match_the_engine(seed: int) -> None:
    rng = random.Random(seed)
    ex = SimExchange(seed=seed)
    accounts = [build_random_account(ex, rng) for _ in range(3)]
    ex.set_marks(
        {s: _tick(p * rng.uniform(0.97, 1.03), ex.markets[s].tick_size) for s, p in ex.marks.items()}
    )
    async with SimServer(ex) as server:
        for acct in accounts:
            if not acct.positions:
                continue  # liquidated by the move: nothing left to compare
            client = binanceusdm_client(server.base_url, acct.api_key, acct.secret)
            try:
                raw, snap = await read_through_ccxt(client)
            finally:
                await client.close()
            engine = ex.account_figures(acct.api_key)
            info = raw["balance"]["info"]
            # the account totals in `info`
            cross_mm = sum(
                float(p["info"]["maintMargin"]) for p in raw["positions"] if p["marginMode"] == "cross"
            )
            cross_equity = float(info["totalCrossWalletBalance"]) + float(info["totalCrossUnPnl"])
            assert float(info["totalMarginBalance"]) == pytest.approx(engine.equity, rel=REL)
            assert float(info["totalMaintMargin"]) == pytest.approx(engine.maintenance_margin, rel=REL)
            ratio = cross_mm / cross_equity if cross_mm else 0.0
            assert ratio == pytest.approx(engine.margin_ratio if cross_mm else 0.0, rel=REL)
            # guardbot's own measure of the snapshot rebuilt from ccxt's parsed fields
            mine = measure_account(snap)
            assert mine.equity == pytest.approx(engine.equity, rel=REL)
            assert mine.maintenance_margin == pytest.approx(engine.maintenance_margin, rel=REL)
            assert mine.margin_ratio == pytest.approx(engine.margin_ratio, rel=REL)
            assert mine.available_margin == pytest.approx(raw["balance"]["USDT"]["free"], rel=REL, abs=1e-9)
            for pf in mine.positions:
                theirs = engine.position(pf.symbol, pf.position.side).liquidation_price
                if theirs is None:
                    assert pf.liquidation_price is None and pf.position.exchange_liquidation_price is None
                else:
                    assert pf.liquidation_price == pytest.approx(theirs, rel=REL)
                    assert pf.position.exchange_liquidation_price == pytest.approx(theirs, rel=REL)


def _falling_btc() -> Scenario:
    """Only BTC moves: -25 % over 250 s, about 0.1 % per one-second step, no noise."""
    return Scenario(vol_scale=0.0, shocks=(Shock(at_s=0, symbol="BTCUSDT", pct=-25, over_s=250),))


@pytest.mark.parametrize("hedge_with_eth", [False, True])
async def test_stop_at_the_liquidation_price_triggers_on_the_liquidation_tick(hedge_with_eth: bool) -> None:
    ex = SimExchange(scenario=_falling_btc())
    guarded, twin = (ex.create_account(wallet=2_000.0) for _ in range(2))
    for acct in (guarded, twin):
        ex.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=20, entry_price=95_000.0)
        if hedge_with_eth:  # another cross position shares the pool and moves the liquidation price
            ex.open_position(acct.api_key, "ETHUSDT", "short", 2.0, leverage=20, entry_price=3_250.0)
    async with SimServer(ex) as server:
        client = binanceusdm_client(server.base_url, guarded.api_key, guarded.secret)
        try:
            btc = next(p for p in await client.fetch_positions() if p["symbol"] == "BTC/USDT:USDT")
            liq = btc["liquidationPrice"]
            # a sell stop fires at mark <= trigger: round *up* to the tick so it is never below liq
            trigger = math.ceil(liq / 0.1) * 0.1
            await client.create_order(
                "BTC/USDT:USDT",
                "market",
                "sell",
                None,
                None,
                {"stopPrice": f"{trigger:.1f}", "closePosition": True, "workingType": "MARK_PRICE"},
            )
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
    assert mark <= liq < prev_mark  # the engine liquidated exactly when the mark crossed that price
    [stop] = guarded.algo_orders.values()
    assert stop.status == "FINISHED" and stop.trigger_ms == event.time_ms
    assert ("BTCUSDT", "BOTH") not in guarded.positions
    assert guarded.wallet > twin.wallet
