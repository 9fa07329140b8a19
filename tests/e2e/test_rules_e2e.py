"""Each guard rule end to end: a built emulator account, a price path, guard cycles through the real
ccxt client over HTTP, and what reached the exchange and the journal. Stops, margin ratio and
liquidation distance here; drawdown, exposure, the blind guard and what all rules share in
test_rules_e2e_limits.py. Every test runs on each venue.

Every rule but the one under test is pushed out of the way (`limits(...)` in conftest), so each test
shows that rule's own effect on a real exchange: which requests were sent, what the emulator's
books look like afterwards, and what the journal says (decisions with the rule's name, actions
confirmed, trading-state transitions).
"""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES

from guardbot.sim import OrderRequest, SimExchange

from .conftest import GuardRig, RigFactory, limits
from .rule_checks import STEP, assert_confirmed, assert_reduce_only_sells

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


# ---------------------------------------------------------------------------------------- 1. stops


async def test_unprotected_positions_get_a_full_size_mark_price_stop_after_the_grace_period(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(new_position_grace_s=30, default_stop_pct=5.0))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    engine.open_position(rig.acct.api_key, "ETHUSDT", "short", 10, leverage=10)
    await rig.start()

    await rig.cycles(3, every_s=10)  # t = 0, 10, 20 s: inside the grace period
    assert rig.server.mutating_requests() == []

    await rig.cycles(2, every_s=10)  # t = 30 s: acts; t = 40 s: the stops are there, nothing more
    stops = {s.symbol: s for s in rig.stops_sent()}
    assert rig.mutations() == [("place", "stop")] * 2 and set(stops) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = stops["BTCUSDT"], stops["ETHUSDT"]
    for s in (btc, eth):
        assert s.type == "MARKET" and s.mark_trigger and s.reduce_only
    # the long's stop sells below the mark, the short's buys above it; both for the whole position
    assert (btc.side, btc.qty, btc.trigger) == ("SELL", 0.5, 95_000 * 0.95)
    assert (eth.side, eth.qty, eth.trigger) == ("BUY", 10, 3_300 * 1.05)

    resting = {o.symbol: o for o in rig.algo_orders()}
    assert set(resting) == {"BTCUSDT", "ETHUSDT"}
    assert all(o.reduce_only and o.working_type == "MARK_PRICE" for o in resting.values())
    assert_confirmed(rig, "stop", {"stop"})
    assert {d.kind for d in rig.decisions("stop")} == {"place_stop"}

    # the stop fires on the emulator when the mark gets there: the position is protected for real
    engine.set_mark("BTCUSDT", 90_000.0)
    assert rig.qty("BTCUSDT") == 0.0


async def test_a_stop_left_without_its_position_is_cancelled_after_the_grace_period(
    make_rig: RigFactory,
    sol: str,
) -> None:
    rig = make_rig(limits(new_position_grace_s=30))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    await rig.start()
    await rig.cycles(4, every_s=10)
    [guard_stop] = rig.algo_orders()

    # the trader closes the position: the exchange expires the guard's reduce-only stop by itself,
    # so there is nothing to cancel and the guard sends nothing
    engine.place_order(rig.acct.api_key, OrderRequest("BTCUSDT", "SELL", "MARKET", quantity=0.5))
    assert guard_stop.status == "EXPIRED"
    # ... but a reduce-only stop the venue left behind (here: a SOL stop with no SOL position) is an
    # orphan: it would open nothing, yet it is clutter that can fire on a future position
    orphan = engine.place_algo_order(
        rig.acct.api_key,
        OrderRequest("SOLUSDT", "SELL", "STOP_MARKET", quantity=50, trigger_price=150.0, reduce_only=True),
    )
    rig.server.clear_log()

    # A symbol with no position has its orders read in the full read of all open orders (at least
    # once a minute, the per-symbol reads in between cover the held symbols): the orphan is seen
    # within a minute, and cancelled once the 30 s grace has passed since.
    seen_at = cancelled_at = None
    for i in range(12):
        await rig.cycles(1, every_s=10)
        if seen_at is None and any(k.startswith("order|") for k in rig.guard.state.first_seen_ms):
            seen_at = i
        if rig.server.mutating_requests():
            cancelled_at = i
            break
    assert seen_at is not None and seen_at <= 6 and cancelled_at == seen_at + 3

    assert rig.mutations() == [("cancel", "stop")]
    [delete] = rig.server.mutating_requests()
    assert rig.venue.cancelled_id(delete) == str(orphan.algo_id)
    assert orphan.status == "CANCELED"
    [cancel] = [d for d in rig.decisions("stop") if d.kind == "cancel_order"]
    assert "orphan stop on SOL" in cancel.reason
    cancels = [a for a in rig.actions() if a.kind.value == "cancel"]
    assert [(a.symbol, a.status.value) for a in cancels] == [(sol, "confirmed")]


