"""Rule 2 (margin ratio) and the least-damage deleverage planner."""

from __future__ import annotations

import dataclasses

import pytest
from test_guard_support import (
    BTC,
    DOGE,
    ETH,
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
)

from guardbot.domain import AccountSnapshot, Market, Side, TradingState
from guardbot.guard import entry_allowed, plan_reduction
from guardbot.guard.planner import apply_cuts
from guardbot.guard.whatif import apply_cut, cross_margin_ratio
from guardbot.risk.account import measure_account

LIM = quiet(margin_ratio_warn=0.5, margin_ratio_reduce=0.7, margin_ratio_flatten=0.9, margin_ratio_target=0.4)
B = pos(BTC, Side.LONG, 1, 50_000)  # MM 500
E = pos(ETH, Side.LONG, 10, 3_000)  # MM 300


def two_positions(wallet: float, protected: tuple[str, ...] = ()) -> AccountSnapshot:
    orders = [protect(p) for p in (B, E) if p.symbol in protected]
    return book(wallet, B, E, orders=orders)


def test_warn_alerts_once_after_confirmation_and_clears_once() -> None:
    s = two_positions(1_500)  # 800 / 1500 = 53.3 %
    out, st = cycles(s, 4, LIM)
    alerts = [kinds(d, "alert", "margin_ratio") for d in out]
    assert [len(a) for a in alerts] == [0, 1, 0, 0]  # confirm_readings = 2, then no repeats
    assert alerts[1][0].level == "warning" and "margin ratio 53.3% ≥ warn 50%" in alerts[1][0].reason
    cleared, _ = run(two_positions(5_000), st, LIM, T0 + 60_000)
    [c] = kinds(cleared, "alert", "margin_ratio")
    assert c.details["transition"] == "clear" and "16.0%" in c.reason


def test_one_bad_reading_does_not_trip() -> None:
    bad, good = two_positions(1_000), two_positions(5_000)
    st = None
    for i, s in enumerate([bad, good, bad, good, bad]):
        decisions, st = run(s, st, LIM, T0 + i * 10_000)
        # (the wallet jumping with no trade is said as a presumed transfer; nothing else may happen)
        acted = [d for d in decisions if d.rule != "cash_flow"]
        assert acted == [], f"reading {i} acted on an unconfirmed level"


def test_reduce_cuts_unprotected_first_back_to_target() -> None:
    s = two_positions(1_000, protected=(BTC,))  # 80 %: ETH has no stop
    (_, decisions), st = cycles(s, 2, LIM)
    cuts = kinds(decisions, "close", "margin_ratio") + kinds(decisions, "reduce", "margin_ratio")
    assert [d.symbol for d in cuts] == [ETH, BTC]
    assert cuts[0].kind == "close" and cuts[0].quantity == 10
    assert "margin ratio 80.0% ≥ reduce 70%: cut ETH 100% (unprotected), BTC" in cuts[0].reason
    assert "→ expected 40.0%" in cuts[0].reason  # 39.98 %, rounded for people
    assert_never_increases(s, decisions)
    after = s
    for d in cuts:
        after = apply_cut(after, d.symbol or "", d.side or Side.LONG, d.quantity or 0, s.fees.taker)
    assert measure_account(after).margin_ratio <= 0.4
    assert st.trading_state is TradingState.REDUCING
    assert not entry_allowed(st)[0]
    [state_change] = kinds(decisions, "set_state")
    assert decisions[0] is state_change and "ACTIVE → REDUCING" in state_change.reason


def test_flatten_closes_everything_reduce_only_and_locks() -> None:
    s = two_positions(850)  # 94 %
    (_, decisions), st = cycles(s, 2, LIM)
    closes = kinds(decisions, "close", "margin_ratio")
    assert {(d.symbol, d.quantity) for d in closes} == {(BTC, 1), (ETH, 10)}
    assert all(d.details["reduce_only"] and d.level == "critical" for d in closes)
    assert st.trading_state is TradingState.HALTED and st.locked
    assert decisions[0].kind == "set_state" and "HALTED" in decisions[0].reason


