"""Sizing backward from the loss at the stop, its caps, and its refusals."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardbot.domain import AccountSnapshot, Fees, Market, Position, PositionMode, Side, Tier
from guardbot.risk.account import measure_account
from guardbot.risk.correlation import Cluster
from guardbot.risk.margin import continuous_deductions
from guardbot.risk.sizing import SizingError, SizingLimits, SizingRequest, loss_per_unit, size_trade

SOL = "SOL/USDT:USDT"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def tiers(floors: list[float], rates: list[float], levs: list[float]) -> tuple[Tier, ...]:
    amounts = continuous_deductions(floors, rates)
    caps = [*floors[1:], 1e12]
    return tuple(
        Tier(f, c, r, a, lv) for f, c, r, a, lv in zip(floors, caps, rates, amounts, levs, strict=True)
    )


ALT = tiers([0, 5_000, 25_000, 100_000, 250_000], [0.01, 0.015, 0.02, 0.05, 0.1], [50, 40, 25, 10, 5])
MAJOR = tiers([0, 50_000, 600_000, 3_000_000], [0.004, 0.005, 0.0065, 0.01], [125, 100, 75, 50])
MARKETS = {
    SOL: Market(SOL, amount_step=0.01, min_amount=0.01, min_notional=5, price_tick=0.01),
    BTC: Market(BTC, amount_step=0.001, min_amount=0.001, min_notional=100, price_tick=0.1),
    ETH: Market(ETH, amount_step=0.001, min_amount=0.001, min_notional=20, price_tick=0.01),
}


def account(
    wallet: float = 10_000, positions: tuple[Position, ...] = (), fee: float = 0.0005
) -> AccountSnapshot:
    return AccountSnapshot(
        "binanceusdm",
        wallet,
        positions,
        tiers={SOL: ALT, BTC: MAJOR, ETH: MAJOR},
        markets=MARKETS,
        mark_prices={SOL: 100.0, BTC: 60_000.0, ETH: 3_000.0},
        fees=Fees(taker=fee, maker=0.0002),
    )


NO_CAPS = SizingLimits(max_leverage=100, default_leverage=10, max_position_pct=10_000, slippage_pct=0)


def test_quantity_is_risk_over_loss_per_unit_rounded_down() -> None:
    # R = 200, E = 100, S = 95, f = 0.05%: 200 / (5 + 0.0005 x 195) = 39.2349... -> 39.23 (step 0.01)
    r = size_trade(account(), SizingRequest(SOL, Side.LONG, stop=95, risk_amount=200), NO_CAPS)
    assert r.quantity == 39.23
    assert r.binding_constraint == "risk"
    assert r.risk_at_stop <= 200
    assert r.risk_at_stop == pytest.approx(39.23 * (5 + 0.0005 * 195))


def test_short_and_slippage_count_against_the_budget() -> None:
    limits = SizingLimits(max_leverage=100, default_leverage=10, max_position_pct=10_000, slippage_pct=0.1)
    r = size_trade(account(), SizingRequest(SOL, Side.SHORT, stop=104, risk_amount=100), limits)
    per_unit = 4 + (0.0005 + 0.001) * (100 + 104)
    assert r.quantity == math.floor(100 / per_unit * 100) / 100
    assert r.risk_at_stop <= 100


def test_risk_percent_of_equity() -> None:
    snap = account(wallet=20_000)
    r = size_trade(snap, SizingRequest(SOL, Side.LONG, stop=90, risk_pct=0.5), NO_CAPS)
    assert r.risk_budget == pytest.approx(100.0)  # 0.5% of 20,000


def test_leverage_cap_binds_and_is_named() -> None:
    limits = SizingLimits(max_leverage=2, default_leverage=10, max_position_pct=10_000, slippage_pct=0)
    r = size_trade(account(), SizingRequest(SOL, Side.LONG, stop=99, risk_amount=1_000), limits)
    assert r.binding_constraint == "max_leverage"
    assert r.notional <= 2 * 10_000
    assert r.projected.effective_leverage <= 2 + 1e-9


def test_existing_book_consumes_the_leverage_budget() -> None:
    btc = Position(BTC, Side.LONG, 0.25, 60_000, 60_000, leverage=10)  # 15k notional on 10k equity
    limits = SizingLimits(max_leverage=2, default_leverage=10, max_position_pct=10_000, slippage_pct=0)
    r = size_trade(
        account(positions=(btc,)), SizingRequest(SOL, Side.LONG, stop=99, risk_amount=1_000), limits
    )
    assert r.binding_constraint == "max_leverage"
    assert r.notional <= 5_000 + 1e-9


def test_available_margin_cap_at_chosen_leverage() -> None:
    limits = SizingLimits(max_leverage=100, default_leverage=2, max_position_pct=10_000, slippage_pct=0)
    r = size_trade(account(wallet=1_000), SizingRequest(SOL, Side.LONG, stop=99, risk_amount=500), limits)
    assert r.binding_constraint == "available_margin"
    assert r.initial_margin <= 1_000


def test_tier_max_notional_for_leverage() -> None:
    # at 40x the ALT tiers allow at most 25,000 notional
    limits = SizingLimits(max_leverage=100, default_leverage=40, max_position_pct=10_000, slippage_pct=0)
    r = size_trade(
        account(wallet=100_000), SizingRequest(SOL, Side.LONG, stop=99.5, risk_amount=5_000), limits
    )
    assert r.binding_constraint == "tier_max_notional"
    assert r.notional <= 25_000


def test_max_position_pct_of_equity() -> None:
    limits = SizingLimits(max_leverage=100, default_leverage=10, max_position_pct=50, slippage_pct=0)
    r = size_trade(account(), SizingRequest(SOL, Side.LONG, stop=99, risk_amount=1_000), limits)
    assert r.binding_constraint == "max_position_pct"
    assert r.notional <= 5_000 + 1e-9


def test_correlation_cluster_budget() -> None:
    eth = Position(ETH, Side.LONG, 5, 3_000, 3_000, leverage=10)  # 15k long in the cluster already
    limits = SizingLimits(
        max_leverage=100, default_leverage=10, max_position_pct=10_000, slippage_pct=0, max_cluster_pct=200
    )
    r = size_trade(
        account(positions=(eth,)),
        SizingRequest(SOL, Side.LONG, stop=99, risk_amount=1_000),
        limits,
        cluster=Cluster((SOL, ETH), (1, 1)),
    )
    assert r.binding_constraint == "correlation_cluster"
    assert r.notional <= 20_000 - 15_000 + 1e-6


def test_sector_cap() -> None:
    limits = SizingLimits(
        max_leverage=100,
        default_leverage=10,
        max_position_pct=10_000,
        slippage_pct=0,
        sectors={"l1": [SOL, ETH]},
        sector_caps={"l1": 30},
    )
    r = size_trade(account(), SizingRequest(SOL, Side.LONG, stop=99, risk_amount=1_000), limits)
    assert r.binding_constraint == "sector:l1"
    assert r.notional <= 3_000 + 1e-9


def test_below_min_notional_is_refused_not_rounded_up() -> None:
    with pytest.raises(SizingError, match="below the minimum"):
        size_trade(account(), SizingRequest(BTC, Side.LONG, stop=50_000, risk_amount=10), NO_CAPS)


def test_stop_beyond_post_trade_liquidation_is_refused() -> None:
    # 300 of equity, 40x: the liquidation sits ~2% away, the stop 10% away: it would never fire
    limits = SizingLimits(max_leverage=1_000, default_leverage=40, max_position_pct=100_000, slippage_pct=0)
    with pytest.raises(SizingError, match="never fire"):
        size_trade(account(wallet=300), SizingRequest(SOL, Side.LONG, stop=90, risk_amount=290), limits)


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (SizingRequest(SOL, Side.LONG, stop=101, risk_amount=100), "long's stop must be below"),
        (SizingRequest(SOL, Side.SHORT, stop=99, risk_amount=100), "short's stop must be above"),
        (SizingRequest(SOL, Side.LONG, stop=100, risk_amount=100), "zero distance"),
        (SizingRequest("NOPE/USDT:USDT", Side.LONG, stop=1, risk_amount=100), "unknown symbol"),
        (SizingRequest(SOL, Side.LONG, stop=95, risk_amount=-5), "positive amount"),
        (SizingRequest(SOL, Side.LONG, stop=95), "risk amount or a risk percent"),
        (
            SizingRequest(SOL, Side.LONG, stop=95, risk_amount=10, leverage=80),
            r"leverage must be in \(0, 50\]",
        ),
    ],
)
def test_wrong_inputs_get_one_clear_line(req: SizingRequest, message: str) -> None:
    with pytest.raises(SizingError, match=message) as exc:
        size_trade(account(), req, NO_CAPS)
    assert "\n" not in str(exc.value)


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    stop_pct=st.floats(0.3, 30),
    risk=st.floats(5, 5_000),
    wallet=st.floats(500, 200_000),
    leverage=st.sampled_from([1, 2, 3, 5, 10, 20]),
    max_lev=st.floats(0.5, 20),
    fee=st.floats(0, 0.001),
)
def test_sized_trade_never_exceeds_budget_or_caps(
    side: Side, stop_pct: float, risk: float, wallet: float, leverage: float, max_lev: float, fee: float
) -> None:
    snap = account(wallet=wallet, fee=fee)
    stop = 100 * (1 - side.sign * stop_pct / 100)
    limits = SizingLimits(
        max_leverage=max_lev, default_leverage=leverage, max_position_pct=300, slippage_pct=0.05
    )
    try:
        r = size_trade(snap, SizingRequest(SOL, side, stop=stop, risk_amount=risk), limits)
    except SizingError:
        return  # a refusal is a valid answer; what is returned must be safe
    assert r.risk_at_stop <= risk * (1 + 1e-12)
    assert r.quantity == pytest.approx(round(r.quantity / 0.01) * 0.01, abs=1e-9)  # on the lot step
    for name, cap in r.caps.items():
        assert r.quantity <= cap * (1 + 1e-9), name
    assert r.projected.effective_leverage <= max(max_lev, 0) + 1e-6
    assert r.quantity * loss_per_unit(100, stop, fee, 0.0005) <= risk * (1 + 1e-12)
    equity_before = measure_account(snap).equity
    assert r.initial_margin <= equity_before + 1e-6


# --- one-way mode, against an opposite position ---------------------------------------------------


def test_sizing_a_long_while_short_is_a_close_then_a_flip() -> None:
    """Short 2 BTC at 50,000 (mark 50,000), wallet 10,000: sizing a long with the stop at 48,000 was
    refused because the stop was checked against the *remaining short's* liquidation price (above
    the mark). The order first closes the short, then opens the risk-sized long; the stop is checked
    against that long's liquidation price."""
    short = Position(BTC, Side.SHORT, 2, 50_000, 50_000, leverage=20)
    snap = account(10_000, (short,)).with_marks({BTC: 50_000})
    req = SizingRequest(BTC, Side.LONG, stop=48_000, risk_amount=200)
    r = size_trade(snap, req, NO_CAPS)
    # 200 / (2,000 + 0.0005 x 98,000) = 0.09761... -> 0.097 opens, after closing the 2 short
    assert r.closes_opposite == 2 and r.opens == pytest.approx(0.097)
    assert r.quantity == pytest.approx(2.097)
    assert r.risk_at_stop <= 200
    assert r.projected.liquidation_price is None or r.projected.liquidation_price < 48_000
    assert any("first closes your short 2" in w for w in r.warnings)


