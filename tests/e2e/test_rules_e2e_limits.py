"""Each guard rule end to end (continued from test_rules_e2e.py): drawdown, exposure, the blind
guard, and what all rules share, on each venue."""

from __future__ import annotations

import dataclasses

import pytest
from venue_spec import GUARD_VENUES, VenueSpec

from guardbot.guard import resume

from .conftest import RigFactory, limits
from .rule_checks import assert_confirmed, assert_reduce_only_sells

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


# ------------------------------------------------------------------------------------- 4. drawdown

DRAWDOWN = {
    "drawdown_halt_pct": 5.0,
    "drawdown_reduce_pct": 10.0,
    "drawdown_flatten_pct": 15.0,
    "resume_cooldown_minutes": 60,
}


async def test_drawdown_halt_needs_two_readings_and_the_lock_survives_a_restart(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(**DRAWDOWN))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 1.0, leverage=20)
    await rig.start()
    await rig.cycles(1)  # the high-water mark: ~9,950

    engine.set_mark("BTCUSDT", 94_400)  # -600: a 6 % drawdown, for one reading only
    await rig.cycles(1)
    engine.set_mark("BTCUSDT", 95_000)
    await rig.cycles(1)
    assert rig.trading_state() == "ACTIVE" and rig.transitions() == []

    engine.set_mark("BTCUSDT", 94_400)
    await rig.cycles(1)
    assert rig.trading_state() == "ACTIVE"
    await rig.cycles(1)  # the second reading in a row
    assert rig.trading_state() == "HALTED"
    [halt] = rig.transitions()
    assert (halt.from_state, halt.to_state) == ("ACTIVE", "HALTED") and "drawdown" in halt.reason
    assert rig.server.mutating_requests() == []  # halt refuses entries; it sends nothing
    with rig.reader() as r:
        row = r.load_guard_state("main")
    assert row is not None and row.trading_state == "HALTED" and row.locked_until_ts
    assert row.locked_until_ts == engine.now_ms - 10_000 + 60 * 60_000

    # a restart: a new guard on the same journal file is still locked, even with equity back
    await rig.restart()
    assert rig.trading_state() == "HALTED" and rig.guard.state.locked
    engine.set_mark("BTCUSDT", 95_500)
    await rig.cycles(2)
    assert rig.trading_state() == "HALTED"
    assert [t.to_state for t in rig.transitions()] == ["HALTED"]
    ok, why, _ = resume(rig.guard.state, engine.now_ms, rig.limits)
    assert not ok and why.startswith("resume refused: cool-down has")
    engine.advance(3_600)
    ok, _, _ = resume(rig.guard.state, engine.now_ms, rig.limits)
    assert ok


async def test_drawdown_reduce_cuts_every_position_by_half_then_flatten_closes_them(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(**DRAWDOWN))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 1.0, leverage=20)
    engine.open_position(rig.acct.api_key, "SOLUSDT", "long", 20, leverage=20)
    await rig.start()
    await rig.cycles(1)

    engine.shock("BTCUSDT", -1.2, beta_follow=1.0)  # ~ -1,400: an 11-12 % drawdown
    await rig.cycles(3)
    sent = rig.orders_sent()
    assert_reduce_only_sells(sent)
    assert sorted((s.symbol, s.qty) for s in sent) == [("BTCUSDT", 0.5), ("SOLUSDT", 10.0)]
    assert rig.qty("BTCUSDT") == 0.5 and rig.qty("SOLUSDT") == 10
    assert rig.trading_state() == "HALTED"

    engine.shock("BTCUSDT", -1.5, beta_follow=1.0)  # below 85 % of the high-water mark
    await rig.cycles(3)
    assert rig.acct.positions == {} and not engine.liquidations
    assert_confirmed(rig, "drawdown", {"reduce"})
    assert len(rig.orders_sent()) == 4  # each cut once: no repeats of done cuts
    assert [t.to_state for t in rig.transitions()] == ["HALTED"]
    reasons = [d.reason for d in rig.decisions("drawdown") if d.kind in ("reduce", "close")]
    assert any("≥ reduce 10%" in r for r in reasons) and any("≥ flatten 15%" in r for r in reasons)


