"""Margin models: tier selection, continuous deductions, margin ratio, model lookup, leverage caps."""

from __future__ import annotations

import math

import pytest

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Position, Side, Tier
from guardbot.risk.account import margin_ratio_of, measure_account
from guardbot.risk.margin import (
    BinanceUsdmModel,
    BybitUnifiedModel,
    HyperliquidModel,
    MissingTiersError,
    continuous_deductions,
    hyperliquid_tiers,
    model_for,
    tier_for,
)

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FLOORS = (0, 50_000, 250_000, 1_000_000)
RATES = (0.004, 0.005, 0.01, 0.025)
TIERS = tuple(
    Tier(f, c, r, a, lev)
    for f, c, r, a, lev in zip(
        FLOORS, (50_000, 250_000, 1_000_000, 10_000_000), RATES, continuous_deductions(FLOORS, RATES),
        (125, 100, 50, 20), strict=True,
    )
)  # fmt: skip


# -- tier selection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notional", "index"),
    [
        (0.0, 0),
        (49_999.99, 0),
        (50_000, 1),  # a floor belongs to its own tier: [floor, cap)
        (249_999.99, 1),
        (250_000, 2),
        (1_000_000, 3),
        (9_999_999, 3),
        (10_000_000, 3),  # at the last cap: still the last tier
        (5e9, 3),  # far above the last cap: the last tier, never an error
    ],
)
def test_tier_is_chosen_by_notional_including_boundaries(notional: float, index: int) -> None:
    assert tier_for(TIERS, notional, BTC) is TIERS[index]


def test_tier_for_without_tiers_names_the_symbol() -> None:
    with pytest.raises(MissingTiersError, match="BTC/USDT:USDT"):
        tier_for((), 1_000, BTC)


def test_missing_tiers_for_a_held_symbol_is_refused_not_guessed() -> None:
    snap = AccountSnapshot("binanceusdm", 1_000, (Position(ETH, Side.LONG, 1, 3_000, 3_000),), {BTC: TIERS})
    with pytest.raises(MissingTiersError, match=ETH):
        measure_account(snap)


# -- continuous deductions -----------------------------------------------------------------------


def test_continuous_deductions_follow_the_level_n_rule() -> None:
    # amount_n = floor_n x (rate_n - rate_{n-1}) + amount_{n-1}; Binance's Level 3 is 1,300
    assert continuous_deductions(FLOORS, RATES) == pytest.approx([0, 50, 1_300, 16_300])
    assert continuous_deductions([0], [0.01]) == [0.0]
    assert continuous_deductions([], []) == []


def test_continuous_deductions_make_maintenance_continuous_at_every_boundary() -> None:
    model = BinanceUsdmModel()
    for floor in FLOORS[1:]:
        below = Position(BTC, Side.LONG, 1, floor, floor * (1 - 1e-13))
        at = Position(BTC, Side.LONG, 1, floor, floor)
        assert model.maintenance_margin(below, TIERS, Fees()) == pytest.approx(
            model.maintenance_margin(at, TIERS, Fees()), rel=1e-9
        )


def test_continuous_deductions_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        continuous_deductions([0, 50_000], [0.004])


def test_hyperliquid_tiers_rates_are_half_the_initial_margin_at_max_leverage() -> None:
    tiers = hyperliquid_tiers([0, 20_000_000], [10, 5])
    assert [t.maintenance_margin_rate for t in tiers] == pytest.approx([0.05, 0.10])
    assert tiers[1].maintenance_amount == pytest.approx(20_000_000 * 0.05)
    assert tiers[0].notional_cap == tiers[1].notional_floor and math.isinf(tiers[1].notional_cap)
    with pytest.raises(ValueError, match="max leverage per lower bound"):
        hyperliquid_tiers([0, 1], [10])


# -- maintenance margin and margin ratio ---------------------------------------------------------


def test_margin_ratio_at_a_known_state() -> None:
    """Cross: MM / (wallet - isolated margin + cross unrealized PnL); isolated positions are outside."""
    btc = Position(BTC, Side.LONG, 1, 50_000, 48_000, leverage=10)  # 48,000 notional: 0.4%, MM 192
    eth = Position(
        ETH, Side.SHORT, 2, 3_000, 3_100, leverage=5, margin_mode=MarginMode.ISOLATED, isolated_margin=1_200
    )
    snap = AccountSnapshot("binanceusdm", 10_000, (btc, eth), {BTC: TIERS, ETH: TIERS})
    figures = measure_account(snap)
    assert figures.maintenance_margin == pytest.approx(192 + 6_200 * 0.004)
    assert figures.margin_ratio == pytest.approx(192 / (10_000 - 1_200 - 2_000))
    assert figures.equity == pytest.approx(10_000 - 2_000 - 200)
    assert figures.unrealized_pnl == pytest.approx(-2_200)
    assert figures.gross_notional == pytest.approx(48_000 + 6_200)
    assert figures.net_notional == pytest.approx(48_000 - 6_200)
    assert figures.position(ETH).initial_margin == 1_200  # isolated: what was allocated
    assert figures.position(BTC).initial_margin == pytest.approx(4_800)
    assert figures.available_margin == pytest.approx(10_000 - 1_200 - 2_000 - 4_800)


