"""[guard.actions]: how hard each rule may act — alert, protect (stops only), reduce (cut too).

Conservative by default: stops are placed, caps and drawdown levels only alert, and only the two
emergencies (margin ratio, liquidation distance) cut positions.
"""

from __future__ import annotations

import dataclasses

from test_guard_support import BTC, ETH, MIN, T0, book, cycles, kinds, pos, protect, quiet

from guardbot.domain import Side, TradingState
from guardbot.guard import GuardLimits
from guardbot.guard.limits import DEFAULT_ACTIONS

B = pos(BTC, Side.LONG, 2, 50_000)


def defaults(**overrides: object) -> GuardLimits:
    """quiet() thresholds, but the shipped policies."""
    return dataclasses.replace(quiet(**overrides), actions=dict(DEFAULT_ACTIONS))


def test_by_default_a_cap_alerts_and_cuts_nothing() -> None:
    s = book(10_000, B, orders=[protect(B)])  # 10x over a hard cap of 8x
    out, st = cycles(s, 2, defaults(leverage_warn=5, leverage_hard=8))
    assert not [d for d in out[-1] if d.is_order]
    [alert] = kinds(out[-1], "alert", "leverage")
    assert 'not sent, [guard.actions] leverage = "alert" (alerts only): cut BTC long 0.402' in alert.reason
    assert st.trading_state is TradingState.REDUCING  # new entries are still refused


def test_a_cap_opted_in_cuts() -> None:
    limits = defaults(leverage_warn=5, leverage_hard=8)
    limits = dataclasses.replace(limits, actions={**limits.actions, "leverage": "reduce"})
    out, _ = cycles(book(10_000, B, orders=[protect(B)]), 2, limits)
    [cut] = kinds(out[-1], "reduce", "leverage")
    assert cut.quantity == 0.402


def test_by_default_stops_are_placed() -> None:
    out, _ = cycles(book(10_000, B), 1, defaults(new_position_grace_s=0))
    assert kinds(out[-1], "place_stop", "stop")


def test_stop_alert_only_says_what_it_would_place() -> None:
    limits = defaults(new_position_grace_s=0)
    limits = dataclasses.replace(limits, actions={**limits.actions, "stop": "alert"})
    out, _ = cycles(book(10_000, B), 1, limits)
    assert not [d for d in out[-1] if d.is_order]
    [alert] = kinds(out[-1], "alert", "stop")
    assert (
        'not sent, [guard.actions] stop = "alert"' in alert.reason
        and "place stop 2 @ 47,500.00" in alert.reason
    )


def test_by_default_a_drawdown_locks_and_alerts_but_cuts_nothing() -> None:
    limits = defaults(drawdown_halt_pct=10, drawdown_reduce_pct=15, drawdown_flatten_pct=20)
    hwm = book(10_000, B, orders=[protect(B)])
    lower = book(10_000, B.at_mark(49_200), orders=[protect(B)])  # -1,600: 16 %
    _, st = cycles(hwm, 2, limits)
    out, st = cycles(lower, 2, limits, state=st, start=T0 + MIN)
    assert st.locked and st.trading_state is TradingState.HALTED and dict(st.targets) == {}
    assert not [d for d in out[-1] if d.is_order]
    [alert] = kinds(out[-1], "alert", "drawdown")
    assert (
        'not sent, [guard.actions] drawdown = "alert"' in alert.reason
        and "cut every position" in alert.reason
    )


def test_by_default_the_emergencies_still_cut() -> None:
    e = pos(ETH, Side.LONG, 10, 3_000)
    s = book(1_000, B.with_contracts(1), e, orders=[protect(B)])  # margin ratio 80 %
    limits = defaults(
        margin_ratio_warn=0.5, margin_ratio_reduce=0.7, margin_ratio_flatten=0.9, margin_ratio_target=0.4
    )
    out, _ = cycles(s, 2, limits)
    assert kinds(out[-1], "reduce", "margin_ratio") or kinds(out[-1], "close", "margin_ratio")