def test_the_leverage_cap_counts_what_the_close_frees() -> None:
    """At 5x already (short 2 BTC, 100,000 of 20,000 equity), a long was capped to 0 as if it added
    gross notional; it first removes the 100,000."""
    short = Position(BTC, Side.SHORT, 2, 50_000, 50_000, leverage=20)
    snap = account(20_000, (short,)).with_marks({BTC: 50_000})
    limits = SizingLimits(max_leverage=5, default_leverage=10, max_position_pct=10_000, slippage_pct=0)
    r = size_trade(snap, SizingRequest(BTC, Side.LONG, stop=49_000, risk_amount=300), limits)
    # 300 / (1,000 + 0.0005 x 99,000) = 0.2858... -> 0.285
    assert r.binding_constraint == "risk" and r.opens == pytest.approx(0.285)
    assert r.projected.effective_leverage < 5


def test_hedge_mode_does_not_net_the_legs() -> None:
    short = Position(BTC, Side.SHORT, 2, 50_000, 50_000, leverage=20)
    snap = AccountSnapshot(
        "binanceusdm",
        50_000,
        (short,),
        tiers={BTC: MAJOR},
        markets=MARKETS,
        mark_prices={BTC: 50_000.0},
        position_mode=PositionMode.HEDGE,
    )
    r = size_trade(snap, SizingRequest(BTC, Side.LONG, stop=48_000, risk_amount=200), NO_CAPS)
    assert r.closes_opposite == 0 and r.quantity == r.opens


def test_a_stop_worth_less_than_the_venues_reduce_minimum_is_refused() -> None:
    """Hyperliquid refuses a stop worth less than $10 at its trigger: a trade whose stop leg would be
    refused after the entry filled is not sized. R = 0.5, E = 100, S = 95 -> 0.09 SOL: $9 at the
    entry (above the $5 minimum), $8.55 at the stop."""
    req = SizingRequest(SOL, Side.LONG, stop=95, risk_amount=0.5)
    assert size_trade(account(), req, NO_CAPS).quantity == 0.09  # an exempt venue sizes it
    markets = {**MARKETS, SOL: dataclasses.replace(MARKETS[SOL], reduce_min_notional=10)}
    hl = dataclasses.replace(account(), markets=markets)
    with pytest.raises(SizingError) as err:
        size_trade(hl, req, NO_CAPS)
    assert str(err.value) == (
        "the risk budget allows 0.09 SOL/USDT:USDT, whose stop would be worth 8.55 at 95, below the "
        "venue's minimum order value 10 (stops included): refusing rather than leaving the position "
        "without its stop"
    )