def test_margin_ratio_is_infinite_when_cross_equity_is_gone() -> None:
    assert margin_ratio_of(100.0, 0.0) == math.inf
    assert margin_ratio_of(100.0, -5.0) == math.inf
    assert margin_ratio_of(0.0, 1_000.0) == 0.0
    snap = AccountSnapshot("binanceusdm", 1_000, (Position(BTC, Side.LONG, 1, 50_000, 48_000),), {BTC: TIERS})
    assert measure_account(snap).margin_ratio == math.inf


def test_bybit_fee_to_close_is_at_the_bankruptcy_price_and_constant_in_mark() -> None:
    model, fees = BybitUnifiedModel(), Fees(taker=0.00055)
    long_ = Position(BTC, Side.LONG, 2, 30_000, 31_000, leverage=10)
    short = Position(BTC, Side.SHORT, 2, 30_000, 31_000, leverage=10)
    assert model.close_fee(long_, fees) == pytest.approx(2 * 27_000 * 0.00055)
    assert model.close_fee(short, fees) == pytest.approx(2 * 33_000 * 0.00055)
    for pos in (long_, short):
        a1 = model.maintenance_coefficients(pos, TIERS[1], fees)
        a2 = model.maintenance_coefficients(pos.at_mark(45_000), TIERS[1], fees)
        assert a1 == a2  # (alpha, beta) do not move with the mark: MM stays linear in it
        assert model.initial_margin(pos, TIERS, fees) == pytest.approx(
            62_000 / 10 + model.close_fee(pos, fees)
        )
    # a 1x long has no bankruptcy price above zero: no fee to close
    assert model.close_fee(Position(BTC, Side.LONG, 1, 30_000, 30_000, leverage=1), fees) == 0.0


def test_bybit_isolated_bankruptcy_price_without_extra_margin_is_the_entry_formula() -> None:
    model, fees = BybitUnifiedModel(), Fees(taker=0.00055)
    for side in Side:
        bust = 40_000 * (1 - side.sign / 25)
        margin = 40_000 / 25 + bust * fees.taker
        iso = Position(
            BTC, side, 1, 40_000, 39_000, leverage=25, margin_mode=MarginMode.ISOLATED, isolated_margin=margin
        )
        assert model.bankruptcy_price(iso, fees) == pytest.approx(bust, rel=1e-12)


def test_binance_and_hyperliquid_have_no_fee_term() -> None:
    pos = Position(BTC, Side.LONG, 1, 60_000, 60_000, leverage=10)
    for model in (BinanceUsdmModel(), HyperliquidModel()):
        assert model.close_fee(pos, Fees(taker=0.001)) == 0.0
        assert model.maintenance_margin(pos, TIERS, Fees(taker=0.001)) == pytest.approx(60_000 * 0.005 - 50)


# -- model lookup and leverage caps --------------------------------------------------------------


def test_model_for_each_supported_exchange() -> None:
    assert isinstance(model_for("binanceusdm"), BinanceUsdmModel)
    assert isinstance(model_for("aster"), BinanceUsdmModel)  # Aster copies Binance's rules
    assert isinstance(model_for("bybit"), BybitUnifiedModel)
    assert isinstance(model_for("hyperliquid"), HyperliquidModel)


def test_model_for_unknown_exchange_is_one_clear_line() -> None:
    with pytest.raises(ValueError) as err:
        model_for("kraken")
    message = str(err.value)
    assert "'kraken'" in message and "binanceusdm" in message and "hyperliquid" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("leverage", "cap"),
    [
        (125, 50_000),
        (101, 50_000),
        (100, 250_000),
        (50, 1_000_000),
        (20, 10_000_000),
        (1, 10_000_000),
        (126, 0.0),  # above every tier's max leverage: nothing may be opened
    ],
)
def test_max_notional_for_leverage(leverage: float, cap: float) -> None:
    assert BinanceUsdmModel().max_notional_for_leverage(TIERS, leverage) == cap