def test_escalation_warn_to_reduce_is_one_more_alert() -> None:
    _, st = cycles(two_positions(1_500), 2, LIM)
    (a, b), _ = cycles(two_positions(1_000), 2, LIM, st, start=T0 + 60_000)
    assert not kinds(a, "alert", "margin_ratio")  # reduce not confirmed yet: still the warn episode
    [esc] = kinds(b, "alert", "margin_ratio")
    assert esc.details["transition"] == "escalate" and esc.level == "critical"


# --- planner -------------------------------------------------------------------------------------


def test_plan_reaches_target_with_the_fewest_rounded_down_steps() -> None:
    s = two_positions(1_000, protected=(ETH,))
    plan = plan_reduction(s, 0.4)
    assert plan.feasible and plan.ratio_before == pytest.approx(0.8)
    [cut] = plan.cuts  # BTC (unprotected) alone is enough
    assert cut.symbol == BTC and on_step(cut.contracts, 0.001)
    assert cross_margin_ratio(apply_cuts(s, plan.cuts, s.fees.taker)) <= 0.4
    one_step_less = apply_cut(s, BTC, Side.LONG, cut.contracts - 0.001, s.fees.taker)
    assert cross_margin_ratio(one_step_less) > 0.4  # rounding down alone would have missed it
    assert plan.ratio_after == pytest.approx(
        measure_account(apply_cuts(s, plan.cuts, s.fees.taker)).margin_ratio
    )


def test_plan_prefers_legs_correlated_with_the_rest_of_the_book() -> None:
    d = pos(DOGE, Side.LONG, 100_000, 0.5)  # 50,000 notional, MM 500, uncorrelated
    s = book(1_400, B, E, d)  # 1300 / 1400 = 92.9 %
    corr = {(BTC, ETH): 0.9, (BTC, DOGE): 0.1, (ETH, DOGE): 0.1}
    plan = plan_reduction(s, 0.4, ("correlated", "maintenance"), correlations=corr)
    assert plan.cuts[0].symbol == ETH and "ρ" in plan.cuts[0].why
    assert DOGE not in {c.symbol for c in plan.cuts[:2]}
    by_mm = plan_reduction(s, 0.4, ("maintenance",))
    assert by_mm.cuts[0].symbol in (BTC, DOGE)


def test_plan_never_cuts_a_hedge_first_by_correlation() -> None:
    short_eth = pos(ETH, Side.SHORT, 10, 3_000)  # hedges the BTC long
    s = book(1_000, B, short_eth, pos(DOGE, Side.LONG, 60_000, 0.5))
    plan = plan_reduction(s, 0.4, ("correlated",), correlations={(BTC, ETH): 0.9})
    assert plan.cuts[0].symbol != ETH


def test_plan_is_empty_below_target_and_infeasible_when_equity_is_gone() -> None:
    assert plan_reduction(two_positions(10_000), 0.4).cuts == ()
    broke = book(100, pos(BTC, Side.LONG, 1, 50_000, 49_000))  # equity -900
    plan = plan_reduction(broke, 0.4)
    assert not plan.feasible and "not reachable" in plan.summary()
    assert [c.contracts for c in plan.cuts] == [1]  # it still closes what it can


def test_plan_leaves_dust_and_isolated_positions_alone() -> None:
    s = book(1_000, B, E, pos(DOGE, Side.LONG, 10, 0.5))
    plan = plan_reduction(s, 0.4, dust_notional=10.0)
    assert DOGE not in {c.symbol for c in plan.cuts}


def test_a_cut_below_the_exchange_minimum_is_raised_to_it_never_past_the_position() -> None:
    s = two_positions(1_000, protected=(ETH,))
    plain = plan_reduction(s, 0.79).cuts[0]  # a tiny cut is enough
    assert plain.contracts < 0.05
    markets = {**s.markets, BTC: Market(BTC, 0.001, min_amount=0.05)}
    cut = plan_reduction(dataclasses.replace(s, markets=markets), 0.79).cuts[0]
    assert cut.contracts == 0.05
