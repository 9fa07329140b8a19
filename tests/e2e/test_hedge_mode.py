"""Hedge-mode books end to end: the real guard cycle, real ccxt over HTTP, the emulator's books.

A hedge-mode account holds a long and a short leg of one symbol; they share one cross liquidation
price. What reached the exchange is read from the emulator: which legs were cut, which stops rest,
and where the emulator's own liquidation price sits after the guard acted.

It runs on every venue that has a hedge mode (`HEDGE_VENUES`: Binance's and Aster's dual-side
position mode, Bybit's two-way mode). Hyperliquid has none: its perpetual account holds one net
position per asset, so a long and a short of one symbol cannot coexist there (venue_spec says so in
its `lacks`, and tests/unit/test_guard_hedge.py covers the planner without a venue).
"""

from __future__ import annotations

import pytest
from venue_spec import HEDGE_VENUES

from guardbot.sim import SimAccount

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", HEDGE_VENUES, indirect=True)


def hedge_rig(make_rig: RigFactory, wallet: float, long: float, short: float, **guard: object) -> GuardRig:
    rig = make_rig(limits(**guard), wallet=wallet)
    engine, key = rig.engine, rig.acct.api_key
    engine.set_position_mode(key, hedge=True)
    engine.set_mark("BTCUSDT", 50_000.0)
    engine.open_position(key, "BTCUSDT", "long", long, leverage=20, entry_price=50_000)
    engine.open_position(key, "BTCUSDT", "short", short, leverage=20, entry_price=50_000)
    return rig


def legs(acct: SimAccount) -> dict[str, float]:
    return {ps: p.qty for (sym, ps), p in acct.positions.items() if sym == "BTCUSDT"}


def liquidation_of(rig: GuardRig) -> float:
    [acct] = [a for a in rig.engine.state()["accounts"] if a["api_key"] == rig.acct.api_key]
    prices = {p["liquidation_price"] for p in acct["positions"]}
    assert len(prices) == 1, "both legs of a hedged symbol share one liquidation price"
    return float(prices.pop())


async def test_the_guard_cuts_the_net_leg_not_the_hedge_and_liquidation_moves_away(
    make_rig: RigFactory,
) -> None:
    """Long 1 + short 2 BTC at 50,000 with 2,600 in the wallet: liquidation 51,921 on Binance,
    3.8 % above the mark (Bybit's, with its fee to close, a little nearer). Closing the long would
    bring it nearer still (51,057: 2.1 %); the guard buys back part of the short."""
    rig = hedge_rig(make_rig, 2_600, 1, 2, liquidation_warn_pct=5.0, liquidation_reduce_pct=4.5)
    before = liquidation_of(rig)
    if rig.engine.exchange == "binanceusdm":
        assert before == pytest.approx(51_921.18, abs=0.01)
    assert 0 < (before - 50_000) / 50_000 < 0.045  # inside the reduce distance
    await rig.start()
    await rig.cycles(3)

    assert legs(rig.acct)["LONG"] == 1.0
    assert legs(rig.acct)["SHORT"] < 2.0
    after = liquidation_of(rig)
    assert (after - 50_000) / 50_000 >= 0.05 > (before - 50_000) / 50_000
    cuts = rig.orders_sent()
    assert cuts and all(c.side == "BUY" and c.position_side == "SHORT" for c in cuts)
    # Binance and Aster refuse reduceOnly in hedge mode (the leg says it); Bybit takes both
    assert all(c.reduce_only == rig.venue.reduce_only_in_hedge_mode for c in cuts)
    assert {a.rule for a in rig.actions() if a.kind.value == "reduce"} == {"liquidation"}


async def test_every_leg_of_a_hedged_symbol_gets_its_own_stop(make_rig: RigFactory) -> None:
    rig = hedge_rig(make_rig, 20_000, 2, 1.9, new_position_grace_s=0, default_stop_pct=5.0)
    await rig.start()
    await rig.cycles(2)
    stops = {o.position_side: o for o in rig.algo_orders()}
    assert set(stops) == {"LONG", "SHORT"}
    assert (
        stops["LONG"].side == "SELL" and stops["LONG"].quantity == 2 and stops["LONG"].trigger_price == 47_500
    )
    assert stops["SHORT"].side == "BUY" and stops["SHORT"].quantity == 1.9
    assert stops["SHORT"].trigger_price == 52_500
    assert all(o.working_type == "MARK_PRICE" for o in stops.values())
    # and they work: a rise fires the short's stop, the long is untouched
    rig.engine.set_mark("BTCUSDT", 53_000.0)
    assert legs(rig.acct) == {"LONG": 2.0}


async def test_a_leverage_cap_shrinks_both_legs_and_never_leaves_a_naked_leg(make_rig: RigFactory) -> None:
    rig = hedge_rig(make_rig, 20_000, 2, 1.9, leverage_warn=5.0, leverage_hard=8.0)
    await rig.start()
    await rig.cycles(3)
    after = legs(rig.acct)
    assert after["LONG"] == pytest.approx(after["SHORT"])  # the 0.1 net went first, then both together
    assert after["LONG"] == pytest.approx(1.6, abs=0.003)
    gross = (after["LONG"] + after["SHORT"]) * 50_000
    equity = rig.engine.account_figures(rig.acct.api_key).equity
    assert gross / equity <= 8.0 + 1e-6
