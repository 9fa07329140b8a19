"""Rule 1: every position carries a reduce-only, mark-price, full-size stop that can fire."""

from __future__ import annotations

import dataclasses

import pytest
from test_guard_support import (
    BTC,
    DOGE,
    ETH,
    MIN,
    T0,
    assert_never_increases,
    book,
    cycles,
    kinds,
    on_step,
    pos,
    protect,
    quiet,
    run,
    stop,
)

from guardbot.domain import AccountSnapshot, Order, PositionMode, Side
from guardbot.guard import Decision, GuardLimits, GuardState, initial_state
from guardbot.guard.whatif import apply_cut
from guardbot.risk.account import measure_account

LIM = quiet()
AFTER_GRACE = T0 + 2 * MIN


def two_looks(snapshot: AccountSnapshot, limits: GuardLimits = LIM) -> tuple[list[Decision], GuardState]:
    """First sight at T0, second look after the grace period: the decisions of the second."""
    _, st = run(snapshot, None, limits, T0)
    return run(snapshot, st, limits, AFTER_GRACE)


def test_missing_stop_on_a_long_is_placed_below_mark_on_mark_price() -> None:
    s = book(50_000, pos(BTC, Side.LONG, 1, 50_000))
    decisions, _ = two_looks(s)
    [d] = kinds(decisions, "place_stop")
    assert d.rule == "stop" and d.symbol == BTC and d.side is Side.LONG
    assert d.quantity == 1 and d.order_side == "sell"
    assert d.trigger_price == pytest.approx(47_500)  # default 5 % from mark
    assert d.details["working_type"] == "mark" and d.details["reduce_only"] is True
    assert "no stop" in d.reason and "47,500.00" in d.reason
    assert_never_increases(s, decisions)


def test_missing_stop_on_a_short_is_a_buy_above_mark() -> None:
    s = book(50_000, pos(ETH, Side.SHORT, 10, 3_000))
    [d] = kinds(two_looks(s)[0], "place_stop")
    assert d.order_side == "buy" and d.trigger_price == pytest.approx(3_150)


def test_a_new_position_gets_the_grace_period() -> None:
    s = book(50_000, pos(BTC, Side.LONG, 1, 50_000))
    first, st = run(s, None, LIM, T0)
    inside, st = run(s, st, LIM, T0 + 59_000)
    assert not kinds(first, "place_stop") and not kinds(inside, "place_stop")
    after, _ = run(s, st, LIM, T0 + 60_000)
    assert len(kinds(after, "place_stop")) == 1


def test_a_correct_stop_means_no_decision() -> None:
    p = pos(BTC, Side.LONG, 1, 50_000)
    decisions, _ = two_looks(book(50_000, p, orders=[protect(p)]))
    assert decisions == []


def test_close_position_stop_and_hedge_mode_exit_count_as_protection() -> None:
    p = pos(BTC, Side.LONG, 1, 50_000)
    close_all = stop(BTC, "sell", None, 48_000, reduce_only=False, close_position=True)
    assert two_looks(book(50_000, p, orders=[close_all]))[0] == []
    hedge_exit = stop(BTC, "sell", 1, 48_000, reduce_only=False, position_side="long")
    s = book(50_000, p, orders=[hedge_exit], position_mode=PositionMode.HEDGE)
    assert two_looks(s)[0] == []


def test_stop_clamped_inside_liquidation_plus_buffer() -> None:
    # 5000 + (P - 50000) = 0.01 P  ->  liq = 45000 / 0.99 = 45454.55; 10 % from mark (45000) is past it
    s = book(5_000, pos(BTC, Side.LONG, 1, 50_000))
    liq = 45_000 / 0.99
    [d] = kinds(two_looks(s, quiet(default_stop_pct=10.0))[0], "place_stop")
    assert d.trigger_price == pytest.approx(liq + 500)  # 1 % of mark inside liquidation
    assert "clamped" in d.reason and "45,454.55" in d.reason


def test_no_room_for_a_stop_reduces_instead_and_says_why() -> None:
    # wallet 800: liq = 49200 / 0.99 = 49697, within the 1 % buffer of the 50000 mark
    p = pos(BTC, Side.LONG, 1, 50_000)
    s = book(800, p)
    decisions, _ = two_looks(s)
    assert not kinds(decisions, "place_stop")
    [d] = kinds(decisions, "reduce", "stop")
    assert "no stop can fire" in d.reason
    assert on_step(d.quantity or 0, 0.001)
    assert_never_increases(s, decisions)
    after = apply_cut(s, BTC, Side.LONG, d.quantity or 0, s.fees.taker)
    distance = measure_account(after).position(BTC).liquidation_distance_pct
    assert distance is not None and distance >= 6.0  # room for the 5 % stop + 1 % buffer


def test_stop_too_small_after_an_add_is_replaced_full_size() -> None:
    p = pos(BTC, Side.LONG, 2, 50_000)
    s = book(100_000, p, orders=[stop(BTC, "sell", 1, 47_000, "old-1", client_order_id="trader-1")])
    [d] = kinds(two_looks(s)[0], "replace_stop")
    assert d.order_id == "old-1" and d.client_order_id == "trader-1"
    assert d.quantity == 2 and d.trigger_price == pytest.approx(47_000)
    assert "covers 1 of 2" in d.reason


