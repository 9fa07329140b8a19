"""Deposits and withdrawals end to end: the emulator moves money (and books it in its income
history, `GET /fapi/v1/income`, unless told not to), the guard reads it through ccxt's
`fetch_ledger` and re-bases its drawdown instead of taking it for a loss.

Before: equity 10,000, 2,100 withdrawn and no trading loss -> "drawdown 21 %" -> HALTED and every
position closed.
"""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)
DRAWDOWN = {
    "drawdown_halt_pct": 10.0,
    "drawdown_reduce_pct": 15.0,
    "drawdown_flatten_pct": 20.0,
    "daily_loss_halt_pct": 5.0,
}


def ledger_reads(rig: GuardRig) -> int:
    method, path = rig.venue.ledger
    return sum(1 for r in rig.server.request_log if (r.method, r.path) == (method, path))


def with_book(make_rig: RigFactory) -> GuardRig:
    rig = make_rig(limits(**DRAWDOWN), wallet=10_000)
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.2, leverage=10, entry_price=95_000)
    rig.engine.open_position(key, "ETHUSDT", "long", 3, leverage=10, entry_price=3_300)
    return rig


async def test_a_withdrawal_is_not_a_drawdown(make_rig: RigFactory) -> None:
    rig = with_book(make_rig)
    await rig.start()
    await rig.cycles(3)
    assert ledger_reads(rig) == 0  # the ledger is read only when the wallet moves
    rig.engine.withdraw(rig.acct.api_key, 2_100)

    await rig.cycles(4)
    assert rig.trading_state() == "ACTIVE"
    assert rig.server.mutating_requests() == []  # nothing cut, nothing closed
    assert ledger_reads(rig) == 1
    [note] = [d for d in rig.decisions("cash_flow")]
    # ccxt's ledger type as the venue books it (Bybit's log calls a withdrawal a "transaction")
    kind, ccy = rig.venue.withdrawal_ledger_type, rig.venue.quote
    assert f"withdrawal / transfer out 2,100.00 {ccy} ({kind})" in note.reason
    assert "10,000.00 → 7,900.00" in note.reason
    assert rig.guard.state.high_water_mark == 7_900
    assert any("cash flow" in a.text for a in rig.notifier.alerts)


async def test_a_transfer_with_no_ledger_entry_is_held_then_presumed(make_rig: RigFactory) -> None:
    rig = with_book(make_rig)
    await rig.start()
    await rig.cycles(3)
    rig.engine.withdraw(rig.acct.api_key, 2_100, record=False)  # the venue's ledger shows nothing

    await rig.cycles(5)
    assert rig.trading_state() == "ACTIVE" and rig.server.mutating_requests() == []
    reasons = [d.reason for d in rig.decisions("cash_flow")]
    assert "waiting for the exchange's transfer record" in reasons[0]
    assert "presumed a transfer" in reasons[-1]
    assert rig.guard.state.high_water_mark == 7_900


async def test_a_deposit_does_not_hide_a_daily_loss(make_rig: RigFactory) -> None:
    rig = with_book(make_rig)
    await rig.start()
    await rig.cycles(3)
    rig.engine.deposit(rig.acct.api_key, 5_000)
    await rig.cycles(2)
    # BTC -6 %: 0.2 x 5,700 = 1,140 lost, 7.6 % of the 15,000 the day now holds (counted from the
    # day's first 10,000 it looked like a 39 % gain)
    rig.engine.set_mark("BTCUSDT", 89_300.0)
    await rig.cycles(3)
    assert rig.trading_state() == "HALTED"
    [t] = rig.transitions()
    assert "daily loss 7.6%" in t.reason