async def test_a_stop_beyond_liquidation_is_moved_inside_it(make_rig: RigFactory) -> None:
    rig = make_rig(limits(new_position_grace_s=0, stop_buffer_pct=1.0))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 1.0, leverage=20)
    liq = engine.account_figures(rig.acct.api_key).positions[0].liquidation_price
    assert liq is not None and 80_000 < liq < 90_000
    # the trader's stop sits below the liquidation price: it would never fire
    trader = engine.place_algo_order(
        rig.acct.api_key,
        OrderRequest(
            "BTCUSDT",
            "SELL",
            "STOP_MARKET",
            quantity=1.0,
            trigger_price=rig.venue.btc_price(liq - 1_000),
            reduce_only=True,
            working_type="MARK_PRICE",
        ),
    )
    await rig.start()
    await rig.cycles(2)

    assert rig.mutations() == [("cancel", "stop"), ("place", "stop")]
    assert trader.status == "CANCELED"
    [new] = rig.algo_orders()
    buffer = 95_000 * 0.01
    assert liq + buffer <= new.trigger_price < liq + buffer + 1  # moved to liquidation + 1 % of mark
    assert new.side == "SELL" and new.quantity == 1.0 and new.reduce_only
    assert new.working_type == "MARK_PRICE"
    [replace] = rig.decisions("stop")
    assert replace.kind == "replace_stop" and "beyond liquidation" in replace.reason
    assert {(a.kind.value, a.status.value) for a in rig.actions()} == {
        ("cancel", "confirmed"),
        ("stop", "confirmed"),
    }

    # and now it fires before the account is liquidated
    engine.set_mark("BTCUSDT", new.trigger_price - 10)
    assert rig.qty("BTCUSDT") == 0.0 and not engine.liquidations


async def test_the_guard_replaces_its_own_stop_when_the_trader_adds_to_the_position(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    engine = rig.engine
    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    await rig.start()
    await rig.cycles(2)
    [first] = rig.algo_orders()
    assert first.quantity == 0.5

    engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)  # now 1.0
    await rig.cycles(2)

    assert first.status == "CANCELED"
    [stop] = rig.algo_orders()
    assert stop.quantity == 1.0 and stop.trigger_price == first.trigger_price and stop.reduce_only
    assert rig.mutations() == [("place", "stop"), ("cancel", "stop"), ("place", "stop")]
    [replace] = [d for d in rig.decisions("stop") if d.kind == "replace_stop"]
    assert "size changed" in replace.reason
    # the cancel of the guard's own stop is journaled as its own action, next to the two stops
    rows = sorted((a.kind.value, a.status.value) for a in rig.actions())
    assert rows == [("cancel", "confirmed"), ("stop", "confirmed"), ("stop", "confirmed")]


# ---------------------------------------------------------------------------------- 2. margin ratio


def _open_stressed(engine: SimExchange, key: str, btc_entry: float) -> float:
    engine.open_position(key, "BTCUSDT", "long", 1, leverage=20, entry_price=btc_entry)
    engine.open_position(key, "ETHUSDT", "long", 10, leverage=20, entry_price=3_500)
    engine.open_position(key, "SOLUSDT", "long", 100, leverage=20, entry_price=190)
    return engine.account_figures(key).margin_ratio


