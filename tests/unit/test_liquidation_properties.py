"""Properties of the cross liquidation solver, over random multi-position accounts.

Accounts mix one to three symbols with multi-tier brackets (continuous maintenance amounts, as all
three venues publish them), one-way and hedge mode, cross and isolated positions, for the three
margin-model families (Binance-style, Bybit UTA with fee to close, Hyperliquid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Position, PositionMode, Side, Tier
from guardbot.risk.account import liquidation_price, measure_account
from guardbot.risk.margin import continuous_deductions, hyperliquid_tiers, model_for

FAMILIES = ("binanceusdm", "bybit", "hyperliquid")
CROSS, ISOLATED = MarginMode.CROSS, MarginMode.ISOLATED
REL = 1e-9
ONE = pytest.approx(1.0, abs=1e-9)  # margin ratio at the liquidation price


@st.composite
def tier_tables(draw: st.DrawFn, exchange: str) -> tuple[Tier, ...]:
    n = draw(st.integers(1, 4))
    floors = [0.0]
    edge = 10 ** draw(st.floats(3, 6))
    for _ in range(n - 1):
        floors.append(edge)
        edge *= draw(st.floats(1.5, 20))
    if exchange == "hyperliquid":
        levs = [float(draw(st.sampled_from([50, 40, 25, 20, 10, 5])))]
        for _ in range(n - 1):
            levs.append(max(1.0, levs[-1] / draw(st.floats(1.2, 3))))
        return hyperliquid_tiers(floors, levs)
    rates = [draw(st.floats(0.002, 0.02))]
    for _ in range(n - 1):
        rates.append(min(0.5, rates[-1] * draw(st.floats(1.2, 3))))
    amounts = continuous_deductions(floors, rates)
    caps = [*floors[1:], math.inf]
    return tuple(
        Tier(f, c, r, a, 1 / (2 * r)) for f, c, r, a in zip(floors, caps, rates, amounts, strict=True)
    )


@st.composite
def accounts(draw: st.DrawFn, others_losing: bool = False, force_isolated: bool = False) -> AccountSnapshot:
    exchange = draw(st.sampled_from(FAMILIES))
    mode = draw(st.sampled_from(PositionMode))
    positions: list[Position] = []
    tiers: dict[str, tuple[Tier, ...]] = {}
    for i in range(draw(st.integers(1, 3))):
        symbol = f"S{i}/USDT:USDT"
        tiers[symbol] = draw(tier_tables(exchange))
        mark = 10 ** draw(st.floats(-2, 5))
        contract_size = draw(st.sampled_from([1.0, 0.001, 10.0]))
        if mode is PositionMode.ONE_WAY:
            sides = [draw(st.sampled_from(Side))]
        else:
            sides = draw(st.sampled_from([[Side.LONG], [Side.SHORT], [Side.LONG, Side.SHORT]]))
        for j, side in enumerate(sides):
            notional = 10 ** draw(st.floats(1, 6.7))
            if others_losing and i > 0:
                entry = mark * (1 + side.sign * draw(st.floats(0, 0.3)))  # upnl <= 0
            else:
                entry = mark * (1 + draw(st.floats(-0.3, 0.3)))
            leverage = float(draw(st.sampled_from([1, 2, 5, 10, 20, 50])))
            isolated = (force_isolated and i == 0 and j == 0) or draw(st.integers(0, 5)) == 0
            margin = notional / leverage * draw(st.floats(0.7, 3)) if isolated else 0.0
            positions.append(
                Position(
                    symbol,
                    side,
                    notional / mark / contract_size,
                    entry,
                    mark,
                    contract_size=contract_size,
                    leverage=leverage,
                    margin_mode=ISOLATED if isolated else CROSS,
                    isolated_margin=margin,
                )
            )
    cross = [p for p in positions if p.margin_mode is CROSS]
    isolated_total = sum(p.isolated_margin for p in positions if p.margin_mode is ISOLATED)
    cushion = sum(p.notional for p in cross) * draw(st.floats(0.01, 1.0)) + draw(st.floats(0, 1_000))
    wallet = isolated_total - sum(p.unrealized_pnl for p in cross) + cushion
    fees = Fees(taker=draw(st.floats(0, 0.001)), maker=0.0002)
    return AccountSnapshot(exchange, wallet, tuple(positions), tiers, fees=fees, position_mode=mode)


def _cross_equity(snap: AccountSnapshot) -> float:
    cross = [p for p in snap.positions if p.margin_mode is CROSS]
    iso = sum(p.isolated_margin for p in snap.positions if p.margin_mode is ISOLATED)
    return snap.wallet_balance - iso + sum(p.unrealized_pnl for p in cross)


def _scale(snap: AccountSnapshot) -> float:
    """The size of the numbers in the account: what float rounding is relative to."""
    return abs(snap.wallet_balance) + sum(p.notional + p.size * p.entry_price for p in snap.positions)


def _cross_legs(snap: AccountSnapshot) -> dict[str, Position]:
    """One cross leg per symbol (both legs of a hedged symbol share one liquidation price)."""
    out: dict[str, Position] = {}
    for p in snap.positions:
        if p.margin_mode is CROSS:
            out.setdefault(p.symbol, p)
    return out


def _distance(mark: float, liq: float) -> float:
    return abs(liq - mark)


@settings(max_examples=250, deadline=None)
@given(accounts())
def test_margin_ratio_is_one_at_the_computed_liquidation_price(snap: AccountSnapshot) -> None:
    assume(measure_account(snap).margin_ratio < 1 - 1e-6)
    for symbol, leg in _cross_legs(snap).items():
        liq = liquidation_price(snap, leg)
        if liq is None:
            continue
        assert liq != leg.mark_price  # not liquidated now, so the price must move
        moved = snap.with_marks({symbol: liq})
        if _cross_equity(moved) < 1e-6 * _scale(moved):
            continue  # equity ~ 0 at liquidation: the ratio is 0/0 there, nothing to check
        assert measure_account(moved).margin_ratio == ONE
    model = model_for(snap.exchange)
    for p in snap.positions:
        if p.margin_mode is not ISOLATED:
            continue
        liq = liquidation_price(snap, p)
        if liq is None or liq == p.mark_price:
            continue
        at = p.at_mark(liq)
        equity = p.isolated_margin + at.unrealized_pnl
        if equity < 1e-6 * (p.isolated_margin + at.notional + p.size * p.entry_price):
            continue
        assert model.maintenance_margin(at, snap.tiers[p.symbol], snap.fees) / equity == ONE


@settings(max_examples=200, deadline=None)
@given(accounts(), st.floats(0.001, 10))
def test_more_wallet_never_brings_liquidation_closer(snap: AccountSnapshot, more: float) -> None:
    richer = snap.with_wallet(snap.wallet_balance + more * (_scale(snap) + 1))
    for leg in _cross_legs(snap).values():
        before, after = liquidation_price(snap, leg), liquidation_price(richer, leg)
        if before is None:
            assert after is None
        elif after is not None:
            slack = REL * _scale(richer) / leg.size
            assert _distance(leg.mark_price, after) >= _distance(leg.mark_price, before) - slack


@settings(max_examples=200, deadline=None)
@given(accounts(), st.floats(0.05, 1.0), st.data())
def test_offsetting_position_at_mark_never_lowers_equity(
    snap: AccountSnapshot, fraction: float, data: st.DataObject
) -> None:
    legs = [i for i, p in enumerate(snap.positions) if p.margin_mode is CROSS]
    assume(legs)
    i = data.draw(st.sampled_from(legs))
    leg = snap.positions[i]
    others = snap.positions[:i] + snap.positions[i + 1 :]
    if snap.position_mode is PositionMode.HEDGE:
        # a new opposite leg, entered at the current mark
        offset = Position(
            leg.symbol,
            leg.side.opposite,
            leg.contracts * fraction,
            leg.mark_price,
            leg.mark_price,
            contract_size=leg.contract_size,
            leverage=leg.leverage,
        )
        after = snap.with_positions((*snap.positions, offset))
    else:
        # one-way: the opposite trade at mark closes part of the position; the PnL is realized
        realized = leg.unrealized_pnl * fraction
        kept = () if fraction == 1.0 else (leg.with_contracts(leg.contracts * (1 - fraction)),)
        after = snap.with_positions((*others, *kept)).with_wallet(snap.wallet_balance + realized)
    tol = REL * _scale(snap)
    before_fig, after_fig = measure_account(snap), measure_account(after)
    assert after_fig.equity >= before_fig.equity - tol
    if snap.position_mode is PositionMode.ONE_WAY:
        # smaller position: no more maintenance, and liquidation no closer
        assert after_fig.maintenance_margin <= before_fig.maintenance_margin + tol
        if kept:
            before, after_liq = liquidation_price(snap, leg), liquidation_price(after, kept[0])
            if before is None:
                assert after_liq is None
            elif after_liq is not None:
                slack = tol / kept[0].size
                assert _distance(leg.mark_price, after_liq) >= _distance(leg.mark_price, before) - slack


@settings(max_examples=200, deadline=None)
@given(accounts(others_losing=True))
def test_other_losing_positions_never_push_liquidation_farther(snap: AccountSnapshot) -> None:
    """The classic bug: a liquidation price computed from the position alone, ignoring the other
    positions' losses and maintenance in the shared pool, is farther away than the real one."""
    symbol = "S0/USDT:USDT"
    leg = _cross_legs(snap).get(symbol)
    assume(leg is not None)
    assert leg is not None
    alone = snap.with_positions(
        tuple(p for p in snap.positions if p.symbol == symbol or p.margin_mode is ISOLATED)
    )
    in_book, by_itself = liquidation_price(snap, leg), liquidation_price(alone, leg)
    if by_itself is None:
        return
    assert in_book is not None
    slack = REL * _scale(snap) / leg.size
    d_book, d_alone = _distance(leg.mark_price, in_book), _distance(leg.mark_price, by_itself)
    assert d_book <= d_alone + slack
    # and strictly closer when the others take a real part of the cushion (their loss + maintenance)
    model = model_for(snap.exchange)
    others = [p for p in snap.positions if p.symbol != symbol and p.margin_mode is CROSS]
    taken = sum(
        model.maintenance_margin(p, snap.tiers[p.symbol], snap.fees) - p.unrealized_pnl for p in others
    )
    # The distance moves by (cushion taken) / (slope of equity - MM in the price). Hedged legs all
    # move with the price, so the slope can reach twice their gross size: only a cushion taken
    # well above slack x slope must show as a strictly closer price.
    gross = sum(p.size for p in snap.positions if p.symbol == symbol and p.margin_mode is CROSS)
    if d_alone > 0 and taken > max(1e-6 * _scale(snap), 4 * slack * gross):
        assert d_book < d_alone - slack


