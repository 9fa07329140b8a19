"""Hyperliquid's $10 minimum order value binds reduce-only orders too (Binance's venues exempt
them): the guard sizes every cut it plans to at least that much, and plans none for a position
worth less (the venue would refuse it every cycle)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_guard_support import ALL_REDUCE, T0, book, kinds, pos, quiet, run

from guardbot.domain import AccountSnapshot, Market, Position, Side, Tier
from guardbot.guard import GuardLimits, evaluate, initial_state, plan_reduction
from guardbot.guard.whatif import REDUCE_MIN_HEADROOM, min_reduce_contracts, sendable_cut
from guardbot.risk.account import measure_account

HYPE = "HYPE/USDC:USDC"
XRP = "XRP/USDC:USDC"
MIN_VALUE = 10.0  # Hyperliquid: "Order must have minimum value of $10"
FLAT = (Tier(0, 1e18, 0.01, 0, 50),)  # MM = 1 % of notional


def on_venue(s: AccountSnapshot, reduce_min: float, steps: dict[str, float]) -> AccountSnapshot:
    """The same book on a venue whose minimum value does (Hyperliquid) or does not (Binance) bind
    reducing orders."""
    markets = {
        sym: Market(sym, steps.get(sym, 0.001), min_notional=MIN_VALUE, reduce_min_notional=reduce_min)
        for sym in s.markets
    }
    return dataclasses.replace(s, markets=markets)


def hype_book(reduce_min: float) -> AccountSnapshot:
    # long 100 HYPE at $30 (MM $30) on $59.90: ratio 0.5008, target 0.5. The smallest cut that
    # restores it is 0.18 HYPE ($5.40): 0.3 (100 - x) <= 0.5 (59.9 - 0.015 x) needs x >= 0.171.
    s = book(59.9, pos(HYPE, Side.LONG, 100, 30.0), tiers=FLAT)
    return on_venue(s, reduce_min, {HYPE: 0.01})


def test_a_binance_like_market_keeps_the_smallest_cut() -> None:
    plan = plan_reduction(hype_book(0.0), 0.5)
    assert [c.contracts for c in plan.cuts] == pytest.approx([0.18])
    assert plan.cuts[0].contracts * 30.0 < MIN_VALUE and plan.feasible


def test_a_hyperliquid_cut_is_raised_to_the_minimum_value() -> None:
    plan = plan_reduction(hype_book(MIN_VALUE), 0.5)
    (cut,) = plan.cuts
    # 10 x 1.06 / 30 = 0.3533 -> 0.36 HYPE on the lot grid ($10.80), not 0.18 ($5.40)
    assert cut.contracts == pytest.approx(0.36)
    assert cut.contracts * 30.0 >= MIN_VALUE * REDUCE_MIN_HEADROOM
    assert plan.feasible and plan.ratio_after < 0.5


def test_the_guard_decides_the_cut_at_the_minimum_value() -> None:
    # ratio 0.5008 >= reduce 0.5; target 0.4999 needs 0.2 HYPE ($6), the venue takes $10 or more
    limits = quiet(
        margin_ratio_warn=0.45,
        margin_ratio_reduce=0.5,
        margin_ratio_flatten=0.9,
        margin_ratio_target=0.4999,
        confirm_readings=1,
    )
    (cut,) = kinds(run(hype_book(0.0), limits=limits)[0], "reduce")
    assert cut.quantity == pytest.approx(0.2)
    (cut,) = kinds(run(hype_book(MIN_VALUE), limits=limits)[0], "reduce")
    assert cut.quantity == pytest.approx(0.36)


def test_a_position_worth_less_than_the_minimum_gets_no_order() -> None:
    # $9 of XRP cannot be reduced by any order: the plan cuts HYPE instead
    s = book(59.9, pos(HYPE, Side.LONG, 100, 30.0), pos(XRP, Side.LONG, 4.5, 2.0), tiers=FLAT)
    s = on_venue(s, MIN_VALUE, {HYPE: 0.01, XRP: 0.1})
    plan = plan_reduction(s, 0.5, ("maintenance",), dust_notional=0.0)
    assert [c.symbol for c in plan.cuts] == [HYPE]
    xrp = s.positions[1]
    assert sendable_cut(s, xrp, xrp.contracts) == 0.0
    assert sendable_cut(on_venue(s, 0.0, {XRP: 0.1}), xrp, 0.1) == 0.1  # exempt venue: as asked


def test_the_minimum_is_on_the_lot_grid_and_a_whole_position_above_it_is_sendable() -> None:
    s = on_venue(book(1_000, pos(XRP, Side.SHORT, 6, 2.0), tiers=FLAT), MIN_VALUE, {XRP: 0.1})
    p = s.positions[0]
    assert min_reduce_contracts(s, p) == pytest.approx(5.3)  # 10 x 1.06 / 2 = 5.3
    assert sendable_cut(s, p, 1.0) == pytest.approx(5.3)
    assert sendable_cut(s, p, 6.0) == 6.0


def test_a_drawdown_cut_by_fraction_is_raised_to_the_minimum_value() -> None:
    """The drawdown's "cut every position by half": $7.50 of a $15 HYPE long becomes $10.80; a $9
    XRP long gets no order (it is worth less than any the venue accepts)."""
    lim = quiet(
        drawdown_halt_pct=10.0, drawdown_reduce_pct=15.0, drawdown_flatten_pct=20.0, daily_loss_halt_pct=5.0
    )
    lim = dataclasses.replace(lim, drawdown_reduce_fraction=0.5)
    btc, hype, xrp = "BTC/USDC:USDC", pos(HYPE, Side.LONG, 0.5, 30.0), pos(XRP, Side.LONG, 4.5, 2.0)

    def account(equity: float) -> AccountSnapshot:
        s = book(10_000, pos(btc, Side.LONG, 1, 50_000, 50_000 + equity - 10_000), hype, xrp, tiers=FLAT)
        return on_venue(s, MIN_VALUE, {HYPE: 0.01, XRP: 0.1, btc: 0.001})

    state = initial_state()
    for i, equity in enumerate([10_000, 10_000, 8_400, 8_400]):  # 16 % down: the reduce level
        decisions, state = run(account(equity), state, lim, T0 + i * 10_000)
    cuts = {d.symbol: d.quantity for d in kinds(decisions, "reduce", "drawdown")}
    assert cuts == {btc: pytest.approx(0.5), HYPE: pytest.approx(0.36)}
    assert not [d for d in decisions if d.is_order and d.symbol == XRP]


# --- property: random small books on a Hyperliquid-like venue ------------------------------------

PRICES = {HYPE: 30.0, XRP: 2.0, "BTC/USDC:USDC": 60_000.0}
STEPS = {HYPE: 0.01, XRP: 0.1, "BTC/USDC:USDC": 0.00001}


@st.composite
def small_books(draw: st.DrawFn) -> AccountSnapshot:
    """One-way books (Hyperliquid has no hedge mode) of $3 to $400 positions, so the cut that
    restores the ratio is often worth less than $10."""
    symbols = draw(st.lists(st.sampled_from(list(PRICES)), min_size=1, max_size=3, unique=True))
    positions: list[Position] = []
    for symbol in symbols:
        side = draw(st.sampled_from(list(Side)))
        units = max(1, round(draw(st.floats(3, 400)) / PRICES[symbol] / STEPS[symbol]))
        mark = PRICES[symbol] * (1 + draw(st.floats(-0.05, 0.05)))
        positions.append(pos(symbol, side, round(units * STEPS[symbol], 8), PRICES[symbol], mark))
    gross = sum(p.notional for p in positions)
    wallet = draw(st.floats(0.005, 0.05)) * gross
    return on_venue(book(wallet, *positions, tiers=FLAT), MIN_VALUE, STEPS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_books(), st.floats(0.05, 0.6), st.integers(1, 2))
def test_every_planned_cut_is_worth_the_minimum(s: AccountSnapshot, target: float, confirm: int) -> None:
    """Planner and guard alike: every cut is worth at least the minimum value at the mark, so it is
    never below it (a whole position worth less is never planned: the venue refuses that too)."""
    marks = {p.key: p.mark_price for p in s.positions}
    held = {p.key: p.contracts for p in s.positions}
    for c in plan_reduction(s, target, dust_notional=0.0).cuts:
        assert c.contracts * marks[(c.symbol, c.side)] >= MIN_VALUE
        assert 0 < c.contracts <= held[(c.symbol, c.side)]
    limits = GuardLimits(
        confirm_readings=confirm, new_position_grace_s=0, actions=ALL_REDUCE, margin_ratio_target=target
    )
    state = initial_state()
    for i in range(confirm):
        decisions, state = evaluate(s, measure_account(s), state, limits, T0 + i * 10_000)
        for d in decisions:
            if d.kind in ("reduce", "close"):
                assert d.symbol and d.side and d.quantity
                assert d.quantity * marks[(d.symbol, d.side)] >= MIN_VALUE, d