def _stressed_book(rig: GuardRig, ratio: float) -> None:
    """Three longs bought higher: equity about 1,000 against 146,000 of notional, the BTC long's
    entry chosen so the margin ratio is `ratio` under the venue's own margin model."""
    lo, hi = 95_000.0, 105_000.0
    for _ in range(40):  # on a scratch exchange of the same venue
        mid = (lo + hi) / 2
        scratch = SimExchange(exchange=rig.engine.exchange)
        reached = _open_stressed(scratch, scratch.create_account(rig.acct.wallet).api_key, mid)
        if reached < ratio and not scratch.liquidations:  # liquidated: past the ratio, not below it
            lo = mid
        else:
            hi = mid
    _open_stressed(rig.engine, rig.acct.api_key, rig.venue.btc_price(lo))


MARGIN = {
    "margin_ratio_warn": 0.5,
    "margin_ratio_reduce": 0.7,
    "margin_ratio_flatten": 0.9,
    "margin_ratio_target": 0.4,
}


async def test_margin_ratio_above_reduce_is_cut_back_to_target_with_reduce_only_orders(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(**MARGIN))
    _stressed_book(rig, 0.8)
    before = {s: rig.qty(s) for s in STEP}
    assert 0.7 < rig.engine.account_figures(rig.acct.api_key).margin_ratio < 0.9
    await rig.start()

    await rig.cycles(1)  # one reading: hysteresis waits for a second
    assert rig.server.mutating_requests() == []
    await rig.cycles(2)

    sent = rig.orders_sent()
    assert sent and len(rig.mutations()) == len(sent)
    assert_reduce_only_sells(sent)
    after = {s: rig.qty(s) for s in STEP}
    assert all(after[s] <= before[s] for s in STEP)  # nothing increased
    assert rig.engine.account_figures(rig.acct.api_key).margin_ratio <= 0.4
    assert not rig.engine.liquidations
    assert_confirmed(rig, "margin_ratio", {"reduce"})
    cut = [d for d in rig.decisions("margin_ratio") if d.kind in ("reduce", "close")]
    assert cut and all(d.details["details"]["expected_ratio"] <= 0.4 for d in cut)
    assert [t.to_state for t in rig.transitions()] == ["REDUCING", "ACTIVE"]


async def test_margin_ratio_above_flatten_closes_everything_and_halts(make_rig: RigFactory) -> None:
    rig = make_rig(limits(**MARGIN))
    _stressed_book(rig, 0.95)
    assert 0.9 < rig.engine.account_figures(rig.acct.api_key).margin_ratio < 1.0
    await rig.start()
    await rig.cycles(3)

    sent = rig.orders_sent()
    assert_reduce_only_sells(sent)
    assert sorted(s.symbol for s in sent) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert {s.qty for s in sent} == {1.0, 10.0, 100.0}
    assert rig.acct.positions == {} and not rig.engine.liquidations
    assert_confirmed(rig, "margin_ratio", {"reduce"})
    assert {d.kind for d in rig.decisions("margin_ratio")} >= {"close"}
    assert [t.to_state for t in rig.transitions()] == ["HALTED"]
    with rig.reader() as r:
        row = r.load_guard_state("main")
    assert row is not None and row.trading_state == "HALTED" and row.lock_reason


# ---------------------------------------------------------------------------- 3. liquidation distance


async def test_a_position_close_to_liquidation_is_reduced_back_beyond_the_warn_distance(
    make_rig: RigFactory,
    btc: str,
) -> None:
    rig = make_rig(limits(liquidation_warn_pct=15.0, liquidation_reduce_pct=7.5))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 1.6, leverage=20)
    rig.engine.open_position(key, "ETHUSDT", "long", 1.0, leverage=20)  # small, far from trouble
    [held] = [p for p in rig.engine.account_figures(key).positions if p.symbol == btc]
    assert held.liquidation_distance_pct is not None and held.liquidation_distance_pct < 7.5
    await rig.start()
    await rig.cycles(3)

    sent = rig.orders_sent()
    assert_reduce_only_sells(sent)
    assert {s.symbol for s in sent} == {"BTCUSDT"}  # that position, not the book
    assert rig.qty("ETHUSDT") == 1.0 and 0 < rig.qty("BTCUSDT") < 1.6
    [held] = [p for p in rig.engine.account_figures(key).positions if p.symbol == btc]
    assert held.liquidation_distance_pct is not None and held.liquidation_distance_pct >= 15.0 - 0.1
    assert_confirmed(rig, "liquidation", {"reduce"})
    assert "REDUCING" in [t.to_state for t in rig.transitions()]
