"""Cash flows are not losses: withdrawals, deposits and transfers re-base the drawdown rules.

Before: equity 10,000, 2,100 moved out with no trading loss -> a 21 % "drawdown" -> HALTED and every
position closed; a deposit raised the day's equity and hid a real daily loss.
"""

from __future__ import annotations

import dataclasses

import pytest
from test_guard_support import BTC, ETH, MIN, T0, book, kinds, pos, protect, quiet, run

from guardbot.domain import AccountSnapshot, CashFlow, Side, TradingState
from guardbot.guard import GuardState, initial_state
from guardbot.guard.cashflow import HOLD_CYCLES, HOUR_MS, FlowInput, account_for_flows

LIM = quiet(
    drawdown_halt_pct=10.0, drawdown_reduce_pct=15.0, drawdown_flatten_pct=20.0, daily_loss_halt_pct=5.0
)
B = pos(BTC, Side.LONG, 1, 50_000)
E = pos(ETH, Side.LONG, 10, 3_000)


def at(wallet: float, btc_mark: float = 50_000) -> AccountSnapshot:
    positions = (B.at_mark(btc_mark), E)
    return book(wallet, *positions, orders=[protect(p) for p in positions])


def settle(
    snapshots: list[tuple[AccountSnapshot, FlowInput | None]], state: GuardState | None = None
) -> GuardState:
    st = state or initial_state()
    for i, (s, flows) in enumerate(snapshots):
        decisions, st = run(s, st, LIM, T0 + i * 10_000, flows=flows)
        assert not [d for d in decisions if d.is_order], decisions
    return st


def ledger(*amounts: float, ts: int = T0) -> FlowInput:
    return FlowInput(tuple(CashFlow(f"tx{i}{a}", ts, a) for i, a in enumerate(amounts)), feed=True)


def test_a_withdrawal_in_the_ledger_rebases_and_never_halts() -> None:
    st = settle([(at(10_000), None), (at(10_000), None)])
    assert st.high_water_mark == 10_000
    decisions, st = run(at(7_900), st, LIM, T0 + MIN, flows=ledger(-2_100))
    [note] = kinds(decisions, "alert", "cash_flow")
    assert "withdrawal / transfer out 2,100.00 USDT" in note.reason and "10,000.00 → 7,900.00" in note.reason
    assert note.level == "info" and note.details["presumed"] == 0
    for i in range(3):  # and the next readings measure from the new base
        decisions, st = run(at(7_900), st, LIM, T0 + 2 * MIN + i * 10_000)
        assert decisions == []
    assert st.trading_state is TradingState.ACTIVE and st.high_water_mark == 7_900


def test_a_wallet_jump_with_no_trade_and_no_ledger_is_a_presumed_transfer() -> None:
    st = settle([(at(10_000), None), (at(10_000), None)])
    decisions, st = run(at(7_900), st, LIM, T0 + MIN, flows=FlowInput(None, feed=False))
    [note] = kinds(decisions, "alert", "cash_flow")
    assert note.level == "warning" and "presumed a transfer" in note.reason
    assert note.details["presumed"] == pytest.approx(-2_100)
    _, st = run(at(7_900), st, LIM, T0 + 2 * MIN)
    assert not st.locked and st.high_water_mark == 7_900


def test_a_lagging_ledger_holds_the_drawdown_until_the_entry_arrives() -> None:
    st = settle([(at(10_000), None), (at(10_000), None)])
    held: list[list[str]] = []
    for i in range(HOLD_CYCLES - 1):  # the balance moved, the ledger has nothing yet
        decisions, st = run(at(7_900), st, LIM, T0 + MIN + i * 10_000, flows=ledger())
        held.append([d.reason for d in kinds(decisions, "alert", "cash_flow")])
        assert not st.locked and st.high_water_mark == 10_000
    assert "waiting for the exchange's transfer record" in held[0][0] and held[1:] == [[]] * (HOLD_CYCLES - 2)
    decisions, st = run(at(7_900), st, LIM, T0 + 2 * MIN, flows=ledger(-2_100))
    assert st.high_water_mark == 7_900 and not st.locked and st.unexplained_cycles == 0
    [note] = kinds(decisions, "alert", "cash_flow")
    assert note.details["presumed"] == 0 and note.details["amount"] == -2_100


