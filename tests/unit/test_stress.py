"""Stress: shocks, who gets liquidated, and the benchmark move that liquidates the account."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardbot.domain import EXCHANGES, AccountSnapshot, MarginMode, Position, PositionMode, Side, Tier
from guardbot.risk.account import measure_account
from guardbot.risk.stress import (
    MIN_PRICE_FACTOR,
    benchmark_shock,
    liquidating_move,
    shock,
    stress_report,
)

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
DOGE = "DOGE/USDT:USDT"
ALT = "ALT/USDT:USDT"
# Binance-style brackets with continuous maintenance amounts (the same as test_liquidation_basic)
TIERS = (
    Tier(0, 50_000, 0.004, 0, 125),
    Tier(50_000, 250_000, 0.005, 50, 100),
    Tier(250_000, 1e18, 0.01, 1_300, 50),
)
ALL_TIERS = {s: TIERS for s in (BTC, ETH, SOL, DOGE, ALT)}
BETAS = {ETH: 1.5, SOL: 2.0}


def snap(wallet: float, *positions: Position) -> AccountSnapshot:
    return AccountSnapshot("binanceusdm", wallet, positions, ALL_TIERS)


def long(symbol: str, contracts: float, price: float) -> Position:
    return Position(symbol, Side.LONG, contracts, price, price, leverage=10)


def short(symbol: str, contracts: float, price: float) -> Position:
    return Position(symbol, Side.SHORT, contracts, price, price, leverage=10)


def isolated(p: Position, margin: float) -> Position:
    return Position(
        p.symbol, p.side, p.contracts, p.entry_price, p.mark_price, leverage=10,
        margin_mode=MarginMode.ISOLATED, isolated_margin=margin,
    )  # fmt: skip


def test_single_long_liquidating_move_matches_its_liquidation_price() -> None:
    # 5000 + (P - 50000) = 0.004 P in the first bracket (see test_liquidation_basic)
    account = snap(5_000, long(BTC, 1, 50_000))
    move = liquidating_move(account, BTC, {}, -1)
    assert move == pytest.approx((45_000 / 0.996) / 50_000 - 1, rel=1e-10)
    assert liquidating_move(account, BTC, {}, +1) is None  # a long never liquidates on a rise


def test_at_the_solved_move_the_margin_ratio_is_one_and_slightly_less_does_not_liquidate() -> None:
    account = snap(
        12_000, long(BTC, 1, 50_000), long(ETH, 10, 3_000), long(SOL, 200, 100), short(DOGE, 50_000, 0.2)
    )
    move = liquidating_move(account, BTC, BETAS, -1)
    assert move is not None and -0.2 < move < 0
    at = benchmark_shock(account, BTC, move, BETAS)
    assert at.margin_ratio == pytest.approx(1.0, abs=1e-6)
    assert at.liquidated
    assert measure_account(account.with_marks(at.marks)).margin_ratio == pytest.approx(1.0, abs=1e-6)
    before = benchmark_shock(account, BTC, move * (1 - 1e-4), BETAS)
    assert not before.liquidated and before.margin_ratio < 1.0
    assert before.liquidated_positions == ()
    # alts followed their beta; DOGE had none and followed BTC
    assert at.moves[SOL] == pytest.approx(2.0 * move)
    assert at.moves[DOGE] == pytest.approx(move)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_solved_move_agrees_with_measure_account_on_every_venue(exchange: str) -> None:
    positions = (long(BTC, 1, 50_000), long(ETH, 10, 3_000), short(SOL, 100, 100))
    account = AccountSnapshot(exchange, 9_000, positions, ALL_TIERS)
    move = liquidating_move(account, BTC, BETAS, -1)
    assert move is not None
    assert benchmark_shock(account, BTC, move, BETAS).margin_ratio == pytest.approx(1.0, abs=1e-6)


def test_net_short_book_liquidates_on_a_rise_only() -> None:
    account = snap(8_000, short(BTC, 1, 50_000), short(ETH, 10, 3_000))
    up = liquidating_move(account, BTC, BETAS, +1)
    assert up is not None and up > 0
    assert benchmark_shock(account, BTC, up, BETAS).margin_ratio == pytest.approx(1.0, abs=1e-6)
    assert liquidating_move(account, BTC, BETAS, -1) is None


def test_fully_hedged_book_has_no_liquidating_move_in_range() -> None:
    account = snap(10_000, long(BTC, 1, 50_000), short(ETH, 50_000 / 3_000, 3_000))
    betas = {ETH: 1.0}
    assert liquidating_move(account, BTC, betas, -1) is None
    assert liquidating_move(account, BTC, betas, +1) is None
    assert not benchmark_shock(account, BTC, 10.0, betas).liquidated


def test_first_crossing_is_found_when_the_loss_is_not_monotonic_in_the_move() -> None:
    # Long a beta-3 alt, short BTC: on the way down the alt's loss is capped once its price hits the
    # floor (BTC -33 %) while the short keeps gaining, so the account is liquidated around -17 % and
    # would look safe again at -99 %. A plain bisection on [0, -99 %] would report "never".
    account = snap(1_000, long(ALT, 30, 100), short(BTC, 0.06, 50_000))
    betas = {ALT: 3.0}
    move = liquidating_move(account, BTC, betas, -1)
    assert move is not None and -0.17 < move < -0.16
    assert benchmark_shock(account, BTC, move, betas).margin_ratio == pytest.approx(1.0, abs=1e-6)
    assert not benchmark_shock(account, BTC, -0.99, betas).liquidated


def test_explicit_shock_liquidates_exactly_the_expected_positions() -> None:
    # 20k wallet: 2k in two isolated positions, 18k in the cross pool holding BTC + ETH.
    # Isolated SOL long liquidates near -9.6 %, isolated DOGE short near +9.6 %.
    account = snap(
        20_000,
        long(BTC, 1, 50_000),
        long(ETH, 10, 3_000),
        isolated(long(SOL, 100, 100), 1_000),
        isolated(short(DOGE, 100_000, 0.1), 1_000),
    )

    def gone(moves: dict[str, float]) -> set[tuple[str, str]]:
        return {(p.symbol, p.margin_mode) for p in shock(account, moves).liquidated_positions}

    assert gone({SOL: -0.09}) == set()
    assert gone({SOL: -0.15}) == {(SOL, "isolated")}
    assert gone({DOGE: 0.15, SOL: -0.05}) == {(DOGE, "isolated")}
    # the cross pool goes as a whole; isolated positions are untouched by it
    assert gone({BTC: -0.3, ETH: -0.3}) == {(BTC, "cross"), (ETH, "cross")}
    assert gone({BTC: -0.3, ETH: -0.3, SOL: -0.3}) == {(BTC, "cross"), (ETH, "cross"), (SOL, "isolated")}
    calm = shock(account, {BTC: -0.1})
    assert not calm.liquidated and calm.equity_change == pytest.approx(-5_000)


def test_hedge_mode_legs_move_and_liquidate_together() -> None:
    account = AccountSnapshot(
        "binanceusdm",
        3_000,
        (long(BTC, 2, 50_000), short(BTC, 1, 50_000)),
        ALL_TIERS,
        position_mode=PositionMode.HEDGE,
    )
    move = liquidating_move(account, BTC, {}, -1)
    assert move is not None
    result = benchmark_shock(account, BTC, move, {})
    assert {(p.symbol, p.side) for p in result.liquidated_positions} == {(BTC, "long"), (BTC, "short")}


def test_alts_do_not_fall_below_the_price_floor() -> None:
    account = snap(100_000, long(ALT, 100, 10))
    result = benchmark_shock(account, BTC, -0.5, {ALT: 3.0})
    assert result.marks[ALT] == pytest.approx(10 * MIN_PRICE_FACTOR)


def test_account_already_past_liquidation_needs_no_move() -> None:
    account = snap(1_000, Position(BTC, Side.LONG, 1, 50_000, 48_000, leverage=100))
    assert liquidating_move(account, BTC, {}, -1) == 0.0
    report = stress_report(account, BTC, {})
    assert report.summary()[0] == "the account is at or past liquidation now"


def test_stress_report_table_summary_and_json() -> None:
    account = snap(8_000, long(BTC, 1, 50_000), long(ETH, 10, 3_000))
    report = stress_report(account, BTC, {ETH: 1.5})
    assert [r.benchmark_move for r in report.rows] == [-0.05, -0.10, -0.20, -0.30]
    assert [r.liquidated for r in report.rows] == [False, True, True, True]
    down = report.liquidating_move_down
    assert down is not None and -0.1 < down < -0.05
    assert report.liquidating_move_up is None
    assert report.beta_weighted_net == pytest.approx(50_000 + 1.5 * 30_000)
    assert (
        report.summary()[0]
        == f"the account liquidates if BTC falls {abs(down) * 100:.1f} % with alts following their beta"
    )
    assert report.summary()[1] == "no account liquidation if BTC rises up to 1000 %"
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["rows"][3]["liquidated_positions"][0]["reason"] == "cross pool margin ratio >= 1"


def test_stress_report_names_symbols_without_beta() -> None:
    report = stress_report(snap(50_000, long(BTC, 1, 50_000), long(SOL, 10, 100)), BTC, {})
    assert report.betas == {BTC: 1.0, SOL: 1.0}
    assert any(SOL in n and "beta 1.0" in n for n in report.notes)


def test_bad_moves_and_directions_are_one_clear_error() -> None:
    account = snap(5_000, long(BTC, 1, 50_000))
    with pytest.raises(ValueError, match=r"move for BTC/USDT:USDT: expected a fraction above -1"):
        shock(account, {BTC: -1.0})
    with pytest.raises(ValueError, match="move for"):
        benchmark_shock(account, BTC, float("nan"), {})
    with pytest.raises(ValueError, match="direction"):
        liquidating_move(account, BTC, {}, 0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.2, 2.0), st.floats(1.05, 3.0))
def test_net_long_liquidating_move_is_negative_and_shrinks_as_leverage_grows(size: float, k: float) -> None:
    def account(scale: float) -> AccountSnapshot:
        return snap(10_000, long(BTC, size * scale, 50_000), long(ETH, 10 * size * scale, 3_000))

    assert measure_account(account(k)).margin_ratio < 1  # both books start healthy
    small = liquidating_move(account(1.0), BTC, BETAS, -1)
    big = liquidating_move(account(k), BTC, BETAS, -1)
    assert big is not None or small is None  # more size can only bring liquidation closer
    if big is not None:
        assert -0.99 <= big < 0
    if small is not None and big is not None:
        assert abs(big) < abs(small)