def test_half_a_lot_step_short_is_tolerated() -> None:
    p = pos(BTC, Side.LONG, 1.0004, 50_000)
    s = book(100_000, p, orders=[stop(BTC, "sell", 1.0, 47_000)])
    assert two_looks(s)[0] == []


def test_stop_beyond_liquidation_will_never_fire_and_is_moved() -> None:
    s = book(5_000, pos(BTC, Side.LONG, 1, 50_000), orders=[stop(BTC, "sell", 1, 45_000, "deep")])
    [d] = kinds(two_looks(s)[0], "replace_stop")
    assert "will never fire" in d.reason and d.order_id == "deep"
    assert d.trigger_price == pytest.approx(45_000 / 0.99 + 500)


def test_last_price_stop_is_replaced_by_a_mark_price_stop() -> None:
    s = book(
        100_000, pos(BTC, Side.LONG, 1, 50_000), orders=[stop(BTC, "sell", 1, 47_000, working_type="last")]
    )
    [d] = kinds(two_looks(s)[0], "replace_stop")
    assert d.level == "warning" and "last price" in d.reason and "mark" in d.reason
    assert d.details["working_type"] == "mark" and d.trigger_price == pytest.approx(47_000)


def test_a_take_profit_or_wrong_side_order_is_not_protection() -> None:
    p = pos(BTC, Side.LONG, 1, 50_000)
    above_mark = stop(BTC, "sell", 1, 55_000)  # would be a take-profit, not a stop-loss
    buy_stop = stop(BTC, "buy", 1, 45_000, reduce_only=False)  # an entry, adds to the long
    decisions, _ = two_looks(book(100_000, p, orders=[above_mark, buy_stop]))
    assert len(kinds(decisions, "place_stop")) == 1
    assert not kinds(decisions, "cancel_order")


def test_orphan_stop_is_cancelled_after_the_grace_period_only() -> None:
    orphan = stop(ETH, "sell", 5, 2_800, "orphan-1")
    # a trader's breakdown entry (opens a short): left alone, and it does not wait for a long's stop
    entry_stop = stop(ETH, "sell", 5, 2_700, "breakdown", reduce_only=False)
    s = book(
        100_000,
        pos(BTC, Side.LONG, 1, 50_000),
        orders=[orphan, entry_stop, protect(pos(BTC, Side.LONG, 1, 50_000))],
    )
    first, st = run(s, None, LIM, T0)
    assert not kinds(first, "cancel_order")
    later, _ = run(s, st, LIM, AFTER_GRACE)
    [d] = kinds(later, "cancel_order")
    assert d.order_id == "orphan-1" and "orphan" in d.reason


def test_a_stop_waiting_for_a_resting_entry_on_its_side_is_not_an_orphan() -> None:
    """A breakout buy entry and its protective sell stop: a bracket, kept until the entry goes."""
    waiting = stop(ETH, "sell", 5, 2_800, "bracket-stop")
    entry = stop(ETH, "buy", 5, 3_300, "breakout", reduce_only=False)
    s = book(100_000, orders=[waiting, entry])
    _, st = run(s, None, LIM, T0)
    later, st = run(s, st, LIM, AFTER_GRACE)
    assert not kinds(later, "cancel_order")
    gone = dataclasses.replace(s, open_orders=(waiting,))  # the entry was cancelled
    _, st = run(gone, st, LIM, AFTER_GRACE + 1)
    after, _ = run(gone, st, LIM, AFTER_GRACE * 3)
    [d] = kinds(after, "cancel_order")
    assert d.order_id == "bracket-stop"


def test_stop_quantity_is_rounded_down_to_the_lot_step() -> None:
    s = book(100_000, pos(ETH, Side.LONG, 12.3456, 3_000))
    [d] = kinds(two_looks(s)[0], "place_stop")
    assert d.quantity == pytest.approx(12.34)


def test_dust_gets_a_stop_but_no_alerts() -> None:
    # 5 DOGE at 0.5 = 2.5 USDT of notional, 7.1 % from liquidation: only the stop is handled
    s = book(0.2, pos(DOGE, Side.LONG, 5, 0.5))
    assert (measure_account(s).position(DOGE).liquidation_distance_pct or 0) < 7.5
    (_, second), _ = cycles(s, 2, quiet(liquidation_warn_pct=15, liquidation_reduce_pct=7.5), every=2 * MIN)
    assert [d.kind for d in second] == ["place_stop"]


def test_stop_episode_is_stable_until_the_stop_exists() -> None:
    s = book(50_000, pos(BTC, Side.LONG, 1, 50_000))
    (_, a, b), _ = cycles(s, 3, LIM, every=MIN)
    assert kinds(a, "place_stop")[0].episode == kinds(b, "place_stop")[0].episode


def test_orders_do_not_match_other_symbols() -> None:
    p = pos(BTC, Side.LONG, 1, 50_000)
    other: Order = protect(pos(ETH, Side.LONG, 1, 50_000))
    decisions, _ = run(book(100_000, p, orders=[other]), initial_state(), LIM, T0)
    assert not kinds(decisions, "place_stop")  # inside the grace period: nothing yet