# ------------------------------------------------------------------------------------- 5. exposure


async def test_leverage_above_hard_cuts_the_largest_position_just_enough(make_rig: RigFactory) -> None:
    rig = make_rig(limits(leverage_warn=5.0, leverage_hard=8.0))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.5, leverage=20)  # 47,500: the largest
    rig.engine.open_position(key, "ETHUSDT", "long", 10, leverage=20)  # 33,000
    rig.engine.open_position(key, "SOLUSDT", "long", 100, leverage=20)  # 18,000
    assert rig.engine.account_figures(key).effective_leverage > 9
    await rig.start()
    await rig.cycles(3)

    [cut] = rig.orders_sent()
    assert_reduce_only_sells([cut])
    assert cut.symbol == "BTCUSDT"
    assert rig.qty("ETHUSDT") == 10 and rig.qty("SOLUSDT") == 100
    leverage = rig.engine.account_figures(key).effective_leverage
    assert 7.9 < leverage <= 8.0  # just enough: one lot step less would not do
    assert_confirmed(rig, "leverage", {"reduce"})


# ---------------------------------------------------------------------------------- 6. blind guard


async def test_a_blind_guard_alerts_once_sends_nothing_and_says_when_it_sees_again(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(blind_after_failures=3, max_snapshot_age_s=60, new_position_grace_s=0))
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)  # no stop
    await rig.start()
    rig.server.inject_fault("503", count=5, path=rig.venue.positions_path)

    outcomes = await rig.cycles(5, every_s=5)
    assert [o.ok for o in outcomes] == [False] * 5
    assert rig.server.mutating_requests() == []  # never act on a missing picture
    blind = rig.notifier.of("blind|")
    assert [(a.level, "cannot see the account" in a.text) for a in blind] == [("critical", True)]
    assert rig.guard.state.blind

    [back] = await rig.cycles(1)
    assert back.ok and not rig.guard.state.blind
    recovered = rig.notifier.of("blind|")[1:]
    assert len(recovered) == 1 and "sees the account again" in recovered[0].text
    assert recovered[0].level == "info"
    assert [a.level for a in rig.notifier.alerts].count("critical") == 1
    # seeing again, it does its job: the unprotected position gets its stop
    assert rig.mutations() == [("place", "stop")]
    with rig.reader() as r:
        events = [h.row for h in r.history(0, kinds=["event"])]
    assert len(events) == 5 and all(getattr(e, "kind", "") == "snapshot_failed" for e in events)


# ------------------------------------------------------------------------------ common to all rules


@pytest.mark.needs("min_amount")
async def test_an_order_refused_before_sending_is_journaled_and_the_cycle_goes_on(
    make_rig: RigFactory,
    btc: str,
    eth: str,
    venue: VenueSpec,
) -> None:
    # a venue whose minimum order (0.01 BTC) is above its lot step (0.001): half of 0.013 BTC is
    # below the minimum, so the gateway refuses that cut without sending it
    rig = make_rig(limits(**DRAWDOWN))
    engine = rig.engine
    engine.markets["BTCUSDT"] = dataclasses.replace(engine.markets["BTCUSDT"], min_qty="0.01")
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.013, leverage=10)
    engine.open_position(rig.acct.api_key, "ETHUSDT", "long", 1.0, leverage=10)
    await rig.start()
    await rig.cycles(1)
    engine.shock("BTCUSDT", -25, beta_follow=1.0)  # an 11 % drawdown: cut every position by half
    await rig.cycles(3)

    # the ETH cut after the refused BTC cut still went out
    assert [(s.symbol, s.qty) for s in rig.orders_sent()] == [("ETHUSDT", 0.5)]
    assert rig.qty("ETHUSDT") == 0.5 and rig.qty("BTCUSDT") == 0.013
    by_symbol = {a.symbol: a for a in rig.actions()}
    assert by_symbol[btc].status.value == "rejected" and "below the minimum" in (by_symbol[btc].reply or "")
    assert not by_symbol[btc].dry_run
    assert by_symbol[eth].status.value == "confirmed"