@settings(max_examples=150, deadline=None)
@given(accounts(force_isolated=True), st.floats(0.01, 10), st.floats(0.2, 5))
def test_isolated_liquidation_does_not_depend_on_the_cross_pool(
    snap: AccountSnapshot, more: float, move: float
) -> None:
    iso = snap.positions[0]
    assert iso.margin_mode is ISOLATED
    base = liquidation_price(snap, iso)
    others = {p.symbol: p.mark_price * move for p in snap.positions if p.symbol != iso.symbol}
    variants: Sequence[AccountSnapshot] = (
        snap.with_wallet(snap.wallet_balance + more * (_scale(snap) + 1)),
        snap.with_wallet(snap.wallet_balance / (1 + more)),
        snap.with_marks(others),
        snap.with_positions(tuple(p for p in snap.positions if p.margin_mode is ISOLATED)),
    )
    for variant in variants:
        assert liquidation_price(variant, iso) == base


def test_a_jump_in_maintenance_at_a_tier_boundary_is_a_liquidation_price() -> None:
    """Tables whose maintenance amounts are not continuous (a reader that leaves them at 0, or a
    venue's rounded column) make MM jump at a boundary. Here the short is safe up to 50,000 of
    notional in tier 1 and past liquidation in tier 2: the boundary is where it is liquidated."""
    tiers = (Tier(0, 50_000, 0.004, 0, 125), Tier(50_000, math.inf, 0.05, 0, 10))
    short = Position("B", Side.SHORT, 1, 45_000, 45_000, leverage=10)
    snap = AccountSnapshot("binanceusdm", 5_500, (short,), {"B": tiers})
    assert measure_account(snap.with_marks({"B": 49_999.99})).margin_ratio < 1
    assert measure_account(snap.with_marks({"B": 50_000})).margin_ratio > 1
    assert liquidation_price(snap, short) == 50_000
