"""Rule 3: distance from mark to each position's cross liquidation price."""

from __future__ import annotations

from test_guard_support import (
    BTC,
    DOGE,
    ETH,
    assert_never_increases,
    book,
    cycles,
    kinds,
    on_step,
    pos,
    protect,
    quiet,
)

from guardbot.domain import AccountSnapshot, MarginMode, Side, TradingState
from guardbot.guard.whatif import apply_cut
from guardbot.risk.account import measure_account

LIM = quiet(liquidation_warn_pct=15.0, liquidation_reduce_pct=7.5)
P = pos(BTC, Side.LONG, 1, 50_000)


def distance(snapshot: AccountSnapshot, symbol: str = BTC) -> float:
    d = measure_account(snapshot).position(symbol).liquidation_distance_pct
    assert d is not None
    return d


def test_closer_than_warn_distance_alerts_once() -> None:
    s = book(5_450, P, orders=[protect(P, 3)])  # liq 45000: 10 % away
    assert abs(distance(s) - 10.0) < 1e-9
    out, _ = cycles(s, 3, LIM)
    alerts = [kinds(d, "alert", "liquidation") for d in out]
    assert [len(a) for a in alerts] == [0, 1, 0]
    assert "BTC long: liquidation 45,000.00 is 10.0% from mark 50,000.00 < warn 15%" in alerts[1][0].reason
    assert not any(d.is_order for ds in out for d in ds)


def test_closer_than_reduce_distance_cuts_back_beyond_warn() -> None:
    s = book(2_975, P, orders=[protect(P, 3)])  # liq 47500: 5 % away
    (_, decisions), st = cycles(s, 2, LIM)
    [d] = kinds(decisions, "reduce", "liquidation")
    assert d.level == "critical" and "5.0% from mark" in d.reason and "< reduce 7.5%" in d.reason
    assert on_step(d.quantity or 0, 0.001)
    assert_never_increases(s, decisions)
    after = apply_cut(s, BTC, Side.LONG, d.quantity or 0, s.fees.taker)
    assert distance(after) >= 15.0
    one_less = apply_cut(s, BTC, Side.LONG, (d.quantity or 0) - 0.001, s.fees.taker)
    assert distance(one_less) < 15.0  # the smallest cut, not a lucky one
    assert st.trading_state is TradingState.REDUCING


def test_other_positions_losses_count() -> None:
    # BTC alone would be 10 % from liquidation; an ETH loser in the same pool brings it inside 7.5 %
    loser = pos(ETH, Side.LONG, 10, 3_000, 2_900)
    s = book(5_450, P, loser, orders=[protect(P, 3), protect(loser, 3)])
    assert distance(s) < 7.5
    (_, decisions), _ = cycles(s, 2, LIM)
    assert {d.symbol for d in kinds(decisions, "reduce", "liquidation")} >= {BTC}


def test_isolated_positions_are_only_alerted() -> None:
    iso = pos(BTC, Side.LONG, 1, 50_000, mode=MarginMode.ISOLATED, isolated_margin=2_975)
    s = book(100_000, iso, orders=[protect(iso, 3)])
    (_, decisions), _ = cycles(s, 2, LIM)
    assert not [d for d in decisions if d.is_order]
    assert len(kinds(decisions, "alert", "liquidation")) == 1


def test_dust_is_ignored() -> None:
    dust = pos(DOGE, Side.LONG, 5, 0.5)  # 2.5 of notional
    s = book(0.15, dust, orders=[protect(dust, 1)])
    assert distance(s, DOGE) < 7.5
    out, _ = cycles(s, 3, LIM)
    assert all(d == [] for d in out)
