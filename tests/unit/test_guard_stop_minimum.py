"""Hyperliquid refuses every order worth less than $10, stops included (valued at the trigger): the
stop rule plans no stop the venue would refuse. It reports the position once per episode instead
(no order, so no rejected order in the journal every cycle), and places the stop once it is worth
the minimum; elsewhere (exempt venues) nothing changes."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_guard_support import DOGE, MIN, T0, book, cycles, kinds, pos, quiet, run, stop

from guardbot.domain import AccountSnapshot, Position, PositionMode, Side
from guardbot.guard import Decision

MIN_VALUE = 10.0  # Hyperliquid: "Order must have minimum value of $10."
LIM = quiet()  # default stop 5 % from mark, grace 60 s


def on_hyperliquid(s: AccountSnapshot, reduce_min: float = MIN_VALUE) -> AccountSnapshot:
    markets = {sym: dataclasses.replace(m, reduce_min_notional=reduce_min) for sym, m in s.markets.items()}
    return dataclasses.replace(s, exchange="hyperliquid" if reduce_min else s.exchange, markets=markets)


def doge(side: Side, contracts: float, mark: float = 0.32) -> Position:
    return pos(DOGE, side, contracts, mark)


def stop_alerts(ds: list[Decision]) -> list[Decision]:
    return [d for d in ds if d.rule == "stop" and d.kind == "alert"]


def orders(ds: list[Decision]) -> list[Decision]:
    return [d for d in ds if d.kind in ("place_stop", "replace_stop")]


def test_a_long_worth_less_than_the_minimum_at_its_stop_is_reported_once_and_gets_no_order() -> None:
    # 25 DOGE at 0.32 ($8): its stop 5 % below, at 0.304, would be worth $7.60
    s = on_hyperliquid(book(1_000, doge(Side.LONG, 25)))
    per_cycle, _ = cycles(s, 6, LIM, every=MIN)
    assert [orders(ds) for ds in per_cycle] == [[]] * 6
    assert [len(stop_alerts(ds)) for ds in per_cycle] == [0, 1, 0, 0, 0, 0]  # after the grace, once
    (alert,) = stop_alerts(per_cycle[1])
    assert alert.level == "warning" and alert.symbol == DOGE and alert.side is Side.LONG
    assert alert.reason == (
        "DOGE long 25 is too small for a stop on hyperliquid: a stop @ 0.304 would be worth 7.60, "
        "below the venue's minimum order value 10 (stops included), so none is placed → the position "
        "stays unprotected: close it by hand, or it gets its stop once it is worth 10 at the stop"
    )


def test_the_same_position_on_an_exempt_venue_gets_its_stop() -> None:
    per_cycle, _ = cycles(book(1_000, doge(Side.LONG, 25)), 2, LIM, every=MIN)
    (d,) = kinds(per_cycle[1], "place_stop")
    assert d.quantity == 25 and not stop_alerts(per_cycle[1])


def test_worth_more_than_the_minimum_at_the_mark_is_not_enough_for_a_long() -> None:
    # 32 DOGE: $10.24 at the mark, $9.73 at its stop; 33: $10.03 at its stop
    (_, small), _ = cycles(on_hyperliquid(book(1_000, doge(Side.LONG, 32))), 2, LIM, every=MIN)
    assert not orders(small) and len(stop_alerts(small)) == 1
    (_, big), _ = cycles(on_hyperliquid(book(1_000, doge(Side.LONG, 33))), 2, LIM, every=MIN)
    (d,) = kinds(big, "place_stop")
    assert d.quantity * (d.trigger_price or 0) >= MIN_VALUE and not stop_alerts(big)


def test_a_short_is_valued_at_its_stop_above_the_mark() -> None:
    # 31 DOGE short: $9.92 at the mark, but its stop at 0.336 is worth $10.42: the venue takes it
    (_, second), _ = cycles(on_hyperliquid(book(1_000, doge(Side.SHORT, 31))), 2, LIM, every=MIN)
    (d,) = kinds(second, "place_stop")
    assert d.order_side == "buy" and d.quantity == 31 and not stop_alerts(second)


def test_hedge_legs_are_judged_each_on_its_own_stop() -> None:
    s = book(1_000, doge(Side.LONG, 25), doge(Side.SHORT, 40), position_mode=PositionMode.HEDGE)
    per_cycle, _ = cycles(on_hyperliquid(s), 4, LIM, every=MIN)
    placed = [(d.side, d.quantity) for ds in per_cycle for d in kinds(ds, "place_stop")]
    assert placed == [(Side.SHORT, 40)] * 3  # the short's stop ($13.44) until it shows up
    assert [(a.side, a.symbol) for ds in per_cycle for a in stop_alerts(ds)] == [(Side.LONG, DOGE)]


def test_a_position_that_grows_gets_its_stop_and_the_report_clears() -> None:
    small = on_hyperliquid(book(1_000, doge(Side.LONG, 25)))
    _, st = cycles(small, 2, LIM, every=MIN)
    grown, _ = run(on_hyperliquid(book(1_000, doge(Side.LONG, 40))), st, LIM, T0 + 3 * MIN)
    (d,) = kinds(grown, "place_stop")
    assert d.quantity == 40
    (clear,) = stop_alerts(grown)
    assert clear.details["transition"] == "clear"
    assert "can be placed" in clear.reason


def test_a_partial_stop_is_kept_when_its_full_size_replacement_would_be_refused() -> None:
    p = doge(Side.LONG, 32)
    s = on_hyperliquid(book(1_000, p, orders=[stop(DOGE, "sell", 20, 0.31, "old-1")]))
    (_, second), _ = cycles(s, 2, LIM, every=MIN)
    assert not orders(second) and not kinds(second, "cancel_order")
    (alert,) = stop_alerts(second)
    assert "covered only by its stop 0.31" in alert.reason and "worth 9.92" in alert.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    legs=st.lists(
        st.tuples(st.sampled_from([Side.LONG, Side.SHORT]), st.integers(1, 80)),
        min_size=1,
        max_size=2,
        unique_by=lambda t: t[0],
    ),
    mark=st.floats(0.05, 1.0),
    reduce_min=st.sampled_from([0.0, MIN_VALUE]),
)
def test_no_planned_stop_is_worth_less_than_the_venue_minimum_at_its_trigger(
    legs: list[tuple[Side, int]], mark: float, reduce_min: float
) -> None:
    mode = PositionMode.HEDGE if len(legs) > 1 else PositionMode.ONE_WAY
    s = book(1_000, *(doge(side, n, mark) for side, n in legs), position_mode=mode)
    per_cycle, _ = cycles(on_hyperliquid(s, reduce_min), 3, LIM, every=MIN)
    for ds in per_cycle:
        for d in orders(ds):
            assert (d.quantity or 0) * (d.trigger_price or 0) >= reduce_min
    # every leg gets either its stop or a report, never neither (and never both)
    got = {d.side for d in orders(per_cycle[1])}
    told = {a.side for a in stop_alerts(per_cycle[1])}
    assert got | told == {side for side, _ in legs} and not got & told
    if reduce_min == 0:
        assert not told