def test_the_same_ledger_entry_read_twice_counts_once() -> None:
    st = settle([(at(10_000), None), (at(10_000), None)])
    _, st = run(at(7_900), st, LIM, T0 + MIN, flows=ledger(-2_100))
    _, st = run(at(7_900), st, LIM, T0 + MIN + 10_000, flows=ledger(-2_100))  # an overlapping read
    assert st.high_water_mark == 7_900


def test_a_deposit_does_not_hide_a_daily_loss() -> None:
    """Day start 10,000; 5,000 deposited; then a 800 market loss. That is 5.3 % of the 15,000 the
    day now trades with: HALTED. Counted from 10,000 it looked like a 42 % gain."""
    st = settle([(at(10_000), None), (at(10_000), None)])
    _, st = run(at(15_000), st, LIM, T0 + MIN, flows=ledger(5_000))
    assert st.day_start_equity == 15_000
    for i in range(2):  # BTC falls 800: an unrealized loss, no trade
        _, st = run(at(15_000, 49_200), st, LIM, T0 + 2 * MIN + i * 10_000)
    assert st.locked and "daily loss 5.3%" in (st.lock_reason or "")


def test_a_deposit_right_before_a_loss_does_not_hide_the_drawdown() -> None:
    """The peak rises only after two readings; a loss in between measured from the old peak of
    10,000 would show none. Re-based to 15,000, the 12 % drawdown halts."""
    limits = dataclasses.replace(LIM, daily_loss_halt_pct=50.0)
    st = settle([(at(10_000), None), (at(10_000), None)])
    _, st = run(at(15_000), st, limits, T0 + MIN, flows=ledger(5_000))
    for i in range(2):
        _, st = run(at(15_000, 48_200), st, limits, T0 + 2 * MIN + i * 10_000)
    assert st.locked and "drawdown 12.0%" in (st.lock_reason or "")


def test_trading_is_not_a_cash_flow() -> None:
    """Positions changed (a close realized a loss into the wallet): the wallet move is PnL."""
    st = settle([(at(10_000), None), (at(10_000), None)])
    closed = book(8_800, E, orders=[protect(E)])  # BTC closed at 48,800
    outcome, _ = account_for_flows(st, closed, FlowInput((), feed=True), T0 + MIN)
    assert outcome.amount == 0 and not outcome.hold


def test_funding_sized_moves_over_the_hour_are_not_transfers() -> None:
    """Funding is settled on the hour: a 10 USDT move across an hour boundary on 80,000 of notional
    is funding; the same move within the hour, with no trade, is money moved."""
    st = settle([(at(10_000), None), (at(10_000), None)])
    past_the_hour = (T0 // HOUR_MS + 1) * HOUR_MS + 1_000
    outcome, _ = account_for_flows(st, at(9_990), FlowInput(None, feed=False), past_the_hour)
    assert outcome.amount == 0 and not outcome.hold
    within, _ = account_for_flows(st, at(9_990), FlowInput(None, feed=False), T0 + MIN)
    assert within.presumed == pytest.approx(-10)


def test_a_withdrawal_of_everything_starts_the_peak_afresh() -> None:
    st = settle([(book(10_000), None), (book(10_000), None)])
    _, st = run(book(0), st, LIM, T0 + MIN, flows=ledger(-10_000))
    assert st.high_water_mark is None or st.high_water_mark == 0
    _, st = run(book(500), st, LIM, T0 + 2 * MIN, flows=ledger(500, ts=T0 + 90_000))
    _, st = run(book(500), st, LIM, T0 + 3 * MIN)
    assert st.high_water_mark == 500 and not st.locked


def test_the_flow_bookkeeping_survives_a_restart() -> None:
    st = settle([(at(10_000), None), (at(10_000), None)])
    _, st = run(at(7_900), st, LIM, T0 + MIN, flows=ledger(-2_100))
    restored = GuardState.from_json(st.to_json())
    assert restored == st and restored.last_wallet == 7_900 and restored.flow_ids
