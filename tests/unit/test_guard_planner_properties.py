"""Properties of the deleverage planner and of the whole guard on random books."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_guard_support import (
    ALL_REDUCE,
    BTC,
    DOGE,
    ETH,
    SOL,
    STEPS,
    T0,
    apply,
    assert_never_increases,
    book,
    on_step,
    protect,
)

from guardbot.domain import AccountSnapshot, Position, PositionMode, Side, Tier
from guardbot.guard import GuardLimits, evaluate, initial_state, plan_reduction
from guardbot.guard.planner import apply_cuts
from guardbot.guard.rules.liquidation import nearest_distance
from guardbot.guard.whatif import cross_margin_ratio, net_by_symbol
from guardbot.risk.account import measure_account
from guardbot.risk.margin import model_for

MODEL = model_for("binanceusdm")

# Binance-like brackets (continuous maintenance amounts), so cuts cross tier boundaries
TIERS = (
    Tier(0, 50_000, 0.004, 0, 125),
    Tier(50_000, 250_000, 0.005, 50, 100),
    Tier(250_000, 1_000_000, 0.01, 1_300, 50),
    Tier(1_000_000, 1e18, 0.025, 16_300, 20),
)
PRICES = {BTC: 50_000.0, ETH: 3_000.0, SOL: 100.0, DOGE: 0.2}


@st.composite
def books(draw: st.DrawFn) -> AccountSnapshot:
    """Random books valid for their position mode: one-way holds one side per symbol, hedge mode
    may hold a long and a short leg of the same symbol."""
    mode = draw(st.sampled_from(PositionMode))
    symbols = draw(st.lists(st.sampled_from(list(PRICES)), min_size=1, max_size=3, unique=True))
    positions: list[Position] = []
    moves = {symbol: draw(st.floats(-0.1, 0.1)) for symbol in PRICES}  # one mark per symbol
    for symbol in symbols:
        if mode is PositionMode.ONE_WAY:
            sides = [draw(st.sampled_from(list(Side)))]
        else:
            sides = draw(st.sampled_from([[Side.LONG], [Side.SHORT], [Side.LONG, Side.SHORT]]))
        for side in sides:
            step = STEPS[symbol]
            notional = draw(st.floats(1_000, 400_000))
            contracts = round(max(1, round(notional / PRICES[symbol] / step)) * step, 6)
            entry = PRICES[symbol]
            mark = entry * (1 + moves[symbol])
            positions.append(Position(symbol, side, contracts, entry, mark, leverage=20))
    gross = sum(p.notional for p in positions)
    wallet = draw(st.floats(0.01, 0.5)) * gross
    stops = [protect(p, oid=f"stop-{p.symbol}-{p.side.value}") for p in positions if draw(st.booleans())]
    return book(wallet, *positions, orders=stops, tiers=TIERS, position_mode=mode)


priorities = st.permutations(["unprotected", "correlated", "maintenance"])
correlations = st.dictionaries(
    st.tuples(st.sampled_from(list(PRICES)), st.sampled_from(list(PRICES))), st.floats(-1, 1), max_size=6
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.floats(0.05, 0.6), priorities, correlations)
def test_plan_never_grows_a_position_and_reaches_the_target_when_feasible(
    s: AccountSnapshot, target: float, priority: list[str], corr: dict[tuple[str, str], float]
) -> None:
    plan = plan_reduction(s, target, priority, correlations=corr)
    held = {p.key: p for p in s.positions}
    for c in plan.cuts:
        p = held[(c.symbol, c.side)]
        assert 0 < c.contracts <= p.contracts
        assert on_step(c.contracts, STEPS[c.symbol])
    after = apply_cuts(s, plan.cuts, s.fees.taker)
    before_sizes = {p.key: p.contracts for p in s.positions}
    for p in after.positions:
        assert p.contracts <= before_sizes[p.key]
    before_net, after_net = net_by_symbol(s), net_by_symbol(after)
    for symbol, net in after_net.items():  # a hedge leg is never cut alone
        assert abs(net) <= abs(before_net[symbol]) + 1e-9
    ratio = measure_account(after).margin_ratio
    if plan.feasible:
        assert ratio <= target + 1e-12
    if plan.ratio_before <= target:
        assert plan.cuts == ()
    elif math.isinf(ratio):
        assert math.isinf(plan.ratio_after) and not plan.feasible
    else:
        assert abs(ratio - plan.ratio_after) <= 1e-9 * max(1.0, ratio)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.integers(1, 3))
def test_the_guard_never_increases_exposure(s: AccountSnapshot, confirm: int) -> None:
    """Every rule at its default limits, one-way and hedge books: after the guard's decisions, no
    symbol's net exposure has grown, the margin ratio is not worse and the nearest liquidation is
    not closer (measured on the book after the cuts, fees paid)."""
    limits = GuardLimits(confirm_readings=confirm, new_position_grace_s=0, actions=ALL_REDUCE)
    state = initial_state()
    for i in range(confirm):
        decisions, state = evaluate(s, measure_account(s), state, limits, T0 + i * 10_000)
        assert_never_increases(s, decisions)
        after = apply(s, decisions)
        before_net, after_net = net_by_symbol(s), net_by_symbol(after)
        for symbol, net in after_net.items():
            assert abs(net) <= abs(before_net[symbol]) + 1e-9, (symbol, before_net, after_net)
        if after.positions:
            r0, r1 = cross_margin_ratio(s), cross_margin_ratio(after)
            assert r1 <= r0 + 1e-9 or math.isinf(r0)
            d0, d1 = nearest_distance(s, MODEL), nearest_distance(after, MODEL)
            assert d1 is None or (d0 is not None and d1 >= d0 - 1e-9), (d0, d1)
