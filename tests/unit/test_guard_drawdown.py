"""Rule 4 (drawdown and daily loss), the persistent lock, resume, and the HALTED policies."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from test_guard_support import (
    BTC,
    ETH,
    MIN,
    SOL,
    T0,
    apply,
    assert_never_increases,
    book,
    kinds,
    pos,
    protect,
    quiet,
    run,
)

from guardbot.domain import AccountSnapshot, Order, Position, Side, TradingState
from guardbot.guard import Decision, GuardState, entry_allowed, initial_state, resume, set_paused
from guardbot.guard.limits import GuardLimits
from guardbot.guard.state import day_start_of

LIM = quiet(
    drawdown_halt_pct=10.0,
    drawdown_reduce_pct=15.0,
    drawdown_flatten_pct=20.0,
    daily_loss_halt_pct=5.0,
    drawdown_reduce_fraction=0.5,
)
B = pos(BTC, Side.LONG, 1, 50_000)
E = pos(ETH, Side.LONG, 10, 3_000)


WALLET = 10_000.0


def account(equity: float, *extra: Order, positions: tuple[Position, ...] = (B, E)) -> AccountSnapshot:
    """A wallet of 10,000 and BTC's mark moved so that equity is `equity`: gains and losses are
    unrealized PnL, as in a market move (a wallet that jumps with no trade is a transfer, which the
    drawdown rules do not count; see test_guard_cashflow.py)."""
    marked = tuple(
        p.at_mark(p.entry_price + (equity - WALLET) / p.size) if p.symbol == BTC else p for p in positions
    )
    return book(WALLET, *marked, orders=[*(protect(p) for p in marked), *extra])


def feed(
    readings: list[float], state: GuardState | None = None, limits: GuardLimits = LIM, start: int = T0
) -> tuple[list[list[Decision]], GuardState]:
    st = state or initial_state()
    out = []
    for i, eq in enumerate(readings):
        d, st = run(account(eq), st, limits, start + i * 10_000)
        out.append(d)
    return out, st


def test_drawdown_past_halt_locks_after_confirmation() -> None:
    out, st = feed([10_000, 10_000, 8_800, 8_800])
    assert out[2] == []  # one reading is not enough
    [change] = kinds(out[3], "set_state")
    assert "ACTIVE → HALTED" in change.reason and "drawdown 12.0% ≥ halt 10%" in change.reason
    assert st.trading_state is TradingState.HALTED and st.locked and st.lock_level == "halt"
    ok, why = entry_allowed(st)
    assert not ok and "HALTED" in why
    assert not [d for d in out[3] if d.is_order]  # halt only refuses entries


def test_one_bad_reading_never_trips() -> None:
    out, st = feed([10_000, 8_800, 10_000, 8_800, 10_000])
    assert all(d == [] for d in out) and not st.locked


def test_a_glitching_high_reading_does_not_lift_the_high_water_mark() -> None:
    out, st = feed([10_000, 20_000, 10_000, 10_000])
    assert all(d == [] for d in out)
    assert st.high_water_mark == 10_000


def test_daily_loss_halts_and_the_day_rolls_at_the_configured_hour() -> None:
    day1 = day_start_of(T0, 0) + 3_600_000
    _, st = feed([10_000, 9_600], start=day1)  # yesterday: -4 %
    day2 = day1 + 86_400_000
    out, st = feed([9_600, 9_100, 9_100], st, start=day2)  # today: -5.2 % (drawdown 9 %)
    [change] = kinds(out[2], "set_state")
    assert "daily loss 5.2% ≥ 5%" in change.reason
    assert st.day_start_equity == 9_600 and st.high_water_mark == 10_000


def test_reduce_level_cuts_every_position_by_the_fraction_once() -> None:
    out, st = feed([10_000, 10_000, 8_400, 8_400])  # 16 %
    decisions = out[3]
    cuts = {d.symbol: d.quantity for d in kinds(decisions, "reduce", "drawdown")}
    assert cuts == {BTC: 0.5, ETH: 5.0}
    assert st.lock_level == "reduce"
    assert_never_increases(account(8_400), decisions)
    # the cuts were executed: the next readings (same drawdown) must not cut again
    halved = apply(account(8_400), decisions)
    again, st2 = run(halved, st, LIM, T0 + MIN)
    assert not [d for d in again if d.is_order and d.rule == "drawdown"]
    assert st2.trading_state is TradingState.HALTED


def test_reduce_is_retried_until_done_with_a_stable_episode() -> None:
    out, st = feed([10_000, 10_000, 8_400, 8_400])
    retry, _ = run(account(8_400), st, LIM, T0 + MIN)  # the fills are not visible yet
    assert [d.episode for d in kinds(out[3], "reduce")] == [d.episode for d in kinds(retry, "reduce")]


def test_flatten_level_closes_everything() -> None:
    out, st = feed([10_000, 10_000, 7_900, 7_900])  # 21 %
    closes = kinds(out[3], "close", "drawdown")
    assert {(d.symbol, d.quantity) for d in closes} == {(BTC, 1), (ETH, 10)}
    assert st.lock_level == "flatten"


def test_lock_survives_a_restart_and_recovery_until_resume() -> None:
    _, st = feed([10_000, 10_000, 8_800, 8_800])
    restored = GuardState.from_json(st.to_json())
    assert restored == st
    out, st2 = feed([10_000, 10_000], restored, start=T0 + 10 * MIN)
    assert st2.trading_state is TradingState.HALTED
    [cleared] = kinds(out[0], "alert", "drawdown")
    assert cleared.details["transition"] == "clear" and "still HALTED until /resume" in cleared.reason


def test_resume_is_refused_during_the_cool_down_then_rebases() -> None:
    _, st = feed([10_000, 10_000, 8_800, 8_800])
    locked_at = T0 + 30_000
    ok, why, same = resume(st, locked_at + 59 * MIN, LIM)
    assert not ok and "cool-down" in why and same is st
    ok, why, st = resume(st, locked_at + 60 * MIN, LIM)
    assert ok and st.trading_state is TradingState.ACTIVE and not st.locked
    assert entry_allowed(st)[0]
    out, st = feed([8_800, 8_800, 8_800], st, start=locked_at + 61 * MIN)
    assert not st.locked  # the same equity is the new baseline, not a new drawdown
    assert not any(kinds(d, "set_state") for d in out)


def test_halted_cancels_guardbot_entry_orders_only() -> None:
    ours = Order(
        BTC, "buy", "limit", 0.1, id="e1", client_order_id="gb-entry-0123456789abcdef0123", price=45_000
    )
    traders = Order(BTC, "buy", "limit", 0.1, id="t1", client_order_id="web-123", price=44_000)
    our_exit = Order(
        BTC, "sell", "limit", 0.1, id="x1", client_order_id="gb-tp-1", price=60_000, reduce_only=True
    )
    # the orders exist from the start; only the locked cycle cancels ours
    st = initial_state()
    out = []
    for i, eq in enumerate([10_000, 10_000, 8_800, 8_800]):
        d, st = run(account(eq, ours, traders, our_exit), st, LIM, T0 + i * 10_000)
        out.append(d)
    assert not any(kinds(d, "cancel_order") for d in out[:3])
    [cancel] = kinds(out[3], "cancel_order")
    assert cancel.order_id == "e1" and cancel.rule == "halted" and "HALTED" in cancel.reason


@pytest.mark.parametrize("policy", ["alert", "close"])
def test_position_opened_by_hand_while_halted(policy: Literal["alert", "close"]) -> None:
    limits = dataclasses.replace(LIM, halted_manual_position_policy=policy)
    _, st = feed([10_000, 10_000, 8_800, 8_800], limits=limits)
    sol = pos(SOL, Side.SHORT, 100, 100)
    s = account(8_800, positions=(B, E, sol))
    decisions, _ = run(s, st, limits, T0 + MIN)
    [alert] = kinds(decisions, "alert", "halted")
    assert alert.level == "critical" and "opened while HALTED" in alert.reason
    closes = kinds(decisions, "close", "halted")
    if policy == "close":
        assert [(d.symbol, d.quantity, d.order_side) for d in closes] == [(SOL, 100, "buy")]
    else:
        assert closes == []


def test_pause_refuses_entries_without_a_lock() -> None:
    st = set_paused(initial_state(), True)
    ok, why = entry_allowed(st)
    assert not ok and "paused" in why
    assert entry_allowed(set_paused(st, False))[0]


def test_a_malformed_stored_state_names_the_field() -> None:
    with pytest.raises(ValueError, match="trading_state"):
        GuardState.from_dict({"trading_state": "SLEEPING"})
    with pytest.raises(ValueError, match="not valid JSON"):
        GuardState.from_json("{")


def test_a_lock_escalates_from_halt_to_reduce() -> None:
    out, st = feed([10_000, 10_000, 8_800, 8_800, 8_400, 8_400])
    assert kinds(out[3], "set_state") and not kinds(out[5], "set_state")  # already HALTED
    assert {d.symbol for d in kinds(out[5], "reduce", "drawdown")} == {BTC, ETH}
    [esc] = kinds(out[5], "alert", "drawdown")
    assert esc.details["transition"] == "escalate" and st.lock_level == "reduce"
